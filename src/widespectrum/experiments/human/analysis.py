"""The human check (human_validation, docs/experiments.md#e4) as a pure function of answers and labels.

Conventions as in ``widespectrum.experiments.emotion.analysis``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from ...analysis.tables import TableResult, _check_unique
from ..table_helpers import RATING_CLASSES, columns_present, int_columns


HUMAN_ANSWER_COLUMNS = ("pair_id", "answer")
LABEL_COLUMNS = ("pair_id", "selected")
# The pairwise scale of the human check: the raters answer I_o = 0, tie = 1, I_a = 2;
# the pairwise judge's label (0 = I_o, -1 = tie, 1 = I_a) is put on the same scale.
JUDGE_LABEL_TO_ANSWER = {0: 0, -1: 1, 1: 2}
TIE_ANSWER = 1


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
        return TableResult(int_columns(pd.DataFrame([row], columns=HUMAN_AGREEMENT_COLUMNS)), notes, records)
    answers = columns_present(human_answers, HUMAN_ANSWER_COLUMNS, "human answers").reset_index(drop=True)
    labels = columns_present(judge_labels, LABEL_COLUMNS, "judge labels").reset_index(drop=True)
    answer = pd.to_numeric(answers["answer"], errors="coerce")
    answers_ok = answers.loc[answer.isin(RATING_CLASSES)].assign(answer=answer)
    selected = pd.to_numeric(labels["selected"], errors="coerce")
    labels_ok = labels.loc[selected.isin(list(JUDGE_LABEL_TO_ANSWER))].assign(selected=selected)
    records["excluded"] = {"answers": int(len(answers) - len(answers_ok)), "labels": int(len(labels) - len(labels_ok))}
    records["excluded_because"] = {
        "answers": _left_out(answers["answer"], answer, RATING_CLASSES, "answer"),
        "labels": _left_out(labels["selected"], selected, list(JUDGE_LABEL_TO_ANSWER), "label")}
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
        return TableResult(int_columns(pd.DataFrame([row], columns=HUMAN_AGREEMENT_COLUMNS)), notes, records)
    h = joined["human"].to_numpy(dtype=np.int64)
    j = joined["judge"].to_numpy(dtype=np.int64)
    decided = (h != TIE_ANSWER) & (j != TIE_ANSWER)
    records["ties"] = {"human": int((h == TIE_ANSWER).sum()), "judge": int((j == TIE_ANSWER).sum())}
    row.update(mae=float(np.mean(np.abs(h - j))),
               quadratic_kappa=float(cohen_kappa_score(h, j, labels=list(RATING_CLASSES), weights="quadratic")),
               accuracy_ties_removed=float(np.mean(h[decided] == j[decided])) if decided.any() else math.nan,
               accuracy_tie_grouped_with_original=float(np.mean((h == 2) == (j == 2))),
               pairs=len(joined), n_pairs_ties_removed=int(decided.sum()))
    return TableResult(int_columns(pd.DataFrame([row], columns=HUMAN_AGREEMENT_COLUMNS)), notes, records)


def _left_out(raw: pd.Series, numeric: pd.Series, scale: Sequence[int], what: str) -> dict[str, int]:
    """Why values were left out: none given, or one off the scale (a non-number included)."""
    missing = raw.isna()
    off_scale = ~missing & ~numeric.isin(scale)
    named = ", ".join(str(v) for v in sorted(scale))
    counts = {f"missing {what}": int(missing.sum()), f"{what} outside {{{named}}}": int(off_scale.sum())}
    return {why: n for why, n in counts.items() if n}


HUMAN_AGREEMENT_COLUMNS = ["judge", "mae", "quadratic_kappa", "accuracy_ties_removed",
                           "accuracy_tie_grouped_with_original", "raters", "pairs", "n_pairs_ties_removed",
                           "n_excluded"]
