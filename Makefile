# Two commands matter: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo test test-fast cluster-test lint format dbt-docs gx-bootstrap sandbox weekly-screenshot clean

install: $(STAMP)

# --compile-bytecode: every Airflow task is a fresh process; with PYTHONDONTWRITEBYTECODE set (as on this
# machine) each would compile Airflow, GX and dbt from source on every import.
$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "AR Radar needs Python 3.11, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

demo: install
	$(BIN)/python -m ar_radar demo

# Test modules run side by side (pytest-xdist, one worker per core, up to 4; each module on one worker so its
# fixtures are built once): each test's dbt, DuckDB and model fits use AR_RADAR_THREADS (half the cores).
PYTEST := $(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadscope

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PYTEST)

# The inner loop: everything but whole-DAG runs, per-fault pipeline runs and scale benchmarks.
test-fast: install
	$(BIN)/ruff check .
	$(PYTEST) -m "not dag and not pipeline and not bench and not cluster"

# The sharded daily DAG on real services: PostgreSQL, Redis (apt-get installs redis-server if missing), Airflow's
# api-server, scheduler, dag-processor, triggerer and two Celery workers, with a worker killed mid-build and
# mid-send (about four minutes on 2 cores). Also part of `make test`.
cluster-test: install
	$(BIN)/python -m pytest -m cluster tests/cluster

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

dbt-docs: install
	$(BIN)/python -m ar_radar dbt-docs

gx-bootstrap: install
	$(BIN)/python -m ar_radar gx-bootstrap

sandbox: install
	$(BIN)/python -m ar_radar sandbox

# Look at what owners see: the demo's weekly reports (after `make demo`) rendered by headless Chromium
# (Debian's chromium package: apt-get install chromium) into .demo/weekly/*.png.
weekly-screenshot: install
	AR_RADAR_DB=.demo/data/ar_radar.duckdb $(BIN)/python -m ar_radar weekly-report --out .demo/weekly \
		--as-of $$(date -d "next monday" +%F)
	cd .demo/weekly && for page in *.html; do \
		chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=760,3600 \
			--screenshot="$${page%.html}.png" "file://$$PWD/$$page" 2>/dev/null; done
	ls .demo/weekly/*.png

# Never data/: it holds the raw history, checkpoints and the Xero token store.
clean:
	rm -rf .demo dbt_project/target dbt_project/logs expectations/uncommitted .pytest_cache
