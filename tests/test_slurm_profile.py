"""profiles/slurm against the paper's DAG, through the SLURM plugin's own partition and GPU logic.

No cluster needed: every job of a full run of config/config.yaml gets the resources the
profile gives it, and the plugin's partition chooser and GPU flag are asked what they
would submit.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

pytest.importorskip("snakemake_executor_plugin_slurm")
from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file  # noqa: E402
from snakemake_executor_plugin_slurm.utils import set_gres_string  # noqa: E402

from widespectrum.plan import dag_jobs  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm"


class _Logger:
    def __getattr__(self, name):
        return logging.getLogger("slurm-plugin").info


@pytest.fixture(scope="module")
def paper_jobs():
    return dag_jobs(REPO / "config" / "config.yaml", profile=PROFILE)


def _job(rule, wildcards, threads, resources):
    return SimpleNamespace(name=rule, rule=SimpleNamespace(name=rule), wildcards=wildcards, threads=threads,
                           resources=resources)


def test_every_gpu_job_gets_a_gpu_partition_and_gpus(paper_jobs):
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    partitions = read_partition_file(REPO / profile["slurm-partition-config"])
    gpu_rules, cpu_rules = set(), set()
    for rule, wildcards, threads, resources in paper_jobs:
        job = _job(rule, wildcards, threads, resources)
        partition = get_best_partition(partitions, job, _Logger())
        if resources.get("gpu", 0):
            gpu_rules.add(rule)
            assert partition == "gpu", (rule, wildcards, resources)
            assert set_gres_string(job).strip() == f"--gpus={resources['gpu']}"
        else:
            cpu_rules.add(rule)
            assert partition == "cpu", (rule, wildcards, resources)
            assert set_gres_string(job) == ""
    # the paper's model-running rules, beyond the three that a fixed list once covered
    assert {"generate", "score", "experiment_generate", "experiment_score"} <= gpu_rules
    assert {"prompts", "table", "notebook"} <= cpu_rules


def test_memory_grows_with_attempts_and_still_fits(paper_jobs):
    """retries: 2 means attempts 1-3; mem_mb = base * attempt must fit its partition each time."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    partitions = read_partition_file(REPO / profile["slurm-partition-config"])
    assert profile["retries"] == 2
    for rule, wildcards, threads, resources in paper_jobs:
        overrides = profile["set-resources"].get(rule, {})
        expression = overrides.get("mem_mb", profile["default-resources"]["mem_mb"])
        base, times = expression.split("*")
        assert times.strip() == "attempt", rule
        # Snakemake's own evaluation of the first attempt gives the base
        assert resources["mem_mb"] == int(base), (rule, resources)
        last = _job(rule, wildcards, threads, {**resources, "mem_mb": 3 * int(base)})
        assert get_best_partition(partitions, last, _Logger()) is not None, (rule, wildcards)
    assert {rule: r["mem_mb"] for rule, _, _, r in paper_jobs}["generate"] == 64000


@pytest.mark.parametrize("profile, gpu_cap", [("slurm", None), ("local-gpu", 1)])
def test_workflow_profile_leaves_the_gpu_cap_to_the_chosen_profile(profile, gpu_cap):
    """profiles/default is applied after (and over) --profile: it must not cap GPU jobs."""
    from snakemake.cli import get_argument_parser

    args = get_argument_parser(profiles=[REPO / "profiles" / profile, REPO / "profiles" / "default"]).parse_args([])
    resources = args.resources or {}
    assert (resources["gpu"].value if "gpu" in resources else None) == gpu_cap
    overridden = get_argument_parser(profiles=[REPO / "profiles" / profile, REPO / "profiles" / "default"]
                                     ).parse_args(["--resources", "gpu=4"])
    assert overridden.resources["gpu"].value == 4
