# Two commands on a fresh clone: `make demo` and `make test`. Both set up .venv first (once).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench browser postgres

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/invoice-agent demo

# The review page's end-to-end test drives Debian's chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The production path is tested on the machine's PostgreSQL (127.0.0.1:5432); start it if it is down.
postgres:
	@! command -v pg_isready >/dev/null 2>&1 || pg_isready -q -h 127.0.0.1 || \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true

test: $(STAMP) browser postgres
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_draft.py
