"""The experiment tables (docs/experiments.md, E4, E6-E12) against hand computations on small made-up data."""

from __future__ import annotations

import functools
import json
import math
from itertools import product

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from widespectrum.analysis.stats import bootstrap_rows
from widespectrum.contracts import (
    ART_SCORES,
    AVA_SCORES,
    CRITICAL_SCORES,
    EMOTION_SCORES,
    FACE_SCORES,
    PROMPTS,
    RATINGS,
    SCORES,
)
from widespectrum.contracts import write_table
from widespectrum.experiments.art.analysis import tab_real_arts
from widespectrum.experiments.ava.analysis import fig_diff
from widespectrum.experiments.critical.analysis import tab_critical_selection, tab_critical_test
from widespectrum.experiments.emotion.analysis import fig_emotion_bias, tab_emotion
from widespectrum.experiments.emotion_generation.analysis import tab_emotion_gen
from widespectrum.experiments.human.analysis import human_agreement
from widespectrum.experiments.img2img.analysis import tab_img2img
from widespectrum.experiments.slopes.analysis import fig_slopes
from widespectrum.experiments.validation.analysis import judge_validation
from widespectrum.experiments.vsf.analysis import tab_vsf
from widespectrum.experiments import EXPERIMENTS
from widespectrum.experiments.img2img.selection import select_img2img_inputs
from widespectrum.layout import experiment_scores
from widespectrum.numbers import table_config_keys
from widespectrum.runconfig import load_run
from widespectrum.tables.build import compute_table
from widespectrum.prompts.dimensions import DIMENSIONS

FAILED = "error: out of memory"


def _json_round_trips(records: dict) -> bool:
    text = json.dumps(records, sort_keys=True)
    return json.dumps(json.loads(text), sort_keys=True) == text


def scores_frame(values: dict[tuple[str, str, str, str], float | None]) -> pd.DataFrame:
    """values[(generator, reward, prompt_id, kind)] = r(I, p); kind is image kind then prompt kind; None fails."""
    rows = [{"generator": g, "prompt_id": p, "image_kind": kind[0], "prompt_kind": kind[1], "reward": r,
             "score": v, "score_sigma": None, "status": "ok" if v is not None else FAILED}
            for (g, r, p, kind), v in values.items()]
    return SCORES.validate(pd.DataFrame(rows))


def ratings_frame(values: dict[tuple[str, str, str], list[float | None]]) -> pd.DataFrame:
    """values[(generator, prompt_id, image_kind)] = 11 ratings in DIMENSIONS order; None fails."""
    rows = [{"generator": g, "prompt_id": p, "image_kind": kind, "dimension": d, "score": v,
             "status": "ok" if v is not None else FAILED}
            for (g, p, kind), ratings in values.items() for d, v in zip(DIMENSIONS, ratings, strict=True)]
    return RATINGS.validate(pd.DataFrame(rows))


def prompts_frame(dimensions: dict[str, list[str]]) -> pd.DataFrame:
    rows = [{"prompt_id": pid, "caption_id": pid, "prompt_original": "a cat", "prompt_anti": "a grim cat",
             "dimensions": dims, "negative_prompt": "pretty", "reference_image": None, "rewriter": "template"}
            for pid, dims in dimensions.items()]
    return PROMPTS.validate(pd.DataFrame(rows))


