# The README's contract: `make demo` and `make test` work on a fresh machine with Python 3 and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy --strict src
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks.run --out benchmarks/last-run.md

bench-quick: $(STAMP)
	$(PY) -m benchmarks.run --quick --out benchmarks/last-run-quick.md

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
