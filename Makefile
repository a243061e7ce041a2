# The two set-up commands (see README): `make run` and `make test`.
.PHONY: run test check

run:
	@bash scripts/bootstrap.sh
	.venv/bin/hitl $(ARGS)

test:
	@bash scripts/bootstrap.sh --test
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/pytest
