"""The paper's other experiments (E4, E6-E12, docs/experiments.md) as pure functions of data frames.

Same conventions as ``tables``: each function takes frames of the contracts in
``widespectrum.contracts`` (or the small frames documented on the function)
plus plain parameters, and returns a ``TableResult``. Rows whose status is not
'ok', or whose value is null, are left out and counted; an absent input gives
NaN in the columns it feeds and a note, never an error. The first column names
the row by the raw name in the input (reward, generator, class); the published
columns follow, then the extras (confidence intervals, counts).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.api as sm
from sklearn.metrics import cohen_kappa_score, f1_score

from ..contracts import (
    ART_SCORES,
    AVA_SCORES,
    CRITICAL_SCORES,
    EMOTION_SCORES,
    EMOTIONS,
    EMOTIONS_NEGATIVE,
    FACE_SCORES,
    RATINGS,
    SCORES,
)
from ..prompts.dimensions import DIMENSIONS
from .stats import wilcoxon_one_sided
from .tables import (
    J_DIMENSION_CHOICES,
    PAIR_KEY,
    TableResult,
    _check_prompts,
    _check_unique,
    _ci_columns,
    _judge_sums,
    _mean,
    _mean_and_ci,
    _mean_ci,
    _reward_scores,
    _rows_of,
    _split_usable,
    exclusion_reasons,
)

logger = logging.getLogger(__name__)


def _snake(name: str) -> str:
    """'Analog Degradation' -> 'analog_degradation'."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def _in_order(values: pd.Series) -> list[str]:
    """Distinct values in order of first appearance."""
    return [str(v) for v in dict.fromkeys(values)]


def _excluded_by(rejected: pd.DataFrame, column: str) -> dict[str, int]:
    return {str(k): int(n) for k, n in rejected.groupby(column).size().items()}


# ---------------------------------------------------------------- E6 emotion classification

EMOTION_COLUMNS = {"angry": "anger", "fearful": "fearfulness", "sad": "sadness"}  # contract -> published


def _emotion_pairs(
    emotion_scores: pd.DataFrame | None, notes: list[str], records: dict[str, Any]
) -> pd.DataFrame:
    """One row per (reward, emotion, item_id): r(I_e, p_e) as ``negative``, r(I_happy, p_e) as ``happy``.

    Items that lack either score are dropped and counted in
    ``records["incomplete_items"][reward][emotion]``.
    """
    usable, rejected = _split_usable(emotion_scores, EMOTION_SCORES, "score", "of the emotion experiment")
    records["excluded"] = _excluded_by(rejected, "reward")
    records["excluded_because"] = {str(r): exclusion_reasons(g) for r, g in rejected.groupby("reward")}
    if emotion_scores is None:
        notes.append("no emotion scores given: every value is NaN")
    off_design = ~(usable["image_emotion"].eq("happy") | usable["image_emotion"].eq(usable["emotion"]))
    if off_design.any():
        notes.append(f"{int(off_design.sum())} row(s) score an image of another negative emotion than the "
                     "prompt's; the comparison uses only the happy image and the prompt's own emotion")
        usable = usable.loc[~off_design]
    _check_unique(usable, ["reward", "emotion", "image_emotion", "item_id"], "emotion scores")
    usable = usable.assign(side=np.where(usable["image_emotion"].eq("happy"), "happy", "negative"))
    wide = usable.pivot(index=["reward", "emotion", "item_id"], columns="side", values="score")
    wide = wide.reindex(columns=["negative", "happy"]).astype("float64")
    incomplete = wide.loc[wide.isna().any(axis=1)].reset_index()
    records["incomplete_items"] = {
        str(reward): {str(e): int(n) for e, n in group.groupby("emotion").size().items()}
        for reward, group in incomplete.groupby("reward")
    }
    if len(incomplete):
        notes.append(f"{len(incomplete)} (reward, emotion, item) combination(s) lack the happy or the "
                     "negative image's score and are left out")
    return wide.dropna().reset_index()


def _emotion_rewards(pairs: pd.DataFrame, rewards: Sequence[str] | None, notes: list[str]) -> list[str]:
    if rewards is None:
        return _in_order(pairs["reward"])
    for reward in rewards:
        if not (pairs["reward"] == reward).any():
            notes.append(f"reward {reward!r} has no complete emotion item: its values are NaN")
    return list(rewards)


def tab_emotion(
    emotion_scores: pd.DataFrame | None,
    *,
    rewards: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> TableResult:
    """Does the reward prefer the negative-emotion image under its own prompt? (tab:emotion)

    Accuracy for emotion e = the fraction of items where r(I_e, p_e) > r(I_happy, p_e).
    The comparison is strict: equal scores count as wrong, since a reward that
    cannot tell the images apart has not picked the requested emotion (ties are
    counted in ``records["ties"]``). Items without both scores are left out.

    Columns: reward, anger, fearfulness, sadness (the contract's angry, fearful,
    sad under the paper's names), their percentile bootstrap CIs
    (``<column>_lo``, ``_hi``, items resampled with ``seed``), n_<column> the
    items each accuracy rests on, and n_excluded, the reward's rows with a
    non-ok status or no score.
    """
    notes: list[str] = []
    records: dict[str, Any] = {"bootstrap": {"n_boot": n_boot, "seed": seed, "level": level},
                               "ties": {}, "comparison": "strict: r(I_e,p_e) > r(I_happy,p_e)"}
    pairs = _emotion_pairs(emotion_scores, notes, records)
    rows = []
    for reward in _emotion_rewards(pairs, rewards, notes):
        row: dict[str, Any] = {"reward": reward}
        records["ties"][reward] = {}
        for emotion, column in EMOTION_COLUMNS.items():
            chosen = pairs.loc[(pairs["reward"] == reward) & (pairs["emotion"] == emotion)]
            correct = (chosen["negative"] > chosen["happy"]).to_numpy(dtype=np.float64)
            low, high = _mean_ci(correct, n_boot, seed, level)
            row.update({column: _mean(pd.Series(correct)), f"{column}_lo": low, f"{column}_hi": high,
                        f"n_{column}": len(correct)})
            records["ties"][reward][emotion] = int((chosen["negative"] == chosen["happy"]).sum())
        row["n_excluded"] = records["excluded"].get(reward, 0)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=TAB_EMOTION_COLUMNS)
    return TableResult(_int_columns(frame), notes, records)


TAB_EMOTION_COLUMNS = [
    "reward", *EMOTION_COLUMNS.values(),
    *[f"{c}_{end}" for c in EMOTION_COLUMNS.values() for end in ("lo", "hi")],
    *[f"n_{c}" for c in EMOTION_COLUMNS.values()], "n_excluded",
]


