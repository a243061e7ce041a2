"""Slack's limits on what an app sends, and the helpers that keep text within them.

The numbers come from Slack's Block Kit reference (blocks, elements, composition objects,
modal views) and the chat.postMessage reference. slack_sdk's models check most of them; the
ones marked "not checked by slack_sdk" are refused by Slack (`invalid_blocks`) although
`to_dict()` accepts them, so `bot/emulator/checks.py` checks those itself.
"""

from __future__ import annotations

import re

# Messages (chat.postMessage / chat.update).
MESSAGE_TEXT = 40_000  # top-level `text`; longer is `msg_too_long` (not checked by slack_sdk)
MESSAGE_BLOCKS = 50
# Modals (views.open / update / push).
VIEW_BLOCKS = 100
VIEW_TITLE = 24
VIEW_SUBMIT = 24
VIEW_CLOSE = 24
PRIVATE_METADATA = 3_000
# Blocks.
SECTION_TEXT = 3_000
SECTION_FIELD = 2_000  # each field's text (not checked by slack_sdk)
SECTION_FIELDS = 10
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3_000  # a text object's own limit (not checked by slack_sdk in context blocks)
ACTIONS_ELEMENTS = 25
INPUT_LABEL = 2_000
INPUT_HINT = 2_000
# Elements and composition objects.
BUTTON_TEXT = 75
BUTTON_VALUE = 2_000
OPTION_TEXT = 75  # not checked by slack_sdk when options are parsed from JSON
OPTION_VALUE = 150  # not checked by slack_sdk when options are parsed from JSON
SELECT_OPTIONS = 100
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30  # confirm and deny
PLAIN_TEXT_INPUT_VALUE = 3_000  # initial_value; max_length is at most 3,000 (not checked)

# Follow-up messages carry full texts in pieces that also fit a section block's text.
FOLLOW_UP_TEXT = SECTION_TEXT

ELLIPSIS = "…"

# Tokens Slack reads as one unit: mentions, links and dates (<…>), and HTML entities (&amp;).
_TOKEN = re.compile(r"<[^<>\n]*>|&(?:[a-zA-Z]+|#[0-9]+);")


def escape(text: str) -> str:
    """`text` as literal mrkdwn: `&`, `<` and `>` become entities, so it can neither mention
    anyone (`<!channel>`, `<!here>`, `<!subteam^…>`, `<@U…>`) nor build links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe_end(text: str, end: int) -> int:
    """`end`, moved back to the start of any token it would split."""
    for token in _TOKEN.finditer(text, max(0, end - 200), min(len(text), end + 200)):
        if token.start() < end < token.end():
            return token.start()
    return end


def cut(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start and a visible "…" (never half
    a mention, link or entity)."""
    if len(text) <= limit:
        return text
    end = _safe_end(text, max(0, limit - len(ELLIPSIS)))
    return text[:end].rstrip() + ELLIPSIS


def _break_at(text: str, limit: int) -> int:
    """Where to end the next piece of `text`: after a line break, else after a space, else at
    `limit`; never inside a token, and always past the start so progress is made."""
    window = text[:limit]
    for separator in ("\n", " "):
        at = window.rfind(separator)
        if at >= limit // 2:
            return at + 1
    end = _safe_end(text, limit)
    return end if end > 0 else limit


def chunks(text: str, limit: int) -> list[str]:
    """All of `text` in pieces of at most `limit` characters, split at line breaks where
    possible; `"".join(chunks(text, limit)) == text`."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces = []
    rest = text
    while len(rest) > limit:
        end = _break_at(rest, limit)
        pieces.append(rest[:end])
        rest = rest[end:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces
