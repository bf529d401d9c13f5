# Everything a fresh machine needs: Python 3.11+, pip and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv demo test lint clean

EXAMPLE := examples/enrichd-plugin-example

# The venv also holds the example third-party plugin, installed through its entry point as a
# user would install a plugin (tests/e2e/test_example_plugin.py runs a job that uses it).
$(BIN)/enrichd: pyproject.toml $(EXAMPLE)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet -e $(EXAMPLE)
	@touch $@

venv: $(BIN)/enrichd

# The main job: the daemon on a temporary LMDB store with the in-process sandbox (simulated
# upstream APIs: no keys, no internet) enriching sample domains; results printed.
demo: venv
	$(BIN)/python scripts/demo.py --sandbox

# Lint, format check, types, then the whole test suite, then the example plugin's own tests
# (run from its directory, with its own pytest settings, as its author would).
test: venv
	$(BIN)/ruff check enrichd tests scripts bench examples
	$(BIN)/ruff format --check enrichd tests scripts bench examples
	$(BIN)/mypy
	$(BIN)/mypy $(EXAMPLE)/src $(EXAMPLE)/tests
	$(BIN)/pytest -q -p no:cacheprovider
	cd $(EXAMPLE) && $(abspath $(BIN))/pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) build *.egg-info $(EXAMPLE)/src/*.egg-info
