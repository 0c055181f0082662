"""The side experiments' steps end to end on the demo stand-ins, and the tables they feed.

Procedural generators and pixel-probe rewards only (no torch): items ->
prompts -> renders -> scores -> tables, in a temporary run folder, checked
against their contracts and against numbers computed here by hand.
"""

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from widespectrum import contracts, experiment_steps as steps, layout
from widespectrum.config import ConfigError, load_registry
from widespectrum.contracts import EMOTIONS, EMOTIONS_NEGATIVE, OK
from widespectrum.experiments import EXPERIMENTS
from widespectrum.experiments.ava.measure import AVA_ITEMS
from widespectrum.experiments.emotion.measure import EMOTION_ITEMS
from widespectrum.experiments.references import read_reference_file
from widespectrum.runconfig import ExperimentChecks, TableChecks, validate_run
from widespectrum.tables.build import compute_table
from widespectrum.tables.catalog import TABLES, configured_tables
from widespectrum.images import load_image
from widespectrum.prompts.dimensions import DIMENSIONS
from .fixtures.released_data import png_bytes
from widespectrum import imagestats

SIZE = 64
N_ITEMS = 6
LEADERBOARD = "config/experiments/demo_leaderboard.yaml"


def _base_config(results_dir: Path, experiments: dict, generators_registry: Path | None = None) -> dict:
    raw = {
        "run": "steps", "results_dir": str(results_dir), "seed": 7, "demo": True,
        "generators": ["oracle", "sugarwater"], "rewards": ["aesthetic", "brightness", "contrast"],
        "judges": {"pairwise": ["probe-judge"], "rater": ["probe-rater"]},
        "roles": {"hpsv3": "aesthetic", "blip": "contrast", "judge": "probe-judge", "rater": "probe-rater"},
        "prompts": {"source": "captions_file", "captions_file": "config/captions/demo_captions.csv", "n": 4},
        "analysis": {"bootstrap": {"n": 50, "seed": 0}},
        "experiments": experiments,
    }
    if generators_registry is not None:
        raw["registry"] = {"generators": str(generators_registry)}
    return validate_run(raw)


def _small_sugarwater_registry(folder: Path) -> Path:
    """The generators registry with sugarwater rendering at 64 px, so its kind-'o' renders differ from oracle's.

    Both procedural generators render kind 'o' as the same bundled photo; at
    another size the resized pixels differ, so pairwise tables have decided pairs.
    """
    entries = yaml.safe_load(Path("config/generators.yaml").read_text())
    entries["sugarwater"] = {**entries["sugarwater"], "options": {"size": 64}}
    path = folder / "generators.yaml"
    path.write_text(yaml.safe_dump(entries))
    return path


BLOCKS = {
    "emotion": {"n_items": N_ITEMS, "size": SIZE, "rewards": ["brightness", "aesthetic"]},
    "emotion_generation": {"n_templates": 2, "reference_images": ["astronaut", "chelsea"],
                           "generators": ["oracle", "sugarwater"], "cropper": {"loader": "centre"},
                           "reward": "brightness"},
    "ava": {"n_items": N_ITEMS, "size": SIZE, "generator": "oracle", "reward": "aesthetic"},
    "art": {"n_items": N_ITEMS, "size": SIZE, "reward": "aesthetic", "blip_reward": "brightness",
            "leaderboard_file": LEADERBOARD, "captions": "captioner", "captioner": {"backend": "demo-palette"}},
    "critical": {"n_per_topic": 2, "pair": ["oracle", "sugarwater"], "rewards": ["aesthetic", "brightness"],
                 "alternatives": {"brightness": "less"}, "columns": ["oracle_selected", "sugar_selected"]},
    "slopes": {"rewards": ["aesthetic", "brightness", "contrast"]},
}


def _path(config: dict, relative: str) -> Path:
    return Path(config["results_dir"]) / config["run"] / relative


def _active(config: dict) -> dict:
    return {name: e for name, e in EXPERIMENTS.items() if e.spec(config) is not None}


def _run_experiments(config: dict) -> None:
    """Every data step, in DAG order, for every block of the config, as the experiments declare them."""
    active = _active(config)
    for name, experiment in active.items():
        if experiment.has_items:
            steps.build_items(config, name, _path(config, layout.experiment_items(name)),
                              _path(config, layout.experiment_item_images(name)),
                              _path(config, layout.provenance(f"experiments/{name}/items")))
    for name, experiment in active.items():
        if not experiment.render_generators(config):
            continue
        inputs = experiment.prompt_inputs(config) + [_path(config, p) for p in experiment.prompt_run_inputs(config)]
        steps.build_prompts(config, name, _path(config, layout.experiment_prompts(name)), inputs)
        for generator in experiment.render_generators(config):
            steps.generate(config, name, generator, _path(config, layout.experiment_prompts(name)),
                           _path(config, layout.experiment_manifest(name, generator)),
                           _path(config, layout.provenance(f"experiments/{name}/generate-{generator}")))
    for name, experiment in active.items():
        inputs = experiment.score_inputs(config)
        for reward in experiment.scored_rewards(config):
            steps.score(config, name, reward, _path(config, layout.experiment_scores(name, reward)),
                        _path(config, layout.provenance(f"experiments/{name}/score-{reward}")),
                        items_file=_path(config, inputs["item_table"]) if "item_table" in inputs else None,
                        prompts_file=_path(config, inputs["prompts"]) if "prompts" in inputs else None,
                        manifest_files=[_path(config, m) for m in inputs["manifests"]])
    for name, experiment in active.items():
        for file_name in experiment.external_files(config):
            steps.ingest_external(config, name, file_name, _path(config, layout.experiment_file(name, file_name)))


