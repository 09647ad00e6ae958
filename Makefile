# The two commands: `make demo` and `make test`. Each creates .venv when missing and
# installs what it needs (again only when pyproject.toml changed).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sitewatch demo

test: $(STAMP)
	sh scripts/ensure-postgres.sh
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

bench: $(STAMP)
	$(VENV)/bin/sitewatch bench landsat ../shared/data/landsat-cd
	$(VENV)/bin/sitewatch bench oscd ../shared/data/oscd
	$(VENV)/bin/python bench/throughput.py
	$(VENV)/bin/python bench/timeseries.py
	$(VENV)/bin/python bench/dating.py
	$(VENV)/bin/python bench/store.py
