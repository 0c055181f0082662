"""The DAG itself: the paper config plans offline, bad configs stop early, the demo runs end to end."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _env():
    env = dict(os.environ, HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _snakemake(repo_root, *args, timeout=900):
    return subprocess.run([*SNAKEMAKE, *args], cwd=repo_root, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _planned_jobs(output: str) -> dict[str, set[str]]:
    """rule -> set of 'key=value, ...' wildcard strings from a dry run's job listing."""
    jobs: dict[str, set[str]] = {}
    rule = None
    for line in output.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line.strip()):
            rule = m.group(1)
            jobs.setdefault(rule, set())
        elif rule and (m := re.match(r"^wildcards: (.*)$", line.strip())):
            jobs[rule].add(m.group(1))
    return jobs


def test_paper_config_plans_every_generator_and_reward_offline(repo_root, tmp_path):
    result = _snakemake(repo_root, "-n", "--configfile", "config/config.yaml", "--config",
                        f"results_dir={tmp_path}")
    assert result.returncode == 0, result.stderr + result.stdout
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    jobs = _planned_jobs(result.stdout + result.stderr)
    n_chunks = math.ceil(config["prompts"]["n"] / config["generation"]["chunk_size"])
    generated = {re.search(r"generator=([^,]+)", w).group(1) for w in jobs["generate"]}
    mitigation = {v["generator"] for v in config["vsf"]["variants"]}
    assert generated == set(config["generators"]) | mitigation
    assert len(jobs["generate"]) == n_chunks * len(generated)
    scored = {re.search(r"reward=([^,]+)", w).group(1) for w in jobs["score"]}
    assert scored == set(config["rewards"])
    main_scores = {w for w in jobs["score"] if re.search(r"generator=([^,]+)", w).group(1) in config["generators"]}
    assert len(main_scores) == len(config["rewards"]) * len(config["generators"])
    assert {"tab_gen", "tab_reward_model", "tab_align_p"} <= {w.split("=")[1] for w in jobs["table"]}


def test_invalid_config_stops_before_any_job(repo_root, tmp_path):
    config = yaml.safe_load((repo_root / "config" / "demo.yaml").read_text())
    config["generation"]["chunk_size"] = "twelve"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = _snakemake(repo_root, "-n", "--configfile", str(bad))
    assert result.returncode != 0
    assert "generation.chunk_size: 'twelve' is not of type 'integer'" in result.stderr + result.stdout


