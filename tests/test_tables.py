"""The main tables against hand computations on small made-up runs."""

from __future__ import annotations

import json
import math
from itertools import product

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from widespectrum.analysis import (
    tab_align_p,
    tab_gen,
    tab_reward_model,
    to_latex,
)
from widespectrum.contracts import LABELS, PROMPTS, RATINGS, SCORES
from widespectrum.prompts.dimensions import DIMENSIONS

ROLES = {"hpsv2": "hps2", "hpsv3": "hps3", "imagereward": "ir", "blip": "blipl"}


# ---------------------------------------------------------------- builders

def _json_round_trips(records: dict) -> bool:
    """Records survive json (NaN, the value of an undefined statistic, compares by text)."""
    text = json.dumps(records, sort_keys=True)
    return json.dumps(json.loads(text), sort_keys=True) == text


def scores_frame(values: dict[tuple[str, str, str], dict[str, float]], failed=()) -> pd.DataFrame:
    """values[(generator, reward, prompt_id)] = {"oo": r(I_o,p_o), "ao": r(I_a,p_o), ...}.

    ``failed`` lists (generator, reward, prompt_id, kind) rows written with an error status.
    """
    rows = []
    for (generator, reward, prompt_id), by_kind in values.items():
        for kind, score in by_kind.items():
            bad = (generator, reward, prompt_id, kind) in failed
            rows.append({"generator": generator, "prompt_id": prompt_id, "image_kind": kind[0],
                         "prompt_kind": kind[1], "reward": reward, "score": None if bad else score,
                         "score_sigma": None, "status": "error: out of memory" if bad else "ok"})
    return SCORES.validate(pd.DataFrame(rows))


def labels_frame(selected: dict[tuple[str, str], int | None]) -> pd.DataFrame:
    rows = [{"generator": g, "prompt_id": p, "selected": y, "first_shown": "o",
             "status": "ok" if y is not None else "error: timeout"}
            for (g, p), y in selected.items()]
    return LABELS.validate(pd.DataFrame(rows))


def ratings_frame(values: dict[tuple[str, str, str], list[float]], failed=()) -> pd.DataFrame:
    """values[(generator, prompt_id, image_kind)] = 11 ratings in DIMENSIONS order."""
    rows = []
    for (generator, prompt_id, kind), ratings in values.items():
        for dimension, score in zip(DIMENSIONS, ratings, strict=True):
            bad = (generator, prompt_id, kind, dimension) in failed
            rows.append({"generator": generator, "prompt_id": prompt_id, "image_kind": kind,
                         "dimension": dimension, "score": None if bad else score,
                         "status": "error: bad output" if bad else "ok"})
    return RATINGS.validate(pd.DataFrame(rows))


def prompts_frame(dimensions: dict[str, list[str]]) -> pd.DataFrame:
    rows = [{"prompt_id": pid, "caption_id": pid, "prompt_original": "a cat", "prompt_anti": "a grim cat",
             "dimensions": dims, "negative_prompt": None, "reference_image": None, "rewriter": "template"}
            for pid, dims in dimensions.items()]
    return PROMPTS.validate(pd.DataFrame(rows))


# ---------------------------------------------------------------- tab:gen

GENERATORS = ["G1", "G2"]
PROMPT_IDS = ["p0", "p1", "p2"]
SELECTED = {
    "p0": ["clarity", "emotion"],
    "p1": ["background", "richness", "clarity"],
    "p2": ["main_object", "lighting_distinction"],
}


@pytest.fixture(scope="module")
def gen_run():
    rng = np.random.default_rng(0)
    score_values = {
        (g, reward, pid): {kind: float(np.round(rng.normal(5, 2), 3)) for kind in ("oo", "oa", "ao", "aa")}
        for g, reward, pid in product(GENERATORS, ROLES.values(), PROMPT_IDS)
    }
    # Hand-picked HPSv3 values for G1: d = [1, 0, 2], r(I_a,p_o) = [2, 2, 5].
    for pid, (oo, ao) in zip(PROMPT_IDS, [(1.0, 2.0), (2.0, 2.0), (3.0, 5.0)]):
        score_values[("G1", "hps3", pid)].update(oo=oo, ao=ao)
    failed_scores = {("G2", "hps3", "p2", "ao")}
    rating_values = {
        (g, pid, kind): [float(np.round(v, 3)) for v in rng.uniform(0, 2, size=len(DIMENSIONS))]
        for g, pid, kind in product(GENERATORS, PROMPT_IDS, "oa")
    }
    failed_ratings = {("G2", "p1", "a", "emotion")}  # not among p1's selected dimensions
    selected = {("G1", "p0"): 1, ("G1", "p1"): -1, ("G1", "p2"): 1,
                ("G2", "p0"): 0, ("G2", "p1"): 1, ("G2", "p2"): None}
    return {
        "score_values": score_values,
        "rating_values": rating_values,
        "scores": scores_frame(score_values, failed_scores),
        "ratings": ratings_frame(rating_values, failed_ratings),
        "labels": labels_frame(selected),
        "prompts": prompts_frame(SELECTED),
        "failed_scores": failed_scores,
        "failed_ratings": failed_ratings,
    }


