# Two commands do everything on a fresh Debian machine with Python 3.11:
#   make repro   set up, then run the whole DVC pipeline with params.yaml
#   make test    set up, then lint and run the whole test suite
#   make test-fast  lint and the tests not marked slow (no pipeline runs, no subprocesses)
# Both are idempotent: a second run only does what changed.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= $(shell command -v python3.11 || command -v python3)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
CHROMIUM := /usr/bin/chromium
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup repro test test-fast lint

setup: $(STAMP) $(FASHION) node_modules/.package-lock.json

# The real Fashion-MNIST, offline, from Debian (payload checksums verified by the download stage).
$(FASHION):
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q dataset-fashion-mnist

# Headless Chromium opens the HTML report in the tests, as a reader would.
$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q chromium

# onnxruntime-web, pinned by package-lock.json, for the explorer site (reports/explorer).
node_modules/.package-lock.json: package.json package-lock.json
	command -v npm >/dev/null || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q nodejs npm)
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# A new environment takes about 6.5 GB (PyTorch's CUDA build alone is 5.5 GB): say so before
# pip starts, rather than stop mid-install with "No space left on device".
VENV_GB := 7
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || { free=$$(df -Pk . | awk 'NR == 2 {print int($$4 / 1048576)}'); \
	  test "$$free" -ge $(VENV_GB) || { echo "make: the virtual environment needs about" \
	  "$(VENV_GB) GB of free disk in $(CURDIR), which has $$free GB. Fix: free some space" \
	  "(old clones' .venv folders, /tmp) and rerun make." >&2; exit 1; }; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

repro: setup
	$(BIN)/dvc repro

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every core (up to 4): pytest-xdist, with the tests of each shared pipeline run on one worker.
PARALLEL := -n auto --maxprocesses 4 --dist loadgroup

test: setup $(CHROMIUM) lint
	$(BIN)/python -m pytest $(PARALLEL)

# The inner loop: everything but the tests marked slow (pipeline runs, subprocesses, training).
test-fast: $(STAMP) lint
	$(BIN)/python -m pytest $(PARALLEL) -m "not slow"
