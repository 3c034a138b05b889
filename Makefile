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

.PHONY: install install-dev run test lint clean

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
		--access-logfile - 'dashboard:create_app()'

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check dashboard tests
	$(BIN)/ruff format --check dashboard tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
