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

# The review page's end-to-end test drives Debian's chromium (never a downloaded browser), at
# $INVOICE_AGENT_CHROMIUM (default /usr/bin/chromium): installed when missing, else stop here saying why.
CHROMIUM = $(or $(INVOICE_AGENT_CHROMIUM),/usr/bin/chromium)
browser:
	@[ -x '$(CHROMIUM)' ] || [ "$$(id -u)" != 0 ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || true
	@[ -x '$(CHROMIUM)' ] || { echo "make browser: no Chromium at $(CHROMIUM); install Debian's" \
		"(as root: apt-get install -y chromium) or point INVOICE_AGENT_CHROMIUM at one" >&2; exit 1; }

# The production path is tested on the machine's PostgreSQL (127.0.0.1:5432, or $INVOICE_AGENT_TEST_POSTGRES):
# start its clusters if it is down, and stop here, saying why, if it still cannot be used.
postgres: $(STAMP)
	@$(BIN)/python -m tests.databases --quiet || { \
		for version in $$(ls /etc/postgresql 2>/dev/null); do \
			pg_ctlcluster --skip-systemctl-redirect $$version main start || true; done; \
		$(BIN)/python -m tests.databases --wait 30 || { echo "make postgres: PostgreSQL cannot be used;" \
			"start it (pg_ctlcluster VERSION main start) or set INVOICE_AGENT_TEST_POSTGRES" >&2; exit 1; }; }

# Under CI a skipped test fails the run (tests/conftest.py): `make test` is what CI runs.
test: export CI ?= true
test: $(STAMP) browser postgres
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_draft.py
