# Everything a fresh machine needs: Python 3.11+, pip and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv demo test lint clean

$(BIN)/enrichd: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

venv: $(BIN)/enrichd

# The main job: the daemon on a temporary LMDB store with the in-process sandbox (simulated
# upstream APIs: no keys, no internet) enriching sample domains; results printed.
demo: venv
	$(BIN)/python scripts/demo.py --sandbox

# Lint, format check, types, then the whole test suite.
test: venv
	$(BIN)/ruff check enrichd tests scripts bench
	$(BIN)/ruff format --check enrichd tests scripts bench
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) build *.egg-info
