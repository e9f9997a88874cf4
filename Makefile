# Carbon-Aware FinOps Workbench -- two commands on a fresh clone:
#   make evaluate   run every experiment offline (sandbox) into results/
#   make test       lint + the whole test suite (incl. notebooks under nbval)
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_SENTINEL := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# BoaviztAPI (AGPL-3.0) runs as a separate local HTTP service from its own
# environment; finops_lib never imports it.
BOAVIZTA_VENV := .venv-boavizta
BOAVIZTA_VERSION := 2.5.0
BOAVIZTA_SENTINEL := $(BOAVIZTA_VENV)/.installed-$(BOAVIZTA_VERSION)
export BOAVIZTA_PYTHON ?= $(abspath $(BOAVIZTA_VENV))/bin/python
EXPERIMENTS ?=
THESIS_DIR ?= results/figures-all

$(VENV_SENTINEL): pyproject.toml
	@echo "==> creating $(VENV) from pyproject.toml"
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# notebooks are the source: git strips outputs/execution counts on add, keeping our cell ids
	-@git rev-parse --git-dir >/dev/null 2>&1 && \
	  git config filter.nbstripout.clean "$(abspath $(VENV))/bin/nbstripout --keep-id" && \
	  git config filter.nbstripout.smudge cat &&\
	  git config diff.ipynb.textconv "$(abspath $(VENV))/bin/nbstripout -t --keep-id"
	rm -f $(VENV)/.installed-*
	touch $@

$(BOAVIZTA_SENTINEL):
	@echo "==> creating $(BOAVIZTA_VENV) with boaviztapi==$(BOAVIZTA_VERSION) (local power/embodied service)"
	$(PYTHON) -m venv $(BOAVIZTA_VENV)
	$(BOAVIZTA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BOAVIZTA_VENV)/bin/python -m pip install --quiet 'boaviztapi==$(BOAVIZTA_VERSION)'
	rm -f $(BOAVIZTA_VENV)/.installed-*
	touch $@

.PHONY: help venv test lint format evaluate report figures bench lab clean

## Show this help
help:
	@awk '/^## /{doc=substr($$0,4); next} /^[a-zA-Z_-]+:/{if(doc){split($$0,a,":"); printf "  \033[36m%-10s\033[0m %s\n", a[1], doc}; doc=""}' $(MAKEFILE_LIST)

## Create the virtual environments (.venv, .venv-boavizta) if pyproject.toml changed
venv: $(VENV_SENTINEL) $(BOAVIZTA_SENTINEL)

## Lint (ruff) and run the whole test suite, notebooks included
test: venv
	@echo "==> ruff"
	$(VENV)/bin/ruff check finops_lib tests notebooks
	@echo "==> pytest"
	$(PY) -m pytest

## Lint only
lint: $(VENV_SENTINEL)
	$(VENV)/bin/ruff check finops_lib tests notebooks

## Format the code with ruff
format: $(VENV_SENTINEL)
	$(VENV)/bin/ruff format finops_lib tests notebooks

## Run every experiment headlessly on the offline sandbox into results/ (EXPERIMENTS="a b" for some)
evaluate: venv
	@echo "==> finops evaluate $(EXPERIMENTS)"
	$(VENV)/bin/finops evaluate $(EXPERIMENTS)

## Fleet report (HTML) for one snapshot: SNAPSHOT=dir (default: the sandbox world of experiment fleet-report)
report: venv
	@echo "==> fleet report $(SNAPSHOT)"
	$(PY) -m finops_lib.fleet_report $(if $(SNAPSHOT),--snapshot "$(SNAPSHOT)")

## Copy every figure into one flat folder (THESIS_DIR, default results/figures-all) + manifest.json
figures: $(VENV_SENTINEL)
	$(VENV)/bin/finops figures --out "$(THESIS_DIR)"

## Benchmarks: API calls vs the theoretical minimum, wall time, peak memory
bench: venv
	$(PY) -m finops_lib.bench

## Build the scheduler's AWS Lambda zip (build/lambda/finops-scheduler.zip; terraform/ deploys it, opt-in)
.PHONY: lambda-package
lambda-package: $(VENV_SENTINEL)
	@echo "==> building build/lambda/finops-scheduler.zip"
	$(PY) -m finops_lib.scheduler.package --out build/lambda/finops-scheduler.zip

## JupyterLab on the project, opening notebooks/00-start-here.ipynb
lab: venv
	$(VENV)/bin/jupyter lab --notebook-dir=. $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) notebooks/00-start-here.ipynb

## Remove environments, caches and generated results (keeps results/README.md)
clean:
	rm -rf $(VENV) $(BOAVIZTA_VENV) .pytest_cache .ruff_cache build *.egg-info
	find results -mindepth 1 ! -name README.md -exec rm -rf {} +
