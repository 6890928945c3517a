# The single door for building and testing the book.
#
#   make book    build the book into _build/html (clean, notebooks executed, warnings are errors)
#   make test    build the book the same way, then the unit tests, nbval over every
#                chapter notebook, and the browser check with the network cut
#
# Optional: make book REPO_URL=https://github.com/OWNER/REPO [REPO_BRANCH=main]
# adds repository, Binder and Colab buttons (see tools/book_html.py).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
MATHJAX := vendor/mathjax/tex-chtml.js
# The flags of every book build; tests/test_book_build.py reads this line.
JB_FLAGS := -W -n --keep-going

# Progress bars only in interactive sessions: ibcore reads IBCORE_PROGRESS, and the
# kernels of the book build and of nbval inherit it from here.
export IBCORE_PROGRESS := 0
# The book's linear algebra is on tiny matrices (SLSQP, least squares on a few dozen
# unknowns), where OpenBLAS's thread hand-off costs 10-100x the arithmetic once the
# two cores are shared; one thread keeps execution times short and steady.
export OPENBLAS_NUM_THREADS := 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
REPO_URL ?=
REPO_BRANCH ?=
export REPO_URL REPO_BRANCH

# The browser check runs in a new network namespace (no network but loopback).
# Root can make one directly; other users map themselves to root in a user namespace.
UNSHARE := $(if $(filter 0,$(shell id -u)),unshare --net,unshare --map-root-user --net)

.PHONY: help install book test unit nbval browser-check browser-deps clean

help:
	@echo "make book   build the book into _build/html (open _build/html/index.html)"
	@echo "make test   build the book, then unit tests, nbval and the browser check"
	@echo "make clean  remove _build (keeps .venv and vendor/mathjax)"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the requirements or the package metadata change.
$(INSTALLED): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@# Build matplotlib's font cache now, not inside the first notebook cell that
	@# imports pyplot (its message on stderr would fail the build).
	$(PY) -c "import matplotlib.pyplot"
	touch $@

$(MATHJAX): tools/fetch_mathjax.sh
	bash tools/fetch_mathjax.sh vendor/mathjax
	touch $@

install: $(INSTALLED) $(MATHJAX)

book: install
	rm -rf _build
	jupyter-book build . $(JB_FLAGS)
	test -f _build/html/index.html

browser-deps:
	bash tools/ensure_chromium.sh

unit: install
	$(PY) -m pytest tests

nbval: install
	$(PY) -m pytest --nbval-lax --nbval-current-env chapters/

browser-check: install browser-deps
	$(UNSHARE) $(PY) tools/browser_check.py _build/html --screenshot _build/screenshot_00_conventions.png

test: browser-deps book
	$(MAKE) --no-print-directory unit nbval browser-check

clean:
	rm -rf _build
