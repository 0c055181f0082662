"""E9 table (tab:img2img, docs/experiments.md#e9) as a pure function of the re-renders' scores and ratings.

Conventions as in ``widespectrum.experiments.emotion.analysis``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ...analysis.tables import J_DIMENSION_CHOICES, TableResult, _ci_columns, _mean_and_ci, _rows_of
from ..table_helpers import excluded_rows, int_columns, judge_sums_or_none, reward_wide


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
    wide = reward_wide(scores, reward, notes, "d_hpsv3")
    sums = judge_sums_or_none(ratings, prompts, j_dimensions, notes)
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
    excluded, excluded_because = excluded_rows(scores, ratings, {"scores": reward})
    records = {"reward": reward, "j_dimensions": j_dimensions,
               "excluded": excluded, "excluded_because": excluded_because,
               "bootstrap": {"n_boot": n_boot, "seed": seed, "level": level}}
    return TableResult(int_columns(frame), notes, records)


TAB_IMG2IMG_COLUMNS = ["generator", "d_hpsv3", "d_j", *_ci_columns(["d_hpsv3", "d_j"]), "n_hpsv3", "n_j"]
# Stands in for an absent input: every column a pair could need, no rows.
_NO_PAIRS = pd.DataFrame({c: pd.Series([], dtype="float64") for c in ("oo", "ao", "o", "a")})