def _write_slopes_inputs(config: dict) -> dict:
    """Main-contract scores and ratings with a known linear relation, for fig_slopes."""
    rng = np.random.default_rng(3)
    run = _path(config, "")
    images = [(g, f"{p:04d}", k) for g in config["generators"] for p in range(12) for k in ("o", "a")]
    ratings = pd.DataFrame([{"generator": g, "prompt_id": p, "image_kind": k, "dimension": d,
                             "score": float(rng.uniform(0, 2)), "status": OK}
                            for g, p, k in images for d in DIMENSIONS])
    judge = ratings.pivot(index=["generator", "prompt_id", "image_kind"], columns="dimension", values="score")
    blip = pd.Series(rng.normal(size=len(judge)), index=judge.index)
    truth = {"aesthetic": 2.0 * judge["clarity"] - judge["emotion"] + 0.5 * blip,
             "brightness": judge["color_brightness"] + rng.normal(0, 0.01, len(judge)), "contrast": blip}
    for generator in config["generators"]:
        contracts.write_table(ratings[ratings["generator"] == generator],
                              run / f"ratings/probe-rater/{generator}.parquet", contracts.RATINGS)
        for reward, values in truth.items():
            rows = [{"generator": g, "prompt_id": p, "image_kind": k, "prompt_kind": "o", "reward": reward,
                     "score": float(v), "score_sigma": None, "status": OK}
                    for (g, p, k), v in values.items() if g == generator]
            contracts.write_table(pd.DataFrame(rows), run / f"scores/{reward}/{generator}.parquet", contracts.SCORES)
    return {"judge": judge, "blip": blip, "truth": truth}


def _write_reference_files(folder: Path) -> dict:
    rng = np.random.default_rng(5)
    cells = [(f"img{i}", d) for i in range(8) for d in ("clarity", "emotion")]
    truth = pd.DataFrame([{"image_id": i, "dimension": d, "label": int(rng.integers(-1, 2))} for i, d in cells])
    pred = truth.assign(score=np.clip(truth["label"] + 1 + rng.normal(0, 0.4, len(truth)), 0, 2)).drop(columns="label")
    # pairs p0-p5 by three raters, each answering as the first column says (I_o 0, tie 1, I_a 2)
    answers = pd.DataFrame([{"pair_id": f"p{i}", "rater_id": f"r{r}", "answer": a}
                            for i, a in enumerate([2, 2, 0, 1, 2, 0]) for r in range(3)])
    judge_labels = pd.DataFrame({"pair_id": [f"p{i}" for i in range(6)], "selected": [1, 0, 0, 1, 1, -1]})
    files = {"truth": folder / "truth.csv", "pred": folder / "pred.parquet", "answers": folder / "answers.tsv",
             "judge_labels": folder / "judge_labels.csv"}
    truth.to_csv(files["truth"], index=False)
    pred.to_parquet(files["pred"], index=False)
    answers.to_csv(files["answers"], sep="\t", index=False)
    judge_labels.to_csv(files["judge_labels"], index=False)
    return files


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    files = _write_reference_files(root)
    blocks = {**BLOCKS,
              "validation": {"pred_file": str(files["pred"]), "truth_file": str(files["truth"]), "judge": "J"},
              "human": {"answers_file": str(files["answers"]), "judge_labels_file": str(files["judge_labels"])}}
    config = _base_config(root / "results", blocks, _small_sugarwater_registry(root))
    _run_experiments(config)
    slopes = _write_slopes_inputs(config)
    return {"config": config, "run_dir": _path(config, ""), "files": files, "slopes": slopes}


def _table(run, name):
    return compute_table(name, run["run_dir"], run["config"])


def _probe(run_dir: Path, row, probe) -> float:
    return probe(load_image(run_dir, {"path": row.path, "sha256": row.sha256}))


# ---------------------------------------------------------------- config

