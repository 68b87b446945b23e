# The two commands: `make book` and `make test`. Each creates .venv if missing and installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2

CHAPTERS := $(sort $(wildcard book/[0-9]*.py))
NBVAL_DIR := _build/nbval

.PHONY: install book chapter test pytest nbval check-book clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# keep an existing torch (GPU users); otherwise the CPU build (on the project's machines it lies on local disk)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	# headless Chromium for the page check: Debian's package, never a browser download
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	    else echo "install Debian's chromium package for the page check (sudo apt-get install chromium)"; fi; }
	touch $(STAMP)

# Render the HTML book, every chapter executed.
book: install
	$(VENV)/bin/jupyter-book build . --path-output . -W --keep-going
	@echo "book: open _build/html/index.html"

# Rerun one chapter with other parameters (papermill): make chapter CH=02 PARAMS="-f parameters/h100.yaml"
# or PARAMS="-p hardware h100". The executed notebook lands in _build/rerun/.
RERUN_DIR := _build/rerun
chapter: install
	@src=$$(ls book/$(CH)_*.py 2>/dev/null | head -n 1); \
	if [ -z "$(CH)" ] || [ -z "$$src" ]; then \
	  echo "make chapter: say which chapter, e.g. make chapter CH=02 PARAMS=\"-f parameters/h100.yaml\"" >&2; exit 2; fi; \
	mkdir -p $(RERUN_DIR) && nb=$(RERUN_DIR)/$$(basename $$src .py).ipynb && \
	$(VENV)/bin/jupytext -q --to ipynb $$src -o $$nb && \
	$(VENV)/bin/papermill -k python3 --cwd book $$nb $$nb $(PARAMS) && echo "chapter: executed notebook $$nb"

pytest: install
	TRITON_INTERPRET=1 $(VENV)/bin/pytest -q -n $(JOBS) tests

# Every chapter under nbval in quick mode: jupytext -> notebook, papermill injects quick=True, nbval executes it.
nbval: install
	rm -rf $(NBVAL_DIR) && mkdir -p $(NBVAL_DIR)
	for ch in $(CHAPTERS); do \
	  nb=$(NBVAL_DIR)/$$(basename $$ch .py).ipynb; \
	  $(VENV)/bin/jupytext -q --to ipynb $$ch -o $$nb && \
	  $(VENV)/bin/papermill --prepare-only $$nb $$nb -p quick True || exit 1; \
	done
	if [ -n "$(CHAPTERS)" ]; then cd book && TRITON_INTERPRET=1 ../$(VENV)/bin/pytest -q -p no:cacheprovider \
	  --nbval-lax --nbval-cell-timeout=900 -n $(JOBS) --dist loadfile ../$(NBVAL_DIR); fi

check-book:
	$(PY) tests/check_book.py _build/html

test: pytest nbval book check-book

clean:
	rm -rf _build
