"""The human check's demo stand-in: made-up raters' pairwise answers and a judge's labels.

The demo has no human raters, so ``config/experiments/demo_human/`` holds answers
drawn here: each rater agrees with the judge's label with probability
``agreement`` and otherwise answers at random. Like every demo number, the
table they give means nothing; they exercise the human-check input contract
(results/README.md) end to end. Rewrite them with
``python -m widespectrum.demo.human_answers config/experiments/demo_human``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

JUDGE_TO_ANSWER = {0: 0, -1: 1, 1: 2}  # the pairwise judge's label on the raters' scale


def demo_human_files(n_pairs: int = 12, n_raters: int = 6, agreement: float = 0.75,
                     seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(answers: pair_id, rater_id, answer; judge_labels: pair_id, selected)."""
    rng = np.random.default_rng(seed)
    pair_ids = [f"demo-pair-{k:02d}" for k in range(n_pairs)]
    selected = rng.choice([1, 0, -1], size=n_pairs, p=[0.6, 0.25, 0.15])
    rows = []
    for pair_id, label in zip(pair_ids, selected, strict=True):
        for rater in range(n_raters):
            agrees = rng.random() < agreement
            answer = JUDGE_TO_ANSWER[int(label)] if agrees else int(rng.integers(0, 3))
            rows.append({"pair_id": pair_id, "rater_id": f"demo-rater-{rater}", "answer": answer})
    return pd.DataFrame(rows), pd.DataFrame({"pair_id": pair_ids, "selected": selected.astype(int)})


def write_demo_human_files(folder: str | Path) -> dict[str, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    answers, judge_labels = demo_human_files()
    paths = {"answers": folder / "answers.csv", "judge_labels": folder / "judge_labels.csv"}
    answers.to_csv(paths["answers"], index=False)
    judge_labels.to_csv(paths["judge_labels"], index=False)
    return paths


if __name__ == "__main__":
    write_demo_human_files(sys.argv[1])