def test_schema_fills_defaults_and_names_the_bad_key(tmp_path):
    config = _base_config(tmp_path, {"emotion": {"rewards": ["aesthetic"]}})
    assert config["experiments"]["emotion"] == {"rewards": ["aesthetic"], "source": "standin", "n_items": 12,
                                                "size": 256}
    bad_blocks = [
        ({"emotion": {"rewards": ["aesthetic"], "n_itemz": 3}}, r"experiments\.emotion: .*'n_itemz' was unexpected"),
        ({"critical": {"pair": ["oracle"], "rewards": ["aesthetic"]}}, r"experiments\.critical\.pair: .* too short"),
        ({"ava": {"generator": "oracle", "reward": "aesthetic", "source": "released",
                  "released": {"dataset": "weathon/aas_real_images"}}},
         r"experiments\.ava\.released\.revision: .*needed unless local_dir is given"),
        ({"critical": {"pair": ["a", "b"], "rewards": ["r"], "alternatives": {"r": "more"}}},
         r"experiments\.critical\.alternatives\.r: 'more' is not one of"),
        ({"human": {"answers_file": "a"}}, r"experiments\.human: 'judge_labels_file' is a required property"),
        ({"emotion_generation": {"generators": ["oracle"], "reward": "brightness"}},
         r"experiments\.emotion_generation: 'cropper' is a required property"),
    ]
    for block, message in bad_blocks:
        with pytest.raises(ConfigError, match=message):
            _base_config(tmp_path, block)


def test_reference_problems_name_unrunnable_entries(tmp_path):
    broken = {
        "ava": {"generator": "no-such-generator", "reward": "hpsv3"},
        "critical": {"pair": ["oracle", "tiny-flux"], "rewards": ["aesthetic"], "alternatives": {"contrast": "less"}},
        "slopes": {"rewards": ["sharpness"]},
        "emotion_generation": {"generators": ["oracle", "released-only-model"], "cropper": {"loader": "yolo"},
                               "reward": "brightness"},
    }
    # A generator known only from released data: a registry entry without a loader.
    generators = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "generators.yaml").read_text())
    generators["released-only-model"] = {"loader": None, "display_name": "known only from released data"}
    registry_file = tmp_path / "generators.yaml"
    registry_file.write_text(yaml.safe_dump(generators))
    config = _base_config(tmp_path, {}, generators_registry=registry_file)
    with pytest.raises(ConfigError, match="experiments.ava.generator: 'no-such-generator'"):
        validate_run({**config, "experiments": broken})
    config["experiments"] = broken
    ExperimentChecks().fill(config)
    config["analysis"]["tables"] = ["tab_emotion", "tab_nothing"]
    registry = load_registry(config)
    problems = "\n".join(ExperimentChecks().problems(config, registry) + TableChecks().problems(config, registry))
    assert "experiments.ava.generator: 'no-such-generator' is not in the generators registry" in problems
    assert "experiments.emotion_generation.generators[1]: 'released-only-model' has no loader yet" in problems
    assert ("experiments.critical.pair[1]: 'tiny-flux' loads the offline model 'tiny-flux', "
            "which offline_models does not define") in problems
    assert "experiments.critical.alternatives: 'contrast' is not one of its rewards" in problems
    assert "experiments.slopes.rewards: 'sharpness' is not one of the run's rewards" in problems
    assert "analysis.tables: tab_emotion needs experiments.emotion" in problems
    assert "analysis.tables: unknown table 'tab_nothing'" in problems
    assert "cropper.loader: unknown cropper 'yolo'" in problems
    assert ExperimentChecks().problems(_base_config(tmp_path, BLOCKS), registry) == []


def test_requirements_and_outputs_follow_the_blocks(run):
    config = run["config"]
    # the default analysis.tables, then every table of each block the config has, none of vsf or img2img
    assert configured_tables(config) == [
        "tab_gen", "tab_reward_model", "tab_align_p", "tab_emotion", "fig_emotion_bias", "tab_emotion_gen",
        "fig_diff", "tab_real_arts", "tab_critical_selection", "tab_critical_test", "fig_slopes", "tab_val",
        "human_validation"]
    assert TABLES["tab_emotion"].requires(config) == {
        "scores": ["experiments/emotion/scores/brightness.parquet", "experiments/emotion/scores/aesthetic.parquet"]}
    assert TABLES["tab_real_arts"].requires(config) == {
        "scores": ["experiments/art/scores/aesthetic.parquet", "experiments/art/scores/brightness.parquet"],
        "leaderboard": ["experiments/art/leaderboard.json"]}
    slopes = TABLES["fig_slopes"].requires(config)
    assert slopes["scores"] == [f"scores/{r}/{g}.parquet" for r in ("aesthetic", "brightness", "contrast")
                                for g in ("oracle", "sugarwater")]
    assert slopes["ratings"] == ["ratings/probe-rater/oracle.parquet", "ratings/probe-rater/sugarwater.parquet"]
    assert TABLES["human_validation"].requires(config) == {
        p: [f"experiments/human/{p}.parquet"] for p in ("answers", "judge_labels")}
    outputs = [f for e in _active(config).values() for f in e.outputs(config)]
    assert all((run["run_dir"] / f).is_file() for f in outputs)
    # emotion 2 rewards, emotion_generation 1, ava 1, art 2 + leaderboard, critical 2, validation 2, human 2
    assert len(outputs) == 2 + 1 + 1 + 3 + 2 + 2 + 2
    only_ava = _base_config(run["config"]["results_dir"], {"ava": BLOCKS["ava"]})
    assert configured_tables(only_ava) == ["tab_gen", "tab_reward_model", "tab_align_p", "fig_diff"]
    with pytest.raises(KeyError, match="experiments.critical is not in the config"):
        TABLES["tab_critical_test"].requires(only_ava)