def _expected_gen(run, generator: str, j_dimensions: str) -> dict[str, float]:
    """tab:gen by plain loops over the dictionaries the frames were built from."""
    values, ratings = run["score_values"], run["rating_values"]
    failed = {(g, r, p) for g, r, p, _ in run["failed_scores"]}
    out = {}
    for role in ("hpsv2", "hpsv3", "imagereward"):
        reward = ROLES[role]
        used = [p for p in PROMPT_IDS if (generator, reward, p) not in failed]
        diffs = [values[(generator, reward, p)]["ao"] - values[(generator, reward, p)]["oo"] for p in used]
        out[f"d_{role}"] = sum(diffs) / len(diffs)
        out[f"n_{role}"] = len(used)
        if role == "hpsv3":
            out["hpsv3_aa"] = sum(values[(generator, reward, p)]["ao"] for p in used) / len(used)
    sums_a, sums_o = [], []
    for pid in PROMPT_IDS:
        dims = DIMENSIONS if j_dimensions == "all" else SELECTED[pid]
        idx = [DIMENSIONS.index(d) for d in dims]
        if any((generator, pid, kind, DIMENSIONS[i]) in run["failed_ratings"] for i in idx for kind in "oa"):
            continue
        sums_a.append(sum(ratings[(generator, pid, "a")][i] for i in idx))
        sums_o.append(sum(ratings[(generator, pid, "o")][i] for i in idx))
    out["d_j"] = sum(a - o for a, o in zip(sums_a, sums_o)) / len(sums_a)
    out["j_aa"] = sum(sums_a) / len(sums_a)
    out["n_j"] = len(sums_a)
    out["blip"] = sum(values[(generator, "blipl", p)]["aa"] for p in PROMPT_IDS) / 3
    return out


@pytest.mark.parametrize("j_dimensions", ["all", "selected"])
def test_tab_gen_matches_hand_computation(gen_run, j_dimensions):
    result = tab_gen(gen_run["scores"], gen_run["labels"], gen_run["ratings"], gen_run["prompts"],
                     generators=GENERATORS, roles=ROLES, j_dimensions=j_dimensions)
    frame = result.frame.set_index("generator")
    assert list(result.frame.columns[:9]) == ["generator", "d_hpsv2", "d_hpsv3", "hpsv3_aa", "d_imagereward",
                                              "d_j", "j_aa", "blip", "success"]
    for generator in GENERATORS:
        expected = _expected_gen(gen_run, generator, j_dimensions)
        for column, value in expected.items():
            assert frame.loc[generator, column] == pytest.approx(value, rel=1e-12), (generator, column)
    assert frame.loc["G1", "d_hpsv3"] == pytest.approx(1.0)  # (1 + 0 + 2) / 3
    assert frame.loc["G1", "hpsv3_aa"] == pytest.approx(3.0)  # (2 + 2 + 5) / 3
    # The failed emotion rating only matters when every dimension is summed.
    assert frame.loc["G2", "n_j"] == (2 if j_dimensions == "all" else 3)


def test_tab_gen_success_counts_ties_as_failures_and_skips_failed_labels(gen_run):
    result = tab_gen(gen_run["scores"], gen_run["labels"], gen_run["ratings"],
                     generators=GENERATORS, roles=ROLES)
    frame = result.frame.set_index("generator")
    assert frame.loc["G1", "success"] == pytest.approx(2 / 3) and frame.loc["G1", "n_labels"] == 3
    assert frame.loc["G2", "success"] == pytest.approx(1 / 2) and frame.loc["G2", "n_labels"] == 2


def test_tab_gen_counts_excluded_rows(gen_run):
    result = tab_gen(gen_run["scores"], gen_run["labels"], gen_run["ratings"],
                     generators=GENERATORS, roles=ROLES)
    frame = result.frame.set_index("generator")
    assert frame.loc["G1", "n_excluded"] == 0
    assert frame.loc["G2", "n_excluded"] == 3  # one score, one rating, one label
    assert frame.loc["G2", "n_hpsv3"] == 2 and frame.loc["G2", "n_hpsv2"] == 3
    excluded = result.records["excluded"]
    assert excluded["scores"]["hps3"] == {"G2": 1}
    assert excluded["ratings"] == {"G2": 1} and excluded["labels"] == {"G2": 1}
    assert _json_round_trips(result.records)


def test_non_finite_scores_are_excluded_counted_and_explained(gen_run):
    """An ok row with an inf or NaN score is no measurement: left out, counted in n, the reason recorded."""
    scores = gen_run["scores"].copy()
    hit = (scores["generator"] == "G1") & (scores["reward"] == "hps3") & (scores["prompt_id"] == "p2") \
        & (scores["image_kind"] == "a") & (scores["prompt_kind"] == "o")
    scores.loc[hit, "score"] = np.inf
    result = tab_gen(scores, gen_run["labels"], gen_run["ratings"], generators=GENERATORS, roles=ROLES)
    frame = result.frame.set_index("generator")
    # G1's HPSv3 now rests on p0 and p1 only: d = [1, 0], r(I_a,p_o) = [2, 2].
    assert frame.loc["G1", "n_hpsv3"] == 2 and frame.loc["G1", "d_hpsv3"] == pytest.approx(0.5)
    assert frame.loc["G1", "hpsv3_aa"] == pytest.approx(2.0)
    assert frame.loc["G1", "n_excluded"] == 1
    reasons = result.records["excluded"]["score_reasons"]["hps3"]
    # G1's inf (its status is ok), G2's failed row
    assert reasons == {"status not ok": {"error: out of memory": 1}, "non-finite value": {"ok": 1}}
    assert _json_round_trips(result.records)


