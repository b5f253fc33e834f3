# ratecard: `make run` serves from nothing; `make test` checks everything from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install lint types pytest bench browser-deps pgbouncer-deps clean

run: install
	$(BIN)/ratecard migrate
	$(BIN)/ratecard serve --host 127.0.0.1 --port 8000

test: install browser-deps pgbouncer-deps lint types pytest

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the dashboard's browser tests (root on CI and dev machines).
browser-deps:
	@test -x /usr/bin/chromium || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will fail"; }

# Debian's PgBouncer (1.18) for tests/test_pgbouncer.py: migrate, refresh and worker through a
# real pooler in transaction mode.
pgbouncer-deps:
	@command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null) \
	  || echo "warning: could not install pgbouncer; the PgBouncer tests will fail"; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/all.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