# ---------------------------------------------------------------- the data stages

def test_items_prompts_and_renders_follow_their_contracts(run):
    run_dir, config = run["run_dir"], run["config"]
    emotion = contracts.read_table(run_dir / layout.experiment_items("emotion"), EMOTION_ITEMS)
    assert len(emotion) == N_ITEMS * len(EMOTIONS) and (emotion["status"] == OK).all()
    for row in emotion.itertuples():
        assert contracts.sha256_file(run_dir / row.path) == row.sha256
    emotion_prompts = contracts.read_table(run_dir / layout.experiment_prompts("emotion_generation"), contracts.PROMPTS)
    assert len(emotion_prompts) == 2 * len(EMOTIONS)
    # a template's four emotions share a reference picture and a seed key
    assert emotion_prompts.groupby("caption_id")["reference_image"].nunique().eq(1).all()
    assert sorted(emotion_prompts["reference_image"].unique()) == ["astronaut", "chelsea"]
    critical = contracts.read_table(run_dir / layout.experiment_prompts("critical"), contracts.PROMPTS)
    assert len(critical) == 5 * 2 and critical.groupby("topic").size().eq(2).all()
    ava_prompts = contracts.read_table(run_dir / layout.experiment_prompts("ava"), contracts.PROMPTS)
    ava_items = contracts.read_table(run_dir / layout.experiment_items("ava"), AVA_ITEMS)
    assert ava_prompts["prompt_original"].tolist() == ava_items.sort_values("item_id")["caption_clean"].tolist()
    for experiment, declared in _active(config).items():
        if not declared.render_generators(config):
            continue
        prompts = contracts.read_table(run_dir / layout.experiment_prompts(experiment), contracts.PROMPTS)
        for generator in declared.render_generators(config):
            manifest = contracts.read_table(run_dir / layout.experiment_manifest(experiment, generator), contracts.MANIFEST)
            assert sorted(manifest["prompt_id"]) == sorted(prompts["prompt_id"])
            assert (manifest["image_kind"] == "o").all() and (manifest["status"] == OK).all()
            assert (manifest["generator"] == generator).all()
            record = json.loads(
                (run_dir / f"provenance/experiments/{experiment}/generate-{generator}.json").read_text())
            assert record["component"]["name"] == generator and record["experiment"] == experiment


def test_scores_follow_their_contracts(run):
    run_dir, config = run["run_dir"], run["config"]
    schemas = {"emotion": contracts.EMOTION_SCORES, "emotion_generation": contracts.FACE_SCORES,
               "ava": contracts.AVA_SCORES, "art": contracts.ART_SCORES, "critical": contracts.CRITICAL_SCORES}
    expected_rows = {"emotion": N_ITEMS * 3 * 2, "emotion_generation": 2 * 2 * len(EMOTIONS), "ava": N_ITEMS * 2,
                     "art": N_ITEMS * 2, "critical": 10 * 2}
    for experiment, schema in schemas.items():
        for reward in EXPERIMENTS[experiment].scored_rewards(config):
            frame = contracts.read_table(run_dir / layout.experiment_scores(experiment, reward), schema)
            assert len(frame) == expected_rows[experiment], (experiment, reward)
            assert (frame["status"] == OK).all() and (frame["reward"] == reward).all()
            record = json.loads((run_dir / f"provenance/experiments/{experiment}/score-{reward}.json").read_text())
            assert record["component"]["name"] == reward
    faces = contracts.read_table(run_dir / layout.experiment_scores("emotion_generation", "brightness"), contracts.FACE_SCORES)
    record = json.loads((run_dir / "provenance/experiments/emotion_generation/score-brightness.json").read_text())
    assert record["cropper"]["name"] == "centre-crop" and record["generators"] == ["oracle", "sugarwater"]
    # the score is the reward of the picture's central 60 % (the demo's face crop), by hand
    scored = faces.set_index(["generator", "prompt_id"])["score"]
    for generator in ("oracle", "sugarwater"):
        manifest = contracts.read_table(run_dir / layout.experiment_manifest("emotion_generation", generator),
                                        contracts.MANIFEST)
        for row in manifest.itertuples():
            picture = Image.open(run_dir / row.path).convert("RGB")
            width, height = picture.size
            crop_w, crop_h = round(0.6 * width), round(0.6 * height)
            left, top = (width - crop_w) // 2, (height - crop_h) // 2
            face = picture.crop((left, top, left + crop_w, top + crop_h))
            assert scored[(generator, row.prompt_id)] == pytest.approx(imagestats.brightness(face))
    assert not np.allclose(scored.xs("oracle"), scored.xs("sugarwater").loc[scored.xs("oracle").index])