@pytest.mark.slow
class TestDemo:
    """One run of the offline demo DAG in a temporary results folder, then checks on it."""

    @pytest.fixture(scope="class")
    def run(self, repo_root, tmp_path_factory):
        results = tmp_path_factory.mktemp("results")
        result = _snakemake(repo_root, "--cores", "2", "--configfile", "config/demo.yaml",
                            "--config", f"results_dir={results}")
        assert result.returncode == 0, result.stderr[-5000:]
        return results / "demo"

    def test_every_table_figure_and_notebook_exists(self, run):
        config = yaml.safe_load((run / "run.yaml").read_text())["config"]
        assert {"tab_gen", "tab_reward_model", "tab_align_p", "tab_vsf", "tab_img2img"} <= set(
            config["analysis"]["tables"])
        for name in config["analysis"]["tables"]:
            for path in (f"tables/{name}.csv", f"tables/{name}.tex", f"tables/{name}.json",
                         f"figures/{name}.pdf", f"figures/{name}.png", f"notebooks/{name}.ipynb"):
                assert (run / path).stat().st_size > 0, path

    def test_tables_have_expected_rows_and_finite_values(self, run):
        config = yaml.safe_load((run / "run.yaml").read_text())["config"]
        gen = pd.read_csv(run / "tables" / "tab_gen.csv")
        assert list(gen["generator"]) == config["generators"]
        published = ["d_hpsv2", "d_hpsv3", "hpsv3_aa", "d_imagereward", "d_j", "j_aa", "blip", "success"]
        assert list(gen.columns[1:9]) == published
        assert gen[published].notna().all().all() and (gen[published].abs() < 1e6).all().all()
        rm = pd.read_csv(run / "tables" / "tab_reward_model.csv")
        assert list(rm.columns[:4]) == ["reward", "accuracy", "f1", "auroc"]
        assert list(rm["reward"]) == config["rewards"]
        assert rm[["accuracy", "f1"]].notna().all().all()
        align = pd.read_csv(run / "tables" / "tab_align_p.csv")
        assert list(align["generator"]) == ["sugarwater"]
        assert align[["hpsv3_p", "hpsv3_r", "j_p", "j_r", "mcnemar_p"]].notna().all().all()

    def test_mitigation_and_img2img_tables(self, run):
        vsf = pd.read_csv(run / "tables" / "tab_vsf.csv")
        assert list(vsf[["method", "scale"]].itertuples(index=False, name=None)) == [("VSF", 2.0), ("NAG", 4.0)]
        assert vsf[["hpsv3", "j_s", "blip"]].notna().all().all() and (vsf["n_hpsv3"] == 24).all()
        img2img = pd.read_csv(run / "tables" / "tab_img2img.csv")
        assert list(img2img["generator"]) == ["tiny-flux-img2img"]
        # every oracle I_a scores below the demo threshold, so every pair is re-rendered
        assert img2img.loc[0, "n_hpsv3"] == 24 and img2img[["d_hpsv3", "d_j"]].notna().all().all()
        manifest = pd.read_parquet(run / "images" / "tiny-flux-img2img" / "manifest.parquet")
        inputs = manifest[manifest["image_kind"] == "o"]
        assert inputs["path"].str.startswith("images/oracle/").all()

    def test_reproduction_report_lists_every_published_number(self, run, repo_root):
        from widespectrum.report import flatten_published, load_published

        report = pd.read_csv(run / "reproduction_report.csv")
        published = flatten_published(load_published(repo_root / "config" / "published_values.yaml"))
        assert len(report) == len(published)
        # the demo has none of the paper's models; only the AVA classes share the paper's names
        compared = report[report["status"] == "compared"]
        assert set(compared["table"]) == {"fig_diff"} and not compared["within"].astype(bool).any()
        assert report.loc[report["status"] == "missing", "why"].notna().all()
        assert "numbers mean nothing" in (run / "reproduction_report.md").read_text()

    def test_oracle_follows_prompts_and_sugarwater_does_not(self, run):
        gen = pd.read_csv(run / "tables" / "tab_gen.csv").set_index("generator")
        assert gen.loc["oracle", "success"] > gen.loc["sugarwater", "success"]
        assert gen.loc["oracle", "success"] >= 0.8
        # the beauty-loving probe prefers sugarwater's I_a, as an aesthetic reward would
        assert gen.loc["sugarwater", "d_hpsv3"] > 0 > gen.loc["oracle", "d_hpsv3"]

    def test_manifests_hash_every_png(self, run):
        import hashlib

        manifest = pd.read_parquet(run / "images" / "tiny-flux" / "manifest.parquet")
        assert (manifest["status"] == "ok").all() and len(manifest) == 48
        for row in manifest.itertuples():
            assert hashlib.sha256((run / row.path).read_bytes()).hexdigest() == row.sha256

    def test_outputs_say_they_are_a_demo(self, run):
        assert json.loads((run / "tables" / "tab_gen.json").read_text())["demo"] is True
        assert "DEMO RUN" in (run / "tables" / "tab_gen.tex").read_text()
        notebook = (run / "notebooks" / "tab_gen.ipynb").read_text()
        assert "numbers mean nothing" in notebook

    def test_provenance_records_resolved_revisions_and_no_secrets(self, run):
        record = json.loads((run / "provenance" / "generate" / "tiny-flux-0.json").read_text())
        assert re.fullmatch(r"[0-9a-f]{40}", record["component"]["resolved_revision"])
        assert record["packages"]["diffusers"] == "0.42.1"
        text = "\n".join(p.read_text() for p in (run / "provenance").rglob("*.json"))
        assert "api_key" not in text.lower().replace("api_key_env", "")

    def test_cli_recomputes_the_same_table(self, run, tmp_path):
        before = pd.read_csv(run / "tables" / "tab_reward_model.csv")
        result = subprocess.run([sys.executable, "-m", "widespectrum.cli", "tables", "--results", str(run),
                                 "--only", "tab_reward_model"], capture_output=True, text=True, env=_env())
        assert result.returncode == 0, result.stderr
        pd.testing.assert_frame_equal(before, pd.read_csv(run / "tables" / "tab_reward_model.csv"))

    def test_dry_run_when_done_has_nothing_to_do(self, run, repo_root):
        result = _snakemake(repo_root, "-n", "--configfile", "config/demo.yaml",
                            "--config", f"results_dir={run.parent}")
        assert result.returncode == 0
        assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.slow
