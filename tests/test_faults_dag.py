"""Runs killed with SIGKILL mid-job finish on a rerun, redo only unfinished work and equal an uninterrupted run.

Each case copies the workflow, starts the reduced demo (tests/fixtures/reduced_run.py), kills
Snakemake's whole process group (the job's script with it) the moment a job's log file appears,
then checks what a rerun plans against what the killed run had finished, reruns with
``widespectrum run``, which clears the killed run's locks (the profile's rerun-incomplete
redoes the killed job), and compares
every table, image, score and manifest byte for byte with an uninterrupted run.
"""

from __future__ import annotations

import json
import shutil

import pytest

from .fixtures.reduced_run import (comparable_files, finished_jobs, finished_run, jobs, kill_when, output,
                                   planned_jobs, released_config, run_dir, snakemake, workflow_copy)

pytestmark = pytest.mark.slow

ALL_JOBS = {
    ("run_spec", ""), ("prompts", ""),
    ("generate", "generator=sugarwater, chunk=0"), ("generate", "generator=sugarwater, chunk=1"),
    ("merge_manifest", "generator=sugarwater"), ("judge", "judge=probe-judge, generator=sugarwater"),
    ("score", "reward=aesthetic, generator=sugarwater"), ("score", "reward=brightness, generator=sugarwater"),
    ("table", "table=tab_gen"), ("table", "table=tab_reward_model"),
    ("notebook", "table=tab_gen"), ("notebook", "table=tab_reward_model"), ("reproduction_report", ""),
    ("numbers", ""),
}


def resume(folder):
    """What a user does after a kill: the same command again, through ``widespectrum run``.

    The killed Snakemake left its locks, which plain Snakemake would refuse to start over.
    """
    locks = sorted(p.name for p in (folder / ".snakemake" / "locks").iterdir())
    assert locks, "the killed run left no lock: nothing to clear"
    result = snakemake(folder, wrapped=True)
    said = output(result)
    assert "stale Snakemake lock(s)" in said and all(name in said for name in locks)
    assert not list((folder / ".snakemake" / "locks").glob("*"))
    return result


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return comparable_files(run_dir(finished_run(tmp_path_factory)))


@pytest.mark.parametrize("killed_in, log", [
    (("score", "reward=aesthetic, generator=sugarwater"), "logs/score/aesthetic-sugarwater.log"),
    (("notebook", "table=tab_gen"), "logs/notebook/tab_gen.log"),
])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted, killed_in, log):
    folder = workflow_copy(tmp_path / "wf")
    killed = kill_when(folder, log)
    started = set(jobs(killed).values())
    done = finished_jobs(killed)
    assert killed_in in started and killed_in not in done, "the kill did not land inside the job"

    # The rerun plans exactly what the killed run had not finished: nothing twice, nothing lost,
    # and the killed job's partial output is not taken as complete.
    assert planned_jobs(folder) == ALL_JOBS - done
    before = {path: path.stat().st_mtime_ns for path in run_dir(folder).rglob("*.parquet")
              if path.relative_to(run_dir(folder)).parts[0] in ("prompts", "images")}
    assert before, "generation had finished before the kill; its outputs must survive the rerun"

    rerun = output(resume(folder))
    assert set(jobs(rerun).values()) - {("all", "")} == ALL_JOBS - done
    assert {path: path.stat().st_mtime_ns for path in before} == before
    assert comparable_files(run_dir(folder)) == uninterrupted


def test_run_killed_during_the_ingest_of_released_data_resumes(tmp_path):
    config = released_config(tmp_path / "data")
    reference = workflow_copy(tmp_path / "uninterrupted", config)
    snakemake(reference)

    folder = workflow_copy(tmp_path / "wf", config)
    every_job = planned_jobs(folder)
    assert ("ingest_released", "") in every_job
    killed = kill_when(folder, "logs/ingest_released.log")
    done = finished_jobs(killed)
    assert ("ingest_released", "") not in done
    # nothing the ingest had begun to write counts as done: it and all below it run again
    assert planned_jobs(folder) == every_job - done
    resume(folder)
    assert comparable_files(run_dir(folder)) == comparable_files(run_dir(reference))


def test_failing_notebook_fails_its_job_with_the_cells_error_in_the_log(tmp_path, tmp_path_factory):
    folder = tmp_path / "wf"
    shutil.copytree(finished_run(tmp_path_factory), folder, symlinks=True)
    message = "notebook cell failure 7f3a"
    for notebook in (folder / "notebooks").glob("*.ipynb"):
        content = json.loads(notebook.read_text())
        content["cells"].append({"cell_type": "code", "execution_count": None, "id": "broken", "metadata": {},
                                 "outputs": [], "source": [f"raise RuntimeError({message!r})"]})
        notebook.write_text(json.dumps(content))

    result = snakemake(folder, "results/reduced/notebooks/tab_gen.ipynb", check=False)
    assert result.returncode != 0
    assert "Error in rule notebook" in output(result)
    job_log = (run_dir(folder) / "logs" / "notebook" / "tab_gen.log").read_text()
    assert f"RuntimeError: {message}" in job_log