def _resampled_interval(values, n_boot: int, seed: int, level: float) -> tuple[float, float]:
    """Percentile CI of the mean: numpy means of the rows stats.bootstrap_rows draws, one resample at a time."""
    data = np.asarray(values, dtype=np.float64)
    means = [float(np.mean(data[rows])) for rows in bootstrap_rows(len(data), n_boot=n_boot, seed=seed)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _intervals(columns) -> list[str]:
    return [f"{c}_{end}" for c in columns for end in ("lo", "hi")]


# ---------------------------------------------------------------- E6 emotion classification

# (reward, emotion, item) -> (r(I_e, p_e), r(I_happy, p_e)); None = a failed score.
EMOTION_VALUES = {
    ("R1", "angry", "i0"): (2.0, 1.0),   # right
    ("R1", "angry", "i1"): (0.5, 1.5),   # wrong
    ("R1", "angry", "i2"): (3.0, 3.0),   # tie: wrong
    ("R1", "angry", "i3"): (4.0, None),  # happy score failed: left out
    ("R1", "fearful", "i0"): (1.0, 0.0),
    ("R1", "fearful", "i1"): (1.0, 0.0),
    ("R1", "sad", "i0"): (0.0, 1.0),
    ("R2", "angry", "i0"): (5.0, 1.0),
    ("R2", "fearful", "i0"): (0.0, 2.0),
    ("R2", "sad", "i0"): (9.0, 2.0),
    ("R2", "sad", "i1"): (9.0, 7.0),
}


def emotion_frame(values=EMOTION_VALUES, extra_rows=()) -> pd.DataFrame:
    rows = []
    for (reward, emotion, item), pair in values.items():
        for image_emotion, score in zip((emotion, "happy"), pair, strict=True):
            rows.append({"item_id": item, "emotion": emotion, "image_emotion": image_emotion, "reward": reward,
                         "score": score, "status": "ok" if score is not None else FAILED})
    rows += list(extra_rows)
    return EMOTION_SCORES.validate(pd.DataFrame(rows))


def test_tab_emotion_counts_strict_wins_by_hand():
    result = tab_emotion(emotion_frame(), n_boot=200, seed=1)
    frame = result.frame.set_index("reward")
    assert list(result.frame.columns[:4]) == ["reward", "anger", "fearfulness", "sadness"]
    assert list(frame.index) == ["R1", "R2"]
    assert frame.loc["R1", "anger"] == pytest.approx(1 / 3) and frame.loc["R1", "n_anger"] == 3
    assert frame.loc["R1", "fearfulness"] == 1.0 and frame.loc["R1", "sadness"] == 0.0
    assert frame.loc["R2", "anger"] == 1.0 and frame.loc["R2", "fearfulness"] == 0.0
    assert frame.loc["R2", "sadness"] == 1.0 and frame.loc["R2", "n_sadness"] == 2
    assert frame.loc["R1", "n_excluded"] == 1 and frame.loc["R2", "n_excluded"] == 0
    assert result.records["ties"]["R1"]["angry"] == 1
    assert result.records["incomplete_items"] == {"R1": {"angry": 1}}
    for column in ("anger", "fearfulness", "sadness"):
        low, high = frame[f"{column}_lo"], frame[f"{column}_hi"]
        assert ((low <= frame[column]) & (frame[column] <= high)).all()
        assert ((low >= 0) & (high <= 1)).all()
    assert _json_round_trips(result.records)


def test_tab_emotion_is_seeded_and_missing_reward_gives_nan():
    first = tab_emotion(emotion_frame(), rewards=["R1", "R3"], n_boot=100, seed=3)
    again = tab_emotion(emotion_frame(), rewards=["R1", "R3"], n_boot=100, seed=3)
    pd.testing.assert_frame_equal(first.frame, again.frame)
    row = first.frame.set_index("reward").loc["R3"]
    assert math.isnan(row["anger"]) and row["n_anger"] == 0
    assert any("'R3'" in note for note in first.notes)
    empty = tab_emotion(None, rewards=["R1"])
    assert empty.frame["sadness"].isna().all() and any("no emotion scores" in n for n in empty.notes)


def test_tab_emotion_ignores_off_design_images_with_a_note():
    stray = {"item_id": "i0", "emotion": "angry", "image_emotion": "sad", "reward": "R2", "score": 99.0,
             "status": "ok"}
    result = tab_emotion(emotion_frame(extra_rows=[stray]), n_boot=50)
    assert result.frame.set_index("reward").loc["R2", "anger"] == 1.0
    assert any("another negative emotion" in note for note in result.notes)


def test_fig_emotion_bias_means_and_item_records():
    result = fig_emotion_bias(emotion_frame(), n_boot=200, seed=0)
    frame = result.frame.set_index(["reward", "emotion"])
    assert frame.loc[("R1", "angry"), "diff"] == pytest.approx(np.mean([1.0, -1.0, 0.0]))
    assert frame.loc[("R1", "angry"), "ties"] == 1 and frame.loc[("R1", "angry"), "n"] == 3
    assert frame.loc[("R2", "sad"), "diff"] == pytest.approx(np.mean([7.0, 2.0]))
    assert frame.loc[("R2", "sad"), "accuracy"] == 1.0
    assert frame.loc[("R1", "sad"), "diff_lo"] == frame.loc[("R1", "sad"), "diff_hi"] == -1.0
    assert len(result.records["items"]) == 10  # 11 items, one incomplete
    table = tab_emotion(emotion_frame(), n_boot=200).frame.set_index("reward")
    assert frame.loc[("R1", "angry"), "accuracy"] == table.loc["R1", "anger"]
    assert _json_round_trips(result.records)


# ---------------------------------------------------------------- E6 emotion generation

def test_tab_emotion_gen_means_per_generator_and_emotion():
    rows = []
    values = {("G1", "happy"): [0.6, 0.8], ("G1", "sad"): [0.2], ("G1", "angry"): [0.1, 0.3, None],
              ("G2", "fearful"): [0.9], ("G2", "happy"): [0.4]}
    for (generator, emotion), scores in values.items():
        for k, score in enumerate(scores):
            rows.append({"generator": generator, "prompt_id": f"{emotion}{k}", "emotion": emotion, "reward": "blip",
                         "score": score, "status": "ok" if score is not None else FAILED})
    faces = FACE_SCORES.validate(pd.DataFrame(rows))
    result = tab_emotion_gen(faces, generators=["G2", "G1", "G3"])
    frame = result.frame.set_index("generator")
    assert list(result.frame.columns[:5]) == ["generator", "angry", "fearful", "happy", "sad"]
    assert list(frame.index) == ["G2", "G1", "G3"]
    assert frame.loc["G1", "happy"] == pytest.approx(0.7) and frame.loc["G1", "angry"] == pytest.approx(0.2)
    assert frame.loc["G1", "n_angry"] == 2 and frame.loc["G1", "n_excluded"] == 1
    assert math.isnan(frame.loc["G1", "fearful"]) and frame.loc["G2", "fearful"] == pytest.approx(0.9)
    assert frame.loc["G3"].isna()[["angry", "fearful", "happy", "sad"]].all()
    other = faces.assign(reward="clip")
    with pytest.raises(ValueError, match="several rewards"):
        tab_emotion_gen(pd.concat([faces, other]))
    assert tab_emotion_gen(pd.concat([faces, other]), reward="blip").frame.equals(tab_emotion_gen(faces).frame)


FACE_EMOTIONS = ["angry", "fearful", "happy", "sad"]
FACE_GENERATORS = ["G1", "G2"]


@pytest.fixture(scope="module")
def face_run():
    """20 prompts per (generator, emotion), one failed score, rows shuffled (the table orders by prompt)."""
    rng = np.random.default_rng(13)
    values = {(g, e, k): float(np.round(rng.uniform(0, 1), 4))
              for g, e, k in product(FACE_GENERATORS, FACE_EMOTIONS, range(20))}
    values[("G1", "sad", 4)] = None
    rows = [{"generator": g, "prompt_id": f"{e}{k:02d}", "emotion": e, "reward": "blip", "score": v,
             "status": "ok" if v is not None else FAILED} for (g, e, k), v in values.items()]
    shuffled = pd.DataFrame(rows).iloc[rng.permutation(len(rows))].reset_index(drop=True)
    return values, FACE_SCORES.validate(shuffled)


def _face_sample(values, generator: str, emotion: str) -> list[float]:
    """The usable scores of one generator and emotion, in prompt order."""
    return [v for (g, e, _), v in sorted(values.items()) if g == generator and e == emotion and v is not None]


def test_tab_emotion_gen_intervals_equal_numpy_on_the_seeded_resamples(face_run):
    values, faces = face_run
    result = tab_emotion_gen(faces, generators=FACE_GENERATORS, n_boot=250, seed=5)
    columns = list(result.frame.columns)
    assert columns[:5] == ["generator", *FACE_EMOTIONS]
    assert columns[5:13] == _intervals(FACE_EMOTIONS)
    assert columns[13:] == [*[f"n_{e}" for e in FACE_EMOTIONS], "n_excluded"]
    frame = result.frame.set_index("generator")
    for generator, emotion in product(FACE_GENERATORS, FACE_EMOTIONS):
        sample = _face_sample(values, generator, emotion)
        low, high = frame.loc[generator, f"{emotion}_lo"], frame.loc[generator, f"{emotion}_hi"]
        assert (low, high) == pytest.approx(_resampled_interval(sample, 250, 5, 0.95), rel=1e-12, abs=1e-12)
        assert frame.loc[generator, emotion] == pytest.approx(np.mean(sample), rel=1e-12)
        assert low < frame.loc[generator, emotion] < high, (generator, emotion)
    assert frame.loc["G1", "n_sad"] == 19 and frame.loc["G1", "n_excluded"] == 1
    assert result.records["bootstrap"] == {"n_boot": 250, "seed": 5, "level": 0.95}
    assert _json_round_trips(result.records)


def test_tab_emotion_gen_intervals_are_seeded_and_can_be_skipped(face_run):
    _, faces = face_run
    first = tab_emotion_gen(faces, generators=[*FACE_GENERATORS, "G3"], n_boot=100, seed=2)
    pd.testing.assert_frame_equal(first.frame, tab_emotion_gen(faces, generators=[*FACE_GENERATORS, "G3"],
                                                               n_boot=100, seed=2).frame)
    intervals = _intervals(FACE_EMOTIONS)
    assert first.frame.set_index("generator").loc["G3", intervals].isna().all()
    without = tab_emotion_gen(faces, generators=[*FACE_GENERATORS, "G3"], n_boot=0)
    assert without.frame[intervals].isna().all().all()
    pd.testing.assert_frame_equal(without.frame.drop(columns=intervals), first.frame.drop(columns=intervals))
    reseeded = tab_emotion_gen(faces, generators=FACE_GENERATORS, n_boot=100, seed=3).frame
    assert (reseeded[intervals] != first.frame.iloc[:2][intervals]).all().all()


def test_tab_emotion_gen_from_a_run_folder_takes_the_bootstrap_from_the_config(face_run, tmp_path):
    _, faces = face_run
    write_table(faces, tmp_path / experiment_scores("emotion_generation", "blip"), FACE_SCORES)
    config = {"experiments": {"emotion_generation": {"generators": FACE_GENERATORS, "reward": "blip"}},
              "analysis": {"bootstrap": {"n": 120, "seed": 9}}}
    built = compute_table("tab_emotion_gen", tmp_path, config)
    direct = tab_emotion_gen(faces, generators=FACE_GENERATORS, reward="blip", n_boot=120, seed=9)
    pd.testing.assert_frame_equal(built.frame, direct.frame)
    assert built.records["bootstrap"] == {"n_boot": 120, "seed": 9, "level": 0.95}
    assert built.frame[_intervals(FACE_EMOTIONS)].notna().all().all()


# ---------------------------------------------------------------- E7 AVA

def ava_frame() -> pd.DataFrame:
    items = {  # item -> (classes, photo, generated)
        "a0": (["Analog Degradation"], 1.0, 15.0),
        "a1": (["analog_degradation", "intentional_blur"], 2.0, 10.0),
        "a2": (["intentional_blur"], 4.0, 6.0),
        "a3": (["exposure_extremes", "intentional_blur"], 3.0, 1.0),
        "a4": ([], 0.0, 5.0),
        "a5": (["exposure_extremes"], 2.0, None),  # render failed: unpaired
    }
    rows = []
    for item, (classes, photo, generated) in items.items():
        for source, score in (("photo", photo), ("generated", generated)):
            rows.append({"item_id": item, "classes": classes, "source": source, "reward": "hps3",
                         "score": score, "status": "ok" if score is not None else FAILED})
    rows.append({"item_id": "a0", "classes": ["analog_degradation"], "source": "photo", "reward": "other",
                 "score": 100.0, "status": "ok"})
    return AVA_SCORES.validate(pd.DataFrame(rows))


def test_fig_diff_overall_and_overlapping_classes():
    result = fig_diff(ava_frame(), reward="hps3", n_boot=300, seed=0)
    frame = result.frame.set_index("class")
    assert list(result.frame.columns) == ["class", "gap", "gap_lo", "gap_hi", "n"]
    assert list(frame.index) == ["overall", "analog_degradation", "exposure_extremes", "intentional_blur"]
    gaps = {"a0": 14.0, "a1": 8.0, "a2": 2.0, "a3": -2.0, "a4": 5.0}
    assert frame.loc["overall", "gap"] == pytest.approx(np.mean(list(gaps.values())))
    assert frame.loc["overall", "n"] == 5
    assert frame.loc["analog_degradation", "gap"] == pytest.approx(11.0)
    assert frame.loc["intentional_blur", "gap"] == pytest.approx(np.mean([8.0, 2.0, -2.0]))
    assert frame.loc["exposure_extremes", "gap"] == -2.0 and frame.loc["exposure_extremes", "n"] == 1
    assert result.records["multi_class_items"] == 2
    assert result.records["items_without_class"] == 1 and result.records["unpaired_items"] == 1
    assert result.records["excluded"] == {"hps3": 1}
    assert any("overlap" in note for note in result.notes)
    assert frame.loc["overall", "gap_lo"] <= frame.loc["overall", "gap"] <= frame.loc["overall", "gap_hi"]


def test_fig_diff_missing_reward_gives_nan():
    result = fig_diff(ava_frame(), reward="absent")
    assert result.frame["gap"].isna().all() and any("'absent'" in note for note in result.notes)


# ---------------------------------------------------------------- E8 real artworks

# A made-up 11-entry leaderboard (names for readability only): with r = 5.86 nine entries
# score higher, so R = 10 of 12, just below Hunyuan-DiT, and s = 6.10 / 10.79 = 0.565.
LEADERBOARD = [
    {"model": "Kolors", "score": 10.55}, {"model": "Flux-dev", "score": 10.43},
    {"model": "Playground", "score": 10.27}, {"model": "Infinity", "score": 10.26},
    {"model": "CogView4", "score": 9.61}, {"model": "PixArt", "score": 9.37},
    {"model": "Gemini", "score": 9.21}, {"model": "SDXL", "score": 8.20},
    {"model": "Hunyuan-DiT", "score": 8.19}, {"model": "SD3", "score": 5.31},
    {"model": "SD2", "score": -0.24},
]


def art_frame(true_scores, blip_true=(), blip_shuffled=()) -> pd.DataFrame:
    rows = [{"item_id": f"w{k}", "caption_kind": "true", "reward": "hps3", "score": s,
             "status": "ok" if s is not None else FAILED} for k, s in enumerate(true_scores)]
    rows += [{"item_id": f"w{k}", "caption_kind": "true", "reward": "blip", "score": s, "status": "ok"}
             for k, s in enumerate(blip_true)]
    rows += [{"item_id": f"w{k}", "caption_kind": "shuffled", "reward": "blip", "score": s, "status": "ok"}
             for k, s in enumerate(blip_shuffled)]
    return ART_SCORES.validate(pd.DataFrame(rows))


def test_tab_real_arts_rank_and_relative_score_on_a_known_leaderboard():
    arts = art_frame([5.0, 6.0, 6.58, None], blip_true=[1.0, 0.99, 0.998], blip_shuffled=[0.1, 0.072])
    result = tab_real_arts(arts, reward="hps3", leaderboard=LEADERBOARD, leaderboard_source="HPSv3 README",
                           leaderboard_month="25/08", blip_reward="blip")
    row = result.frame.iloc[0]
    assert list(result.frame.columns[:8]) == ["reward", "r", "r_lo", "r_hi", "s", "rank", "leaderboard_month",
                                              "model_above"]
    assert row["r"] == pytest.approx(5.86) and row["n"] == 3
    assert row["s"] == pytest.approx((5.86 + 0.24) / (10.55 + 0.24))
    assert round(row["s"], 2) == 0.57
    assert row["rank"] == "10/12" and row["model_above"] == "Hunyuan-DiT" and row["leaderboard_month"] == "25/08"
    assert row["blip_true_captions"] == pytest.approx(np.mean([1.0, 0.99, 0.998]))
    assert row["blip_shuffled_captions"] == pytest.approx(0.086)
    assert result.records["excluded"] == {"hps3": 1} and result.records["leaderboard_source"] == "HPSv3 README"
    assert _json_round_trips(result.records)


def test_tab_real_arts_top_place_ties_and_missing_scores():
    top = tab_real_arts(art_frame([11.0]), reward="hps3", leaderboard=LEADERBOARD, leaderboard_source="x")
    assert top.frame.iloc[0]["rank"] == "1/12" and top.frame.iloc[0]["model_above"] is None
    assert top.frame.iloc[0]["s"] > 1
    tied = tab_real_arts(art_frame([8.19]), reward="hps3", leaderboard=LEADERBOARD, leaderboard_source="x")
    assert tied.frame.iloc[0]["rank"] == "9/12" and tied.frame.iloc[0]["model_above"] == "SDXL"
    missing = tab_real_arts(None, reward="hps3", leaderboard=LEADERBOARD, leaderboard_source="x")
    assert math.isnan(missing.frame.iloc[0]["r"]) and missing.frame.iloc[0]["rank"] is None
    assert any("no art scores" in note for note in missing.notes)
    with pytest.raises(ValueError, match="'model' and 'score'"):
        tab_real_arts(None, reward="hps3", leaderboard=[{"name": "x"}], leaderboard_source="x")


# ---------------------------------------------------------------- E9 image-to-image

def test_select_img2img_inputs_takes_low_scoring_anti_images_in_order():
    values = {("Nano", "hps3", pid, "ao"): v for pid, v in [("p2", 3.0), ("p0", 9.99), ("p1", 10.0), ("p3", 12.0)]}
    values[("Nano", "hps3", "p4", "ao")] = None
    values[("Nano", "hps3", "p5", "oo")] = 1.0  # an I_o score never qualifies
    values[("Other", "hps3", "p6", "ao")] = 1.0
    assert select_img2img_inputs(scores_frame(values), generator="Nano", reward="hps3") == ["p0", "p2"]
    assert select_img2img_inputs(scores_frame(values), generator="Nano", reward="hps3", threshold=12.5) == [
        "p0", "p1", "p2", "p3"]


def test_tab_img2img_output_minus_input_by_hand():
    values = {("Krea i2i", "hps3", "p0", "oo"): 2.0, ("Krea i2i", "hps3", "p0", "ao"): 5.0,
              ("Krea i2i", "hps3", "p1", "oo"): 4.0, ("Krea i2i", "hps3", "p1", "ao"): 5.0,
              ("Krea i2i", "hps3", "p2", "oo"): 1.0, ("Krea i2i", "hps3", "p2", "ao"): None,
              ("Dance i2i", "hps3", "p0", "oo"): 1.0, ("Dance i2i", "hps3", "p0", "ao"): 4.5}
    rng = np.random.default_rng(4)
    ratings = {(g, p, k): list(np.round(rng.uniform(0, 2, len(DIMENSIONS)), 3))
               for g, p, k in product(["Krea i2i"], ["p0", "p1"], "oa")}
    ratings[("Dance i2i", "p0", "o")] = [1.0] * 11
    ratings[("Dance i2i", "p0", "a")] = [1.0] * 10 + [None]  # one failed rating: the pair's sum is undefined
    result = tab_img2img(scores_frame(values), ratings_frame(ratings), generators=["Krea i2i", "Dance i2i"],
                         reward="hps3")
    frame = result.frame.set_index("generator")
    assert list(result.frame.columns[:3]) == ["generator", "d_hpsv3", "d_j"]
    assert frame.loc["Krea i2i", "d_hpsv3"] == pytest.approx(2.0) and frame.loc["Krea i2i", "n_hpsv3"] == 2
    expected_dj = np.mean([sum(ratings[("Krea i2i", p, "a")]) - sum(ratings[("Krea i2i", p, "o")])
                           for p in ("p0", "p1")])
    assert frame.loc["Krea i2i", "d_j"] == pytest.approx(expected_dj)
    assert frame.loc["Dance i2i", "d_hpsv3"] == pytest.approx(3.5)
    assert math.isnan(frame.loc["Dance i2i", "d_j"]) and frame.loc["Dance i2i", "n_j"] == 0
    assert result.records["excluded"] == {"scores": {"Krea i2i": 1}, "ratings": {"Dance i2i": 1}}
    no_ratings = tab_img2img(scores_frame(values), None, generators=["Krea i2i"], reward="hps3")
    assert no_ratings.frame["d_j"].isna().all() and any("no ratings" in n for n in no_ratings.notes)


I2I_GENERATORS = ["Krea i2i", "Dance i2i"]
I2I_PROMPTS = [f"p{i:02d}" for i in range(30)]


@pytest.fixture(scope="module")
def img2img_run():
    """30 inputs per run, one failed score and one failed rating."""
    rng = np.random.default_rng(17)
    values: dict = {}
    for g, p in product(I2I_GENERATORS, I2I_PROMPTS):
        values[(g, "hps3", p, "oo")] = float(np.round(rng.normal(2, 1), 3))
        values[(g, "hps3", p, "ao")] = float(np.round(rng.normal(4, 2), 3))
    values[("Krea i2i", "hps3", "p03", "ao")] = None
    ratings = {(g, p, k): [float(v) for v in np.round(rng.uniform(0, 2, len(DIMENSIONS)), 3)]
               for g, p, k in product(I2I_GENERATORS, I2I_PROMPTS, "oa")}
    ratings[("Dance i2i", "p10", "o")][0] = None
    return values, ratings


def _img2img_samples(values, ratings, generator: str) -> dict[str, list[float]]:
    """d_hpsv3 and d_j per usable input, in prompt order."""
    scored = [p for p in I2I_PROMPTS
              if values[(generator, "hps3", p, "ao")] is not None and values[(generator, "hps3", p, "oo")] is not None]
    rated = [p for p in I2I_PROMPTS if None not in ratings[(generator, p, "o")] + ratings[(generator, p, "a")]]
    return {"d_hpsv3": [values[(generator, "hps3", p, "ao")] - values[(generator, "hps3", p, "oo")] for p in scored],
            "d_j": [sum(ratings[(generator, p, "a")]) - sum(ratings[(generator, p, "o")]) for p in rated]}


def test_tab_img2img_intervals_equal_numpy_on_the_seeded_resamples(img2img_run):
    values, ratings = img2img_run
    result = tab_img2img(scores_frame(values), ratings_frame(ratings), generators=I2I_GENERATORS, reward="hps3",
                         n_boot=200, seed=4, level=0.9)
    assert list(result.frame.columns) == ["generator", "d_hpsv3", "d_j", *_intervals(["d_hpsv3", "d_j"]),
                                          "n_hpsv3", "n_j"]
    frame = result.frame.set_index("generator")
    for generator in I2I_GENERATORS:
        for column, sample in _img2img_samples(values, ratings, generator).items():
            low, high = frame.loc[generator, f"{column}_lo"], frame.loc[generator, f"{column}_hi"]
            assert (low, high) == pytest.approx(_resampled_interval(sample, 200, 4, 0.9), rel=1e-10, abs=1e-10)
            assert frame.loc[generator, column] == pytest.approx(np.mean(sample), rel=1e-10)
            assert low < frame.loc[generator, column] < high, (generator, column)
    assert frame.loc["Krea i2i", "n_hpsv3"] == 29 and frame.loc["Dance i2i", "n_j"] == 29
    assert result.records["bootstrap"] == {"n_boot": 200, "seed": 4, "level": 0.9}


def test_tab_img2img_intervals_are_seeded_and_can_be_skipped(img2img_run):
    values, ratings = img2img_run
    scores, rated = scores_frame(values), ratings_frame(ratings)
    first = tab_img2img(scores, rated, generators=I2I_GENERATORS, reward="hps3", n_boot=100, seed=1)
    pd.testing.assert_frame_equal(first.frame, tab_img2img(scores, rated, generators=I2I_GENERATORS, reward="hps3",
                                                           n_boot=100, seed=1).frame)
    intervals = _intervals(["d_hpsv3", "d_j"])
    without = tab_img2img(scores, rated, generators=I2I_GENERATORS, reward="hps3", n_boot=0)
    assert without.frame[intervals].isna().all().all()
    pd.testing.assert_frame_equal(without.frame.drop(columns=intervals), first.frame.drop(columns=intervals))
    no_ratings = tab_img2img(scores, None, generators=I2I_GENERATORS, reward="hps3", n_boot=100, seed=1).frame
    assert no_ratings[["d_j_lo", "d_j_hi"]].isna().all().all()
    pd.testing.assert_frame_equal(no_ratings[["d_hpsv3_lo", "d_hpsv3_hi"]], first.frame[["d_hpsv3_lo", "d_hpsv3_hi"]])


# ---------------------------------------------------------------- E10 critical prompts

PAIR = ("danceflux", "flux-krea")


def critical_frame(differences: dict[str, list[float | None]]) -> pd.DataFrame:
    """differences[reward] = score(a) - score(b) per prompt; b scores 0; None fails a's score."""
    rows = []
    for reward, diffs in differences.items():
        for k, d in enumerate(diffs):
            pid = f"c{k:02d}"
            rows.append({"prompt_id": pid, "topic": "war", "generator": PAIR[1], "reward": reward, "score": 0.0,
                         "status": "ok"})
            rows.append({"prompt_id": pid, "topic": "war", "generator": PAIR[0], "reward": reward, "score": d,
                         "status": "ok" if d is not None else FAILED})
    return CRITICAL_SCORES.validate(pd.DataFrame(rows))


def _nineteen_to_one(sign: float = 1.0) -> list[float]:
    """Differences 1..20 with the eighth one negative: the published HPSv2 row."""
    diffs = [float(k) for k in range(1, 21)]
    diffs[7] = -diffs[7]
    return [sign * d for d in diffs]


def test_tab_critical_selection_counts_with_published_column_names():
    data = critical_frame({"HPSv3": [1.0] * 20, "MPS": [1.0] * 11 + [-1.0] * 8 + [0.0],
                           "BLIP": [-1.0] * 19 + [1.0, None]})
    result = tab_critical_selection(data, pair=PAIR, columns=("danceflux_selected", "krea_selected"))
    frame = result.frame.set_index("reward")
    assert list(result.frame.columns) == ["reward", "danceflux_selected", "krea_selected", "ties", "n",
                                          "n_excluded"]
    assert list(frame.index) == ["HPSv3", "MPS", "BLIP"]
    assert frame.loc["HPSv3", ["danceflux_selected", "krea_selected", "ties"]].tolist() == [20, 0, 0]
    assert frame.loc["MPS", ["danceflux_selected", "krea_selected", "ties"]].tolist() == [11, 8, 1]
    assert frame.loc["BLIP", ["danceflux_selected", "krea_selected", "n", "n_excluded"]].tolist() == [1, 19, 20, 1]
    default = tab_critical_selection(data, pair=PAIR)
    assert list(default.frame.columns[1:3]) == ["danceflux_selected", "flux_krea_selected"]


def test_tab_critical_test_reproduces_the_published_effect_sizes():
    data = critical_frame({"HPSv3": [float(k) for k in range(1, 21)], "HPSv2": _nineteen_to_one(),
                           "BLIP Score": _nineteen_to_one(-1.0)})
    result = tab_critical_test(data, pair=PAIR, alternatives={"BLIP Score": "less"})
    frame = result.frame.set_index("reward")
    assert list(result.frame.columns[:3]) == ["reward", "p", "effect_r"]
    assert round(frame.loc["HPSv3", "effect_r"], 4) == 0.8723
    assert frame.loc["HPSv3", "p_display"] == "<0.0001"
    assert round(frame.loc["HPSv2", "effect_r"], 4) == 0.8056 and frame.loc["HPSv2", "p_display"] == "0.0002"
    assert round(frame.loc["BLIP Score", "effect_r"], 4) == -0.8056
    assert frame.loc["BLIP Score", "p_display"] == "0.0002" and frame.loc["BLIP Score", "alternative"] == "less"
    # The normal approximation with continuity correction, computed here from W+ directly.
    sigma = math.sqrt(20 * 21 * 41 / 24)
    z = (210 - 8 - 105 - 0.5) / sigma
    assert frame.loc["HPSv2", "p"] == pytest.approx(scipy_stats.norm.sf(z), rel=1e-9)
    assert frame.loc["HPSv2", "effect_r"] == pytest.approx(z / math.sqrt(20), rel=1e-9)
    assert result.records["tests"]["HPSv2"]["n"] == 20 and frame.loc["HPSv3", "n"] == 20
    assert _json_round_trips(result.records)


def test_tab_critical_test_missing_reward_and_bad_alternative():
    data = critical_frame({"HPSv3": [1.0, 2.0, 3.0]})
    result = tab_critical_test(data, pair=PAIR, rewards=["HPSv3", "MPS"])
    frame = result.frame.set_index("reward")
    assert math.isnan(frame.loc["MPS", "p"]) and frame.loc["MPS", "n"] == 0
    assert any("'MPS'" in note for note in result.notes)
    with pytest.raises(ValueError, match="'greater' or 'less'"):
        tab_critical_test(data, pair=PAIR, alternatives={"HPSv3": "two-sided"})


# ---------------------------------------------------------------- E11 mitigation

def test_tab_vsf_selected_dimension_mean_normalised_by_hand():
    selected = {"p0": ["clarity", "emotion"], "p1": ["background", "richness", "main_object"]}
    rng = np.random.default_rng(7)
    ratings = {(g, p, k): list(np.round(rng.uniform(0, 2, len(DIMENSIONS)), 3))
               for g, p, k in product(["dance-vsf-2", "krea-nag-4"], ["p0", "p1"], "oa")}
    ratings[("krea-nag-4", "p1", "a")][DIMENSIONS.index("richness")] = None
    values = {}
    for g, p in product(["dance-vsf-2", "krea-nag-4"], ["p0", "p1"]):
        values.update({(g, "hps3", p, "ao"): float(rng.normal(2, 3)), (g, "blip", p, "aa"): float(rng.uniform()),
                       (g, "hps3", p, "oo"): 50.0})
    variants = [{"generator": "dance-vsf-2", "model": "DanceFlux", "method": "VSF", "scale": 2.0},
                {"generator": "krea-nag-4", "model": "Flux Krea", "method": "NAG", "scale": 4}]
    result = tab_vsf(scores_frame(values), ratings_frame(ratings), prompts_frame(selected), variants=variants,
                     reward="hps3", blip_reward="blip")
    assert list(result.frame.columns[:6]) == ["model", "method", "scale", "hpsv3", "j_s", "blip"]
    frame = result.frame.set_index("generator")
    for g in ("dance-vsf-2", "krea-nag-4"):
        assert frame.loc[g, "hpsv3"] == pytest.approx(np.mean([values[(g, "hps3", p, "ao")] for p in ("p0", "p1")]))
        assert frame.loc[g, "blip"] == pytest.approx(np.mean([values[(g, "blip", p, "aa")] for p in ("p0", "p1")]))
    usable = {"dance-vsf-2": ["p0", "p1"], "krea-nag-4": ["p0"]}
    for g, pids in usable.items():
        per_pair = [np.mean([ratings[(g, p, "a")][DIMENSIONS.index(d)] / 2 for d in selected[p]]) for p in pids]
        assert frame.loc[g, "j_s"] == pytest.approx(np.mean(per_pair)) and frame.loc[g, "n_j"] == len(pids)
        assert 0 <= frame.loc[g, "j_s"] <= 1
    assert frame.loc["krea-nag-4", "scale"] == 4.0
    no_prompts = tab_vsf(scores_frame(values), ratings_frame(ratings), None, variants=variants, reward="hps3",
                         blip_reward="blip")
    assert no_prompts.frame["j_s"].isna().all() and no_prompts.frame["hpsv3"].notna().all()
    assert any("selected dimensions" in note for note in no_prompts.notes)


VSF_VARIANTS = [{"generator": "dance-vsf-2", "model": "DanceFlux", "method": "VSF", "scale": 2.0},
                {"generator": "krea-nag-4", "model": "Flux Krea", "method": "NAG", "scale": 4.0}]
VSF_PROMPTS = [f"p{i:02d}" for i in range(25)]


@pytest.fixture(scope="module")
def vsf_run():
    """25 pairs per variant, each with 2-4 selected dimensions; one failed selected rating, one failed BLIP score."""
    rng = np.random.default_rng(19)
    selected = {p: [str(d) for d in rng.choice(DIMENSIONS, size=int(rng.integers(2, 5)), replace=False)]
                for p in VSF_PROMPTS}
    generators = [v["generator"] for v in VSF_VARIANTS]
    ratings = {(g, p, k): [float(v) for v in np.round(rng.uniform(0, 2, len(DIMENSIONS)), 3)]
               for g, p, k in product(generators, VSF_PROMPTS, "oa")}
    ratings[("krea-nag-4", "p06", "a")][DIMENSIONS.index(selected["p06"][0])] = None
    values: dict = {}
    for g, p in product(generators, VSF_PROMPTS):
        values.update({(g, "hps3", p, "ao"): float(np.round(rng.normal(2, 3), 3)),
                       (g, "blip", p, "aa"): float(np.round(rng.uniform(), 4))})
    values[("dance-vsf-2", "blip", "p20", "aa")] = None
    return selected, ratings, values


def _vsf_samples(selected, ratings, values, generator: str) -> dict[str, list[float]]:
    """hpsv3, j_s and blip per usable pair, in prompt order."""
    j_s = []
    for p in VSF_PROMPTS:
        chosen = [ratings[(generator, p, "a")][DIMENSIONS.index(d)] for d in selected[p]]
        if None not in chosen:
            j_s.append(float(np.mean(chosen)) / 2)
    return {"hpsv3": [values[(generator, "hps3", p, "ao")] for p in VSF_PROMPTS],
            "j_s": j_s,
            "blip": [v for p in VSF_PROMPTS if (v := values[(generator, "blip", p, "aa")]) is not None]}


def test_tab_vsf_intervals_equal_numpy_on_the_seeded_resamples(vsf_run):
    selected, ratings, values = vsf_run
    result = tab_vsf(scores_frame(values), ratings_frame(ratings), prompts_frame(selected), variants=VSF_VARIANTS,
                     reward="hps3", blip_reward="blip", n_boot=220, seed=6)
    assert list(result.frame.columns) == ["model", "method", "scale", "hpsv3", "j_s", "blip",
                                          *_intervals(["hpsv3", "j_s", "blip"]), "generator", "n_hpsv3", "n_j",
                                          "n_blip"]
    frame = result.frame.set_index("generator")
    for generator in frame.index:
        for column, sample in _vsf_samples(selected, ratings, values, generator).items():
            low, high = frame.loc[generator, f"{column}_lo"], frame.loc[generator, f"{column}_hi"]
            assert (low, high) == pytest.approx(_resampled_interval(sample, 220, 6, 0.95), rel=1e-10, abs=1e-10)
            assert frame.loc[generator, column] == pytest.approx(np.mean(sample), rel=1e-10)
            assert low < frame.loc[generator, column] < high, (generator, column)
    assert frame.loc["krea-nag-4", "n_j"] == 24 and frame.loc["dance-vsf-2", "n_blip"] == 24
    assert ((frame["j_s_lo"] >= 0) & (frame["j_s_hi"] <= 1)).all()
    assert result.records["bootstrap"] == {"n_boot": 220, "seed": 6, "level": 0.95}


def test_tab_vsf_intervals_are_seeded_and_can_be_skipped(vsf_run):
    selected, ratings, values = vsf_run
    inputs = (scores_frame(values), ratings_frame(ratings), prompts_frame(selected))
    kwargs = {"variants": VSF_VARIANTS, "reward": "hps3", "blip_reward": "blip"}
    first = tab_vsf(*inputs, **kwargs, n_boot=100, seed=2)
    pd.testing.assert_frame_equal(first.frame, tab_vsf(*inputs, **kwargs, n_boot=100, seed=2).frame)
    intervals = _intervals(["hpsv3", "j_s", "blip"])
    reseeded = tab_vsf(*inputs, **kwargs, n_boot=100, seed=3).frame
    assert (reseeded[intervals] != first.frame[intervals]).all().all()
    without = tab_vsf(*inputs, **kwargs, n_boot=0)
    assert without.frame[intervals].isna().all().all()
    pd.testing.assert_frame_equal(without.frame.drop(columns=intervals), first.frame.drop(columns=intervals))
    no_prompts = tab_vsf(inputs[0], inputs[1], None, **kwargs, n_boot=100, seed=2).frame
    assert no_prompts[["j_s_lo", "j_s_hi"]].isna().all().all()
    assert no_prompts[["hpsv3_lo", "blip_hi"]].notna().all().all()


# ---------------------------------------------------------------- E12 per-dimension regression

@pytest.fixture(scope="module")
def slope_run():
    rng = np.random.default_rng(11)
    generators, prompt_ids = ["G1", "G2"], [f"p{k:02d}" for k in range(20)]
    images = list(product(generators, prompt_ids, "oa"))
    judge = {image: list(rng.uniform(0, 2, len(DIMENSIONS))) for image in images}
    blip = {image: float(rng.uniform()) for image in images}
    weights = rng.normal(0, 1, len(DIMENSIONS))
    response = {image: float(1.5 + np.dot(weights, judge[image]) + 2.0 * blip[image] + rng.normal(0, 0.5))
                for image in images}
    values = {(g, "hps3", p, k + "o"): response[(g, p, k)] for g, p, k in images}
    values.update({(g, "blip", p, k + "o"): blip[(g, p, k)] for g, p, k in images})
    values.update({(g, "hps3", p, k + "a"): 99.0 for g, p, k in images})  # under p_a: must not enter
    values[("G1", "hps3", "p00", "oo")] = None  # one failed score drops that image
    return {"images": images, "judge": judge, "blip": blip, "response": response,
            "scores": scores_frame(values), "ratings": ratings_frame(judge)}


def test_fig_slopes_matches_least_squares(slope_run):
    result = fig_slopes(slope_run["scores"], slope_run["ratings"], rewards=["hps3"], blip_reward="blip")
    frame = result.frame.set_index("term")
    assert list(frame.index) == ["intercept", *DIMENSIONS, "blip"]
    used = [image for image in slope_run["images"] if image != ("G1", "p00", "o")]
    x = np.array([[1.0, *slope_run["judge"][i], slope_run["blip"][i]] for i in used])
    y = np.array([slope_run["response"][i] for i in used])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ coef
    dof = len(y) - x.shape[1]
    se = np.sqrt(np.diag(residual @ residual / dof * np.linalg.inv(x.T @ x)))
    p = 2 * scipy_stats.t.sf(np.abs(coef / se), dof)
    r2 = 1 - residual @ residual / np.sum((y - y.mean()) ** 2)
    np.testing.assert_allclose(frame["coef"], coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(frame["se"], se, rtol=1e-8)
    np.testing.assert_allclose(frame["p"], p, rtol=1e-6, atol=1e-12)
    assert (frame["significant"] == (p < 0.05)).all()
    assert (frame["n"] == len(used)).all() and frame["r2"].iloc[0] == pytest.approx(r2)
    assert _json_round_trips(result.records)


def test_fig_slopes_blip_reward_and_missing_inputs(slope_run):
    result = fig_slopes(slope_run["scores"], slope_run["ratings"], rewards=["blip", "absent"], blip_reward="blip")
    blip_terms = result.frame.loc[result.frame["reward"] == "blip", "term"].tolist()
    assert "blip" not in blip_terms and len(blip_terms) == 1 + len(DIMENSIONS)
    assert result.frame.loc[result.frame["reward"] == "absent", "coef"].isna().all()
    missing = fig_slopes(slope_run["scores"], None, rewards=["hps3"], blip_reward="blip")
    assert missing.frame["coef"].isna().all() and any("no ratings" in note for note in missing.notes)


# ---------------------------------------------------------------- E4 human check and tab:val

def _quadratic_kappa(a: np.ndarray, b: np.ndarray, k: int = 3) -> float:
    """Cohen's quadratic weighted kappa from its definition."""
    observed = np.zeros((k, k))
    for i, j in zip(a, b, strict=True):
        observed[i, j] += 1
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    weights = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)]) / (k - 1) ** 2
    return 1 - (weights * observed).sum() / (weights * expected).sum()