def test_tab_gen_missing_role_and_inputs_give_nan_and_notes(gen_run):
    roles = {"hpsv2": "hps2", "hpsv3": "not-scored", "imagereward": "ir"}
    result = tab_gen(gen_run["scores"], None, None, generators=GENERATORS + ["G3"], roles=roles)
    frame = result.frame.set_index("generator")
    for column in ("d_hpsv3", "hpsv3_aa", "blip", "d_j", "j_aa", "success"):
        assert frame[column].isna().all(), column
    assert frame["d_hpsv2"].notna().loc[GENERATORS].all()
    assert frame.loc["G3"].drop([c for c in frame.columns if c.startswith("n_")]).isna().all()
    assert (frame.loc["G3", [c for c in frame.columns if c.startswith("n_")]] == 0).all()
    text = "\n".join(result.notes)
    for fragment in ("'blip'", "'not-scored'", "no ratings", "no labels", "G3"):
        assert fragment in text


def test_tab_gen_selected_dimensions_need_prompts(gen_run):
    result = tab_gen(gen_run["scores"], gen_run["labels"], gen_run["ratings"], None,
                     generators=GENERATORS, roles=ROLES, j_dimensions="selected")
    assert result.frame["d_j"].isna().all()
    assert any("prompts" in note for note in result.notes)