def _int_columns(frame: pd.DataFrame) -> pd.DataFrame:
    counts = [c for c in frame.columns if c == "n" or c.startswith("n_") or c == "ties"]
    return frame.astype({c: "int64" for c in counts})


def fig_emotion_bias(
    emotion_scores: pd.DataFrame | None,
    *,
    rewards: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> TableResult:
    """The data of the emotion-bias figure (fig:emotion_bias).

    One row per (reward, emotion) with emotion as the contract names it (angry,
    fearful, sad): diff = mean over items of r(I_e,p_e) - r(I_happy,p_e) with its
    percentile bootstrap CI (diff_lo, diff_hi), accuracy as in ``tab_emotion``
    with its CI, ties (items with equal scores) and n. ``records["items"]``
    lists every item's difference, for a figure that draws the distribution.
    """
    notes: list[str] = []
    records: dict[str, Any] = {"bootstrap": {"n_boot": n_boot, "seed": seed, "level": level}}
    pairs = _emotion_pairs(emotion_scores, notes, records)
    pairs = pairs.assign(difference=pairs["negative"] - pairs["happy"])
    rows = []
    for reward in _emotion_rewards(pairs, rewards, notes):
        for emotion in EMOTIONS_NEGATIVE:
            chosen = pairs.loc[(pairs["reward"] == reward) & (pairs["emotion"] == emotion)]
            difference = chosen["difference"].to_numpy(dtype=np.float64)
            correct = (difference > 0).astype(np.float64)
            diff_lo, diff_hi = _mean_ci(difference, n_boot, seed, level)
            acc_lo, acc_hi = _mean_ci(correct, n_boot, seed, level)
            rows.append({"reward": reward, "emotion": emotion,
                         "diff": _mean(pd.Series(difference)), "diff_lo": diff_lo, "diff_hi": diff_hi,
                         "accuracy": _mean(pd.Series(correct)), "accuracy_lo": acc_lo, "accuracy_hi": acc_hi,
                         "ties": int((difference == 0).sum()), "n": len(difference)})
    records["items"] = [
        {"reward": str(r), "emotion": str(e), "item_id": str(i), "difference": float(d)}
        for r, e, i, d in pairs[["reward", "emotion", "item_id", "difference"]].itertuples(index=False)
    ]
    frame = pd.DataFrame(rows, columns=FIG_EMOTION_BIAS_COLUMNS)
    return TableResult(_int_columns(frame), notes, records)


FIG_EMOTION_BIAS_COLUMNS = ["reward", "emotion", "diff", "diff_lo", "diff_hi", "accuracy", "accuracy_lo",
                            "accuracy_hi", "ties", "n"]


# ---------------------------------------------------------------- E6 emotion generation

def tab_emotion_gen(
    face_scores: pd.DataFrame | None,
    *,
    generators: Sequence[str] | None = None,
    reward: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> TableResult:
    """Can the generator draw the emotion it is asked for? (tab:emotion_gen)

    Mean score of "The face shows [emotion] expression" on the face crop, per
    generator and requested emotion. ``reward`` picks the scorer when the frame
    holds several (the paper: BLIP); with one present it may be left out.
    Columns: generator, angry, fearful, happy, sad, their percentile bootstrap
    CIs (``<emotion>_lo``, ``_hi``, prompts resampled ``n_boot`` times with
    ``seed``; ``n_boot=0``: NaN), n_<emotion>, n_excluded.
    """
    notes: list[str] = []
    usable, rejected = _split_usable(face_scores, FACE_SCORES, "score", "of the emotion generation")
    if face_scores is None:
        notes.append("no face scores given: every value is NaN")
    present = _in_order(usable["reward"])
    if reward is None and len(present) > 1:
        raise ValueError(f"face scores hold several rewards {present}: name one with reward=")
    if reward is not None:
        usable = usable.loc[usable["reward"] == reward]
        rejected = rejected.loc[rejected["reward"] == reward]
        if usable.empty and face_scores is not None:
            notes.append(f"reward {reward!r} has no usable face scores: every value is NaN")
    _check_unique(usable, ["generator", "prompt_id", "reward"], "face scores")
    excluded = _excluded_by(rejected, "generator")
    if generators is None:
        generators = _in_order(usable["generator"])
    rows = []
    for generator in generators:
        # By prompt, so the seeded interval does not depend on row order.
        mine = usable.loc[usable["generator"] == generator].sort_values("prompt_id", kind="stable")
        if mine.empty and face_scores is not None:
            notes.append(f"generator {generator!r} has no usable face scores: its row is NaN")
        row: dict[str, Any] = {"generator": generator}
        for emotion in EMOTIONS_IN_TABLE:
            values = mine.loc[mine["emotion"] == emotion, "score"]
            row.update(_mean_and_ci(emotion, values, n_boot, seed, level))
            row[f"n_{emotion}"] = len(values)
        row["n_excluded"] = excluded.get(generator, 0)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=TAB_EMOTION_GEN_COLUMNS)
    records = {"reward": reward if reward is not None else (present[0] if present else None),
               "excluded": excluded, "bootstrap": {"n_boot": n_boot, "seed": seed, "level": level}}
    return TableResult(_int_columns(frame), notes, records)


EMOTIONS_IN_TABLE = tuple(sorted(EMOTIONS))  # the paper's column order: angry, fearful, happy, sad
TAB_EMOTION_GEN_COLUMNS = ["generator", *EMOTIONS_IN_TABLE, *_ci_columns(EMOTIONS_IN_TABLE),
                           *[f"n_{e}" for e in EMOTIONS_IN_TABLE], "n_excluded"]


# ---------------------------------------------------------------- E7 AVA

def fig_diff(
    ava_scores: pd.DataFrame | None,
    *,
    reward: str,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> TableResult:
    """How far does the reward prefer a clean render over the real photograph? (fig:diff)

    Per item (paired by item_id): gap = r(generated) - r(photo), both under the
    photograph's anti-aesthetic caption. Rows: "overall" (every paired item),
    then one per class in alphabetical order. Classes overlap: an item counts
    in every class it carries, so the class rows do not partition the overall
    row (``records["multi_class_items"]`` counts items with more than one).
    Class keys are put in snake_case ("Analog Degradation" -> analog_degradation);
    an item's classes are those of its photo and generated rows together.

    Columns: class, gap, gap_lo, gap_hi (percentile bootstrap, items resampled
    with ``seed``), n.
    """
    notes: list[str] = []
    usable, rejected = _split_usable(ava_scores, AVA_SCORES, "score", "of the AVA experiment")
    records: dict[str, Any] = {"reward": reward, "excluded": int((rejected["reward"] == reward).sum()),
                               "bootstrap": {"n_boot": n_boot, "seed": seed, "level": level}}
    if ava_scores is None:
        notes.append("no AVA scores given: every value is NaN")
    usable = usable.loc[usable["reward"] == reward]
    if ava_scores is not None and usable.empty:
        notes.append(f"reward {reward!r} has no usable AVA scores: every value is NaN")
    _check_unique(usable, ["item_id", "source"], f"AVA scores of reward {reward!r}")
    wide = usable.pivot(index="item_id", columns="source", values="score")
    wide = wide.reindex(columns=["photo", "generated"]).astype("float64")
    unpaired = int(wide.isna().any(axis=1).sum())
    wide = wide.dropna()
    gaps = wide["generated"] - wide["photo"]
    classes = _item_classes(usable, gaps.index)
    records.update(unpaired_items=unpaired, items=len(gaps),
                   multi_class_items=int(sum(len(c) > 1 for c in classes.values())),
                   items_without_class=int(sum(not c for c in classes.values())))
    if unpaired:
        notes.append(f"{unpaired} item(s) lack the photo's or the render's score and are left out")
    notes.append(f"classes overlap: an item counts in every class it carries "
                 f"({records['multi_class_items']} of {len(gaps)} items carry more than one)")

    rows = [_gap_row("overall", gaps.to_numpy(dtype=np.float64), n_boot, seed, level)]
    for name in sorted({c for item in classes.values() for c in item}):
        members = [item for item, carried in classes.items() if name in carried]
        rows.append(_gap_row(name, gaps.loc[members].to_numpy(dtype=np.float64), n_boot, seed, level))
    frame = pd.DataFrame(rows, columns=["class", "gap", "gap_lo", "gap_hi", "n"])
    return TableResult(_int_columns(frame), notes, records)


def _item_classes(usable: pd.DataFrame, items: pd.Index) -> dict[str, set[str]]:
    classes: dict[str, set[str]] = {str(item): set() for item in items}
    for item, carried in zip(usable["item_id"], usable["classes"], strict=True):
        if item in classes and carried is not None:
            classes[item].update(_snake(c) for c in carried if _snake(c))
    return classes


def _gap_row(name: str, gaps: np.ndarray, n_boot: int, seed: int, level: float) -> dict[str, Any]:
    low, high = _mean_ci(gaps, n_boot, seed, level)
    return {"class": name, "gap": _mean(pd.Series(gaps)), "gap_lo": low, "gap_hi": high, "n": len(gaps)}


# ---------------------------------------------------------------- E8 real artworks

def tab_real_arts(
    art_scores: pd.DataFrame | None,
    *,
    reward: str,
    leaderboard: Sequence[Mapping[str, Any]],
    leaderboard_source: str,
    leaderboard_month: str | None = None,
    blip_reward: str | None = None,
) -> TableResult:
    """Where would real paintings rank on the reward's own leaderboard? (tab:real_arts)

    r = mean score of the artworks under their true captions; over the
    leaderboard's entries (dicts with ``model`` and ``score``):
    s = (r - r_min) / (r_max - r_min); the rank R of r among the entries plus
    this one, higher first, printed "R/N" (an entry with exactly r's score does
    not push it down: R = 1 + the entries scoring strictly more);
    model_above = the entry with the lowest score above r (None when r leads).
    With ``blip_reward``: blip_true_captions and blip_shuffled_captions, the mean
    BLIP score under true and shuffled captions (the caption sanity check).

    Columns: reward, r, s, rank, leaderboard_month, model_above,
    blip_true_captions, blip_shuffled_captions, n (artworks behind r),
    n_blip_true, n_blip_shuffled.
    """
    entries = _check_leaderboard(leaderboard)
    notes: list[str] = []
    usable, rejected = _split_usable(art_scores, ART_SCORES, "score", "of the art experiment")
    if art_scores is None:
        notes.append("no art scores given: every value is NaN")
    true_scores = _art_scores(usable, reward, "true", notes, art_scores is not None)
    r = _mean(true_scores)
    row: dict[str, Any] = {"reward": reward, "r": r, "leaderboard_month": leaderboard_month, "n": len(true_scores)}
    placement = _place(r, entries, notes)
    row.update(s=placement["s"], rank=placement["rank"], model_above=placement["model_above"])
    for kind in ("true", "shuffled"):
        values = (_art_scores(usable, blip_reward, kind, notes, art_scores is not None)
                  if blip_reward is not None else pd.Series([], dtype="float64"))
        row.update({f"blip_{kind}_captions": _mean(values), f"n_blip_{kind}": len(values)})
    if blip_reward is None:
        notes.append("no BLIP reward named: the caption check columns are NaN")
    records = {"reward": reward, "blip_reward": blip_reward, "leaderboard_source": leaderboard_source,
               "leaderboard_month": leaderboard_month, "leaderboard": entries,
               "excluded": _excluded_by(rejected, "reward"), **placement}
    frame = pd.DataFrame([row], columns=TAB_REAL_ARTS_COLUMNS)
    return TableResult(_int_columns(frame), notes, records)


TAB_REAL_ARTS_COLUMNS = ["reward", "r", "s", "rank", "leaderboard_month", "model_above",
                         "blip_true_captions", "blip_shuffled_captions", "n", "n_blip_true", "n_blip_shuffled"]


def _check_leaderboard(leaderboard: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    entries = []
    for position, entry in enumerate(leaderboard):
        if "model" not in entry or "score" not in entry:
            raise ValueError(f"leaderboard entry {position} needs 'model' and 'score', got {dict(entry)}")
        score = float(entry["score"])
        if not math.isfinite(score):
            raise ValueError(f"leaderboard entry {position} ({entry['model']!r}) has no finite score")
        entries.append({"model": str(entry["model"]), "score": score})
    return entries


def _art_scores(usable: pd.DataFrame, reward: str, kind: str, notes: list[str], given: bool) -> pd.Series:
    chosen = usable.loc[(usable["reward"] == reward) & (usable["caption_kind"] == kind)]
    _check_unique(chosen, ["item_id"], f"art scores of reward {reward!r} under {kind} captions")
    if given and chosen.empty:
        notes.append(f"reward {reward!r} has no usable scores under {kind} captions")
    return chosen["score"]


def _place(r: float, entries: list[dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    """s, rank "R/N", model_above and the numbers behind them."""
    placement: dict[str, Any] = {"s": math.nan, "rank": None, "rank_position": None, "rank_of": len(entries) + 1,
                                 "model_above": None, "r_min": math.nan, "r_max": math.nan}
    if not entries:
        notes.append("empty leaderboard: s, rank and model_above are undefined")
        return placement
    scores = np.array([e["score"] for e in entries])
    placement.update(r_min=float(scores.min()), r_max=float(scores.max()))
    if math.isnan(r):
        return placement
    if scores.max() > scores.min():
        placement["s"] = (r - scores.min()) / (scores.max() - scores.min())
    else:
        notes.append("every leaderboard entry has the same score: s is undefined")
    position = 1 + int((scores > r).sum())
    placement.update(rank_position=position, rank=f"{position}/{len(entries) + 1}")
    above = [e for e in entries if e["score"] > r]
    if above:
        placement["model_above"] = min(above, key=lambda e: e["score"])["model"]
    return placement


# ---------------------------------------------------------------- E9 image-to-image

def tab_img2img(
    scores: pd.DataFrame | None,
    ratings: pd.DataFrame | None,
    prompts: pd.DataFrame | None = None,
    *,
    generators: Sequence[str],
    reward: str,
    j_dimensions: str = "all",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> TableResult:
    """Does an aligned img2img pass make an anti-aesthetic image prettier? (tab:img2img)

    An img2img run is stored under its own generator name in SCORES and
    RATINGS, image_kind 'o' being the input image and 'a' the output, prompt_kind
    'o' the original caption p_o. Per generator: d_hpsv3 = mean over inputs of
    r(out, p_o) - r(in, p_o); d_j = mean of sum_d J(out,d) - J(in,d) over all 11
    dimensions (``j_dimensions="selected"``: the pair's own, needs ``prompts``).
    Columns: generator, d_hpsv3, d_j, their percentile bootstrap CIs
    (``<column>_lo``, ``_hi``, inputs resampled ``n_boot`` times with ``seed``;
    ``n_boot=0``: NaN), n_hpsv3, n_j (inputs each mean rests on).
    """
    if j_dimensions not in J_DIMENSION_CHOICES:
        raise ValueError(f"j_dimensions must be one of {list(J_DIMENSION_CHOICES)}, got {j_dimensions!r}")
    notes: list[str] = []
    wide = _reward_wide(scores, reward, notes, "d_hpsv3")
    sums = _judge_sums_or_none(ratings, prompts, j_dimensions, notes)
    rows = []
    for generator in generators:
        pairs = _rows_of(wide, generator)[["oo", "ao"]].dropna() if wide is not None else _NO_PAIRS
        j = _rows_of(sums, generator)[["o", "a"]].dropna() if sums is not None else _NO_PAIRS
        rows.append({
            "generator": generator,
            **_mean_and_ci("d_hpsv3", pairs["ao"] - pairs["oo"], n_boot, seed, level),
            **_mean_and_ci("d_j", j["a"] - j["o"], n_boot, seed, level),
            "n_hpsv3": len(pairs),
            "n_j": len(j),
        })
    frame = pd.DataFrame(rows, columns=TAB_IMG2IMG_COLUMNS)
    records = {"reward": reward, "j_dimensions": j_dimensions,
               "excluded": _excluded_rows(scores, ratings, reward),
               "bootstrap": {"n_boot": n_boot, "seed": seed, "level": level}}
    return TableResult(_int_columns(frame), notes, records)


TAB_IMG2IMG_COLUMNS = ["generator", "d_hpsv3", "d_j", *_ci_columns(["d_hpsv3", "d_j"]), "n_hpsv3", "n_j"]
# Stands in for an absent input: every column a pair could need, no rows.
_NO_PAIRS = pd.DataFrame({c: pd.Series([], dtype="float64") for c in ("oo", "ao", "o", "a")})


def _reward_wide(
    scores: pd.DataFrame | None, reward: str | None, notes: list[str], feeds: str
) -> pd.DataFrame | None:
    """r(I, p) of ``reward`` keyed (generator, prompt_id), columns oo, oa, ao, aa; None with a note."""
    usable, _ = _split_usable(scores, SCORES, "score", "given to an experiment table")
    if scores is None:
        notes.append(f"no scores given: {feeds} NaN")
        return None
    if reward is None or not (usable["reward"] == reward).any():
        notes.append(f"reward {reward!r} has no usable scores: {feeds} NaN")
        return None
    return _reward_scores(usable, reward)


def _judge_sums_or_none(
    ratings: pd.DataFrame | None, prompts: pd.DataFrame | None, j_dimensions: str, notes: list[str]
) -> pd.DataFrame | None:
    usable, _ = _split_usable(ratings, RATINGS, "score", "given to an experiment table")
    if ratings is None:
        notes.append("no ratings given: d_j NaN")
        return None
    if j_dimensions == "selected" and prompts is None:
        notes.append("j_dimensions='selected' needs the prompts table, none given: d_j NaN")
        return None
    if usable.empty:
        notes.append("ratings hold no usable rows: d_j NaN")
        return None
    return _judge_sums(usable, _check_prompts(prompts) if prompts is not None else None, j_dimensions)


def _excluded_rows(scores: pd.DataFrame | None, ratings: pd.DataFrame | None, reward: str) -> dict[str, Any]:
    _, scores_rejected = _split_usable(scores, SCORES, "score", "given to an experiment table")
    _, ratings_rejected = _split_usable(ratings, RATINGS, "score", "given to an experiment table")
    return {"scores": _excluded_by(scores_rejected.loc[scores_rejected["reward"] == reward], "generator"),
            "ratings": _excluded_by(ratings_rejected, "generator")}


# ---------------------------------------------------------------- E10 critical prompts

def _critical_pairs(
    critical_scores: pd.DataFrame | None,
    pair: tuple[str, str],
    rewards: Sequence[str] | None,
    notes: list[str],
) -> tuple[pd.DataFrame, list[str], dict[str, int]]:
    """Scores keyed (reward, prompt_id) with columns a and b (the two generators); prompts lacking one dropped."""
    a, b = pair
    usable, rejected = _split_usable(critical_scores, CRITICAL_SCORES, "score", "of the critical prompts")
    if critical_scores is None:
        notes.append("no critical-prompt scores given: every value is NaN")
    usable = usable.loc[usable["generator"].isin([a, b])]
    _check_unique(usable, ["reward", "prompt_id", "generator"], "critical-prompt scores")
    wide = usable.pivot(index=["reward", "prompt_id"], columns="generator", values="score")
    wide = wide.reindex(columns=[a, b]).astype("float64")
    unpaired = wide.loc[wide.isna().any(axis=1)].reset_index()
    if len(unpaired):
        notes.append(f"{len(unpaired)} (reward, prompt) combination(s) lack one generator's score "
                     "and are left out")
    if rewards is None:
        rewards = _in_order(usable["reward"])
    for reward in rewards:
        if critical_scores is not None and not (usable["reward"] == reward).any():
            notes.append(f"reward {reward!r} has no usable critical-prompt scores: its row is NaN")
    excluded = _excluded_by(rejected.loc[rejected["generator"].isin([a, b])], "reward")
    return wide.dropna().set_axis(["a", "b"], axis=1), list(rewards), excluded


def _of_reward(wide: pd.DataFrame, reward: str) -> pd.DataFrame:
    if reward not in wide.index.get_level_values("reward"):
        return wide.iloc[0:0].droplevel("reward")
    return wide.xs(reward, level="reward")


def tab_critical_selection(
    critical_scores: pd.DataFrame | None,
    *,
    pair: tuple[str, str],
    rewards: Sequence[str] | None = None,
    columns: tuple[str, str] | None = None,
) -> TableResult:
    """Which generator's image does each reward prefer on critical prompts? (tab:critical_selection)

    Per reward, over the prompts both generators of ``pair`` have: how often the
    first generator's image scores higher, how often the second's, and ties.
    ``columns`` names the two count columns (the paper:
    ``("danceflux_selected", "krea_selected")``); by default they are
    ``<generator>_selected`` in snake_case. Columns: reward, the two counts,
    ties, n, n_excluded.
    """
    notes: list[str] = []
    names = columns or tuple(f"{_snake(g)}_selected" for g in pair)
    if len(names) != 2 or len(set(names)) != 2:
        raise ValueError(f"columns must be two distinct names, got {names}")
    wide, rewards, excluded = _critical_pairs(critical_scores, pair, rewards, notes)
    rows = []
    for reward in rewards:
        mine = _of_reward(wide, reward)
        rows.append({"reward": reward, names[0]: int((mine["a"] > mine["b"]).sum()),
                     names[1]: int((mine["b"] > mine["a"]).sum()), "ties": int((mine["a"] == mine["b"]).sum()),
                     "n": len(mine), "n_excluded": excluded.get(reward, 0)})
    frame = pd.DataFrame(rows, columns=["reward", *names, "ties", "n", "n_excluded"])
    return TableResult(_int_columns(frame), notes, {"pair": list(pair), "excluded": excluded})


def tab_critical_test(
    critical_scores: pd.DataFrame | None,
    *,
    pair: tuple[str, str],
    rewards: Sequence[str] | None = None,
    alternatives: Mapping[str, str] | None = None,
) -> TableResult:
    """Is the preference significant? (tab:critical_test)

    Per reward, a one-sided Wilcoxon signed-rank test of score(a) - score(b)
    over the prompts both generators of ``pair`` have: alternative "greater"
    (a higher) unless ``alternatives`` says "less" for that reward (the paper:
    BLIP, where Flux Krea is higher). effect_r = Z/sqrt(n) keeps the sign of
    the direction a - b, as printed: 20 prompts all favouring a give 0.8723,
    and BLIP's -0.8056 says b is higher. p_display prints p as the paper
    does ("<0.0001" below 1e-4, else four decimals).

    Columns: reward, p, effect_r, alternative, p_display, n (prompts ranked,
    zero differences dropped), n_pairs (prompts compared).
    ``records["tests"][reward]`` holds the full test record.
    """
    notes: list[str] = []
    alternatives = dict(alternatives or {})
    wide, rewards, excluded = _critical_pairs(critical_scores, pair, rewards, notes)
    rows = []
    records: dict[str, Any] = {"pair": list(pair), "excluded": excluded, "tests": {}}
    for reward in rewards:
        alternative = alternatives.get(reward, "greater")
        if alternative not in ("greater", "less"):
            raise ValueError(f"alternative for {reward!r} must be 'greater' or 'less', got {alternative!r}")
        mine = _of_reward(wide, reward)
        test = wilcoxon_one_sided(mine["a"], mine["b"], alternative=alternative)
        records["tests"][reward] = test
        rows.append({"reward": reward, "p": test["p"], "effect_r": test["r"], "alternative": alternative,
                     "p_display": p_display(test["p"]), "n": test["n"], "n_pairs": test["n_total"]})
    frame = pd.DataFrame(rows, columns=["reward", "p", "effect_r", "alternative", "p_display", "n", "n_pairs"])
    return TableResult(_int_columns(frame), notes, records)


def p_display(p: float) -> str:
    """The critical test's p as printed: "<0.0001" or four decimals."""
    if p is None or math.isnan(p):
        return "n/a"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


# ---------------------------------------------------------------- E11 mitigation

def tab_vsf(
    scores: pd.DataFrame | None,
    ratings: pd.DataFrame | None,
    prompts: pd.DataFrame | None,
    *,
    variants: Sequence[Mapping[str, Any]],
    reward: str,
    blip_reward: str,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> TableResult:
    """Negative-prompt guidance as a mitigation (tab:vsf).

    Each variant (dict with generator, model, method, scale) is a run stored
    under its own generator name; VSF and NAG generate from p_a with a negative
    prompt, so its image is I_a. Per variant:

    - hpsv3 = mean r(I_a, p_o) under ``reward``;
    - j_s = mean over pairs of mean_{d in the pair's selected dimensions}
      J(I_a, d) / 2, in [0, 1]. J is high at the guideline's best end, so lower
      j_s means more of the requested anti-aesthetic effect. This is the reading
      that fits the published rows: every stronger guidance lowers hpsv3 and
      j_s together (DanceFlux VSF 2 -> 3: 3.67 -> -2.59 and 0.722 -> 0.546;
      NAG 10 -> 15: 3.81 -> -0.35 and 0.695 -> 0.599; Krea NAG 4 -> 10:
      -3.29 -> -8.37 and 0.621 -> 0.455), while 1 - J/2 would rise;
    - blip = mean r_blip(I_a, p_a).

    A pair's j_s is NaN when any of its selected ratings is missing; without
    ``prompts`` j_s is NaN. Columns: model, method, scale, hpsv3, j_s, blip,
    their percentile bootstrap CIs (``<column>_lo``, ``_hi``, pairs resampled
    ``n_boot`` times with ``seed``; ``n_boot=0``: NaN), generator, n_hpsv3,
    n_j, n_blip.
    """
    notes: list[str] = []
    hpsv3 = _reward_wide(scores, reward, notes, "hpsv3")
    blip = _reward_wide(scores, blip_reward, notes, "blip")
    selected_means = _selected_means(ratings, prompts, notes)
    rows = []
    for variant in variants:
        missing = [k for k in ("generator", "model", "method", "scale") if k not in variant]
        if missing:
            raise ValueError(f"variant {dict(variant)} lacks {missing}")
        generator = str(variant["generator"])
        ao = _rows_of(hpsv3, generator)["ao"].dropna() if hpsv3 is not None else pd.Series([], dtype="float64")
        aa = _rows_of(blip, generator)["aa"].dropna() if blip is not None else pd.Series([], dtype="float64")
        j = (_rows_of(selected_means, generator)["a"].dropna() if selected_means is not None
             else pd.Series([], dtype="float64"))
        if hpsv3 is not None and ao.empty:
            notes.append(f"variant {generator!r} has no usable r(I_a,p_o): hpsv3 NaN")
        rows.append({"model": variant["model"], "method": variant["method"], "scale": float(variant["scale"]),
                     **_mean_and_ci("hpsv3", ao, n_boot, seed, level),
                     **_mean_and_ci("j_s", j / 2, n_boot, seed, level),
                     **_mean_and_ci("blip", aa, n_boot, seed, level),
                     "generator": generator, "n_hpsv3": len(ao), "n_j": len(j), "n_blip": len(aa)})
    frame = pd.DataFrame(rows, columns=TAB_VSF_COLUMNS)
    records = {"reward": reward, "blip_reward": blip_reward,
               "excluded": _excluded_rows(scores, ratings, reward),
               "j_s": "mean over pairs of mean over the selected dimensions of J(I_a,d)/2",
               "bootstrap": {"n_boot": n_boot, "seed": seed, "level": level}}
    return TableResult(_int_columns(frame), notes, records)


TAB_VSF_MEANS = ["hpsv3", "j_s", "blip"]
TAB_VSF_COLUMNS = ["model", "method", "scale", *TAB_VSF_MEANS, *_ci_columns(TAB_VSF_MEANS), "generator",
                   "n_hpsv3", "n_j", "n_blip"]


def _selected_means(
    ratings: pd.DataFrame | None, prompts: pd.DataFrame | None, notes: list[str]
) -> pd.DataFrame | None:
    """mean_{d selected} J(I, d) per (generator, prompt_id), columns 'o' and 'a'."""
    if prompts is None:
        notes.append("no prompts given (they name each pair's selected dimensions): j_s NaN")
        return None
    sums = _judge_sums_or_none(ratings, prompts, "selected", notes)
    if sums is None:
        return None
    checked = _check_prompts(prompts)
    counts = {str(p): len(d) for p, d in zip(checked["prompt_id"], checked["dimensions"], strict=True)}
    ids = sums.index.get_level_values("prompt_id")
    unknown = sorted({p for p in ids if p not in counts})
    if unknown:
        notes.append(f"{len(unknown)} prompt(s) unknown to the prompts table are left out of j_s")
    size = np.array([counts.get(p, np.nan) for p in ids], dtype=np.float64)
    return sums.div(size, axis=0)


# ---------------------------------------------------------------- E12 per-dimension regression

def fig_slopes(
    scores: pd.DataFrame | None,
    ratings: pd.DataFrame | None,
    *,
    rewards: Sequence[str],
    blip_reward: str,
    alpha: float = 0.05,
) -> TableResult:
    """What does each reward respond to? (fig:slopes)

    Per reward: ordinary least squares (statsmodels, with an intercept) of
    r(I, p_o) on the 11 J(I, d) and the BLIP score r_blip(I, p_o), over both
    images of every pair of every generator (an image needs all 13 values).
    When the reward is the BLIP reward itself the blip term is left out.

    Long frame: reward, term (intercept, the dimension keys, blip), coef, se,
    t, p, significant (p < ``alpha``), n (images), r2.
    """
    notes: list[str] = []
    scores_ok, scores_rejected = _split_usable(scores, SCORES, "score", "given to fig_slopes")
    ratings_ok, ratings_rejected = _split_usable(ratings, RATINGS, "score", "given to fig_slopes")
    for name, frame in (("scores", scores), ("ratings", ratings)):
        if frame is None:
            notes.append(f"no {name} given: every coefficient is NaN")
    judge = _ratings_per_image(ratings_ok)
    blip = _scores_under_original(scores_ok, blip_reward)
    if scores is not None and blip.empty:
        notes.append(f"BLIP reward {blip_reward!r} has no usable r(I,p_o): every coefficient is NaN")
    rows = []
    records: dict[str, Any] = {"statsmodels_version": statsmodels.__version__, "alpha": alpha,
                               "blip_reward": blip_reward, "models": {},
                               "excluded": {"scores": _excluded_by(scores_rejected, "reward"),
                                            "ratings": int(len(ratings_rejected))}}
    with_blip = judge.join(blip.rename("blip"), how="inner")
    for reward in rewards:
        design = with_blip
        if reward == blip_reward:
            design = with_blip.drop(columns="blip")
            notes.append(f"reward {reward!r} is the BLIP reward: its regression has no blip term")
        response = _scores_under_original(scores_ok, reward).rename("response")
        data = design.join(response, how="inner").dropna()
        fit_rows, record = _fit_ols(reward, data, alpha, notes)
        rows += fit_rows
        records["models"][reward] = record
    frame = pd.DataFrame(rows, columns=["reward", "term", "coef", "se", "t", "p", "significant", "n", "r2"])
    return TableResult(frame.astype({"n": "int64", "significant": "bool"}), notes, records)


def _ratings_per_image(ratings_ok: pd.DataFrame) -> pd.DataFrame:
    _check_unique(ratings_ok, [*PAIR_KEY, "image_kind", "dimension"], "ratings")
    wide = ratings_ok.pivot(index=[*PAIR_KEY, "image_kind"], columns="dimension", values="score")
    return wide.reindex(columns=list(DIMENSIONS)).astype("float64")


def _scores_under_original(scores_ok: pd.DataFrame, reward: str) -> pd.Series:
    """r(I, p_o) of ``reward`` per (generator, prompt_id, image_kind)."""
    rows = scores_ok.loc[(scores_ok["reward"] == reward) & (scores_ok["prompt_kind"] == "o")]
    _check_unique(rows, [*PAIR_KEY, "image_kind"], f"r(I,p_o) of reward {reward!r}")
    index = pd.MultiIndex.from_frame(rows[[*PAIR_KEY, "image_kind"]])
    return pd.Series(rows["score"].to_numpy(dtype=np.float64), index=index, dtype="float64")


def _fit_ols(
    reward: str, data: pd.DataFrame, alpha: float, notes: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    regressors = [c for c in data.columns if c != "response"]
    terms = ["intercept", *regressors]
    n = len(data)
    if n <= len(terms):
        notes.append(f"reward {reward!r}: {n} complete image(s), too few for {len(terms)} coefficients: NaN")
        nan_rows = [{"reward": reward, "term": t, "coef": math.nan, "se": math.nan, "t": math.nan, "p": math.nan,
                     "significant": False, "n": n, "r2": math.nan} for t in terms]
        return nan_rows, {"n": n, "fitted": False}
    exog = sm.add_constant(data[regressors].to_numpy(dtype=np.float64), has_constant="add")
    fit = sm.OLS(data["response"].to_numpy(dtype=np.float64), exog).fit()
    rows = [{"reward": reward, "term": term, "coef": float(coef), "se": float(se), "t": float(t), "p": float(p),
             "significant": bool(p < alpha), "n": n, "r2": float(fit.rsquared)}
            for term, coef, se, t, p in zip(terms, fit.params, fit.bse, fit.tvalues, fit.pvalues, strict=True)]
    record = {"n": n, "fitted": True, "r2": float(fit.rsquared), "df_resid": float(fit.df_resid),
              "condition_number": float(fit.condition_number), "terms": terms}
    return rows, record


# ---------------------------------------------------------------- E4 judge validation

JUDGE_RATINGS_COLUMNS = ("image_id", "dimension", "score")
HUMAN_ANSWER_COLUMNS = ("pair_id", "answer")
LABEL_COLUMNS = ("pair_id", "selected")
RATING_CLASSES = (0, 1, 2)
# The pairwise scale of the human check: the raters answer I_o = 0, tie = 1, I_a = 2;
# the pairwise judge's label (0 = I_o, -1 = tie, 1 = I_a) is put on the same scale.
JUDGE_LABEL_TO_ANSWER = {0: 0, -1: 1, 1: 2}
TIE_ANSWER = 1


def _columns_present(frame: pd.DataFrame, needed: Sequence[str], what: str) -> pd.DataFrame:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; expected {list(needed)}")
    return frame


def human_agreement(
    human_answers: pd.DataFrame | None, judge_labels: pd.DataFrame | None, *, judge: str = "judge"
) -> TableResult:
    """The pairwise judge against human raters (human_validation, docs/experiments.md#e4, human check).

    Inputs:

    - ``human_answers``: pair_id, rater_id, answer, each rater's pairwise
      answer: 0 = the original image I_o is better, 1 = tie, 2 = the rewrite's
      image I_a is better;
    - ``judge_labels``: pair_id, selected, the pairwise judge's label (0 = I_o,
      1 = I_a, -1 = tie), put on the raters' scale as 0 -> 0, -1 -> 1, 1 -> 2.

    As the paper measures it: per pair, the raters' mean answer rounded as
    ``np.round`` does (half to even: 0.5 -> 0, 1.5 -> 2) is the human answer.
    mae = mean |human - judge|; quadratic_kappa = Cohen's kappa with quadratic
    weights (scikit-learn, classes 0, 1, 2); accuracy_ties_removed = agreement
    on the pairs where neither the humans nor the judge say tie;
    accuracy_tie_grouped_with_original = agreement once every tie is read as
    I_o (the question becomes "is I_a better?"), over every pair.

    Columns: judge, mae, quadratic_kappa, accuracy_ties_removed,
    accuracy_tie_grouped_with_original, raters, pairs (compared),
    n_pairs_ties_removed, n_excluded (answers or labels that are missing or off
    the scale).
    """
    notes: list[str] = []
    records: dict[str, Any] = {"rounding": "half to even (np.round)", "kappa_weights": "quadratic",
                               "scale": "I_o = 0, tie = 1, I_a = 2",
                               "judge_label_to_answer": {str(k): v for k, v in JUDGE_LABEL_TO_ANSWER.items()}}
    row: dict[str, Any] = {"judge": judge, "mae": math.nan, "quadratic_kappa": math.nan,
                           "accuracy_ties_removed": math.nan, "accuracy_tie_grouped_with_original": math.nan,
                           "raters": 0, "pairs": 0, "n_pairs_ties_removed": 0, "n_excluded": 0}
    if human_answers is None or judge_labels is None:
        notes.append("human answers or judge labels missing: every value is NaN")
        return TableResult(_int_columns(pd.DataFrame([row], columns=HUMAN_AGREEMENT_COLUMNS)), notes, records)
    answers = _columns_present(human_answers, HUMAN_ANSWER_COLUMNS, "human answers").reset_index(drop=True)
    labels = _columns_present(judge_labels, LABEL_COLUMNS, "judge labels").reset_index(drop=True)
    answer = pd.to_numeric(answers["answer"], errors="coerce")
    answers_ok = answers.loc[answer.isin(RATING_CLASSES)].assign(answer=answer)
    selected = pd.to_numeric(labels["selected"], errors="coerce")
    labels_ok = labels.loc[selected.isin(list(JUDGE_LABEL_TO_ANSWER))].assign(selected=selected)
    records["excluded"] = {"answers": int(len(answers) - len(answers_ok)), "labels": int(len(labels) - len(labels_ok))}
    _check_unique(labels_ok, ["pair_id"], "judge labels")
    if "rater_id" in answers_ok.columns:
        _check_unique(answers_ok, ["pair_id", "rater_id"], "human answers")
        row["raters"] = int(answers_ok["rater_id"].nunique())
    human = np.round(answers_ok.groupby("pair_id")["answer"].mean()).rename("human")
    judged = labels_ok.set_index("pair_id")["selected"].astype(int).map(JUDGE_LABEL_TO_ANSWER).rename("judge")
    joined = human.to_frame().join(judged, how="inner")
    records["unmatched_pairs"] = {"answers": int(len(human) - len(joined)), "labels": int(len(judged) - len(joined))}
    row["n_excluded"] = sum(records["excluded"].values())
    if joined.empty:
        notes.append("no pair has both human answers and a judge label: every value is NaN")
        return TableResult(_int_columns(pd.DataFrame([row], columns=HUMAN_AGREEMENT_COLUMNS)), notes, records)
    h = joined["human"].to_numpy(dtype=np.int64)
    j = joined["judge"].to_numpy(dtype=np.int64)
    decided = (h != TIE_ANSWER) & (j != TIE_ANSWER)
    records["ties"] = {"human": int((h == TIE_ANSWER).sum()), "judge": int((j == TIE_ANSWER).sum())}
    row.update(mae=float(np.mean(np.abs(h - j))),
               quadratic_kappa=float(cohen_kappa_score(h, j, labels=list(RATING_CLASSES), weights="quadratic")),
               accuracy_ties_removed=float(np.mean(h[decided] == j[decided])) if decided.any() else math.nan,
               accuracy_tie_grouped_with_original=float(np.mean((h == 2) == (j == 2))),
               pairs=len(joined), n_pairs_ties_removed=int(decided.sum()))
    return TableResult(_int_columns(pd.DataFrame([row], columns=HUMAN_AGREEMENT_COLUMNS)), notes, records)


HUMAN_AGREEMENT_COLUMNS = ["judge", "mae", "quadratic_kappa", "accuracy_ties_removed",
                           "accuracy_tie_grouped_with_original", "raters", "pairs", "n_pairs_ties_removed",
                           "n_excluded"]


def judge_validation(
    pred: pd.DataFrame | None, truth: pd.DataFrame | None, *, judge: str = "judge"
) -> TableResult:
    """The per-dimension judge on held-out VisionReward ratings (tab:val, docs/experiments.md#e4).

    ``pred``: image_id, dimension, score (J, the judge's expected rating in
    [0, 2]); ``truth``: image_id, dimension and either ``label`` (VisionReward's
    answer, negative / zero / positive) or ``rating`` (already 0, 1 or 2). As
    the paper does: the true class is sign(label) + 1; the judge's class is J
    rounded half-to-even (``np.round``: 0.5 -> 0, 1.5 -> 2) and clipped to 0-2;
    every dimension present in both files counts (the authors' validation file
    has 18 VisionReward dimensions, not only the benchmark's 11). On the
    rounded class: mae = mean |class - truth|; wmae = the mean over the true
    classes present of each class's MAE; wf1 = scikit-learn's F1 weighted by
    class support. Columns: judge, mae, wmae, wf1, n (cells), n_dimensions,
    mae_<class> per true class, and expected_mae, the MAE of the unrounded J.
    """
    notes: list[str] = []
    records: dict[str, Any] = {"rounding": "half to even (np.round)", "truth": "sign(label) + 1",
                               "wmae": "unweighted mean of per-class MAE"}
    row: dict[str, Any] = {"judge": judge, "mae": math.nan, "wmae": math.nan, "wf1": math.nan, "n": 0,
                           "n_dimensions": 0, "expected_mae": math.nan}
    row.update({f"mae_{c}": math.nan for c in RATING_CLASSES})
    if pred is None or truth is None:
        notes.append("predictions or ground truth missing: every value is NaN")
    else:
        row.update(_validation_metrics(pred, truth, notes, records))
    frame = pd.DataFrame([row], columns=TAB_VAL_COLUMNS)
    return TableResult(_int_columns(frame), notes, records)


TAB_VAL_COLUMNS = ["judge", "mae", "wmae", "wf1", "n", "n_dimensions", *[f"mae_{c}" for c in RATING_CLASSES],
                   "expected_mae"]


def true_classes(truth: pd.DataFrame) -> pd.Series:
    """The ground-truth class 0/1/2 of each row: sign(label) + 1, or ``rating`` as given."""
    if "label" in truth.columns:
        return np.sign(pd.to_numeric(truth["label"], errors="coerce")) + 1
    rating = pd.to_numeric(truth["rating"], errors="coerce")
    bad = rating.notna() & ~rating.isin(RATING_CLASSES)
    if bad.any():
        first = truth.loc[bad].iloc[0]
        raise ValueError(f"ground-truth ratings: rating {first['rating']!r} (image {first['image_id']!r}, "
                         f"dimension {first['dimension']!r}) is not 0, 1 or 2; give VisionReward's answers "
                         "as a 'label' column instead")
    return rating


def _validation_metrics(
    pred: pd.DataFrame, truth: pd.DataFrame, notes: list[str], records: dict[str, Any]
) -> dict[str, Any]:
    predicted = _columns_present(pred, JUDGE_RATINGS_COLUMNS, "judge predictions")
    truth_value = "label" if "label" in truth.columns else "rating"
    rated = _columns_present(truth, ("image_id", "dimension", truth_value), "ground-truth ratings")
    rated = rated.assign(truth_class=true_classes(rated))
    score = pd.to_numeric(predicted["score"], errors="coerce")
    predicted_ok = predicted.loc[np.isfinite(score.to_numpy(dtype=np.float64))]
    rated_ok = rated.loc[rated["truth_class"].notna()]
    records["excluded"] = {"pred": int(len(predicted) - len(predicted_ok)),
                           "truth": int(len(rated) - len(rated_ok))}
    _check_unique(predicted_ok, ["image_id", "dimension"], "judge predictions")
    _check_unique(rated_ok, ["image_id", "dimension"], "ground-truth ratings")
    joined = predicted_ok[["image_id", "dimension", "score"]].merge(
        rated_ok[["image_id", "dimension", "truth_class"]], on=["image_id", "dimension"], how="inner")
    records["unmatched"] = {"pred": int(len(predicted_ok) - len(joined)), "truth": int(len(rated_ok) - len(joined))}
    if joined.empty:
        notes.append("no (image, dimension) has both a prediction and a rating: every value is NaN")
        return {}
    records["dimensions"] = sorted(str(d) for d in joined["dimension"].unique())
    expected = joined["score"].to_numpy(dtype=np.float64)
    rating = joined["truth_class"].to_numpy(dtype=np.float64)
    predicted_class = np.clip(np.round(expected), min(RATING_CLASSES), max(RATING_CLASSES))
    error = np.abs(predicted_class - rating)
    per_class = {c: float(error[rating == c].mean()) if (rating == c).any() else math.nan for c in RATING_CLASSES}
    absent = [c for c, v in per_class.items() if math.isnan(v)]
    if absent:
        notes.append(f"no ground-truth rating of class(es) {absent}: wmae averages the classes present")
    return {"mae": float(error.mean()), "wmae": float(np.nanmean(list(per_class.values()))),
            "wf1": float(f1_score(rating.astype(int), predicted_class.astype(int), average="weighted",
                                  zero_division=0)),
            "n": len(joined), "n_dimensions": len(records["dimensions"]),
            "expected_mae": float(np.abs(expected - rating).mean()),
            **{f"mae_{c}": v for c, v in per_class.items()}}
