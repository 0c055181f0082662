"""Time tab_reward_model at the paper's size: 9 rewards x 2,700 pairs x 1,000 resamples.

Builds a synthetic run (9 generators x 300 prompts, labels 0/1 so every pair is
used, scores rounded to 3 decimals so the AUROC sees ties) and logs the wall
time of the table alone, the best of ``--repeats`` runs, against the baseline
measured in the same run: the same resamples drawn one at a time, each scored by
sklearn's accuracy_score, f1_score and roc_auc_score (``--no-baseline`` skips it).

    python bench/bootstrap_speed.py [--rewards 9] [--pairs 2700] [--n-boot 1000] [--no-baseline]
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import pandas as pd

from _common import best_of
from widespectrum.analysis import tab_reward_model
from widespectrum.contracts import LABELS, SCORES

logger = logging.getLogger("bootstrap_speed")

GENERATORS = 9


def synthetic_run(n_rewards: int, n_pairs: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """SCORES and LABELS frames: each reward leans towards the label with its own strength."""
    rng = np.random.default_rng(seed)
    generator = np.array([f"G{i % GENERATORS}" for i in range(n_pairs)])
    prompt_id = np.array([f"p{i // GENERATORS:05d}" for i in range(n_pairs)])
    y = rng.integers(0, 2, size=n_pairs)
    labels = pd.DataFrame({"generator": generator, "prompt_id": prompt_id, "selected": y,
                           "first_shown": "o", "status": "ok"})
    rewards = [f"reward{r}" for r in range(n_rewards)]
    blocks = []
    for strength, reward in zip(np.linspace(0.1, 2.0, n_rewards), rewards, strict=True):
        oa = rng.normal(size=n_pairs)
        aa = oa + strength * (2 * y - 1) + rng.normal(size=n_pairs)
        for kind, score in (("oa", oa), ("aa", aa)):
            blocks.append(pd.DataFrame({
                "generator": generator, "prompt_id": prompt_id, "image_kind": kind[0], "prompt_kind": kind[1],
                "reward": reward, "score": np.round(score, 3), "score_sigma": None, "status": "ok",
            }))
    scores = pd.concat(blocks, ignore_index=True)
    return SCORES.validate(scores), LABELS.validate(labels), rewards


def per_resample_sklearn(scores: pd.DataFrame, labels: pd.DataFrame, rewards: list[str], n_boot: int,
                         seed: int = 0) -> None:
    """The baseline: for each reward, ``n_boot`` resamples of its pairs, each scored by sklearn."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    y = labels.set_index(["generator", "prompt_id"])["selected"]
    for reward in rewards:
        wide = scores[scores["reward"] == reward].pivot_table(index=["generator", "prompt_id"], columns="image_kind",
                                                            values="score")
        truth = y.reindex(wide.index).to_numpy()
        difference = (wide["a"] - wide["o"]).to_numpy()
        prediction = (difference > 0).astype(int)
        rng = np.random.default_rng(seed)
        for _ in range(n_boot):
            rows = rng.integers(0, len(truth), size=len(truth))
            accuracy_score(truth[rows], prediction[rows])
            f1_score(truth[rows], prediction[rows], zero_division=0)
            if len(np.unique(truth[rows])) == 2:
                roc_auc_score(truth[rows], difference[rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rewards", type=int, default=9)
    parser.add_argument("--pairs", type=int, default=2700)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true", help="skip the per-resample sklearn loop (minutes)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    scores, labels, rewards = synthetic_run(args.rewards, args.pairs)
    seconds, result = best_of(args.repeats, lambda: tab_reward_model(scores, {"judge": labels}, rewards=rewards,
                                                                      judge="judge", n_boot=args.n_boot, seed=0))
    logger.info("%s", result.frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    logger.info("tab_reward_model, %d rewards x %d pairs x %d resamples: %.2f s (best of %d)",
                args.rewards, int(result.frame["n"].max()), args.n_boot, seconds, args.repeats)
    if not args.no_baseline:
        baseline, _ = best_of(1, lambda: per_resample_sklearn(scores, labels, rewards, args.n_boot))
        logger.info("per-resample sklearn on the same pairs: %.2f s; tab_reward_model is %.1fx faster",
                    baseline, baseline / seconds)


if __name__ == "__main__":
    main()
