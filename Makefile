# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Both create .venv from requirements.lock when it is missing or older than the lock.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
COHORTS := datasets/synthetic
PEERS := .venv-peers
PORT ?= 8888

.PHONY: run test lint bench lock cohort clean hub

$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(COHORTS)/teaching/manifest.json: $(BIN)/.installed
	$(BIN)/workbench generate --preset teaching --out $(COHORTS)/teaching --force

cohort: $(COHORTS)/teaching/manifest.json

## run: install, generate the teaching cohort when missing, start JupyterLab offline
run: $(BIN)/.installed cohort
	$(BIN)/workbench lab --port $(PORT)

# Debian packages the tests drive, never downloaded builds: chromium (browser tests),
# slurmctld, slurmd, slurm-client and munge (a one-node SLURM cluster on 127.0.0.1), plink2
# (reads the cohort's VCF and pedigree in the interoperability tests).
DEBIAN_TEST_PACKAGES := chromium slurmctld slurmd slurm-client munge plink2

# JupyterHub's proxy, from the npm registry (pinned in .hub/package-lock.json), for class
# hosting and its tests.
HUB_PROXY := .hub/node_modules/.bin/configurable-http-proxy

$(HUB_PROXY): .hub/package.json .hub/package-lock.json
	npm ci --prefix .hub --no-audit --no-fund --silent
	touch $@

## hub: install what `workbench hub` needs beyond the Python environment (the proxy)
hub: $(BIN)/.installed $(HUB_PROXY)

## test: install with test extras, lint, run the whole suite (notebook regression included);
## the peers' environment is built too: sgkit on zarr 2 must read our VCF Zarr stores
test: $(BIN)/.installed $(PEERS)/.installed $(HUB_PROXY)
	@missing=""; for p in $(DEBIAN_TEST_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		{ [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq $$missing >/dev/null; } || \
		echo "missing Debian packages:$$missing (only root can install them): the tests" \
			"that need them will be skipped"; fi
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/ruff format --check workbench tests benchmarks
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check --fix workbench tests benchmarks
	$(BIN)/ruff format workbench tests benchmarks

# Peers that cannot share the workbench's environment (sgkit pins zarr 2; scikit-allel's
# randomised PCA needs scikit-learn) are measured from their own, built from their own lock.
$(PEERS)/.installed: benchmarks/peers/requirements.lock $(BIN)/.installed
	$(PYTHON) -m venv $(PEERS)
	$(BIN)/uv pip install --quiet --python $(PEERS)/bin/python -r benchmarks/peers/requirements.lock
	touch $@

## bench: every script in benchmarks/, one table (peers from .venv-peers)
bench: $(BIN)/.installed $(PEERS)/.installed
	$(BIN)/python benchmarks/run_all.py

## lock: re-resolve requirements.lock from pyproject.toml (needs the registry)
lock:
	$(PYTHON) -m pip install --quiet uv==$(UV_VERSION)
	$(PYTHON) -m uv pip compile pyproject.toml --extra test --python-version 3.11 \
		--output-file requirements.lock --no-header --quiet
	$(PYTHON) -m uv pip compile benchmarks/peers/requirements.in --python-version 3.11 \
		--output-file benchmarks/peers/requirements.lock --no-header --quiet

clean:
	rm -rf $(VENV) $(PEERS) .hub .pytest_cache
