# Two commands do all set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ADVISOR := $(VENV)/bin/advisor
LOCK_HASH := $(shell sha1sum requirements.lock pyproject.toml | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(LOCK_HASH)
DEMO_HOME ?= .advisor
export ADVISOR_HOME ?= $(DEMO_HOME)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export ORT_DISABLE_TELEMETRY := 1

.PHONY: install demo test test-explore test-unit test-integration test-browser eval bench load clean

install: $(STAMP)

# The lock pins every transitive version; --no-deps keeps pip from resolving (it
# backtracks for a long time on this stack) and torch==2.13.0 is the CPU build.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-deps -r requirements.lock 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import torch, chromadb, langgraph, chainlit" || { echo "install failed"; exit 1; }
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | grep -v "is ignored" || true
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: install
	@test -f $(ADVISOR_HOME)/bank/customers.csv || $(ADVISOR) data generate --customers 2000 --months 12 --seed 42
	$(ADVISOR) ingest
	$(ADVISOR) customers list --limit 5
	$(VENV)/bin/chainlit run chainlit_app.py --headless --host 127.0.0.1 --port 8000

# Playwright's sync API keeps an event loop in the main thread, so the browser
# tests run in their own pytest process.
test: install
	@scripts/install_browser.sh
	@scripts/install_postgres.sh
	$(PY) -m pytest -q -m "not browser" --ignore=tests/browser
	$(PY) -m pytest -q -m browser tests/browser

test-browser: install
	@scripts/install_browser.sh
	$(PY) -m pytest -q -m browser tests/browser

eval: install
	$(ADVISOR) eval

test-explore: install
	ADVISOR_HYPOTHESIS_PROFILE=explore $(PY) -m pytest -q tests/unit -k "properties or privacy or composer or sentiment"

test-unit: install
	$(PY) -m pytest -q tests/unit

test-integration: install
	$(PY) -m pytest -q tests/integration

bench: install
	$(PY) bench/ingest.py

# Not part of `make test`: 20 advisor sessions for 2 minutes against the graph, then against
# the app on 127.0.0.1:8000 (started with the demo data if it is not running, and stopped
# after); each advisor reads an answer for about 10 s before the next question (--think 0
# is the saturation case). JSON report in build/load.json.
load: install
	@test -f $(ADVISOR_HOME)/bank/customers.csv || $(ADVISOR) data generate --customers 2000 --months 12 --seed 42
	$(ADVISOR) ingest
	$(PY) bench/load.py all --sessions 20 --duration 120 --think 10 --home $(ADVISOR_HOME) --url http://127.0.0.1:8000 \
		--user advisor1 --password demo-advisor --start-if-down --out build/load.json

clean:
	rm -rf $(VENV) .advisor build
