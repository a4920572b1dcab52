# Quick start: `make demo`, then `make test`. Both set everything up on a fresh machine:
# a virtualenv in .venv, CPU PyTorch (pinned so pip does not pull a CUDA build), the package
# with its test extras, and (for the browser test) Debian's chromium. Set-up is a no-op when done.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TORCH := torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test test-fast bench browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py analytics/terms/_tokcount.c analytics/ingest/_jsonscan.c
	@command -v cc >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null; \
	  else echo "error: no C compiler (cc) to build analytics/terms/_tokcount.c; install gcc" >&2; exit 1; fi; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[test,ray,scout]' $(TORCH)
	@touch $(STAMP)

# Debian's chromium for the report's real-browser test, and GNU time for the ingest memory test
# (each skipped with a reason when unavailable).
browser:
	@test -x /usr/bin/time || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null) \
	    || echo "warning: could not install time; the ingest memory test will be skipped"; \
	  else echo "warning: not root, GNU time not installed; the ingest memory test will be skipped"; fi; }
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "warning: not root, chromium not installed; browser tests will be skipped"; fi; }

demo: $(STAMP)
	$(VENV)/bin/cotwatch demo --out demo

test: $(STAMP) browser
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow"

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/terms.py
	$(PY) bench/classify.py

clean:
	rm -rf demo .pytest_cache
