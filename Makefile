# The two commands: `make demo` and `make test`. Each creates .venv when missing and
# installs what it needs (again only when pyproject.toml changed).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
# Lanes (tests/conftest.py marks each test by what it uses): the fast one leaves out real
# data, servers and training, and runs in under two minutes.
FAST := not realdata and not server and not training and not slow

.PHONY: demo test test-fast lint bench

# [train] brings CPU PyTorch (torch==2.13.0) so the training code is tested too.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev,train]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sitewatch demo

test: $(STAMP)
	sh scripts/ensure-postgres.sh
	sh scripts/ensure-test-tools.sh
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest

test-fast: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -m "$(FAST)"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(VENV)/bin/sitewatch bench landsat ../shared/data/landsat-cd
	$(VENV)/bin/sitewatch bench oscd ../shared/data/oscd
	$(VENV)/bin/python bench/startup.py
	$(VENV)/bin/python bench/throughput.py
	$(VENV)/bin/python bench/timeseries.py
	$(VENV)/bin/python bench/dating.py
	$(VENV)/bin/python bench/store.py
