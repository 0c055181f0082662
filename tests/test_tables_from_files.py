"""`widespectrum tables` on a folder of contract files alone: what it finds, what it computes, what it lacks."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from widespectrum import contracts
from widespectrum.cli import main
from widespectrum.tables.discover import contract_files, discover_config, run_config_or_discovered


def _scores(generator: str, reward: str, by_prompt: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """by_prompt[prompt_id] = (r(I_o,p_a), r(I_a,p_a))."""
    rows = [{"generator": generator, "prompt_id": p, "image_kind": kind, "prompt_kind": "a", "reward": reward,
             "score": value, "score_sigma": None, "status": "ok"}
            for p, pair in by_prompt.items() for kind, value in zip("oa", pair, strict=True)]
    return pd.DataFrame(rows)


def _labels(generator: str, selected: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame([{"generator": generator, "prompt_id": p, "selected": y, "first_shown": "o", "status": "ok"}
                         for p, y in selected.items()])


@pytest.fixture()
def folder(tmp_path):
    run = tmp_path / "someone-elses-run"
    # hpsv3 prefers I_a on p0, p1; I_o on p2, p3. The ground-truth judge: I_a, I_o, I_o, I_o.
    contracts.write_table(_scores("flux-dev", "hpsv3", {"p0": (1, 2), "p1": (1, 3), "p2": (2, 1), "p3": (5, 4)}),
                          run / "scores/hpsv3/flux-dev.parquet", contracts.SCORES)
    contracts.write_table(_labels("flux-dev", {"p0": 1, "p1": 0, "p2": 0, "p3": 0}),
                          run / "judgements/qwen3-vl-235b/flux-dev.parquet", contracts.LABELS)
    contracts.write_table(_labels("flux-dev", {"p0": 1, "p1": 1, "p2": 0, "p3": -1}),
                          run / "judgements/gpt-5-chat/flux-dev.parquet", contracts.LABELS)
    # emotion: the negative picture wins on 2 of 3 angry items (one a tie, which counts as wrong)
    emotion = [{"item_id": f"i{k}", "emotion": "angry", "image_emotion": side, "reward": "blip-l-logit",
                "score": score, "status": "ok"}
               for k, (negative, happy) in enumerate([(3.0, 1.0), (2.0, 2.0), (5.0, -1.0)])
               for side, score in (("angry", negative), ("happy", happy))]
    contracts.write_table(pd.DataFrame(emotion), run / "experiments/emotion/scores/blip-l-logit.parquet",
                          contracts.EMOTION_SCORES)
    # validation: predictions without their ground truth
    contracts.write_table(pd.DataFrame({"image_id": ["a"], "dimension": ["clarity"], "score": [1.0]}),
                          run / "experiments/validation/pred.parquet")
    return run


def test_discovers_entries_and_experiments_from_the_paths(folder):
    config = discover_config(folder)
    assert config["generators"] == ["flux-dev"] and config["rewards"] == ["hpsv3"]
    assert config["judges"]["pairwise"] == ["gpt-5-chat", "qwen3-vl-235b"]
    assert config["roles"]["judge"] == "qwen3-vl-235b" and config["roles"]["hpsv3"] == "hpsv3"
    assert config["roles"]["blip"] is None and config["roles"]["rater"] is None
    assert config["analysis"]["baseline_judges"] == ["gpt-5-chat"]
    assert config["experiments"]["emotion"] == {"rewards": ["blip-l-logit"]}
    assert set(config["experiments"]) == {"emotion", "validation"}  # no ratings: no slopes


def test_tables_command_computes_from_files_and_names_what_is_missing(folder, capsys):
    assert main(["tables", "--results", str(folder)]) == 0
    printed = capsys.readouterr().out
    reward_model = pd.read_csv(folder / "tables/tab_reward_model.csv").set_index("reward")
    # hpsv3 predicts [1, 1, 0, 0] against [1, 0, 0, 0]: 3 of 4; gpt-5-chat [1, 1, 0, tie -> 0]: 3 of 4
    assert reward_model.loc["hpsv3", "accuracy"] == pytest.approx(0.75)
    assert reward_model.loc["gpt-5-chat", "accuracy"] == pytest.approx(0.75)
    emotion = pd.read_csv(folder / "tables/tab_emotion.csv").set_index("reward")
    assert emotion.loc["blip-l-logit", "anger"] == pytest.approx(2 / 3) and emotion.loc["blip-l-logit", "n_anger"] == 3
    record = json.loads((folder / "tables/tab_val.json").read_text())
    assert "missing input experiments/validation/truth.parquet" in record["notes"]
    assert "tab_val note: missing input experiments/validation/truth.parquet" in printed


def test_only_builds_the_named_table(folder):
    assert main(["tables", "--results", str(folder), "--only", "tab_emotion"]) == 0
    assert sorted(p.name for p in (folder / "tables").iterdir()) == ["tab_emotion.csv", "tab_emotion.json",
                                                                      "tab_emotion.tex"]


def test_run_yaml_overrides_what_the_files_suggest(folder):
    config = discover_config(folder)
    config["roles"]["judge"] = "gpt-5-chat"
    (folder / "run.yaml").write_text(yaml.safe_dump({"config": config}))
    chosen, discovered = run_config_or_discovered(folder)
    assert not discovered and chosen["roles"]["judge"] == "gpt-5-chat"


def test_contract_paths_are_those_of_the_results_readme(repo_root):
    readme = (repo_root / "results" / "README.md").read_text(encoding="utf-8")
    for path, _, columns in contract_files():
        stem = path.split("<")[0].rstrip("/")
        assert stem in readme, path
        assert columns
    paths = [p for p, _, _ in contract_files()]
    assert "experiments/emotion/scores/<reward>.parquet" in paths
    assert {"experiments/validation/pred.parquet", "experiments/validation/truth.parquet"} <= set(paths)


def test_demo_human_files_are_the_stand_in_builder_output_and_fit_the_contract(repo_root, tmp_path):
    from widespectrum.experiments.human.analysis import human_agreement
    from widespectrum.demo.human_answers import write_demo_human_files
    from widespectrum.experiments import EXPERIMENTS
    from widespectrum.experiments.references import read_reference_file

    rebuilt = write_demo_human_files(tmp_path)
    shipped = repo_root / "config" / "experiments" / "demo_human"
    block = yaml.safe_load((repo_root / "config" / "demo.yaml").read_text())["experiments"]["human"]
    frames = {}
    for part, (key, columns) in EXPERIMENTS["human"].parts.items():
        assert block[key] == f"config/experiments/demo_human/{part}.csv"
        assert (shipped / f"{part}.csv").read_text() == rebuilt[part].read_text()
        frames[part] = read_reference_file(shipped / f"{part}.csv", columns, key)
    row = human_agreement(frames["answers"], frames["judge_labels"]).frame.iloc[0]
    assert row["pairs"] == 12 and row["raters"] == 6 and row["n_excluded"] == 0
