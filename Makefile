# ratecard: `make run` serves from nothing; `make test` checks everything from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The locked packages alone (ruff and mypy need no more; the project's build comes after).
DEPS := $(VENV)/.deps-stamp

.PHONY: run test install lock lint types pytest bench system-deps browser-deps pgbouncer-deps haproxy-deps clean FORCE

run: install
	$(BIN)/ratecard migrate
	$(BIN)/ratecard serve

# The checks run side by side (measured on 2 cores: the suite mostly waits, see the pytest target):
# ruff and mypy as soon as the locked packages are installed, beside mypyc's compile, and pytest
# once the build is. Each one's output is shown whole when it ends. The Debian packages the
# suite needs (system-deps) install beside pip's install, not before it: on a machine without
# them, packages and build took 68-81 s one after the other, 64-69 s side by side.
test:
	@echo "make test: ruff, mypy and pytest side by side; each prints when it is done"
	@$(MAKE) --no-print-directory -j 3 --output-sync=target lint types pytest

# The modules setup.py compiles with mypyc (its COMPILED list, read here, not repeated), and the
# build mode (RATECARD_PURE_PYTHON=1: plain Python), kept beside the stamp so that switching it
# reinstalls. The editable install puts each compiled module's .so next to its .py, and Python
# imports the .so first: editing a compiled module (or setup.py) must rebuild, else the stale .so
# silently shadows the edit (tests/test_compiled.py fails on one).
COMPILED := $(shell $(PYTHON) -c 'import runpy; print(*runpy.run_path("setup.py")["COMPILED"])')
MODE := $(VENV)/.build-mode
BUILT_SO := find src -name '*.so' -delete

$(MODE): FORCE
	@mkdir -p $(VENV)
	@echo "RATECARD_PURE_PYTHON=$(RATECARD_PURE_PYTHON)" | cmp -s - $@ \
	  || echo "RATECARD_PURE_PYTHON=$(RATECARD_PURE_PYTHON)" > $@

# Every package comes from the hash-locked requirements/dev.txt (runtime + dev tools + the build
# backend and mypyc: $(DEPS)); then the project itself ($(STAMP)), editable, without dependencies
# and without an isolated build environment (which would download an unpinned setuptools and
# mypy): mypyc compiles the batch pricing hot path (~25 s; setup.py). The old .so files go
# first, so a pure-Python build leaves none behind. A release someone replaced or compromised on
# the index fails the hash check instead of being installed.
$(DEPS): requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	touch $(DEPS)

# mypyc's type-checking keeps its cache under build/: `make types` runs beside it (make test) and
# must not write the same .mypy_cache at the same time.
$(STAMP): $(DEPS) pyproject.toml setup.py $(COMPILED) $(MODE)
	$(BUILT_SO)
	MYPY_CACHE_DIR=build/mypy-cache \
	  $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# Refresh the lock files from pyproject.toml (newest versions allowed by its ranges) with the
# pinned uv of requirements/lock-tool.txt; review the diff, commit, `make install`.
# runtime.txt feeds the image; dev.txt (make install) is constrained to the same versions.
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock"
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/lock-tool.txt
	$(UV_COMPILE) --upgrade requirements/lock-tool.in -o requirements/lock-tool.txt
	$(UV_COMPILE) --upgrade pyproject.toml --extra server -o requirements/runtime.txt
	$(UV_COMPILE) --upgrade requirements/build.in -o requirements/build.txt
	$(UV_COMPILE) --upgrade pyproject.toml --extra server --extra dev requirements/build.in \
	  -c requirements/runtime.txt -c requirements/build.txt -o requirements/dev.txt

# The suite's Debian packages, one apt-get after the other within this one job: two at once
# would fight over dpkg's lock. pip's install runs beside it (make test).
system-deps:
	@$(MAKE) --no-print-directory browser-deps
	@$(MAKE) --no-print-directory pgbouncer-deps

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

lint: $(DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(DEPS)
	$(BIN)/mypy

# The suite on pytest-xdist workers (tests/support/scheduling.py: the long tests first, the tests
# sharing one live instance on one worker). More workers than the 2 cores, as many tests wait on
# processes, sleeps and lease TTLs: measured on 2 cores, pytest took 207 s with -n 2, 163-169 s
# with -n 3, 152-176 s with -n 4 and 153 s with -n 5 (416 s without xdist).
# With bytecode: PYTHONDONTWRITEBYTECODE=1 (set in many shells) would have every `ratecard`
# process the suite starts, and every worker's collection, compile from source again; the
# sources are compiled once up front and the cache is written under the ignored __pycache__/.
PYTEST_WORKERS ?= 4
pytest: install system-deps
	$(BIN)/python -m compileall -q src tests >/dev/null
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -q -n $(PYTEST_WORKERS)

bench: install haproxy-deps
	$(BIN)/python bench/all.py

# Debian's HAProxy for bench/faults.py: client errors through a real balancer during a rolling
# restart and a database outage.
haproxy-deps:
	@test -x /usr/sbin/haproxy || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null) \
	  || echo "warning: could not install haproxy; bench/faults.py will fail"; }

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache build
	$(BUILT_SO)