def test_tab_gen_refuses_unknown_roles_and_duplicate_scores(gen_run):
    with pytest.raises(ValueError, match="unknown role"):
        tab_gen(gen_run["scores"], None, None, generators=GENERATORS, roles={"hpsv4": "x"})
    with_judges = tab_gen(gen_run["scores"], None, None, generators=GENERATORS,
                          roles=ROLES | {"judge": "qwen", "rater": None})
    assert with_judges.frame["d_hpsv3"].notna().all()
    doubled = pd.concat([gen_run["scores"], gen_run["scores"].iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match="share a key"):
        tab_gen(doubled, None, None, generators=GENERATORS, roles=ROLES)


# ---------------------------------------------------------------- tab:gen intervals

PUBLISHED_GEN = ["d_hpsv2", "d_hpsv3", "hpsv3_aa", "d_imagereward", "d_j", "j_aa", "blip", "success"]
CI_PROMPTS = [f"q{i:02d}" for i in range(40)]


@pytest.fixture(scope="module")
def ci_run():
    """40 spread-out pairs per generator, one failed score, rating and label among them."""
    rng = np.random.default_rng(21)
    score_values = {
        (g, reward, pid): {kind: float(np.round(rng.normal(5, 2), 3)) for kind in ("oo", "oa", "ao", "aa")}
        for g, reward, pid in product(GENERATORS, ROLES.values(), CI_PROMPTS)
    }
    rating_values = {(g, pid, kind): [float(np.round(v, 3)) for v in rng.uniform(0, 2, size=len(DIMENSIONS))]
                     for g, pid, kind in product(GENERATORS, CI_PROMPTS, "oa")}
    selected = {(g, pid): int(rng.choice([0, 1, 1, -1])) for g, pid in product(GENERATORS, CI_PROMPTS)}
    selected[("G2", "q11")] = None
    failed_scores = {("G1", "hps3", "q05", "ao"), ("G2", "blipl", "q30", "aa")}
    failed_ratings = {("G2", "q07", "a", "clarity")}
    return {
        "score_values": score_values, "rating_values": rating_values, "selected": selected,
        "failed_scores": failed_scores, "failed_ratings": failed_ratings,
        "scores": scores_frame(score_values, failed_scores),
        "ratings": ratings_frame(rating_values, failed_ratings),
        "labels": labels_frame(selected),
    }


def _ci_gen_table(run, **kwargs):
    return tab_gen(run["scores"], run["labels"], run["ratings"], generators=GENERATORS, roles=ROLES, **kwargs)


@pytest.fixture(scope="module")
def ci_table(ci_run):
    return _ci_gen_table(ci_run, n_boot=300, seed=7)


def _gen_samples(run, generator: str) -> dict[str, list[float]]:
    """Per published tab:gen column, the per-pair values its mean is over, in prompt order."""
    values, ratings = run["score_values"], run["rating_values"]
    failed = {(g, r, p) for g, r, p, _ in run["failed_scores"]}
    out: dict[str, list[float]] = {}
    for role in ("hpsv2", "hpsv3", "imagereward"):
        reward = ROLES[role]
        used = [p for p in CI_PROMPTS if (generator, reward, p) not in failed]
        out[f"d_{role}"] = [values[(generator, reward, p)]["ao"] - values[(generator, reward, p)]["oo"] for p in used]
        if role == "hpsv3":
            out["hpsv3_aa"] = [values[(generator, reward, p)]["ao"] for p in used]
    rated = [p for p in CI_PROMPTS
             if not any((generator, p, k, d) in run["failed_ratings"] for k in "oa" for d in DIMENSIONS)]
    out["d_j"] = [sum(ratings[(generator, p, "a")]) - sum(ratings[(generator, p, "o")]) for p in rated]
    out["j_aa"] = [sum(ratings[(generator, p, "a")]) for p in rated]
    out["blip"] = [values[(generator, "blipl", p)]["aa"] for p in CI_PROMPTS if (generator, "blipl", p) not in failed]
    labels = [run["selected"][(generator, p)] for p in CI_PROMPTS]
    out["success"] = [1.0 if y == 1 else 0.0 for y in labels if y is not None]
    return out


def _direct_mean_interval(values, n_boot: int, seed: int, level: float) -> tuple[float, float]:
    """Percentile CI of the mean over successive resamples of default_rng(seed), by a plain loop."""
    rng = np.random.default_rng(seed)
    data = np.asarray(values, dtype=np.float64)
    means = [float(np.mean(data[rng.integers(0, len(data), size=len(data))])) for _ in range(n_boot)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def test_tab_gen_interval_columns_follow_the_published_ones(ci_table):
    columns = list(ci_table.frame.columns)
    assert columns[:9] == ["generator", *PUBLISHED_GEN]
    assert columns[9:25] == [f"{c}_{end}" for c in PUBLISHED_GEN for end in ("lo", "hi")]
    assert columns[25:] == ["n_hpsv2", "n_hpsv3", "n_imagereward", "n_j", "n_blip", "n_labels", "n_excluded"]
    assert ci_table.records["bootstrap"] == {"n_boot": 300, "seed": 7, "level": 0.95}
    assert _json_round_trips(ci_table.records)


def test_tab_gen_intervals_equal_a_direct_bootstrap_and_cover_the_mean(ci_run, ci_table):
    frame = ci_table.frame.set_index("generator")
    for generator in GENERATORS:
        samples = _gen_samples(ci_run, generator)
        for column, values in samples.items():
            low, high = frame.loc[generator, f"{column}_lo"], frame.loc[generator, f"{column}_hi"]
            expected = _direct_mean_interval(values, n_boot=300, seed=7, level=0.95)
            assert (low, high) == pytest.approx(expected, rel=1e-10, abs=1e-10), (generator, column)
            assert frame.loc[generator, column] == pytest.approx(np.mean(values), rel=1e-12)
            assert low < frame.loc[generator, column] < high, (generator, column)
    # The failed rows are not resampled.
    assert len(_gen_samples(ci_run, "G1")["d_hpsv3"]) == frame.loc["G1", "n_hpsv3"] == 39
    assert len(_gen_samples(ci_run, "G2")["d_j"]) == frame.loc["G2", "n_j"] == 39
    assert len(_gen_samples(ci_run, "G2")["success"]) == frame.loc["G2", "n_labels"] == 39


def test_tab_gen_intervals_are_seeded_and_follow_the_level(ci_run, ci_table):
    pd.testing.assert_frame_equal(_ci_gen_table(ci_run, n_boot=300, seed=7).frame, ci_table.frame)
    intervals = [f"{c}_{end}" for c in PUBLISHED_GEN for end in ("lo", "hi")]
    reseeded = _ci_gen_table(ci_run, n_boot=300, seed=8).frame
    pd.testing.assert_frame_equal(reseeded.drop(columns=intervals), ci_table.frame.drop(columns=intervals))
    # success is a share of 40 labels: its percentiles can fall on the same few values under both seeds.
    continuous = [c for c in intervals if not c.startswith("success")]
    assert (reseeded[continuous] != ci_table.frame[continuous]).all().all()
    narrow = _ci_gen_table(ci_run, n_boot=300, seed=7, level=0.8).frame.set_index("generator")
    wide = ci_table.frame.set_index("generator")
    for column in PUBLISHED_GEN:
        assert (wide[f"{column}_lo"] <= narrow[f"{column}_lo"]).all(), column
        assert (narrow[f"{column}_hi"] <= wide[f"{column}_hi"]).all(), column
    for generator in GENERATORS:
        for column, values in _gen_samples(ci_run, generator).items():
            expected = _direct_mean_interval(values, n_boot=300, seed=7, level=0.8)
            got = (narrow.loc[generator, f"{column}_lo"], narrow.loc[generator, f"{column}_hi"])
            assert got == pytest.approx(expected, rel=1e-10, abs=1e-10), (generator, column)


def test_tab_gen_intervals_do_not_depend_on_row_order(ci_run, ci_table):
    shuffled = {name: ci_run[name].sample(frac=1, random_state=3).reset_index(drop=True)
                for name in ("scores", "labels", "ratings")}
    again = tab_gen(shuffled["scores"], shuffled["labels"], shuffled["ratings"], generators=GENERATORS, roles=ROLES,
                    n_boot=300, seed=7)
    pd.testing.assert_frame_equal(again.frame, ci_table.frame)


def test_tab_gen_n_boot_zero_gives_no_intervals(ci_run, ci_table):
    intervals = [f"{c}_{end}" for c in PUBLISHED_GEN for end in ("lo", "hi")]
    without = _ci_gen_table(ci_run, n_boot=0)
    assert list(without.frame.columns) == list(ci_table.frame.columns)
    assert without.frame[intervals].isna().all().all()
    pd.testing.assert_frame_equal(without.frame.drop(columns=intervals), ci_table.frame.drop(columns=intervals))
    with pytest.raises(ValueError, match="n_boot"):
        _ci_gen_table(ci_run, n_boot=-1)
    with pytest.raises(ValueError, match="level"):
        _ci_gen_table(ci_run, level=1.0)


def test_tab_gen_absent_inputs_give_nan_intervals(ci_run):
    result = tab_gen(ci_run["scores"], None, None, generators=GENERATORS, roles=ROLES, n_boot=50)
    frame = result.frame
    for column in ("d_j", "j_aa", "success"):
        assert frame[[f"{column}_lo", f"{column}_hi"]].isna().all().all(), column
    assert frame[["d_hpsv2_lo", "d_hpsv2_hi", "blip_lo", "blip_hi"]].notna().all().all()


# ---------------------------------------------------------------- tab:reward_model

def _reward_run(n_prompts: int = 60, seed: int = 3):
    rng = np.random.default_rng(seed)
    truth, gpt, values = {}, {}, {}
    for g, i in product(["G1", "G2"], range(n_prompts)):
        pid = f"p{i:03d}"
        y = int(rng.choice([0, 1, 1, 1, -1]))
        truth[(g, pid)] = y
        gpt[(g, pid)] = int(rng.choice([0, 1, -1]))
        lean = 1.0 if y == 1 else -1.0
        for reward, strength in (("good", 1.5), ("weak", 0.2)):
            oa = float(rng.normal())
            values[(g, reward, pid)] = {"oo": float(rng.normal()), "oa": oa, "ao": float(rng.normal()),
                                        "aa": oa + strength * lean + float(rng.normal())}
    truth[("G2", "p000")] = None  # a failed ground-truth label
    return truth, gpt, values


def _concordance_auroc(y: np.ndarray, score: np.ndarray) -> float:
    positives, negatives = score[y == 1], score[y == 0]
    wins = sum((p > q) + 0.5 * (p == q) for p in positives for q in negatives)
    return wins / (len(positives) * len(negatives))


def _direct_pairs(truth, values, reward, failed=frozenset()):
    """y, prediction and r(I_a,p_a) - r(I_o,p_a) of the usable pairs, by (generator, prompt_id)."""
    y, pred, diff = [], [], []
    for (g, pid), label in sorted(truth.items()):
        if label in (None, -1) or (g, reward, pid) in failed:
            continue
        scores = values[(g, reward, pid)]
        y.append(label)
        pred.append(int(scores["aa"] > scores["oa"]))
        diff.append(scores["aa"] - scores["oa"])
    return tuple(map(np.array, (y, pred, diff)))


def _direct_metrics(truth, values, reward, failed=frozenset()):
    y, pred, diff = _direct_pairs(truth, values, reward, failed)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    return {"accuracy": float((pred == y).mean()), "f1": 2 * tp / (2 * tp + fp + fn),
            "auroc": _concordance_auroc(y, diff), "n": len(y)}


@pytest.fixture(scope="module")
def reward_run():
    truth, gpt, values = _reward_run()
    failed = {("G1", "weak", "p005", "aa")}
    return {
        "truth": truth, "gpt": gpt, "values": values,
        "scores": scores_frame(values, failed),
        "labels": {"qwen": labels_frame(truth), "gpt-5-chat": labels_frame(gpt)},
        "failed": {("G1", "weak", "p005")},
    }


@pytest.fixture(scope="module")
def reward_table(reward_run):
    return tab_reward_model(reward_run["scores"], reward_run["labels"], rewards=["good", "weak"],
                            judge="qwen", extra_judges=["gpt-5-chat"], n_boot=100, seed=0)


def test_tab_reward_model_matches_direct_formulas(reward_run, reward_table):
    frame = reward_table.frame.set_index("reward")
    assert list(frame.index) == ["good", "weak", "gpt-5-chat"]
    for reward in ("good", "weak"):
        expected = _direct_metrics(reward_run["truth"], reward_run["values"], reward, reward_run["failed"])
        for metric in ("accuracy", "f1", "auroc"):
            assert frame.loc[reward, metric] == pytest.approx(expected[metric], rel=1e-12), (reward, metric)
        assert frame.loc[reward, "n"] == expected["n"]
    assert frame.loc["weak", "n"] == frame.loc["good", "n"] - 1  # its failed score drops one pair
    assert frame.loc["good", "accuracy"] > frame.loc["weak", "accuracy"]


def test_tab_reward_model_removes_ties_and_failed_ground_truth(reward_run, reward_table):
    truth = reward_run["truth"]
    usable = [y for y in truth.values() if y is not None]
    record = reward_table.records["ground_truth"]
    assert record["ties"] == usable.count(-1) > 0
    assert record["n"] == len(usable) - usable.count(-1)
    assert record["excluded"] == {"G2": 1}
    assert reward_table.records["rows"]["weak"]["excluded"] == {"G1": 1}
    assert _json_round_trips(reward_table.records)


def test_extra_judge_tie_counts_as_original_and_has_no_auroc(reward_run, reward_table):
    pairs = [(key, y) for key, y in reward_run["truth"].items() if y in (0, 1)]
    y = np.array([label for _, label in pairs])
    pred = np.array([int(reward_run["gpt"][key] == 1) for key, _ in pairs])
    row = reward_table.frame.set_index("reward").loc["gpt-5-chat"]
    assert row["accuracy"] == pytest.approx(float((pred == y).mean()))
    tp, fp, fn = ((pred == 1) & (y == 1)).sum(), ((pred == 1) & (y == 0)).sum(), ((pred == 0) & (y == 1)).sum()
    assert row["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert math.isnan(row["auroc"]) and math.isnan(row["auroc_lo"]) and row["n"] == len(pairs)
    assert reward_table.records["rows"]["gpt-5-chat"]["ties_as_original"] > 0


def test_softmax_auroc_equals_difference_auroc_and_notes_saturation():
    truth, _, values = _reward_run(n_prompts=30, seed=5)
    scores = scores_frame(values)
    labels = {"qwen": labels_frame(truth)}
    plain = tab_reward_model(scores, labels, rewards=["good"], judge="qwen", n_boot=20)
    expected = _direct_metrics(truth, values, "good")
    assert plain.frame.loc[0, "auroc"] == pytest.approx(expected["auroc"], rel=1e-12)
    assert not any("saturates" in note or "differs" in note for note in plain.notes)
    scaled = scores.assign(score=scores["score"] * 100.0)  # differences of hundreds saturate float64
    saturated = tab_reward_model(scaled, labels, rewards=["good"], judge="qwen", n_boot=20)
    assert any("saturates" in note for note in saturated.notes)


def _three_pairs(differences, truth):
    values = {("G1", "big", f"p{k}"): {"oa": 0.0, "aa": d} for k, d in enumerate(differences)}
    labels = {"qwen": labels_frame({("G1", f"p{k}"): y for k, y in enumerate(truth)})}
    return tab_reward_model(scores_frame(values), labels, rewards=["big"], judge="qwen", n_boot=0)


def test_a_note_says_when_saturation_moves_the_softmax_auroc_off_the_difference_auroc():
    # differences 100 (I_a better), 50 (I_o better), -1 (I_o better): by difference the positive
    # leads both negatives, AUROC 1; softmax gives 100 and 50 the same 1.0, a tie counted half: 0.75
    result = _three_pairs([100.0, 50.0, -1.0], [1, 0, 0])
    assert result.frame.loc[0, "auroc"] == pytest.approx(0.75)
    assert any("saturates on 2 pair(s)" in note for note in result.notes)
    assert [n for n in result.notes if "differs" in n] == [
        "reward 'big': AUROC 0.750000 of the softmax probability differs from 1.000000 of the raw score difference"]


def test_no_difference_note_when_the_saturated_pairs_share_a_class():
    # the tied 100 and 50 are both I_a: either score ranks both positives above the negative, AUROC 1
    result = _three_pairs([100.0, 50.0, -1.0], [1, 1, 0])
    assert result.frame.loc[0, "auroc"] == pytest.approx(1.0)
    assert any("saturates" in note for note in result.notes)
    assert not any("differs" in note for note in result.notes)


def test_f1_follows_accuracy_when_every_label_is_original_aesthetic_rewrite():
    truth, _, values = _reward_run(n_prompts=40, seed=9)
    all_rewrite = {key: 1 for key in truth}
    result = tab_reward_model(scores_frame(values), {"qwen": labels_frame(all_rewrite)},
                              rewards=["weak"], judge="qwen", n_boot=20)
    row = result.frame.loc[0]
    assert row["f1"] == pytest.approx(2 * row["accuracy"] / (1 + row["accuracy"]))
    assert math.isnan(row["auroc"])  # one class only


def test_ties_can_be_grouped_with_the_original(reward_run):
    result = tab_reward_model(reward_run["scores"], reward_run["labels"], rewards=["good"],
                              judge="qwen", judge_tie_as=0, n_boot=20)
    grouped = {k: (0 if y == -1 else y) for k, y in reward_run["truth"].items()}
    expected = _direct_metrics(grouped, reward_run["values"], "good")
    assert result.frame.loc[0, "n"] == expected["n"]
    assert result.frame.loc[0, "accuracy"] == pytest.approx(expected["accuracy"])


def test_bootstrap_columns_are_seeded_and_cover_the_estimate(reward_run, reward_table):
    again = tab_reward_model(reward_run["scores"], reward_run["labels"], rewards=["good", "weak"],
                             judge="qwen", extra_judges=["gpt-5-chat"], n_boot=100, seed=0)
    pd.testing.assert_frame_equal(again.frame, reward_table.frame)
    frame = reward_table.frame
    for metric in ("accuracy", "f1", "auroc"):
        rows = frame[frame[metric].notna()]
        assert (rows[f"{metric}_lo"] <= rows[metric]).all() and (rows[metric] <= rows[f"{metric}_hi"]).all()
        assert (rows[f"{metric}_lo"] < rows[f"{metric}_hi"]).all()


def _direct_bootstrap(y, pred, diff, n_boot, seed):
    """95% percentile CIs by sklearn on successive resamples of default_rng(seed)."""
    rng = np.random.default_rng(seed)
    draws = {"accuracy": [], "f1": [], "auroc": []}
    for _ in range(n_boot):
        rows = rng.integers(0, len(y), size=len(y))
        draws["accuracy"].append(accuracy_score(y[rows], pred[rows]))
        draws["f1"].append(f1_score(y[rows], pred[rows], zero_division=0))
        if len(np.unique(y[rows])) == 2:
            draws["auroc"].append(roc_auc_score(y[rows], diff[rows]))
    return {metric: tuple(np.percentile(values, [2.5, 97.5])) for metric, values in draws.items()}


def test_bootstrap_columns_equal_sklearn_on_the_seeded_resamples(reward_run, reward_table):
    frame = reward_table.frame.set_index("reward")
    for reward in ("good", "weak"):
        y, pred, diff = _direct_pairs(reward_run["truth"], reward_run["values"], reward, reward_run["failed"])
        expected = _direct_bootstrap(y, pred, diff, n_boot=100, seed=0)
        for metric, interval in expected.items():
            got = (frame.loc[reward, f"{metric}_lo"], frame.loc[reward, f"{metric}_hi"])
            assert got == pytest.approx(interval, rel=0, abs=1e-12), (reward, metric)


def test_tab_reward_model_missing_reward_or_judge_gives_nan_rows(reward_run):
    result = tab_reward_model(reward_run["scores"], reward_run["labels"], rewards=["good", "absent"],
                              judge="qwen", extra_judges=["glm"], n_boot=20)
    frame = result.frame.set_index("reward")
    assert frame.loc["absent", ["accuracy", "f1", "auroc"]].isna().all() and frame.loc["absent", "n"] == 0
    assert frame.loc["glm", ["accuracy", "f1"]].isna().all()
    assert any("'absent'" in n for n in result.notes) and any("'glm'" in n for n in result.notes)
    no_truth = tab_reward_model(reward_run["scores"], reward_run["labels"], rewards=["good"],
                                judge="nobody", n_boot=20)
    assert no_truth.frame["accuracy"].isna().all() and any("'nobody'" in n for n in no_truth.notes)


# ---------------------------------------------------------------- tab:align_p

def _align_run(n_prompts: int = 30, seed: int = 11):
    rng = np.random.default_rng(seed)
    pids = [f"p{i:03d}" for i in range(n_prompts)]
    values, ratings, selected = {}, {}, {}
    for pid in pids:
        base = float(rng.normal(6, 2))
        for g, shift in (("Aligned", 2.0), ("Base", 0.0)):
            values[(g, "hps3", pid)] = {"oo": base + shift + 3, "ao": base + shift + float(rng.normal(0, 1))}
            lift = 0.1 if g == "Aligned" else 0.0
            for kind in "oa":
                ratings[(g, pid, kind)] = [float(v) + lift for v in rng.uniform(0, 2, size=len(DIMENSIONS))]
        selected[("Aligned", pid)] = int(rng.random() < 0.4)
        selected[("Base", pid)] = int(rng.random() < 0.7) if rng.random() < 0.9 else -1
    return pids, values, ratings, selected


@pytest.fixture(scope="module")
def align_run():
    pids, values, ratings, selected = _align_run()
    # A prompt only the base model has: it cannot be paired.
    values[("Base", "hps3", "extra")] = {"oo": 1.0, "ao": 1.0}
    return {
        "pids": pids, "values": values, "ratings_values": ratings, "selected": selected,
        "scores": scores_frame(values), "ratings": ratings_frame(ratings), "labels": labels_frame(selected),
    }


def test_tab_align_p_wilcoxon_matches_scipy_and_is_signed_negative(align_run):
    result = tab_align_p(align_run["scores"], align_run["labels"], align_run["ratings"],
                         pairs=[("Aligned", "Base")], roles=ROLES)
    row = result.frame.iloc[0]
    assert (row["generator"], row["base"]) == ("Aligned", "Base")
    values, ratings, pids = align_run["values"], align_run["ratings_values"], align_run["pids"]
    d_hps = np.array([values[("Aligned", "hps3", p)]["ao"] - values[("Base", "hps3", p)]["ao"] for p in pids])
    d_j = np.array([sum(ratings[("Aligned", p, "a")]) - sum(ratings[("Base", p, "a")]) for p in pids])
    for prefix, d in (("hpsv3", d_hps), ("j", d_j)):
        direct = scipy_stats.wilcoxon(d, alternative="greater", method="asymptotic", correction=True)
        assert row[f"{prefix}_p"] == pytest.approx(float(direct.pvalue), rel=1e-12)
        assert row[f"{prefix}_r"] == pytest.approx(-float(direct.zstatistic) / math.sqrt(len(d)), rel=1e-12)
        assert row[f"{prefix}_r"] < 0  # the aligned model is higher
        assert row[f"n_{prefix}"] == len(pids)


def _paper_mark(p: float) -> str:
    """tab:align_p's printed cell: "**" below 1e-10, "*" below 1e-5, else p (two decimals, e-notation below 0.01)."""
    if p < 1e-10:
        return "**"
    if p < 1e-5:
        return "*"
    return f"{p:.2f}" if p >= 0.01 else f"{p:.1e}"


def test_paper_mark_follows_the_published_thresholds():
    assert [_paper_mark(p) for p in (3e-11, 2e-6, 0.5712, 0.0031)] == ["**", "*", "0.57", "3.1e-03"]


def test_tab_align_p_mcnemar_counts_and_p(align_run):
    result = tab_align_p(align_run["scores"], align_run["labels"], align_run["ratings"],
                         pairs=[("Aligned", "Base")], roles=ROLES)
    selected, pids = align_run["selected"], align_run["pids"]
    a = [selected[("Aligned", p)] == 1 for p in pids]
    b = [selected[("Base", p)] == 1 for p in pids]  # a base tie is a failure
    only_a = sum(x and not y for x, y in zip(a, b))
    only_b = sum(y and not x for x, y in zip(a, b))
    record = result.records["tests"]["Aligned"]["mcnemar"]
    assert (record["b"], record["c"]) == (only_a, only_b)
    k, n = min(only_a, only_b), only_a + only_b
    if n < 25:
        expected = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    else:
        expected = math.erfc(math.sqrt((abs(only_a - only_b) - 1) ** 2 / n / 2))
    row = result.frame.iloc[0]
    assert row["mcnemar_p"] == pytest.approx(expected)
    assert row["n_mcnemar"] == len(pids)
    for test in ("hpsv3", "j", "mcnemar"):
        assert row[f"{test}_stars"] == _paper_mark(row[f"{test}_p"]), test


def test_tab_align_p_prints_the_paper_effect_size_for_twenty_dominated_prompts():
    pids = [f"p{i:02d}" for i in range(20)]
    values = {}
    for i, pid in enumerate(pids):
        values[("Aligned", "hps3", pid)] = {"ao": 10.0 + i}
        values[("Base", "hps3", pid)] = {"ao": 5.0 + 0.5 * i}
    result = tab_align_p(scores_frame(values), None, None, pairs=[("Aligned", "Base")], roles=ROLES)
    row = result.frame.iloc[0]
    assert round(row["hpsv3_r"], 4) == -0.8723
    assert row["hpsv3_stars"] == "4.8e-05"
    assert math.isnan(row["j_p"]) and math.isnan(row["mcnemar_p"]) and row["mcnemar_stars"] == "n/a"
    assert any("ratings" in n for n in result.notes) and any("labels" in n for n in result.notes)


def test_tab_align_p_pairs_by_prompt_not_by_row_order(align_run):
    shuffled = align_run["scores"].sample(frac=1.0, random_state=0).reset_index(drop=True)
    a = tab_align_p(align_run["scores"], None, None, pairs=[("Aligned", "Base")], roles=ROLES)
    b = tab_align_p(shuffled, None, None, pairs=[("Aligned", "Base")], roles=ROLES)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert _json_round_trips(a.records)


# ---------------------------------------------------------------- LaTeX

def test_to_latex_formats_and_escapes():
    frame = pd.DataFrame({"generator": ["Flux_Dev", "SD 50%"], "d_hpsv3": [-3.16549, float("nan")],
                          "n_hpsv3": [300, 12], "hpsv3_stars": ["**", "0.57"]})
    text = to_latex(frame, caption="Reversed alignment & more", label="tab:gen")
    lines = text.splitlines()
    assert lines[0] == r"\begin{table}[t]" and lines[-1] == r"\end{table}"
    assert r"\label{tab:gen}" in text and r"\caption{Reversed alignment \& more}" in text
    assert r"\begin{tabular}{lrrl}" in text
    assert r"generator & d\_hpsv3 & n\_hpsv3 & hpsv3\_stars \\" in lines
    assert r"Flux\_Dev & -3.165 & 300 & ** \\" in lines
    assert r"SD 50\% & -- & 12 & 0.57 \\" in lines


# ---------------------------------------------------------------- BLIP: logits for ranking, probability for tab_gen

def _repo_config(name: str) -> dict:
    import yaml
    from pathlib import Path
    return yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / name).read_text(encoding="utf-8"))


def test_blip_ranks_by_match_logit_where_probability_would_disagree():
    """The shipped configs rank BLIP by raw match logits (tab_reward_model, tab_emotion) and keep
    the softmax probability for tab_gen; on two images the two orders differ, and the table follows the logit."""
    from widespectrum.tables.benchmark import reward_rows

    rewards = _repo_config("rewards.yaml")
    for name in ("config.yaml",):
        config = _repo_config(name)
        blip_rows = [r for r in reward_rows(config) if rewards[r]["loader"] == "blip_itm"]
        assert blip_rows == ["blip-l-logit"], name
        assert rewards[config["roles"]["blip"]]["options"]["output"] == "probability", name
    assert rewards["blip-l-logit"]["options"]["output"] == "logit"
    assert "blip-l-logit" in _repo_config("config.yaml")["experiments"]["emotion"]["rewards"]
    # ITM logits [no-match, match] under p_a: I_o (0, 2), I_a (-5, 1). Match logit: I_o ahead (2 > 1);
    # match probability: I_a ahead (sigmoid(6) = 0.9975 > sigmoid(2) = 0.8808).
    itm = {"o": (0.0, 2.0), "a": (-5.0, 1.0)}
    logit = {k: m for k, (_, m) in itm.items()}
    probability = {k: 1 / (1 + math.exp(n - m)) for k, (n, m) in itm.items()}
    assert (logit["a"] > logit["o"]) != (probability["a"] > probability["o"])
    values = {("G1", "blip-l-logit", "p0"): {"oa": logit["o"], "aa": logit["a"]},
              ("G1", "blip-l", "p0"): {"oa": probability["o"], "aa": probability["a"]}}
    labels = {"J": labels_frame({("G1", "p0"): 0})}  # the judge: the original is better
    result = tab_reward_model(scores_frame(values), labels, rewards=["blip-l-logit", "blip-l"], judge="J",
                              n_boot=0)
    accuracy_of = result.frame.set_index("reward")["accuracy"]
    assert accuracy_of["blip-l-logit"] == 1.0 and accuracy_of["blip-l"] == 0.0


def test_fig_slopes_on_the_release_without_images_is_not_made_and_says_why():
    from widespectrum.tables.catalog import configured_tables, unavailable_tables

    config = _repo_config("released.yaml")
    assert config["released"]["images"] is False
    assert "fig_slopes" in config["analysis"]["tables"]
    assert "fig_slopes" not in configured_tables(config)
    assert "no BLIP score under p_o" in unavailable_tables(config)["fig_slopes"]
    config["released"]["images"] = True  # the run rescores BLIP from the released images
    assert "fig_slopes" in configured_tables(config) and "fig_slopes" not in unavailable_tables(config)
