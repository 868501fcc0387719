# The Lambda runtime's version (python3.12): Chalice packages for the interpreter it runs under.
# pyenv finds it through .python-version; elsewhere, PYTHON=/path/to/python3.12.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STRIPE_PORT ?= 8420
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint format clean synth sdk-types reference-bundle

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

# Node.js and npm: the machine's (Node 20 on CI's); where there are none, Debian's (as root).
NODE := /usr/bin/node
$(NODE):
	@if [ "$$(id -u)" != 0 ]; then \
		echo "The SDK's tests need Node.js 20 and npm: sudo apt-get install -y nodejs npm" >&2; \
		exit 1; \
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm

# The TypeScript SDK (sdk/typescript) and the reference page's Redoc (sdk/reference) come from
# the npm registry as their package-lock.json pins them (Node 20 and its npm); `npm ci` writes
# node_modules/.package-lock.json, so a lock that changes installs again.
SDK := sdk/typescript
REFERENCE := sdk/reference
NPM_CI := npm ci --ignore-scripts --no-audit --no-fund
$(SDK)/node_modules/.package-lock.json: $(SDK)/package-lock.json | $(NODE)
	cd $(SDK) && $(NPM_CI)
$(REFERENCE)/node_modules/.package-lock.json: $(REFERENCE)/package-lock.json | $(NODE)
	cd $(REFERENCE) && $(NPM_CI)

# The SDK's types, generated from the local stage's /openapi.json by openapi-typescript with
# its default options (tests/e2e/test_typescript_sdk.py fails when they are stale).
sdk-types: $(VENV)/.installed $(SDK)/node_modules/.package-lock.json
	@mkdir -p .local
	$(BIN)/python -c 'import json; from chalicelib.api.openapi import document; \
		print(json.dumps(document()))' > .local/openapi.json
	$(SDK)/node_modules/.bin/openapi-typescript .local/openapi.json -o $(SDK)/src/schema.d.ts

# GET /docs serves Redoc's standalone bundle, committed, exactly as the pinned npm release
# ships it (tests/integration/test_reference_page.py compares them). After changing the pin:
reference-bundle: $(REFERENCE)/node_modules/.package-lock.json
	cp $(REFERENCE)/node_modules/redoc/bundles/redoc.standalone.js \
		$(REFERENCE)/node_modules/redoc/bundles/redoc.standalone.js.LICENSE.txt chalicelib/pages/static/

run: $(VENV)/.installed
	PORT=$(PORT) STRIPE_PORT=$(STRIPE_PORT) $(BIN)/python -m localstage

# CI's one command: the infra tests (tests/infra), the browser tests and the SDK's tests must
# run, not skip.
test: $(VENV)/.installed $(VENV)/.infra-installed $(CHROMIUM) lint \
		$(SDK)/node_modules/.package-lock.json $(REFERENCE)/node_modules/.package-lock.json
	FIELDLINE_REQUIRE_INFRA_TESTS=1 FIELDLINE_REQUIRE_BROWSER_TESTS=1 FIELDLINE_REQUIRE_SDK_TESTS=1 \
		$(BIN)/python -m pytest

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
	rm -rf $(VENV) .local .pytest_cache .ruff_cache cdk.out $(SDK)/node_modules $(SDK)/dist \
		$(REFERENCE)/node_modules
