"""Run a pairwise judge or a per-dimension rater over one generator's pairs."""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import SetupError
from ..contracts import LABELS, OK, RATINGS, records_to_frame
from ..images import load_image, missing_reason, pair_index
from ..prompts.dimensions import DIMENSIONS
from .base import DimensionRater, PairRequest, PairwiseJudge

log = logging.getLogger(__name__)

RATING_RANGE = (0, 2)  # J(I, d) is an expected rating over 0, 1, 2


def first_shown(seed: int, generator: str, prompt_id: str) -> str:
    """Which image a judge sees first: random per pair, reproducible from the run seed."""
    digest = hashlib.sha256(f"{seed}/{generator}/{prompt_id}".encode()).digest()
    return "o" if digest[0] % 2 == 0 else "a"


def judge_pairs(
    judge: PairwiseJudge, manifest: pd.DataFrame, prompts: pd.DataFrame, run_dir: str | Path, seed: int
) -> pd.DataFrame:
    images = pair_index(manifest)
    generator = manifest["generator"].iloc[0] if len(manifest) else ""
    records = []
    for row in tqdm(list(prompts.sort_values("prompt_id").itertuples(index=False)),
                    desc=f"judge {judge.name} x {generator}", unit="pair"):
        order = first_shown(seed, generator, row.prompt_id)
        record = {"generator": generator, "prompt_id": row.prompt_id, "selected": None, "first_shown": order}
        reasons = [missing_reason(images.get((row.prompt_id, kind))) for kind in ("o", "a")]
        if any(reasons):
            records.append({**record, "status": "; ".join(r for r in reasons if r)})
            continue
        try:
            pictures = {kind: load_image(run_dir, images[(row.prompt_id, kind)]._asdict()) for kind in ("o", "a")}
            shown = (order, "a" if order == "o" else "o")
            choice = judge.judge(PairRequest(row.prompt_id, row.prompt_anti, tuple(row.dimensions),
                                             pictures[shown[0]], pictures[shown[1]]))
            if choice not in (0, 1, -1):
                raise ValueError(f"judge returned {choice!r}, expected 0, 1 or -1")
            # Map the judge's answer in shown order back to 0 = I_o, 1 = I_a.
            record["selected"] = -1 if choice == -1 else (0 if shown[choice] == "o" else 1)
            record["status"] = OK
        except SetupError:
            raise
        except Exception as err:  # recorded, not skipped: the table reports it in its n
            log.exception("judging failed: %s %s", generator, row.prompt_id)
            record["status"] = f"error: {type(err).__name__}: {err}"
        records.append(record)
    return records_to_frame(records, LABELS)


def rate_images(
    rater: DimensionRater, manifest: pd.DataFrame, run_dir: str | Path, dimensions=DIMENSIONS, batch_size: int = 8
) -> pd.DataFrame:
    dimensions = list(dimensions)
    records = []
    rows = list(manifest.sort_values(["prompt_id", "image_kind"]).itertuples(index=False))
    for start in tqdm(range(0, len(rows), batch_size), desc=f"rate {rater.name}", unit="batch"):
        batch = rows[start : start + batch_size]
        usable = [r for r in batch if missing_reason(r) is None]
        for r in batch:
            reason = missing_reason(r)
            if reason:
                records.extend(_rating(r, d, None, reason) for d in dimensions)
        if not usable:
            continue
        try:
            values = np.asarray(rater.rate([load_image(run_dir, r._asdict()) for r in usable], dimensions))
            if values.shape != (len(usable), len(dimensions)):
                raise ValueError(f"rater returned shape {values.shape}")
            for r, row_values in zip(usable, values):
                records.extend(_checked_rating(r, d, float(v)) for d, v in zip(dimensions, row_values))
        except SetupError:
            raise
        except Exception as err:
            log.exception("rating failed for a batch of %d", len(usable))
            for r in usable:
                records.extend(_rating(r, d, None, f"error: {type(err).__name__}: {err}") for d in dimensions)
    return records_to_frame(records, RATINGS)


def _checked_rating(row, dimension: str, score: float) -> dict:
    """An OK row for a rating in [0, 2], else an error row without the score: a NaN or a 2.5 is no J."""
    low, high = RATING_RANGE
    if math.isfinite(score) and low <= score <= high:
        return _rating(row, dimension, score, OK)
    status = (f"error: rating {score!r} outside [{low}, {high}]" if math.isfinite(score)
              else "error: non-finite rating")
    log.error("%s %s/%s: %s", dimension, row.prompt_id, row.image_kind, status)
    return _rating(row, dimension, None, status)


def _rating(row, dimension: str, score: float | None, status: str) -> dict:
    return {"generator": row.generator, "prompt_id": row.prompt_id, "image_kind": row.image_kind,
            "dimension": dimension, "score": score, "status": status}
