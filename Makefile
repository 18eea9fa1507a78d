# Two commands for a newcomer: `make book` and `make test`. Both run `make setup` first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= cpu
RESULTS ?= results
export ALWA_WHEELHOUSE ?=
PYTEST_ARGS ?=
MAX_RUNS ?=
STAGE ?=
OUT ?=

.PHONY: setup test test-fast book sweep bench clean-book help env-pins-check lint-imports

help:
	@echo "make test    - set up the environment and run the whole test suite"
	@echo "make book    - set up, execute the notebooks (PROFILE=$(PROFILE)) and build the book"
	@echo "               MAX_RUNS=0 renders from the results that exist, starting no training run"
	@echo "make sweep   - run (resume) the training runs of PROFILE outside the notebooks (MAX_RUNS=n: n of them)"

setup: $(VENV)/.stamp-all

$(VENV)/.stamp-python:
	$(PYTHON) -m venv $(VENV)
	touch $@

$(VENV)/.stamp-base: $(VENV)/.stamp-python requirements/base.txt requirements/lock.txt
	$(PY) -m pip install -r requirements/base.txt -c requirements/lock.txt
	touch $@

$(VENV)/.stamp-mmcv: $(VENV)/.stamp-base tools/build_mmcv.sh
	bash tools/build_mmcv.sh $(VENV)
	touch $@

$(VENV)/.stamp-main: $(VENV)/.stamp-mmcv requirements/main.txt requirements/lock.txt pyproject.toml
	$(PY) -m pip install -r requirements/main.txt -c requirements/lock.txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.stamp-browser:
	bash tools/install_browser.sh
	touch $@

$(VENV)/.stamp-all: $(VENV)/.stamp-main $(VENV)/.stamp-browser
	$(VENV)/bin/alwa env-check
	touch $@

# the suite, then the book's example notebook against its stored outputs (nbval; numbers masked by the sanitizer)
NBVAL := $(PY) -m pytest -p no:cacheprovider --nbval book/use_pytorch.ipynb --nbval-sanitize-with book/nbval_sanitize.cfg

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)
	$(NBVAL)

lint-imports: setup
	$(VENV)/bin/lint-imports

test-fast: setup
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/alwa bench

book: setup
	$(VENV)/bin/alwa book --profile $(PROFILE) --results $(RESULTS) $(if $(MAX_RUNS),--max-runs $(MAX_RUNS)) $(if $(STAGE),--stage $(STAGE)) $(if $(OUT),--out $(OUT))

sweep: setup
	$(VENV)/bin/alwa sweep --profile $(PROFILE) --results $(RESULTS) $(if $(MAX_RUNS),--max-runs $(MAX_RUNS))

# needs the package registry (pip's resolver), so it is not part of `make test`
env-pins-check: $(VENV)/.stamp-base
	$(PY) tools/check_env_pins.py

clean-book:
	rm -rf _build book/_executed
