"""E11 table (tab:vsf, docs/experiments.md#e11) as a pure function of the variants' scores and ratings.

Conventions as in ``widespectrum.experiments.emotion.analysis``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...analysis.tables import TableResult, _check_prompts, _ci_columns, _mean_and_ci, _rows_of
from ..table_helpers import excluded_rows, int_columns, judge_sums_or_none, reward_wide


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
    hpsv3 = reward_wide(scores, reward, notes, "hpsv3")
    blip = reward_wide(scores, blip_reward, notes, "blip")
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
    excluded, excluded_because = excluded_rows(scores, ratings, {"scores": reward, "blip_scores": blip_reward})
    records = {"reward": reward, "blip_reward": blip_reward,
               "excluded": excluded, "excluded_because": excluded_because,
               "j_s": "mean over pairs of mean over the selected dimensions of J(I_a,d)/2",
               "bootstrap": {"n_boot": n_boot, "seed": seed, "level": level}}
    return TableResult(int_columns(frame), notes, records)


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
    sums = judge_sums_or_none(ratings, prompts, "selected", notes)
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