# ---------------------------------------------------------------- the tables

def test_every_table_computes_with_its_columns(run):
    expected = {
        "tab_emotion": (["brightness", "aesthetic"], ["reward", "anger", "fearfulness", "sadness"]),
        "fig_emotion_bias": (6, ["reward", "emotion", "diff", "diff_lo", "diff_hi", "accuracy"]),
        "tab_emotion_gen": (["oracle", "sugarwater"], ["generator", "angry", "fearful", "happy", "sad"]),
        "fig_diff": (None, ["class", "gap", "gap_lo", "gap_hi", "n"]),
        "tab_real_arts": (["aesthetic"], ["reward", "r", "r_lo", "r_hi", "s", "rank", "leaderboard_month",
                                          "model_above"]),
        "tab_critical_selection": (["aesthetic", "brightness"],
                                   ["reward", "oracle_selected", "sugar_selected", "ties"]),
        "tab_critical_test": (["aesthetic", "brightness"], ["reward", "p", "effect_r", "alternative", "p_display"]),
        "fig_slopes": (2 * 13 + 12, ["reward", "term", "coef", "se", "t", "p", "significant", "n", "r2"]),
        "tab_val": (["J"], ["judge", "mae", "wmae", "wf1", "n"]),
        "human_validation": (["judge"], ["judge", "mae", "quadratic_kappa", "accuracy_ties_removed"]),
    }
    for name, (rows, columns) in expected.items():
        result = _table(run, name)
        assert list(result.frame.columns[:len(columns)]) == columns, name
        assert not any(n.startswith("missing input") for n in result.notes), (name, result.notes)
        if isinstance(rows, int):
            assert len(result.frame) == rows, name
        elif rows is not None:
            assert result.frame.iloc[:, 0].tolist() == rows, name


def test_emotion_accuracy_matches_a_hand_count(run):
    run_dir = run["run_dir"]
    items = contracts.read_table(run_dir / layout.experiment_items("emotion"), EMOTION_ITEMS)
    brightness = {(r.item_id, r.image_emotion): _probe(run_dir, r, imagestats.brightness) for r in items.itertuples()}
    table = _table(run, "tab_emotion").frame.set_index("reward")
    for emotion, column in (("angry", "anger"), ("fearful", "fearfulness"), ("sad", "sadness")):
        ids = sorted({i for i, _ in brightness})
        hand = np.mean([brightness[(i, emotion)] > brightness[(i, "happy")] for i in ids])
        assert table.loc["brightness", column] == pytest.approx(hand)
        assert table.loc["brightness", f"n_{column}"] == N_ITEMS
    bias = _table(run, "fig_emotion_bias").frame
    assert set(bias["emotion"]) == set(EMOTIONS_NEGATIVE)


def test_ava_gap_matches_a_hand_computation(run):
    run_dir = run["run_dir"]
    items = contracts.read_table(run_dir / layout.experiment_items("ava"), AVA_ITEMS).set_index("item_id")
    manifest = contracts.read_table(run_dir / layout.experiment_manifest("ava", "oracle"), contracts.MANIFEST)
    gaps = [_probe(run_dir, render, imagestats.aesthetic) - _probe(run_dir, items.loc[render.prompt_id], imagestats.aesthetic)
            for render in manifest.itertuples()]
    table = _table(run, "fig_diff").frame.set_index("class")
    assert table.loc["overall", "gap"] == pytest.approx(np.mean(gaps))
    assert table.loc["overall", "n"] == N_ITEMS
    # the clean photo beats its degraded copy under a beauty-loving reward
    assert table.loc["overall", "gap"] > 0


def test_real_arts_placement_matches_the_leaderboard(run):
    run_dir = run["run_dir"]
    items = contracts.read_table(run_dir / layout.experiment_items("art"), EXPERIMENTS["art"].item_schema())
    r = np.mean([_probe(run_dir, row, imagestats.aesthetic) for row in items.itertuples()])
    entries = json.loads((run_dir / layout.experiment_file("art", "leaderboard.json")).read_text())["entries"]
    scores = np.array([e["score"] for e in entries])
    result = _table(run, "tab_real_arts")
    row = result.frame.iloc[0]
    assert row["r"] == pytest.approx(r)
    assert row["s"] == pytest.approx((r - scores.min()) / (scores.max() - scores.min()))
    assert row["rank"] == f"{1 + int((scores > r).sum())}/{len(scores) + 1}"
    assert row["leaderboard_month"] == "demo" and row["n_blip_true"] == N_ITEMS == row["n_blip_shuffled"]
    assert "made up for the offline demo" in result.records["leaderboard_source"]
    # the demo recaptions its canvases (captions: captioner, the palette stand-in) before scoring them
    from widespectrum.demo.art_captioner import PaletteCaptioner
    assert items["caption"].tolist() == [PaletteCaptioner().caption(run_dir / p) for p in items["path"]]


