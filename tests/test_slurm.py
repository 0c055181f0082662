"""The SLURM profile on a real one-node SLURM cluster started on loopback.

A reduced demo (one generator, one reward, one judge, two tables) runs once locally and
once through snakemake-executor-plugin-slurm with profiles/slurm; every job of the SLURM
run must have been an sbatch job that the controller saw complete, and both runs' tables
must be equal. Needs root and Debian's slurm-wlm and munge (`make slurm-deps`);
elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from .fixtures.slurm_cluster import SlurmCluster, unavailable_reason

REPO = Path(__file__).resolve().parents[1]
TABLES = ("tab_gen", "tab_reward_model")
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.")
FINISHED = re.compile(r"Finished jobid: (\d+) \(Rule: (\w+)\)")


def _skip_reason() -> str | None:
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[dev]')"
    return unavailable_reason()


# Minutes, not seconds: each SLURM job starts Snakemake twice (the job and its srun step)
# and the plugin's status polling backs off by 10 s per check while jobs run.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]


def reduced_demo(results_dir: Path) -> dict:
    """config/demo.yaml cut to sugarwater, the aesthetic probe, the probe judge and two tables."""
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    for heavy in ("offline_models", "vsf", "img2img", "experiments"):
        config.pop(heavy, None)
    config.update(
        run="slurm_smoke",
        results_dir=str(results_dir),
        generators=["sugarwater"],
        rewards=["aesthetic"],
        judges={"pairwise": ["probe-judge"], "rater": []},
        roles={"hpsv3": "aesthetic", "judge": "probe-judge"},
    )
    config["prompts"]["n"] = 6
    config["generation"]["chunk_size"] = 6
    config["analysis"] = {**config["analysis"], "tables": list(TABLES), "align_pairs": [],
                          "bootstrap": {"n": 50, "seed": 0}}
    return config


def _fit_profile(folder: Path, logdir: Path) -> Path:
    """profiles/slurm with memory and CPU requests scaled to this small node.

    Everything else (partition choice by GPU count, retries, runtimes, kept logs) is the
    shipped profile's; the cluster timing settings make status checks fast for a test.
    """
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    for resources in [profile["default-resources"], *profile["set-resources"].values()]:
        if "mem_mb" in resources:
            resources["mem_mb"] = "500 * attempt"
        if "cpus_per_task" in resources:
            resources["cpus_per_task"] = 1
    partitions = yaml.safe_load((REPO / profile["slurm-partition-config"]).read_text())
    for limits in partitions["partitions"].values():
        limits.update(max_threads=os.cpu_count() or 1, max_mem_mb=8000)
    folder.mkdir()
    (folder / "partitions.yaml").write_text(yaml.safe_dump(partitions))
    profile.update({
        "slurm-partition-config": str(folder / "partitions.yaml"),
        "slurm-logdir": str(logdir),
        # Slurm 22.05 without accounting: sacct fails, squeue answers
        "slurm-status-command": "squeue",
        "slurm-no-account": True,
        "slurm-init-seconds-before-status-checks": 1,
        "seconds-between-status-checks": 2,
        "latency-wait": 10,
        "jobs": 4,
    })
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def _snakemake(args: list[str], env: dict, log: Path) -> str:
    run = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=600)
    log.write_text(run.stdout + run.stderr)
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
    return run.stdout + run.stderr


@pytest.fixture
def workspace():
    # Not pytest's tmp_path: pytest sessions running beside this one prune old
    # pytest-of-<user> folders, which would delete slurm.conf under a running cluster.
    with tempfile.TemporaryDirectory(prefix="widespectrum-slurm-") as folder:
        yield Path(folder)


@pytest.fixture
def cluster(workspace):
    node = SlurmCluster(workspace / "cluster").start()
    try:
        yield node
    finally:
        node.stop()


def test_reduced_demo_through_slurm_matches_local_run(workspace, cluster):
    env = {**cluster.env, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "TOKENIZERS_PARALLELISM": "false"}
    runs = {}
    for name in ("local", "slurm"):
        config = reduced_demo(workspace / name)
        (workspace / f"{name}.yaml").write_text(yaml.safe_dump(config))
        runs[name] = workspace / name / config["run"]
    targets = lambda name: [str(runs[name] / "tables" / f"{t}.csv") for t in TABLES]  # noqa: E731

    local_log = _snakemake([*targets("local"), "--cores", "2", "--configfile", str(workspace / "local.yaml")],
                           env, workspace / "local.log")
    profile = _fit_profile(workspace / "profile", workspace / "slurm_logs")
    slurm_log = _snakemake([*targets("slurm"), "--profile", str(profile), "--configfile",
                            str(workspace / "slurm.yaml")], env, workspace / "slurm.log")

    # every job that ran (bar the target-only rule `all`, which has no code) was an sbatch job
    finished = dict(FINISHED.findall(slurm_log))
    submitted = {job: (slurm_id, Path(logfile)) for job, slurm_id, logfile in SUBMITTED.findall(slurm_log)}
    executed = {job for job, rule in finished.items() if rule != "all"}
    assert executed and executed == set(submitted), (executed, submitted)
    # the same jobs as the local run of the same config
    local_rules = Counter(rule for _, rule in FINISHED.findall(local_log) if rule != "all")
    assert Counter(finished[job] for job in executed) == local_rules
    assert local_rules["table"] == len(TABLES) and local_rules["generate"] == 1

    # the controller ran each of them to completion, on the CPU partition (none asks for a GPU)
    ids = ",".join(slurm_id for slurm_id, _ in submitted.values())
    queue = subprocess.run(["squeue", "-h", "-t", "all", "-j", ids, "-o", "%i|%T|%P"], capture_output=True,
                           text=True, env=cluster.env, check=True, timeout=30).stdout
    states = {line.split("|")[0]: tuple(line.split("|")[1:]) for line in queue.split()}
    assert states == {slurm_id: ("COMPLETED", "cpu") for slurm_id, _ in submitted.values()}
    for slurm_id, logfile in submitted.values():
        assert logfile.is_file(), f"no SLURM log for job {slurm_id}"

    for table in TABLES:
        for suffix in (".csv", ".tex"):
            local = (runs["local"] / "tables" / f"{table}{suffix}").read_text()
            assert (runs["slurm"] / "tables" / f"{table}{suffix}").read_text() == local, f"{table}{suffix} differs"
