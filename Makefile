# Every target bootstraps .venv from requirements.lock (exact versions, hashes checked);
# it reinstalls only when that file or pyproject.toml changes. `make lock` re-resolves it
# keeping its pins, `make lock-upgrade` to the newest versions allowed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock

.PHONY: run test lint format bench schema clean lock lock-upgrade

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Re-resolve after pyproject.toml changed, with every file's hash: the pins already in
# $(LOCK) stay (uv prefers them), only what is new or no longer fits is resolved afresh.
# `make lock-upgrade`: every pin to the newest version pyproject.toml allows. Commit either.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes \
	--python-version 3.11 --quiet -o $(LOCK)

lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(UV_COMPILE)

lock-upgrade:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(UV_COMPILE) --upgrade

run: $(STAMP)
	$(BIN)/ordercenter demo

# The suite runs in PYTEST_WORKERS processes (pytest-xdist), a test file to a process so
# that a file's module-wide servers and browsers start once; PYTEST_WORKERS=0 runs it in
# this process alone.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/ordercenter export-schema

# BENCH_POSTGRES / BENCH_SQLITE: databases kept between runs (seeded by the first).
bench: $(STAMP)
	$(BIN)/python -m bench $(if $(BENCH_POSTGRES),--use-postgres $(BENCH_POSTGRES)) \
		$(if $(BENCH_SQLITE),--use-sqlite $(BENCH_SQLITE))

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
