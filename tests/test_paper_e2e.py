"""The paper config (config/config.yaml) as a whole: every model it names gets its jobs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml


def _dry_run(repo_root: Path, results_dir: Path) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """rule -> the set of its jobs' wildcards, from a Snakemake dry run of the paper config."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", "config/config.yaml",
                             "--config", f"results_dir={results_dir}"],
                            cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:] + result.stdout[-5000:]
    jobs: dict[str, set] = {}
    rule = None
    for line in (result.stdout + result.stderr).splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line.strip()):
            rule = m.group(1)
            jobs.setdefault(rule, set())
        elif rule and (m := re.match(r"^wildcards: (.*)$", line.strip())):
            jobs[rule].add(tuple(tuple(kv.split("=", 1)) for kv in m.group(1).split(", ")))
    return jobs


def _with(jobs: set, **wanted: str) -> set:
    return {j for j in jobs if all(dict(j).get(k) == v for k, v in wanted.items())}


def test_paper_dry_run_has_a_job_for_every_model_it_names(repo_root, tmp_path):
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    jobs = _dry_run(repo_root, tmp_path)
    main = config["generators"]
    assert "nano-banana" in main and len(main) == 10  # Table 1's ten rows
    mitigation = [v["generator"] for v in config["vsf"]["variants"]]
    img2img = config["img2img"]["generators"]

    scored = {(dict(j)["reward"], dict(j)["generator"]) for j in jobs["score"]}
    assert {(r, g) for r in config["rewards"] for g in main} <= scored
    assert {(config["roles"]["hpsv3"], g) for g in img2img} <= scored

    rater = config["roles"]["rater"]
    assert config["judges"]["rater"] == [rater]
    rated = {dict(j)["generator"] for j in _with(jobs["rate"], rater=rater)}
    assert rated == set(main) | set(mitigation) | set(img2img)

    assert {dict(j)["generator"] for j in jobs["img2img"]} == set(img2img)
    assert config["img2img"]["source"] == "nano-banana"

    side = config["experiments"]
    rendered = {(dict(j)["experiment"], dict(j)["generator"]) for j in jobs["experiment_generate"]}
    assert {("emotion_generation", g) for g in side["emotion_generation"]["generators"]} <= rendered
    assert {"sd3.5-large", "nano-banana", "flux-dev", "danceflux", "prefflux", "flux-krea"} == set(
        side["emotion_generation"]["generators"])
    assert ("ava", "z-image-turbo") in rendered
    experiment_scores = {(dict(j)["experiment"], dict(j)["reward"]) for j in jobs["experiment_score"]}
    for name in ("emotion", "critical"):
        assert {(name, r) for r in side[name]["rewards"]} <= experiment_scores, name
    assert {("emotion_generation", side["emotion_generation"]["reward"]), ("ava", "hpsv3")} <= experiment_scores

    tables = {dict(j)["table"] for j in jobs["table"]}
    assert set(config["analysis"]["tables"]) <= tables
    assert {"tab_img2img", "fig_diff", "tab_emotion_gen"} <= tables
