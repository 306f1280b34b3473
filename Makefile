# One command for the demo, one for the tests; each sets up .venv with what it needs.
VENV := .venv
# Python 3.13 matches the Lambda runtime; any Python >= 3.11 works for the emulator and tests.
PYTHON := $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13.0/bin/python3.13 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
STAMP := $(VENV)/.installed
SCENARIO ?= happy

.PHONY: setup demo test test-fast test-matrix typecheck lint format clean build validate bench docs

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 not found" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP) ## run a full blue/green deployment on the embedded emulator
	$(VENV)/bin/bluegreen local demo --scenario $(SCENARIO)

test: $(STAMP) ## lint, type check, the docs build, then every test but the slow matrices (fast, component, workflow, template)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	$(VENV)/bin/python -m pytest -m "not matrix"

docs: $(STAMP) ## the documentation site (MkDocs Material) -> site/
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

test-fast: $(STAMP) ## the pure-function tier only (tests/fast: no moto, no emulator), under 30 s
	$(VENV)/bin/python -m pytest -n 0 --confcutdir=tests/fast tests/fast  # without tests/conftest.py (moto)

test-matrix: $(STAMP) ## the slow matrices CI runs (fault injection, chaos)
	$(VENV)/bin/python -m pytest -m matrix

typecheck: $(STAMP) ## mypy on the shared package, with the boto3 stubs
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

validate: $(STAMP) ## sam validate --lint (no AWS account needed)
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam validate --lint

build: $(STAMP) ## sam build for the python3.13 runtime
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(VENV)/bin/sam build

bench: $(STAMP) ## benchmarks on the emulator -> docs/benchmarks.md, docs/canary-weights.png
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -r bench/requirements.txt
	$(VENV)/bin/python -m bench.run

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache site
