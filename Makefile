PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test

.PHONY: demo test bench lint clean golden

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[studio]'
	touch $@

$(TESTSTAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/matcue render thaw -o audio_out/thaw.mp3

test: $(TESTSTAMP)
	$(BIN)/python -m pytest -q -n 2

bench: $(TESTSTAMP)
	$(BIN)/python bench/run.py

lint: $(TESTSTAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

golden: $(TESTSTAMP)
	$(BIN)/python tests/update_golden.py