def _wilcoxon_greater(d: np.ndarray) -> tuple[int, float, float]:
    """n, Z and one-sided p of the signed-rank test of d > 0, from the textbook formulas: zeros dropped,
    tied |d| share their mean rank and shrink the variance by sum(t^3 - t)/48, normal approximation
    with continuity correction."""
    d = d[d != 0]
    n = len(d)
    magnitudes = np.abs(d)
    order = np.sort(magnitudes)
    ranks = np.array([np.flatnonzero(order == m).mean() + 1 for m in magnitudes])
    w_plus = ranks[d > 0].sum()
    ties = [int((order == m).sum()) for m in np.unique(order)]
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - sum(t ** 3 - t for t in ties) / 48)
    z = (w_plus - n * (n + 1) / 4 - 0.5) / sigma
    return n, z, 0.5 * math.erfc(z / math.sqrt(2))


def test_critical_tables_match_a_hand_count_and_test(run):
    run_dir = run["run_dir"]
    prompts = contracts.read_table(run_dir / layout.experiment_prompts("critical"), contracts.PROMPTS)
    pictures = {g: contracts.read_table(run_dir / layout.experiment_manifest("critical", g),
                                        contracts.MANIFEST).set_index("prompt_id")
                for g in ("oracle", "sugarwater")}
    selection = _table(run, "tab_critical_selection").frame.set_index("reward")
    test = _table(run, "tab_critical_test").frame.set_index("reward")
    for reward, probe in (("aesthetic", imagestats.aesthetic), ("brightness", imagestats.brightness)):
        score = {g: np.array([probe(Image.open(run_dir / frame.loc[p, "path"]).convert("RGB"))
                              for p in prompts["prompt_id"]]) for g, frame in pictures.items()}
        d = score["oracle"] - score["sugarwater"]
        assert selection.loc[reward, "oracle_selected"] == int((d > 0).sum())
        assert selection.loc[reward, "sugar_selected"] == int((d < 0).sum())
        assert selection.loc[reward, "ties"] == int((d == 0).sum())
        # brightness is tested with alternative "less": the same test of -d
        n, z, p = _wilcoxon_greater(d if reward == "aesthetic" else -d)
        assert n > 0 and test.loc[reward, "n"] == n and test.loc[reward, "n_pairs"] == len(d)
        assert test.loc[reward, "p"] == pytest.approx(p, rel=1e-9)
        assert test.loc[reward, "effect_r"] == pytest.approx((z if reward == "aesthetic" else -z) / math.sqrt(n))
    assert test.loc["brightness", "alternative"] == "less" and test.loc["aesthetic", "alternative"] == "greater"


def test_slopes_recover_the_planted_coefficients(run):
    frame = _table(run, "fig_slopes").frame
    judge, blip, truth = (run["slopes"][k] for k in ("judge", "blip", "truth"))
    design = np.column_stack([np.ones(len(judge)), judge[list(DIMENSIONS)].to_numpy(), blip.to_numpy()])
    coef, *_ = np.linalg.lstsq(design, truth["aesthetic"].to_numpy(), rcond=None)
    aesthetic = frame[frame["reward"] == "aesthetic"].set_index("term")
    assert aesthetic["coef"].to_numpy() == pytest.approx(coef, abs=1e-8)
    assert aesthetic.loc["clarity", "coef"] == pytest.approx(2.0)
    assert aesthetic.loc["blip", "coef"] == pytest.approx(0.5)
    assert (frame["n"] == len(judge)).all()
    # the BLIP reward itself is regressed without a blip term
    assert "blip" not in set(frame.loc[frame["reward"] == "contrast", "term"])


def test_validation_tables_match_hand_computations(run):
    files = run["files"]
    truth, pred = pd.read_csv(files["truth"]), pd.read_parquet(files["pred"])
    joined = truth.merge(pred, on=["image_id", "dimension"])
    row = _table(run, "tab_val").frame.iloc[0]
    assert row["mae"] == pytest.approx(np.mean(np.abs(np.round(joined["score"]) - (joined["label"] + 1))))
    assert row["n"] == len(joined)
    human = _table(run, "human_validation").frame.iloc[0]
    # humans [2,2,0,1,2,0] against the judge [2,0,0,2,2,1]: no tie on pairs 0,1,2,4 -> 3 of 4 agree
    assert human["accuracy_ties_removed"] == pytest.approx(0.75) and human["raters"] == 3


