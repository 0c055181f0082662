# make demo: install, then the whole DAG offline (config/demo.yaml)
# make test: install, then the test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
# pytest-xdist workers for `make test` (see tests/conftest.py for the tests kept together)
TEST_WORKERS ?= 2

# Offline by construction: nothing in the demo or the tests may reach a model hub.
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_PROGRESS_BARS := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false
export MPLBACKEND := Agg
# Snakemake rules and papermill kernels run the venv's python.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install demo test test-paper lint dry-run bench clean-demo

install: $(STAMP)

# torch and torchvision first, pinned together: an unpinned resolver would pull a newer
# torch with open_clip; then the package with its exact pins.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e '.[models,dev]'
	touch $(STAMP)

# through `widespectrum run`, so a demo killed midway resumes on the next `make demo`
demo: install
	$(BIN)/widespectrum run --cores $(CORES) --configfile config/demo.yaml

test: install slurm-deps lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not paper_e2e"

# The paper config end to end on a tiny offline cache (11 to 20 min on 2 cores; tests/test_paper_e2e.py)
test-paper: install
	$(BIN)/python -m pytest -m paper_e2e tests/test_paper_e2e.py

# Lint-clean for every run config the repository ships (the paper's is the default).
lint: install
	$(BIN)/snakemake --lint --configfile config/demo.yaml
	$(BIN)/snakemake --lint --configfile config/released.yaml
	$(BIN)/snakemake --lint

dry-run: install
	$(BIN)/snakemake -n --configfile config/config.yaml

bench: install demo
	$(BIN)/python bench/demo_speed.py
	$(BIN)/python bench/dryrun_speed.py

clean-demo:
	rm -rf results/demo

# SLURM and munge for the loopback-cluster test (root with apt only; skipped elsewhere)
.PHONY: slurm-deps
slurm-deps:
	bash .ci/install_slurm.sh
