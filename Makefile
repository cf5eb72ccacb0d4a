PY ?= python3
VENV ?= .venv
# The test environment installs the versions pinned here, so a green run means
# the same thing on every machine. `make lock` refreshes it on purpose; CI also
# runs the suite once on the newest releases (`make test-latest`).
CONSTRAINTS ?= constraints/test.txt
PIP_CONSTRAINTS := $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test

.PHONY: demo test test-latest lock bench lint clean golden

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[studio]'
	touch $@

$(TESTSTAMP): $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(BIN)/python -m pip install -q $(PIP_CONSTRAINTS) -e '.[test]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/matcue render thaw -o audio_out/thaw.mp3

test: $(TESTSTAMP)
	$(BIN)/python -m pytest -q -n 2

# The suite on the newest release of every dependency, in a separate environment.
test-latest:
	$(MAKE) test VENV=.venv-latest CONSTRAINTS=

lock:
	rm -rf .venv-lock
	$(PY) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q --upgrade pip
	.venv-lock/bin/python -m pip install -q -e '.[test]'
	.venv-lock/bin/python -m pip freeze --exclude-editable --exclude matcue \
	  | sed '1i # Pinned versions for `make test`; refresh with `make lock`.' > $(or $(CONSTRAINTS),constraints/test.txt)
	rm -rf .venv-lock

bench: $(TESTSTAMP)
	$(BIN)/python bench/run.py

lint: $(TESTSTAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/vulture src vulture_whitelist.py --min-confidence 80

clean:
	rm -rf .venv .venv-latest .venv-lock build *.egg-info src/*.egg-info

golden: $(TESTSTAMP)
	$(BIN)/python tests/update_golden.py
