"""E6 classification tables (tab:emotion, fig:emotion_bias, docs/experiments.md#e6) as pure functions of frames.

Same conventions as ``widespectrum.analysis.tables``: each function takes a
frame of its contract plus plain parameters and returns a ``TableResult``.
Rows whose status is not 'ok', or whose value is null or not finite, are left
out: ``records["excluded"]`` counts them and ``records["excluded_because"]``
says why, ``{category: {status: n}}`` under the same keys (reward, generator
or input). An absent input gives NaN in the columns it feeds and a note, never
an error. The first column names the row by the raw name in the input; the
published columns follow, then the extras (confidence intervals, counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...analysis.tables import TableResult, _check_unique, _mean, _mean_ci, _split_usable
from ...contracts import EMOTION_SCORES, EMOTIONS_NEGATIVE
from ..table_helpers import exclusions, in_order, int_columns


EMOTION_COLUMNS = {"angry": "anger", "fearful": "fearfulness", "sad": "sadness"}  # contract -> published


def _emotion_pairs(
    emotion_scores: pd.DataFrame | None, notes: list[str], records: dict[str, Any]
) -> pd.DataFrame:
    """One row per (reward, emotion, item_id): r(I_e, p_e) as ``negative``, r(I_happy, p_e) as ``happy``.

    Items that lack either score are dropped and counted in
    ``records["incomplete_items"][reward][emotion]``.
    """
    usable, rejected = _split_usable(emotion_scores, EMOTION_SCORES, "score", "of the emotion experiment")
    records["excluded"], records["excluded_because"] = exclusions(rejected, "reward")
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
        return in_order(pairs["reward"])
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
    return TableResult(int_columns(frame), notes, records)


TAB_EMOTION_COLUMNS = [
    "reward", *EMOTION_COLUMNS.values(),
    *[f"{c}_{end}" for c in EMOTION_COLUMNS.values() for end in ("lo", "hi")],
    *[f"n_{c}" for c in EMOTION_COLUMNS.values()], "n_excluded",
]


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
    return TableResult(int_columns(frame), notes, records)


FIG_EMOTION_BIAS_COLUMNS = ["reward", "emotion", "diff", "diff_lo", "diff_hi", "accuracy", "accuracy_lo",
                            "accuracy_hi", "ties", "n"]
