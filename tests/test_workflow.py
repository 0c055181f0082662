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
from PIL import Image
from scipy import stats as scipy_stats

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


def _scores(run: Path, reward: str, generator: str) -> pd.DataFrame:
    """r(I, p) of one reward and generator, one row per prompt, columns 'oo', 'oa', 'ao', 'aa'."""
    frame = pd.read_parquet(run / "scores" / reward / f"{generator}.parquet")
    frame = frame[frame["status"] == "ok"]
    wide = frame.pivot_table(index="prompt_id", columns=["image_kind", "prompt_kind"], values="score")
    wide.columns = [f"{image}{prompt}" for image, prompt in wide.columns]
    return wide


def _judge_sums(run: Path, rater: str, generator: str) -> pd.DataFrame:
    """sum_d J(I, d) over every dimension, one row per prompt, columns 'o' and 'a'."""
    frame = pd.read_parquet(run / "ratings" / rater / f"{generator}.parquet")
    return frame.pivot_table(index="prompt_id", columns="image_kind", values="score", aggfunc="sum")


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
            record = json.loads((run / "tables" / f"{name}.json").read_text())
            assert record["table"] == name
            assert record["columns"] == list(pd.read_csv(run / "tables" / f"{name}.csv").columns), name
            notebook = json.loads((run / "notebooks" / f"{name}.ipynb").read_text())
            outputs = [o["output_type"] for cell in notebook["cells"] for o in cell.get("outputs", [])]
            assert "error" not in outputs and not notebook["metadata"]["papermill"].get("exception"), name
            with Image.open(run / "figures" / f"{name}.png") as figure:
                assert len(figure.convert("RGB").getcolors(maxcolors=1 << 24)) > 2, name  # something was drawn

    def test_main_tables_equal_a_hand_computation_from_the_run_files(self, run):
        config = yaml.safe_load((run / "run.yaml").read_text())["config"]
        roles, n = config["roles"], config["prompts"]["n"]
        gen = pd.read_csv(run / "tables" / "tab_gen.csv").set_index("generator")
        assert list(gen.index) == config["generators"]
        for g in config["generators"]:
            hps3, blip = _scores(run, roles["hpsv3"], g), _scores(run, roles["blip"], g)
            labels = pd.read_parquet(run / "judgements" / roles["judge"] / f"{g}.parquet")
            j = _judge_sums(run, roles["rater"], g)
            expected = {"d_hpsv3": (hps3["ao"] - hps3["oo"]).mean(), "hpsv3_aa": hps3["ao"].mean(),
                        "blip": blip["aa"].mean(), "d_j": (j["a"] - j["o"]).mean(),
                        "success": (labels["selected"] == 1).mean()}
            for column, value in expected.items():
                assert gen.loc[g, column] == pytest.approx(value, rel=1e-9), (g, column)
            assert gen.loc[g, "n_hpsv3"] == gen.loc[g, "n_labels"] == gen.loc[g, "n_j"] == len(hps3) == n

        rm = pd.read_csv(run / "tables" / "tab_reward_model.csv").set_index("reward")
        assert list(rm.index) == config["rewards"]
        for reward in config["rewards"]:
            pooled = pd.concat([
                _scores(run, reward, g).join(pd.read_parquet(
                    run / "judgements" / roles["judge"] / f"{g}.parquet").set_index("prompt_id")["selected"])
                for g in config["generators"]])
            pooled = pooled[pooled["selected"] != -1]
            accuracy = ((pooled["aa"] > pooled["oa"]) == (pooled["selected"] == 1)).mean()
            assert rm.loc[reward, "accuracy"] == pytest.approx(accuracy, rel=1e-9), reward

        align = pd.read_csv(run / "tables" / "tab_align_p.csv").set_index("generator")
        (pair,) = config["analysis"]["align_pairs"]
        d = (_scores(run, roles["hpsv3"], pair["aligned"])["ao"] - _scores(run, roles["hpsv3"], pair["base"])["ao"])
        direct = scipy_stats.wilcoxon(d, alternative="greater", method="asymptotic", correction=True)
        assert align.loc[pair["aligned"], "hpsv3_p"] == pytest.approx(direct.pvalue, rel=1e-9)
        assert align.loc[pair["aligned"], "hpsv3_r"] == pytest.approx(-direct.zstatistic / math.sqrt(len(d)), rel=1e-9)

    def test_mitigation_and_img2img_tables(self, run):
        config = yaml.safe_load((run / "run.yaml").read_text())["config"]
        roles, n = config["roles"], config["prompts"]["n"]
        vsf = pd.read_csv(run / "tables" / "tab_vsf.csv")
        assert list(vsf[["method", "scale"]].itertuples(index=False, name=None)) == [("VSF", 2.0), ("NAG", 4.0)]
        for row, variant in zip(vsf.itertuples(), config["vsf"]["variants"]):
            hps3 = _scores(run, roles["hpsv3"], variant["generator"])
            blip = _scores(run, roles["blip"], variant["generator"])
            assert row.hpsv3 == pytest.approx(hps3["ao"].mean(), rel=1e-9)
            assert row.blip == pytest.approx(blip["aa"].mean(), rel=1e-9)
            assert row.n_hpsv3 == len(hps3) == n
        img2img = pd.read_csv(run / "tables" / "tab_img2img.csv")
        assert list(img2img["generator"]) == ["tiny-flux-img2img"]
        hps3 = _scores(run, roles["hpsv3"], "tiny-flux-img2img")
        j = _judge_sums(run, roles["rater"], "tiny-flux-img2img")
        assert img2img.loc[0, "d_hpsv3"] == pytest.approx((hps3["ao"] - hps3["oo"]).mean(), rel=1e-9)
        assert img2img.loc[0, "d_j"] == pytest.approx((j["a"] - j["o"]).mean(), rel=1e-9)
        # every oracle I_a scores below the demo threshold, so every pair is re-rendered
        assert img2img.loc[0, "n_hpsv3"] == len(hps3) == n
        manifest = pd.read_parquet(run / "images" / "tiny-flux-img2img" / "manifest.parquet")
        inputs = manifest[manifest["image_kind"] == "o"]
        assert inputs["path"].str.startswith("images/oracle/").all()

    def test_reproduction_report_lists_every_published_number(self, run, repo_root):
        from widespectrum.report import flatten_published, load_published

        report = pd.read_csv(run / "reproduction_report.csv")
        published = flatten_published(load_published(repo_root / "config" / "published_values.yaml"))
        assert len(report) == len(published)
        # the demo has none of the paper's models; only the AVA classes and the human check's
        # metrics share the paper's names
        compared = report[report["status"] == "compared"]
        assert set(compared["table"]) == {"fig_diff", "human_validation"}
        assert not compared.loc[compared["table"] == "fig_diff", "within"].astype(bool).any()
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
        from .fixtures.released_data import released_run_config

        tmp = tmp_path_factory.mktemp("released")
        config = yaml.safe_load((repo_root / "config" / "released.yaml").read_text())
        config, frames = released_run_config(config, tmp, n_prompts=12, image_size=8)
        config["analysis"]["bootstrap"]["n"] = 100
        (tmp / "config.yaml").write_text(yaml.safe_dump(config))
        result = _snakemake(repo_root, "--cores", "2", "--configfile", str(tmp / "config.yaml"))
        assert result.returncode == 0, result.stderr[-5000:]
        return tmp / "results" / "released", frames["benchmark"], frames

    def test_tables_cover_every_released_run(self, run):
        folder, frame, _ = run
        gen = pd.read_csv(folder / "tables" / "tab_gen.csv").set_index("generator")
        assert len(gen) == 10
        # by hand from the released rows; sd3_medium_grpo ran twice and duplicates: first keeps run one
        for generator, model in (("flux-dev", "flux_dev"), ("sd3.5m-pickscore", "sd3_medium_grpo")):
            rows = frame[frame["model"] == model]
            hpsv3 = [value.get("hpsv3_reward", value) for value in rows["hpsv3_reward"]]
            expected = {
                "d_hpsv3": np.mean([h["hpsv3_diop"][0] - h["hpsv3_oiop"][0] for h in hpsv3]),
                "hpsv3_aa": np.mean([h["hpsv3_diop"][0] for h in hpsv3]),
                "d_hpsv2": np.mean([h["hpsv2_diop"] - h["hpsv2_oiop"] for h in rows["hpsv2_reward"]]),
                "d_j": np.mean([sum(r["distorted"]["scores"]) - sum(r["original"]["scores"]) for r in rows["rater"]]),
                "success": np.mean(rows["llm_selected"] == 1),
            }
            for column, value in expected.items():
                assert gen.loc[generator, column] == pytest.approx(value, rel=1e-9), (generator, column)
            assert gen.loc[generator, "n_labels"] == len(rows) == 12
        rm = pd.read_csv(folder / "tables" / "tab_reward_model.csv")
        assert list(rm["reward"]) == ["hpsv2.1", "hpsv3", "imagereward", "blip-l-logit", "gpt-5-chat"]
        assert np.isnan(rm.set_index("reward").loc["gpt-5-chat", "auroc"])

    def test_scores_match_the_released_values(self, run):
        folder, frame, _ = run
        row = frame[(frame["model"] == "flux_dev") & (frame["index"] == 3)].iloc[0]
        scores = pd.read_parquet(folder / "scores" / "hpsv3" / "flux-dev.parquet").set_index(
            ["prompt_id", "image_kind", "prompt_kind"])
        hpsv3 = row["hpsv3_reward"]
        hpsv3 = hpsv3.get("hpsv3_reward", hpsv3)
        mu, sigma = hpsv3["hpsv3_diop"]
        assert scores.loc[("0003", "a", "o"), "score"] == pytest.approx(mu)
        assert scores.loc[("0003", "a", "o"), "score_sigma"] == pytest.approx(sigma)

    def test_audit_counts_the_duplicated_run(self, run):
        folder, _, _ = run
        audit = pd.read_csv(folder / "audit" / "audit.csv").set_index("model")
        assert audit["duplicated_rows_dropped"].sum() == 12
        assert (folder / "audit" / "audit.md").is_file()

    def test_report_compares_published_numbers(self, run):
        folder, _, _ = run
        report = pd.read_csv(folder / "reproduction_report.csv")
        compared = report[report["status"] == "compared"]
        assert set(compared["table"]) == {"tab_gen", "tab_reward_model", "tab_align_p", "tab_emotion", "tab_real_arts"}
        assert len(compared[compared["table"] == "tab_gen"]) == 80
        # every number of this run comes from released scores: the printed precision is the tolerance
        assert set(compared["basis"]) == {"released scores"}
        # numbers, not stars or printed names: never the bootstrap interval ("or 95% CI")
        numeric = compared[compared["tolerance"].str.startswith("±")]
        assert len(numeric) >= 100 and numeric["tolerance"].str.endswith("(printed precision)").all()
        # the paper's "HPSv2" and "BLIP" rows of tab:emotion are our hpsv2.1 and blip-l-logit
        emotion = pd.read_csv(folder / "tables" / "tab_emotion.csv").set_index("reward")
        rows = compared[compared["table"] == "tab_emotion"].set_index(["row", "column"])
        assert len(rows) == 12
        for printed, reward in (("HPSv2", "hpsv2.1"), ("BLIP", "blip-l-logit"), ("HPSv3", "hpsv3")):
            for column in ("anger", "fearfulness", "sadness"):
                assert float(rows.loc[(printed, column), "reproduced"]) == pytest.approx(emotion.loc[reward, column])

    def test_tab_emotion_from_the_released_scores_by_hand(self, run):
        folder, _, frames = run
        released = frames["emotion"]
        table = pd.read_csv(folder / "tables" / "tab_emotion.csv").set_index("reward")
        stems = {"blip-l-logit": "blip", "hpsv2.1": "hpsv2", "hpsv3": "hpsv3", "imagereward": "img_reward"}
        assert sorted(table.index) == sorted(stems)
        for reward, stem in stems.items():
            for emotion, column in (("angry", "anger"), ("fearful", "fearfulness"), ("sad", "sadness")):
                own, happy = released[f"{emotion}_{stem}"], released[f"{emotion}_{stem}_happy_image"]
                if stem == "hpsv2":  # one-element lists in the release
                    own, happy = own.str[0], happy.str[0]
                wins = sum(float(a) > float(b) for a, b in zip(own, happy))  # strict, as the authors
                assert table.loc[reward, f"n_{column}"] == len(released) == 8
                assert table.loc[reward, column] == pytest.approx(wins / 8, abs=1e-12), (reward, column)
        # the fixture ties sad BLIP at item 1: a tie is no win
        assert released.at[1, "sad_blip"] == released.at[1, "sad_blip_happy_image"]

    def test_tab_real_arts_from_the_released_scores_by_hand(self, run):
        folder, _, frames = run
        scored = frames["lapis"]["hpsv3"].dropna()
        assert len(scored) == 5  # one artwork carries no score: left out, not zero
        row = pd.read_csv(folder / "tables" / "tab_real_arts.csv").set_index("reward").loc["hpsv3"]
        r = scored.mean()
        # HPSv3's leaderboard (config/experiments/hpsv3_leaderboard.yaml): best Kolors 10.55, last SD2 -0.24
        board = [10.55, 10.43, 10.27, 10.26, 9.61, 9.37, 9.21, 8.20, 8.19, 5.31, -0.24]
        assert row["n"] == 5 and row["r"] == pytest.approx(r, rel=1e-12)
        assert row["s"] == pytest.approx((r + 0.24) / (10.55 + 0.24), rel=1e-12)
        assert row["rank"] == f"{sum(score > r for score in board) + 1}/12"
