"""Test-wide settings: never reach a hub, keep CPU use to the machine's two cores."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    try:
        import torch
    except ImportError:
        return
    # the machine's two cores, shared between the xdist workers when there are several
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, 2 // workers))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


# `make test` runs the suite on two pytest-xdist workers (--dist loadgroup). Each module is
# one group, so its module- and class-scoped fixtures (tiny models, whole DAG runs) are built
# once, by one worker. Modules that share one expensive session-scoped run, or run Snakemake
# in the repository itself (one `.snakemake/` folder), form one group together: a second
# worker would build the shared run again, or meet the other's locks.
XDIST_GROUPS = {
    "repository_workdir": {"test_workflow", "test_add_model", "test_catalog", "test_slurm", "test_paper_e2e"},
    "shared_reduced_run": {"test_determinism", "test_faults_dag", "test_secrets"},
}


def xdist_group_of(module: str) -> str:
    return next((group for group, modules in XDIST_GROUPS.items() if module in modules), module)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        item.add_marker(pytest.mark.xdist_group(xdist_group_of(module)))
