"""What several experiments' table functions share: row keys, exclusion counts, the benchmark-run frames.

Same conventions as ``widespectrum.analysis.tables``: frames of the contracts
in ``widespectrum.contracts`` in, plain values out; nothing here reads a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..analysis.tables import _check_prompts, _judge_sums, _reward_scores, _split_usable, exclusion_reasons
from ..contracts import RATINGS, SCORES


def snake_key(name: str) -> str:
    """'Analog Degradation' -> 'analog_degradation'."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def in_order(values: pd.Series) -> list[str]:
    """Distinct values in order of first appearance."""
    return [str(v) for v in dict.fromkeys(values)]


def exclusions(
    rejected: pd.DataFrame, column: str
) -> tuple[dict[str, int], dict[str, dict[str, dict[str, int]]]]:
    """The rows ``_split_usable`` left out per value of ``column``: how many, and ``{category: {status: n}}``.

    A table's records keep them as ``excluded`` and ``excluded_because``.
    """
    groups = rejected.groupby(column)
    return ({str(k): len(g) for k, g in groups}, {str(k): exclusion_reasons(g) for k, g in groups})


def int_columns(frame: pd.DataFrame) -> pd.DataFrame:
    counts = [c for c in frame.columns if c == "n" or c.startswith("n_") or c == "ties"]
    return frame.astype({c: "int64" for c in counts})


def reward_wide(
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


def judge_sums_or_none(
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


def excluded_rows(
    scores: pd.DataFrame | None, ratings: pd.DataFrame | None, rewards: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``excluded`` and ``excluded_because`` of a table on scores and ratings, per input and generator.

    ``rewards`` names each reward the table reads under the key its rows go to
    (``{"scores": "hpsv3"}``); the ratings' rows go to ``ratings``.
    """
    _, scores_rejected = _split_usable(scores, SCORES, "score", "given to an experiment table")
    _, ratings_rejected = _split_usable(ratings, RATINGS, "score", "given to an experiment table")
    parts = {key: scores_rejected.loc[scores_rejected["reward"] == reward] for key, reward in rewards.items()}
    parts["ratings"] = ratings_rejected
    split = {key: exclusions(rejected, "generator") for key, rejected in parts.items()}
    return {k: counts for k, (counts, _) in split.items()}, {k: reasons for k, (_, reasons) in split.items()}


RATING_CLASSES = (0, 1, 2)


def columns_present(frame: pd.DataFrame, needed: Sequence[str], what: str) -> pd.DataFrame:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; expected {list(needed)}")
    return frame
