"""Score every pair of one generator with one reward model: r(I_o|I_a, p_o|p_a).

Besides the SCORES columns, each row carries ``prompt_truncated``: True when the
reward cut the prompt to its text limit (the cut words cannot change the score),
False when it did not, null when the reward does not report it or the row failed.
Images are read from disk one batch at a time, so a job holds one batch in memory.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import SetupError
from ..contracts import OK, SCORES, records_to_frame
from ..images import load_image, missing_reason, pair_index
from .base import RewardModel

log = logging.getLogger(__name__)

COMBINATIONS = (("o", "o"), ("o", "a"), ("a", "o"), ("a", "a"))  # (image_kind, prompt_kind)


def score_pairs(
    reward: RewardModel, manifest: pd.DataFrame, prompts: pd.DataFrame, run_dir: str | Path
) -> pd.DataFrame:
    """One row per (pair, image kind, prompt kind); unusable images give error rows."""
    images = pair_index(manifest)
    generator = manifest["generator"].iloc[0] if len(manifest) else ""
    texts = {(row.prompt_id, "o"): row.prompt_original for row in prompts.itertuples(index=False)}
    texts.update({(row.prompt_id, "a"): row.prompt_anti for row in prompts.itertuples(index=False)})

    records, todo = [], []
    for prompt_id in sorted(prompts["prompt_id"]):
        for image_kind, prompt_kind in COMBINATIONS:
            base = {"generator": generator, "prompt_id": prompt_id, "image_kind": image_kind,
                    "prompt_kind": prompt_kind, "reward": reward.name, "score": None, "score_sigma": None,
                    "prompt_truncated": None}
            reason = missing_reason(images.get((prompt_id, image_kind)))
            if reason:
                records.append({**base, "status": reason})
            else:
                todo.append(base)

    progress = tqdm(total=len(todo), desc=f"score {reward.name} x {generator}", unit="pair")
    for start in range(0, len(todo), reward.batch_size):
        batch = todo[start : start + reward.batch_size]
        # Each image is scored under both prompts, usually in the same batch: read and verify it
        # once. An unreadable image fails its own rows only, not its batch's.
        loaded, unreadable = {}, {}
        for key in dict.fromkeys((b["prompt_id"], b["image_kind"]) for b in batch):
            try:
                loaded[key] = load_image(run_dir, images[key]._asdict())
            except SetupError:
                raise
            except Exception as err:
                log.error("unreadable image %s/%s: %s", *key, err)
                unreadable[key] = f"error: {type(err).__name__}: {err}"
        for row in batch:
            if (reason := unreadable.get((row["prompt_id"], row["image_kind"]))) is not None:
                records.append({**row, "status": reason})
        progress.update(len(batch))
        batch = [b for b in batch if (b["prompt_id"], b["image_kind"]) in loaded]
        if not batch:
            continue
        try:
            pictures = [loaded[(b["prompt_id"], b["image_kind"])] for b in batch]
            output = reward.score(pictures, [texts[(b["prompt_id"], b["prompt_kind"])] for b in batch])
            scores = np.asarray(output.scores, dtype=np.float64)
            if scores.shape != (len(batch),):
                raise ValueError(f"reward returned shape {scores.shape} for a batch of {len(batch)}")
            sigmas, truncated = output.sigmas, output.truncated
            for i, row in enumerate(batch):
                ok = np.isfinite(scores[i])
                records.append({**row, "score": float(scores[i]) if ok else None,
                                "score_sigma": None if sigmas is None else float(sigmas[i]),
                                "prompt_truncated": None if truncated is None else bool(truncated[i]),
                                "status": OK if ok else "error: non-finite score"})
        except SetupError:
            raise
        except Exception as err:  # a failed batch is recorded row by row, the job goes on
            log.exception("scoring failed for a batch of %d", len(batch))
            records.extend({**row, "status": f"error: {type(err).__name__}: {err}"} for row in batch)
    progress.close()
    scored = [r for r in records if r["status"] == OK]
    cut = sum(bool(r["prompt_truncated"]) for r in scored)
    if cut:
        log.warning("%s: %d of %d scored pairs had their prompt cut to the reward's text limit", reward.name, cut,
                    len(scored))
    frame = records_to_frame(records, SCORES)
    return frame.sort_values(["prompt_id", "image_kind", "prompt_kind"], kind="stable").reset_index(drop=True)
