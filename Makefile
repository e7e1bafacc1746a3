# The README's contract: `make demo` and `make test` work on a fresh machine with Python 3 and make.
# Each target installs only what it needs: `demo` the package, `test` the dev extra, `bench` the bench extra.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
BASE   := $(VENV)/.base-stamp
DEV    := $(VENV)/.dev-stamp
BENCH  := $(VENV)/.bench-stamp

.PHONY: demo test lint typecheck pytest bench bench-quick clean

$(BASE): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PIP) -e .
	touch $(BASE)

$(DEV): $(BASE)
	$(PIP) -e '.[dev]'
	touch $(DEV)

$(BENCH): $(BASE)
	$(PIP) -e '.[bench]'
	touch $(BENCH)

demo: $(BASE)
	$(PY) examples/demo.py

test: $(DEV)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy --strict src
	$(VENV)/bin/pytest -q

bench: $(BENCH)
	$(PY) -m benchmarks.run --out benchmarks/last-run.md

bench-quick: $(BENCH)
	$(PY) -m benchmarks.run --quick --out benchmarks/last-run-quick.md

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
