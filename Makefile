# The Lambda runtime's version (python3.12): Chalice packages for the interpreter it runs under.
# pyenv finds it through .python-version; elsewhere, PYTHON=/path/to/python3.12.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STRIPE_PORT ?= 8420
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint format clean synth

# A new interpreter version (.python-version) makes a new .venv.
$(VENV)/.python: .python-version
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 12), sys.version' || { \
		echo "Fieldline needs Python 3.12 (the Lambda runtime's): pyenv install 3.12, or PYTHON=..." >&2; \
		exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	touch $@

# Reinstall only when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt $(VENV)/.python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# Deployment tooling (aws-cdk-lib, cfn-lint, statelint; ~430 MB): only for the infra tests
# and synth, installed once into the same .venv.
$(VENV)/.infra-installed: infra/requirements.txt $(VENV)/.installed
	$(BIN)/pip install -q -r infra/requirements.txt
	touch $@

# The browser tests (tests/browser) drive Debian's Chromium through Playwright. Never
# `playwright install`: it downloads a browser build of its own. Installed once (as root, as CI
# runs); a second run finds it and skips this.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then \
		echo "The browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; \
		exit 1; \
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

run: $(VENV)/.installed
	PORT=$(PORT) STRIPE_PORT=$(STRIPE_PORT) $(BIN)/python -m localstage

# CI's one command: the infra tests (tests/infra) and the browser tests must run, not skip.
test: $(VENV)/.installed $(VENV)/.infra-installed $(CHROMIUM) lint
	FIELDLINE_REQUIRE_INFRA_TESTS=1 FIELDLINE_REQUIRE_BROWSER_TESTS=1 $(BIN)/python -m pytest

# The stack into cdk.out/ (STAGE=prod make synth); bundles the Lambda wheels, no AWS account.
STAGE ?= dev
synth: $(VENV)/.infra-installed
	$(BIN)/python infra/synth.py --stage $(STAGE)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache cdk.out
