"""E7 figure data (fig:diff, docs/experiments.md#e7) as a pure function of the AVA scores.

Conventions as in ``widespectrum.experiments.emotion.analysis``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...analysis.tables import TableResult, _check_unique, _mean, _mean_ci, _split_usable
from ...contracts import AVA_SCORES
from ..table_helpers import exclusions, int_columns, snake_key


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
    excluded, excluded_because = exclusions(rejected.loc[rejected["reward"] == reward], "reward")
    records: dict[str, Any] = {"reward": reward, "excluded": excluded, "excluded_because": excluded_because,
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
    return TableResult(int_columns(frame), notes, records)


def _item_classes(usable: pd.DataFrame, items: pd.Index) -> dict[str, set[str]]:
    classes: dict[str, set[str]] = {str(item): set() for item in items}
    for item, carried in zip(usable["item_id"], usable["classes"], strict=True):
        if item in classes and carried is not None:
            classes[item].update(snake_key(c) for c in carried if snake_key(c))
    return classes


def _gap_row(name: str, gaps: np.ndarray, n_boot: int, seed: int, level: float) -> dict[str, Any]:
    low, high = _mean_ci(gaps, n_boot, seed, level)
    return {"class": name, "gap": _mean(pd.Series(gaps)), "gap_lo": low, "gap_hi": high, "n": len(gaps)}