def test_reference_files_are_checked(tmp_path):
    bad = tmp_path / "pred.csv"
    pd.DataFrame({"image_id": ["a"], "dim": ["clarity"], "score": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['dimension'\]"):
        read_reference_file(bad, ("image_id", "dimension", "score"), "experiments.validation.pred_file")
    with pytest.raises(FileNotFoundError):
        read_reference_file(tmp_path / "none.csv", ("image_id",), "x")


def test_missing_inputs_become_notes(tmp_path):
    config = _base_config(tmp_path, {"critical": {"pair": ["oracle", "sugarwater"], "rewards": ["aesthetic"]}})
    result = compute_table("tab_critical_test", tmp_path / "empty", config)
    assert "missing input experiments/critical/scores/aesthetic.parquet" in result.notes
    assert math.isnan(result.frame.loc[0, "p"])


# ---------------------------------------------------------------- released sets (local Parquet)

def _image(seed: int) -> dict:
    return {"bytes": png_bytes(np.random.default_rng(seed).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)),
            "path": None}


def test_released_items_and_prompts_from_local_parquet(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    bias = {"prompt": ["A person with a [emotion] face.", "An old man looking [emotion]."],
            **{f"{e}_image": [_image(i), _image(i + 10)] for i, e in enumerate(("happy", "sad", "angry", "fearful"))}}
    (data / "emotion").mkdir()
    pq.write_table(pa.Table.from_pydict(bias), data / "emotion" / "train-0.parquet")
    lapis = {"caption": ["a vase", "a sketch", "a field"], "hpsv3": [[5.5, 1.0], None, [6.0, 1.1]],
             "image": [_image(1), {"bytes": b"not a picture", "path": None}, _image(3)]}
    (data / "lapis").mkdir()
    pq.write_table(pa.Table.from_pydict(lapis), data / "lapis" / "train-0.parquet")
    prompts = {"prompt": [f"A boy, looking {e}." for e in EMOTIONS], "emotion": list(EMOTIONS)}
    (data / "prompts").mkdir()
    pq.write_table(pa.Table.from_pydict(prompts), data / "prompts" / "train-0.parquet")
    released = {"dataset": "weathon/x", "revision": None}
    config = _base_config(tmp_path / "results", {
        "emotion": {"source": "released", "released": {**released, "local_dir": str(data / "emotion"), "n_rows": 1},
                    "rewards": ["brightness"]},
        "art": {"source": "released", "released": {**released, "local_dir": str(data / "lapis")},
                "released_scores": {"hpsv3": "hpsv3"}, "reward": "hpsv3", "blip_reward": "brightness"},
        "emotion_generation": {"source": "released", "released": {**released, "local_dir": str(data / "prompts")},
                               "generators": ["oracle"], "cropper": {"loader": "centre"}, "reward": "brightness"},
    })
    emotion = steps.build_items(config, "emotion", _path(config, layout.experiment_items("emotion")),
                                _path(config, layout.experiment_item_images("emotion")))
    assert len(emotion) == 4 and (emotion["status"] == OK).all()
    assert emotion["prompt_template"].unique().tolist() == ["A person with a [emotion] face."]
    art = steps.build_items(config, "art", _path(config, layout.experiment_items("art")),
                            _path(config, layout.experiment_item_images("art")))
    assert art["status"].tolist()[0] == OK and art["status"].tolist()[1].startswith("error: undecodable image")
    assert EXPERIMENTS["art"].scored_rewards(config) == ["brightness"]
    # hpsv3 has no loader, but its art scores come from the released set
    assert ExperimentChecks().problems(config, load_registry(config)) == []
    released_scores = steps.released_scores(config, "art", _path(config, layout.experiment_items("art")),
                                            _path(config, layout.experiment_file("art", "released_scores.parquet")))
    assert released_scores["score"].tolist()[0::2] == [5.5, 6.0]
    assert released_scores["status"].tolist()[1] == "no hpsv3 score in the released set"
    frame = steps.build_prompts(config, "emotion_generation", _path(config, layout.experiment_prompts("emotion_generation")))
    assert sorted(frame["emotion"]) == sorted(EMOTIONS) and frame["seed_key"].nunique() == 1


def _write_critical_set(folder: Path, drop: str | None = None) -> dict:
    """A tiny set in the released critical format: i, topic, label, prompt and two picture columns."""
    columns = {
        "i": [0, 1, 2, 3, 4],
        "topic": ["Police violence", "Police violence", "Police violence", "War", "War"],
        "label": [1, 0, None, 1, 0],
        "prompt": [f"critical scene {n}" for n in range(5)],
        "DanceFlux": [_image(20 + n) for n in range(5)],
        "Flux Krea": [_image(30 + n) for n in range(4)] + [{"bytes": b"not a picture", "path": None}],
    }
    columns.pop(drop, None)
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pydict(columns), folder / "train-0.parquet")
    return columns


def _released_critical_config(tmp_path: Path, data: Path, **overrides) -> dict:
    block = {"source": "released", "released": {"dataset": "weathon/critical_comparsion", "local_dir": str(data)},
             "image_columns": {"DanceFlux": "oracle", "Flux Krea": "sugarwater"}, "n_per_topic": 2,
             "pair": ["oracle", "sugarwater"], "rewards": ["brightness"], **overrides}
    return _base_config(tmp_path / "results", {"critical": block})


def _released_critical_renders(config: dict) -> dict:
    outputs = {g: _path(config, layout.experiment_manifest("critical", g))
               for g in EXPERIMENTS["critical"].render_generators(config)}
    return steps.released_renders(config, "critical", _path(config, layout.experiment_prompts("critical")), outputs,
                                  _path(config, layout.provenance("experiments/critical/released_renders")))


def test_released_critical_pictures_are_scored_as_renders(tmp_path):
    released = _write_critical_set(tmp_path / "critical")
    config = _released_critical_config(tmp_path, tmp_path / "critical")
    critical = EXPERIMENTS["critical"]
    assert critical.renders_released(config) and critical.render_generators(config) == ["oracle", "sugarwater"]
    assert ExperimentChecks().problems(config, load_registry(config)) == []
    with pytest.raises(ConfigError, match="source released"):
        steps.build_prompts(config, "critical", _path(config, layout.experiment_prompts("critical")))
    manifests = _released_critical_renders(config)
    prompts = contracts.read_table(_path(config, layout.experiment_prompts("critical")), contracts.PROMPTS)
    # the first two prompts of each topic, ids from topic and item id
    expected_ids = ["police_violence-000", "police_violence-001", "war-003", "war-004"]
    assert prompts["prompt_id"].tolist() == expected_ids
    assert prompts["prompt_original"].tolist() == [released["prompt"][i] for i in (0, 1, 3, 4)]
    assert prompts["label"].tolist() == ["1", "0", "1", "0"]
    for generator, manifest in manifests.items():
        on_disk = contracts.read_table(_path(config, layout.experiment_manifest("critical", generator)), contracts.MANIFEST)
        assert on_disk["prompt_id"].tolist() == expected_ids and (on_disk["image_kind"] == "o").all()
        assert (on_disk["generator"] == generator).all()
    assert manifests["sugarwater"]["status"].tolist()[-1].startswith("error: undecodable image")

    manifest_files = [_path(config, layout.experiment_manifest("critical", g)) for g in ("oracle", "sugarwater")]
    scores = steps.score(config, "critical", "brightness", _path(config, layout.experiment_scores("critical", "brightness")),
                         _path(config, layout.provenance("experiments/critical/score-brightness")),
                         prompts_file=_path(config, layout.experiment_prompts("critical")), manifest_files=manifest_files)
    assert _path(config, layout.experiment_scores("critical", "brightness")).is_file()
    assert critical.outputs(config) == [layout.experiment_scores("critical", "brightness")]
    by_key = scores.set_index(["generator", "prompt_id"])
    for generator, column in (("oracle", "DanceFlux"), ("sugarwater", "Flux Krea")):
        for row, prompt_id in zip((0, 1, 3, 4), expected_ids):
            picture = released[column][row]["bytes"]
            if picture == b"not a picture":
                assert by_key.loc[(generator, prompt_id), "status"].startswith("image failed")
                continue
            expected = imagestats.brightness(Image.open(io.BytesIO(picture)).convert("RGB"))
            assert by_key.loc[(generator, prompt_id), "score"] == pytest.approx(expected)
            assert by_key.loc[(generator, prompt_id), "topic"] == released["topic"][row]


def test_released_critical_errors_name_the_missing_columns(tmp_path):
    _write_critical_set(tmp_path / "no_krea", drop="Flux Krea")
    config = _released_critical_config(tmp_path, tmp_path / "no_krea")
    with pytest.raises(ConfigError, match=r"image_columns: column\(s\) \['Flux Krea'\] not in weathon/critical"):
        _released_critical_renders(config)
    _write_critical_set(tmp_path / "no_topic", drop="topic")
    config = _released_critical_config(tmp_path, tmp_path / "no_topic")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['topic'\]"):
        _released_critical_renders(config)
    with pytest.raises(ConfigError, match=re.escape("experiments.critical.image_columns: names the generators "
                                                   "['oracle', 'tiny-flux'], not the pair ['oracle', 'sugarwater']")):
        _released_critical_config(tmp_path, tmp_path / "no_topic",
                                  image_columns={"DanceFlux": "oracle", "Flux Krea": "tiny-flux"})
    with pytest.raises(ConfigError, match=r"experiments\.critical: 'released' is a required property"):
        _base_config(tmp_path, {"critical": {"source": "released", "pair": ["a", "b"], "rewards": ["r"]}})