def test_human_agreement_by_hand():
    # pair -> (raters' answers, I_o = 0 / tie = 1 / I_a = 2; the pairwise judge's label 0 / 1 / -1)
    pairs = {"q0": ([2, 2, 1], 1), "q1": ([0, 1], 0), "q2": ([1, 2], -1), "q3": ([1, 1, 1], -1),
             "q4": ([0, 0, 2], 1), "q5": ([2, 0], 0), "q6": ([0, 0, 0], 1)}
    answers = pd.DataFrame([{"pair_id": q, "rater_id": f"r{k}", "answer": v}
                            for q, (votes, _) in pairs.items() for k, v in enumerate(votes)])
    answers = pd.concat([answers, pd.DataFrame([{"pair_id": "q0", "rater_id": "r9", "answer": 3},
                                                {"pair_id": "q9", "rater_id": "r0", "answer": 2}])])
    judge = pd.DataFrame([{"pair_id": q, "selected": y} for q, (_, y) in pairs.items()])
    result = human_agreement(answers, judge)
    row = result.frame.iloc[0]
    # rounded means, half to even: q0 5/3 -> 2, q1 0.5 -> 0, q2 1.5 -> 2, q3 1, q4 2/3 -> 1, q5 1, q6 0
    human = np.array([2, 0, 2, 1, 1, 1, 0])
    judged = np.array([2, 0, 1, 1, 2, 0, 2])  # the judge's 1 -> 2, -1 -> 1, 0 -> 0
    assert row["mae"] == pytest.approx(5 / 7)
    assert row["quadratic_kappa"] == pytest.approx(_quadratic_kappa(human, judged))
    # neither says tie: q0 (2, 2), q1 (0, 0), q6 (0, 2)
    assert row["accuracy_ties_removed"] == pytest.approx(2 / 3) and row["n_pairs_ties_removed"] == 3
    # "is I_a better?" agrees on q0, q1, q3, q5
    assert row["accuracy_tie_grouped_with_original"] == pytest.approx(4 / 7)
    # r9 gave only the off-scale answer 3: excluded, and not counted as a rater
    assert row["pairs"] == 7 and row["raters"] == 3 and row["n_excluded"] == 1
    assert result.records["unmatched_pairs"] == {"answers": 1, "labels": 0}  # q9 has no judge label
    assert _json_round_trips(result.records)
    missing = human_agreement(answers, None)
    assert math.isnan(missing.frame.iloc[0]["mae"]) and missing.notes


def test_judge_validation_by_hand_with_half_to_even_rounding():
    # VisionReward labels -> classes sign + 1; two dimensions, one outside the benchmark's 11
    truth = pd.DataFrame({"image_id": [f"v{k}" for k in range(7)],
                          "dimension": ["clarity"] * 4 + ["body_integrity"] * 3,
                          "label": [-3, -1, 0, 0, 0, 2, 1]})
    pred = pd.DataFrame({"image_id": [f"v{k}" for k in range(7)] + ["v9"],
                         "dimension": ["clarity"] * 4 + ["body_integrity"] * 4,
                         "score": [0.5, 0.6, 1.5, 1.0, 0.4, 1.5, 2.0, 1.0]})
    result = judge_validation(pred, truth)
    row = result.frame.iloc[0]
    # classes [0, 0, 1, 1, 1, 2, 2]; J rounded half to even [0, 1, 2, 1, 0, 2, 2] (0.5 -> 0, 1.5 -> 2)
    assert row["mae"] == pytest.approx(3 / 7) and row["n"] == 7 and row["n_dimensions"] == 2
    assert row["wmae"] == pytest.approx((1 / 2 + 2 / 3 + 0) / 3)
    # per-class F1: 0: P 1/2 R 1/2 -> 1/2; 1: P 1/2 R 1/3 -> 2/5; 2: P 2/3 R 1 -> 4/5; weighted by 2, 3, 2
    assert row["wf1"] == pytest.approx((2 * 0.5 + 3 * 0.4 + 2 * 0.8) / 7)
    assert row["expected_mae"] == pytest.approx(2.7 / 7)
    assert result.records["dimensions"] == ["body_integrity", "clarity"]
    assert result.records["unmatched"] == {"pred": 1, "truth": 0}
    only_middle = judge_validation(pred.iloc[2:5], truth.iloc[2:5])
    assert only_middle.frame.iloc[0]["wmae"] == pytest.approx(only_middle.frame.iloc[0]["mae"])
    assert any("class(es) [0, 2]" in note for note in only_middle.notes)


# ---------------------------------------------------------------- what the rendered-and-scored experiments declare

# Recorded from the declarations as they stood before base.Experiment gave them their defaults
# (renders_key, rewards_key, benchmark_runs, run_reward_roles): the defaults must declare the same.
DECLARED = {
    ("config/demo.yaml", "img2img"): {
        "outputs": [],
        "render_generators": [],
        "scored_rewards": [],
        "named_entries": [],
        "score_inputs": {
            "manifests": [],
        },
        "tables": {
            "tab_img2img": {
                "requires": {
                    "prompts": ["prompts/prompts.parquet"],
                    "scores": ["scores/aesthetic/tiny-flux-img2img.parquet"],
                    "labels": [],
                    "ratings": ["ratings/probe-rater/tiny-flux-img2img.parquet"],
                },
                "keys": [
                    "analysis.bootstrap",
                    "img2img",
                    "roles.hpsv3",
                    "roles.rater",
                ],
            },
        },
    },
    ("config/demo.yaml", "vsf"): {
        "outputs": [],
        "render_generators": [],
        "scored_rewards": [],
        "named_entries": [],
        "score_inputs": {
            "manifests": [],
        },
        "tables": {
            "tab_vsf": {
                "requires": {
                    "prompts": ["prompts/prompts.parquet"],
                    "scores": [
                        "scores/aesthetic/tiny-flux-vsf.parquet",
                        "scores/aesthetic/tiny-flux-nag.parquet",
                        "scores/tiny-blip/tiny-flux-vsf.parquet",
                        "scores/tiny-blip/tiny-flux-nag.parquet",
                    ],
                    "labels": [],
                    "ratings": [
                        "ratings/probe-rater/tiny-flux-vsf.parquet",
                        "ratings/probe-rater/tiny-flux-nag.parquet",
                    ],
                },
                "keys": [
                    "analysis.bootstrap",
                    "roles.blip",
                    "roles.hpsv3",
                    "roles.rater",
                    "vsf",
                ],
            },
        },
    },
    ("config/demo.yaml", "ava"): {
        "outputs": ["experiments/ava/scores/aesthetic.parquet"],
        "render_generators": ["oracle"],
        "scored_rewards": ["aesthetic"],
        "named_entries": [
            ("experiments.ava.generator", "oracle", "generators"),
            ("experiments.ava.reward", "aesthetic", "rewards"),
        ],
        "score_inputs": {
            "item_table": "experiments/ava/items.parquet",
            "prompts": "experiments/ava/prompts.parquet",
            "manifests": ["experiments/ava/images/oracle/manifest.parquet"],
        },
        "tables": {
            "fig_diff": {
                "requires": {
                    "scores": ["experiments/ava/scores/aesthetic.parquet"],
                },
                "keys": ["analysis.bootstrap", "experiments"],
            },
        },
    },
    ("config/config.yaml", "img2img"): {
        "outputs": [],
        "render_generators": [],
        "scored_rewards": [],
        "named_entries": [],
        "score_inputs": {
            "manifests": [],
        },
        "tables": {
            "tab_img2img": {
                "requires": {
                    "prompts": ["prompts/prompts.parquet"],
                    "scores": [
                        "scores/hpsv3/flux-krea-img2img.parquet",
                        "scores/hpsv3/danceflux-img2img.parquet",
                    ],
                    "labels": [],
                    "ratings": [
                        "ratings/qwen3-vl-4b-rater/flux-krea-img2img.parquet",
                        "ratings/qwen3-vl-4b-rater/danceflux-img2img.parquet",
                    ],
                },
                "keys": [
                    "analysis.bootstrap",
                    "img2img",
                    "roles.hpsv3",
                    "roles.rater",
                ],
            },
        },
    },
    ("config/config.yaml", "vsf"): {
        "outputs": [],
        "render_generators": [],
        "scored_rewards": [],
        "named_entries": [],
        "score_inputs": {
            "manifests": [],
        },
        "tables": {
            "tab_vsf": {
                "requires": {
                    "prompts": ["prompts/prompts.parquet"],
                    "scores": [
                        "scores/hpsv3/danceflux-vsf-2.parquet",
                        "scores/hpsv3/danceflux-vsf-3.parquet",
                        "scores/hpsv3/flux-dev-vsf-2.parquet",
                        "scores/hpsv3/flux-krea-vsf-2.parquet",
                        "scores/hpsv3/danceflux-nag-10.parquet",
                        "scores/hpsv3/danceflux-nag-15.parquet",
                        "scores/hpsv3/flux-krea-nag-4.parquet",
                        "scores/hpsv3/flux-krea-nag-10.parquet",
                        "scores/blip-l/danceflux-vsf-2.parquet",
                        "scores/blip-l/danceflux-vsf-3.parquet",
                        "scores/blip-l/flux-dev-vsf-2.parquet",
                        "scores/blip-l/flux-krea-vsf-2.parquet",
                        "scores/blip-l/danceflux-nag-10.parquet",
                        "scores/blip-l/danceflux-nag-15.parquet",
                        "scores/blip-l/flux-krea-nag-4.parquet",
                        "scores/blip-l/flux-krea-nag-10.parquet",
                    ],
                    "labels": [],
                    "ratings": [
                        "ratings/qwen3-vl-4b-rater/danceflux-vsf-2.parquet",
                        "ratings/qwen3-vl-4b-rater/danceflux-vsf-3.parquet",
                        "ratings/qwen3-vl-4b-rater/flux-dev-vsf-2.parquet",
                        "ratings/qwen3-vl-4b-rater/flux-krea-vsf-2.parquet",
                        "ratings/qwen3-vl-4b-rater/danceflux-nag-10.parquet",
                        "ratings/qwen3-vl-4b-rater/danceflux-nag-15.parquet",
                        "ratings/qwen3-vl-4b-rater/flux-krea-nag-4.parquet",
                        "ratings/qwen3-vl-4b-rater/flux-krea-nag-10.parquet",
                    ],
                },
                "keys": [
                    "analysis.bootstrap",
                    "roles.blip",
                    "roles.hpsv3",
                    "roles.rater",
                    "vsf",
                ],
            },
        },
    },
    ("config/config.yaml", "ava"): {
        "outputs": ["experiments/ava/scores/hpsv3.parquet"],
        "render_generators": ["z-image-turbo"],
        "scored_rewards": ["hpsv3"],
        "named_entries": [
            ("experiments.ava.generator", "z-image-turbo", "generators"),
            ("experiments.ava.reward", "hpsv3", "rewards"),
        ],
        "score_inputs": {
            "item_table": "experiments/ava/items.parquet",
            "prompts": "experiments/ava/prompts.parquet",
            "manifests": ["experiments/ava/images/z-image-turbo/manifest.parquet"],
        },
        "tables": {
            "fig_diff": {
                "requires": {
                    "scores": ["experiments/ava/scores/hpsv3.parquet"],
                },
                "keys": ["analysis.bootstrap", "experiments"],
            },
        },
    },
}


@functools.cache
def _run_config(path):
    return load_run(path)


@pytest.mark.parametrize("config_file,name", list(DECLARED))
def test_rendered_and_scored_experiments_declare_what_they_did(repo_root, config_file, name):
    config = _run_config(repo_root / config_file)
    experiment = EXPERIMENTS[name]
    declared = {
        "outputs": experiment.outputs(config),
        "render_generators": experiment.render_generators(config),
        "scored_rewards": experiment.scored_rewards(config),
        "named_entries": experiment.named_entries(config),
        "score_inputs": experiment.score_inputs(config),
        "tables": {table: {"requires": spec.requires(config), "keys": table_config_keys(spec, config)}
                   for table, spec in experiment.tables.items()},
    }
    assert declared == DECLARED[(config_file, name)]
