# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv when it is missing and installs with the exact pins of constraints.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# axe-core (npm) for the accessibility tests of the cards; skipped with a reason without it
AXE_VERSION := 4.14.1
AXE := $(VENV)/npm/node_modules/axe-core/axe.min.js

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,mlflow]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/auditkit demo --out demo-output

$(AXE): | $(STAMP)
	-npm install --silent --no-audit --no-fund --prefix $(VENV)/npm axe-core@$(AXE_VERSION)

test: $(STAMP) $(AXE)
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check auditkit tests benchmarks examples
	$(VENV)/bin/ruff format --check auditkit

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build dist *.egg-info demo-output
