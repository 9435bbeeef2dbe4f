# digest: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: demo test eval bench lint clean help

help:
	@echo "make demo   - set up .venv and run the offline demo (sample feeds, SQLite, dry-run mail)"
	@echo "make test   - set up .venv and run the test suite"
	@echo "make eval   - actor recognition, content and editorial evaluation (uses ../shared when present)"
	@echo "make bench  - benchmarks (print figures)"
	@echo "make lint   - ruff"

# (re)install only when the project definition changed
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/digest demo

test: $(STAMP)
	$(BIN)/ruff check digest tests bench
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

eval: $(STAMP)
	$(BIN)/digest actors eval
	$(BIN)/digest eval-content
	$(BIN)/digest eval-summaries
	$(BIN)/digest eval-editorial

# the benchmarks' peers and profiler (the bench extra) on top of the dev install
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check digest tests bench

clean:
	rm -rf $(VENV) var .pytest_cache
