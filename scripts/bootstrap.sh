#!/usr/bin/env bash
# Installs what slack-hitl needs on a fresh Debian/Ubuntu machine: redis-server (apt) and a
# virtualenv in .venv with the project and its test tools. With --test, also chromium and an
# emoji font for the browser tests, and the benchmarks' baselines (the `bench` extra) (Debian's chromium, never a downloaded one).
# Safe to run again; fast when done.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
extras="test"
[ "${1:-}" = "--test" ] && extras="test,bench"  # the tests also smoke-run the benchmarks
stamp=".venv/.installed-${extras/,/-}"
if [ ! -x .venv/bin/python ] || [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing Python packages ($extras) into .venv" >&2
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
  touch "$stamp"
fi
