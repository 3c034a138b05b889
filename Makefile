# Two commands: `make run` (set up and serve a demo on SQLite with the built-in simulator) and
# `make test` (install the development tools and run the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app dashboard
PORT ?= 5000
SIMULATOR_PORT ?= 8765
# `make run` points the sandbox at the simulator it starts.
DEMO_ENV := DASHBOARD_RM_SANDBOX_OAUTH_URL=http://127.0.0.1:$(SIMULATOR_PORT) \
            DASHBOARD_RM_SANDBOX_API_URL=http://127.0.0.1:$(SIMULATOR_PORT)

CHROMIUM ?= /usr/bin/chromium
NGINX ?= /usr/sbin/nginx
PROMTOOL ?= /usr/bin/promtool
# The versions every install takes: a constraints file (what is installed comes from
# pyproject.toml, at the versions pinned here). `make lock` writes it. No hashes: pip checks
# hashes for every package once one has them, and the checkout installed with -e has none.
LOCK := requirements.lock

.PHONY: install install-dev browser nginx promtool run test check lock screenshots bench soak \
	bench-export bench-send bench-audit clean

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml $(LOCK)
	@echo "Installing the dashboard into $(VENV)/ ..."
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -qq -c $(LOCK) --upgrade pip
	@$(BIN)/pip install -qq -c $(LOCK) -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	@echo "Installing the development tools into $(VENV)/ ..."
	@$(BIN)/pip install -qq -c $(LOCK) -e '.[dev]'
	@touch $@

# Pin the newest versions pyproject.toml allows (the dev tools included), for Python 3.11 on
# Linux as CI runs it; `make check` audits them (pip-audit). To bump a pin, run this again.
lock: install-dev
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --upgrade --extra dev \
		--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file $(LOCK) pyproject.toml

# Servers' output goes to instance/logs/; the terminal shows the addresses and, last, the
# one-time passwords of the demo users.
LOGS := instance/logs
# The workers' counts for /metrics (set DASHBOARD_METRICS_TOKEN to read it), emptied each run.
METRICS_DIR := instance/metrics
# Succeeds when the URL answers with a success or a redirect.
PROBE := $(BIN)/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)'
# Succeeds when something listens on the port.
LISTENING := $(BIN)/python -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)'

run: install
	@mkdir -p $(LOGS)
	@for port in $(PORT) $(SIMULATOR_PORT); do \
		if $(LISTENING) $$port 2>/dev/null; then \
			echo "Port $$port is in use: stop what holds it, or choose others" \
				"(make run PORT=5001 SIMULATOR_PORT=8766)."; \
			exit 1; \
		fi; \
	done
	@$(FLASK) db upgrade >$(LOGS)/db-upgrade.log 2>&1 || { cat $(LOGS)/db-upgrade.log; exit 1; }
	@rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	@$(FLASK) simulator --port $(SIMULATOR_PORT) >$(LOGS)/simulator.log 2>&1 & sim=$$!; \
	$(DEMO_ENV) PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) \
		$(BIN)/gunicorn --workers 2 --timeout 30 --bind 127.0.0.1:$(PORT) \
		--access-logfile $(LOGS)/access.log --error-logfile $(LOGS)/dashboard.log \
		'dashboard:create_app(migrations=False)' 2>>$(LOGS)/dashboard.log & web=$$!; \
	trap 'kill $$sim $$web 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	for url in http://127.0.0.1:$(PORT)/healthz http://127.0.0.1:$(SIMULATOR_PORT)/_inbox; do \
		tries=0; until $(PROBE) $$url 2>/dev/null; do \
			tries=$$((tries + 1)); \
			if [ $$tries -ge 60 ] || ! kill -0 $$sim $$web 2>/dev/null; then \
				echo "The servers did not start:"; tail -n 20 $(LOGS)/*.log; exit 1; \
			fi; \
			sleep 0.5; \
		done; \
	done; \
	echo "Dashboard:         http://127.0.0.1:$(PORT)"; \
	echo "Simulator inbox:   http://127.0.0.1:$(SIMULATOR_PORT)/_inbox"; \
	echo "Logs:              $(LOGS)/   (Ctrl-C stops both servers)"; \
	$(DEMO_ENV) $(FLASK) demo || exit 1; \
	wait

# $(call debian,PROGRAM,PACKAGE,WHO): install Debian's PACKAGE when PROGRAM is missing (as
# root), or say how to.
define debian
	@if [ ! -x $(1) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && apt-get install -y $(2); \
		else \
			echo "$(3) need Debian's $(2). Install it with:"; \
			echo "    sudo apt-get update && sudo apt-get install -y $(2)"; \
			exit 1; \
		fi; \
	fi
endef

# The browser tests drive Debian's Chromium (never a browser download).
browser:
	$(call debian,$(CHROMIUM),chromium,The browser tests)

# The deployment tests run behind Debian's nginx.
nginx:
	$(call debian,$(NGINX),nginx,The deployment tests)

# The alert rules of docs/deploy/ are checked and unit-tested with promtool (Debian's
# prometheus package).
promtool:
	$(call debian,$(PROMTOOL),prometheus,The alert rule tests)

test: install-dev browser nginx promtool
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# What CI checks before the tests: lint, formatting, types, the import rules of
# docs/architecture.md, then the supply chain: bandit on the code and pip-audit's PyPI advisories
# for every locked version (.ci/audit-lock: pip-audit itself skips every pin on a mirror that
# serves only the projects' pages, as ours does; a pin it cannot audit fails the check).
check: install-dev
	$(BIN)/ruff check dashboard tests benchmarks
	$(BIN)/ruff format --check dashboard tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -c pyproject.toml -r dashboard -q
	$(BIN)/python .ci/audit-lock $(LOCK)

# Refresh the README's screenshots from the browser journeys.
screenshots: install-dev browser
	$(BIN)/python -m pytest tests/e2e -q
	cp test-artifacts/screenshots/sign-in-light.png test-artifacts/screenshots/send-light.png \
	   test-artifacts/screenshots/history-light.png test-artifacts/screenshots/history-dark.png \
	   test-artifacts/screenshots/result-dark.png test-artifacts/screenshots/send-phone-light.png \
	   test-artifacts/screenshots/result-phone-light.png \
	   test-artifacts/screenshots/history-phone-dark.png \
	   docs/screenshots/

# History at scale against a Flask-Admin view of a table of its own with the same rows (1 million
# rows; BENCH_ARGS='--rows 10000000 --reuse instance/bench' seeds 10 million once and keeps them).
bench: install-dev
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[bench]'
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && \
		{ apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; }; } || \
		echo "wrk is missing (apt-get install wrk): a slower Python load generator is used."
	$(BIN)/python benchmarks/history.py $(BENCH_ARGS)

# A support day for 5 minutes: 30 agents, 2 % provider faults (README › Reliability).
soak: install-dev
	$(BIN)/python benchmarks/soak.py $(SOAK_ARGS)

# 1 million attempts exported through gunicorn, against its 30 s worker timeout.
bench-export: install-dev
	$(BIN)/python benchmarks/export.py $(BENCH_ARGS)

# The audit page at 1,000 and 1,000,000 chained events, both databases.
bench-audit: install-dev
	@command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python benchmarks/audit.py $(BENCH_ARGS)

# The send path under gunicorn against the bare RevenueMonster client, 1 to 32 agents at once,
# both databases (BENCH_ARGS=--profile: and one worker's profile, into test-artifacts/).
bench-send: install-dev
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/send.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
