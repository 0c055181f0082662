"""Rerun one figure: what `snakemake -n` plans after an edit, named table targets, the sectioned report.

One small finished run (the released-data config on a 12-prompt benchmark built
here) in a copy of the workflow, so the test can edit a notebook without
touching the repository.
"""

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from widespectrum.tables.catalog import TABLES

pytestmark = pytest.mark.slow

SENTINEL = "sk-sentinel-rerun-0123456789"
# the tables of the run with bootstrap intervals: the main benchmark's, tab_emotion and fig_emotion_bias (E6),
# tab_real_arts (E8); fig_slopes (E12) has none and is not made here anyway
BOOTSTRAP_TABLES = {"tab_gen", "tab_reward_model", "tab_align_p", "tab_emotion", "fig_emotion_bias", "tab_real_arts"}


def _snakemake(workdir, *args, timeout=900):
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, HF_HUB_OFFLINE="1", MPLBACKEND="Agg", WIDESPECTRUM_TEST_API_KEY=SENTINEL,
               PYTHONPATH=os.pathsep.join([str(repo / "src"), str(repo), os.environ.get("PYTHONPATH", "")]))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return result.stdout + result.stderr


def _job_counts(output: str) -> dict[str, int]:
    """rule -> count from the 'Job stats' block of a (dry) run."""
    block = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    counts = {}
    for line in block.splitlines():
        if m := re.match(r"^(\w+)\s+(\d+)$", line.strip()):
            counts[m.group(1)] = int(m.group(2))
    counts.pop("total", None)
    return counts


def _planned(output: str, rule: str) -> list[tuple[str, str]]:
    """(wildcards, reason) of each planned job of ``rule``."""
    jobs = []
    for block in re.split(r"\n\[[^\]]+\]\n", output):
        lines = [line.strip() for line in block.splitlines()]
        if lines and lines[0] == f"rule {rule}:":
            wildcards = next((line.removeprefix("wildcards: ") for line in lines if line.startswith("wildcards:")), "")
            reason = next((line.removeprefix("reason: ") for line in lines if line.startswith("reason:")), "")
            jobs.append((wildcards, reason))
    return jobs


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from .fixtures.reduced_run import copy_workflow
    from .fixtures.released_data import released_run_config

    repo = Path(__file__).resolve().parents[1]
    tmp = tmp_path_factory.mktemp("rerun")
    workdir = copy_workflow(tmp / "workflow")
    config = yaml.safe_load((repo / "config" / "released.yaml").read_text())
    config, _ = released_run_config(config, tmp, n_prompts=12, image_size=8)
    config["analysis"]["bootstrap"]["n"] = 100
    config_file = tmp / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    _snakemake(workdir, "--cores", "2", f"--configfile={config_file}")
    return workdir, config_file, config, tmp / "results" / config["run"]


def test_done_run_has_its_numbers_and_nothing_to_do(finished):
    workdir, config_file, config, run = finished
    assert "Nothing to be done" in _snakemake(workdir, "-n", f"--configfile={config_file}")
    numbers = json.loads((run / "numbers.json").read_text())["numbers"]
    tables = {key.split(".")[0] for key in numbers}
    # the release has no BLIP under p_o, so a run without released images makes no fig_slopes
    assert tables == set(config["analysis"]["tables"]) - {"fig_slopes"} | {"fig_emotion_bias"}
    assert not (run / "tables" / "fig_slopes.csv").exists()
    frame = pd.read_csv(run / "tables" / "tab_reward_model.csv").set_index("reward")
    entry = numbers["tab_reward_model.hpsv3.accuracy"]
    assert entry["value"] == pytest.approx(frame.loc["hpsv3", "accuracy"])
    for path in ("numbers.json", "numbers.tex"):
        assert SENTINEL not in (run / path).read_text()


def test_editing_a_notebook_reruns_that_notebook_only(finished):
    workdir, config_file, _, _ = finished
    notebook = workdir / "notebooks" / "tab_gen.ipynb"
    original = notebook.read_text()
    edited = json.loads(original)
    edited["metadata"]["edited"] = True
    notebook.write_text(json.dumps(edited))
    try:
        output = _snakemake(workdir, "-n", f"--configfile={config_file}")
    finally:
        notebook.write_text(original)
    assert _job_counts(output) == {"notebook": 1, "all": 1}
    [(wildcards, reason)] = _planned(output, "notebook")
    assert wildcards == "table=tab_gen"
    assert reason.startswith("Updated input files: notebooks/tab_gen.ipynb")


def test_editing_an_analysis_parameter_reruns_the_tables_that_use_it(finished, tmp_path):
    workdir, _, config, _ = finished
    changed = json.loads(json.dumps(config))
    changed["analysis"]["bootstrap"]["n"] = 50
    config_file = tmp_path / "changed.yaml"
    config_file.write_text(yaml.safe_dump(changed))
    output = _snakemake(workdir, "-n", f"--configfile={config_file}")
    counts = _job_counts(output)
    # the tables and what is drawn or collected from them; no ingest, score or judge job
    assert set(counts) == {"run_spec", "table", "notebook", "numbers", "reproduction_report", "all"}
    tables = _planned(output, "table")
    assert {w.removeprefix("table=") for w, _ in tables} == BOOTSTRAP_TABLES
    for _, reason in tables:
        assert reason.startswith("Params have changed since last execution")
        assert "'analysis.bootstrap': {'n': 100, 'seed': 0}" in reason
        assert "'analysis.bootstrap': {'n': 50, 'seed': 0}" in reason
    assert {w.removeprefix("table=") for w, _ in _planned(output, "notebook")} == BOOTSTRAP_TABLES


def test_report_groups_tables_and_figures_by_section_with_caption_and_n(finished, tmp_path):
    workdir, config_file, config, run = finished
    report = tmp_path / "report.zip"
    _snakemake(workdir, f"--configfile={config_file}", f"--report={report}")
    with zipfile.ZipFile(report) as archive:
        html = "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
                       if name.endswith(".html"))
    assert SENTINEL not in html
    headings = {"E2": "E2. Generators", "E3": "E3. Reward models", "E5": "E5. Main tables",
                "E6": "E6. Emotion", "E8": "E8. Real artworks", "E12": "E12. Per-dimension regression"}
    for table in set(config["analysis"]["tables"]) - {"fig_slopes"}:  # not made: no BLIP under p_o
        spec = TABLES[table]
        assert headings[spec.section] in html
        assert spec.caption in html
        frame = pd.read_csv(run / "tables" / f"{table}.csv")
        n_columns = [c for c in frame.columns if (c == "n" or c.startswith("n_")) and c != "n_excluded"]
        rows_used = int(frame[n_columns].max().max())
        assert f'"table": "{table}", "rows used (n)": {rows_used}' in html


def test_named_target_builds_one_table_and_its_figure(finished):
    workdir, config_file, _, run = finished
    for suffix in ("csv", "json", "tex"):
        (run / "tables" / f"tab_reward_model.{suffix}").unlink()
    output = _snakemake(workdir, "--cores", "1", f"--configfile={config_file}", "tab_reward_model")
    assert _job_counts(output) == {"table": 1, "notebook": 1, "tab_reward_model": 1}
    assert (run / "tables" / "tab_reward_model.csv").is_file()
    assert (run / "figures" / "tab_reward_model.pdf").stat().st_mtime > (run / "numbers.json").stat().st_mtime
