"""E4 table (tab:val, docs/experiments.md#e4) as a pure function of the judge's ratings and ground truth.

Conventions as in ``widespectrum.experiments.emotion.analysis``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from ...analysis.tables import TableResult, _check_unique
from ..table_helpers import RATING_CLASSES, columns_present, int_columns


JUDGE_RATINGS_COLUMNS = ("image_id", "dimension", "score")


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
    return TableResult(int_columns(frame), notes, records)


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
    predicted = columns_present(pred, JUDGE_RATINGS_COLUMNS, "judge predictions")
    truth_value = "label" if "label" in truth.columns else "rating"
    rated = columns_present(truth, ("image_id", "dimension", truth_value), "ground-truth ratings")
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