class TestReleased:
    """The released-data run on a small dataset in the released schema, built here."""

    @pytest.fixture(scope="class")
    def run(self, repo_root, tmp_path_factory):
        from .fixtures.released_data import make_benchmark_table, write_benchmark_parquet

        tmp = tmp_path_factory.mktemp("released")
        frame = make_benchmark_table(n_prompts=12, image_size=8)
        write_benchmark_parquet(frame, tmp / "data")
        config = yaml.safe_load((repo_root / "config" / "released.yaml").read_text())
        config["released"]["local_dir"] = str(tmp / "data")
        config["results_dir"] = str(tmp / "results")
        config["analysis"]["bootstrap"]["n"] = 100
        (tmp / "config.yaml").write_text(yaml.safe_dump(config))
        result = _snakemake(repo_root, "--cores", "2", "--configfile", str(tmp / "config.yaml"))
        assert result.returncode == 0, result.stderr[-5000:]
        return tmp / "results" / "released", frame

    def test_tables_cover_every_released_run(self, run):
        folder, frame = run
        gen = pd.read_csv(folder / "tables" / "tab_gen.csv").set_index("generator")
        assert len(gen) == 10 and gen["n_labels"].min() > 0
        assert gen[["d_hpsv2", "d_hpsv3", "d_imagereward", "d_j", "blip", "success"]].notna().all().all()
        rm = pd.read_csv(folder / "tables" / "tab_reward_model.csv")
        assert list(rm["reward"]) == ["hpsv2.1", "hpsv3", "imagereward", "blip-l", "gpt-5-chat"]
        assert np.isnan(rm.set_index("reward").loc["gpt-5-chat", "auroc"])

    def test_scores_match_the_released_values(self, run):
        folder, frame = run
        row = frame[(frame["model"] == "flux_dev") & (frame["index"] == 3)].iloc[0]
        scores = pd.read_parquet(folder / "scores" / "hpsv3" / "flux-dev.parquet").set_index(
            ["prompt_id", "image_kind", "prompt_kind"])
        hpsv3 = row["hpsv3_reward"]
        hpsv3 = hpsv3.get("hpsv3_reward", hpsv3)
        mu, sigma = hpsv3["hpsv3_diop"]
        assert scores.loc[("0003", "a", "o"), "score"] == pytest.approx(mu)
        assert scores.loc[("0003", "a", "o"), "score_sigma"] == pytest.approx(sigma)

    def test_audit_counts_the_duplicated_run(self, run):
        folder, _ = run
        audit = pd.read_csv(folder / "audit" / "audit.csv").set_index("model")
        assert audit["duplicated_rows_dropped"].sum() == 12
        assert (folder / "audit" / "audit.md").is_file()

    def test_report_compares_published_numbers(self, run):
        folder, _ = run
        report = pd.read_csv(folder / "reproduction_report.csv")
        compared = report[report["status"] == "compared"]
        assert set(compared["table"]) == {"tab_gen", "tab_reward_model", "tab_align_p"}
        assert len(compared[compared["table"] == "tab_gen"]) == 80
