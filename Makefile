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

.PHONY: install install-dev browser run test screenshots bench lint clean

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(FLASK) db upgrade
	$(DEMO_ENV) $(FLASK) demo
	@echo "Dashboard: http://127.0.0.1:$(PORT)   Simulator inbox: http://127.0.0.1:$(SIMULATOR_PORT)/_inbox"
	@$(FLASK) simulator --port $(SIMULATOR_PORT) & sim=$$!; \
	trap 'kill $$sim 2>/dev/null' EXIT INT TERM; \
	$(DEMO_ENV) $(BIN)/gunicorn --workers 2 --timeout 30 --bind 127.0.0.1:$(PORT) \
		--access-logfile - 'dashboard:create_app(migrations=False)'

# The browser tests drive Debian's Chromium (never a browser download).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update && apt-get install -y chromium; \
		else \
			echo "The browser tests need Debian's Chromium. Install it with:"; \
			echo "    sudo apt-get update && sudo apt-get install -y chromium"; \
			exit 1; \
		fi; \
	fi

test: install-dev browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Refresh the README's screenshots from the browser journeys.
screenshots: install-dev browser
	$(BIN)/python -m pytest tests/e2e -q
	cp test-artifacts/screenshots/sign-in-light.png test-artifacts/screenshots/send-light.png \
	   test-artifacts/screenshots/history-light.png test-artifacts/screenshots/history-dark.png \
	   test-artifacts/screenshots/result-dark.png test-artifacts/screenshots/send-phone-light.png \
	   docs/screenshots/

# History at scale against a Flask-Admin view of the same table (1 million rows; see README).
bench: install-dev
	$(BIN)/pip install --quiet -e '.[bench]'
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y wrk; } || \
		echo "wrk is missing (apt-get install wrk): a slower Python load generator is used."
	$(BIN)/python benchmarks/history.py $(BENCH_ARGS)

lint: install-dev
	$(BIN)/ruff check dashboard tests
	$(BIN)/ruff format --check dashboard tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
