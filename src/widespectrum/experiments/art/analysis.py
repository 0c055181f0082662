"""E8 table (tab:real_arts, docs/experiments.md#e8) as a pure function of the art scores and a leaderboard.

Conventions as in ``widespectrum.experiments.emotion.analysis``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...analysis.tables import TableResult, _check_unique, _mean, _mean_ci, _split_usable
from ...contracts import ART_SCORES
from ..table_helpers import exclusions, int_columns


def tab_real_arts(
    art_scores: pd.DataFrame | None,
    *,
    reward: str,
    leaderboard: Sequence[Mapping[str, Any]],
    leaderboard_source: str,
    leaderboard_month: str | None = None,
    blip_reward: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> TableResult:
    """Where would real paintings rank on the reward's own leaderboard? (tab:real_arts)

    r = mean score of the artworks under their true captions; over the
    leaderboard's entries (dicts with ``model`` and ``score``):
    s = (r - r_min) / (r_max - r_min); the rank R of r among the entries plus
    this one, higher first, printed "R/N" (an entry with exactly r's score does
    not push it down: R = 1 + the entries scoring strictly more);
    model_above = the entry with the lowest score above r (None when r leads);
    r_lo, r_hi: percentile bootstrap CI of r at ``level``, the artworks behind r
    resampled ``n_boot`` times with ``seed`` (``n_boot=0``: NaN).
    With ``blip_reward``: blip_true_captions and blip_shuffled_captions, the mean
    BLIP score under true and shuffled captions (the caption sanity check).

    Columns: reward, r, r_lo, r_hi, s, rank, leaderboard_month, model_above,
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
    # the interval resamples exactly the scores r is the mean of
    r_lo, r_hi = _mean_ci(true_scores, n_boot, seed, level)
    row: dict[str, Any] = {"reward": reward, "r": r, "r_lo": r_lo, "r_hi": r_hi,
                           "leaderboard_month": leaderboard_month, "n": len(true_scores)}
    placement = _place(r, entries, notes)
    row.update(s=placement["s"], rank=placement["rank"], model_above=placement["model_above"])
    for kind in ("true", "shuffled"):
        values = (_art_scores(usable, blip_reward, kind, notes, art_scores is not None)
                  if blip_reward is not None else pd.Series([], dtype="float64"))
        row.update({f"blip_{kind}_captions": _mean(values), f"n_blip_{kind}": len(values)})
    if blip_reward is None:
        notes.append("no BLIP reward named: the caption check columns are NaN")
    excluded, excluded_because = exclusions(rejected, "reward")
    records = {"reward": reward, "blip_reward": blip_reward, "leaderboard_source": leaderboard_source,
               "leaderboard_month": leaderboard_month, "leaderboard": entries,
               "excluded": excluded, "excluded_because": excluded_because,
               "bootstrap": {"n_boot": n_boot, "seed": seed, "level": level}, **placement}
    frame = pd.DataFrame([row], columns=TAB_REAL_ARTS_COLUMNS)
    return TableResult(int_columns(frame), notes, records)


TAB_REAL_ARTS_COLUMNS = ["reward", "r", "r_lo", "r_hi", "s", "rank", "leaderboard_month", "model_above",
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
