"""E7 (fig:diff): real photographs made deliberately anti-aesthetic, against clean renders.

Each item is a photograph with anti-aesthetic classes, an anti-aesthetic
caption and a clean caption. A generator renders the clean caption; the reward
scores the photograph and the render, both under the anti-aesthetic caption.
A reward that honours the request should prefer the photograph; the paper
reports the mean gap r(render) - r(photo), overall and per class.
"""

from __future__ import annotations

import logging
import os

import pandas as pd

from ...contracts import AVA_SCORES, Column, Schema, records_to_frame
from ...scoring.base import RewardModel
from ..common import (ITEM_STATUS, ScoreTask, Unscorable, item_loader, manifest_loader, render_prompts, rendered_images,
               score_tasks)

log = logging.getLogger(__name__)

AVA_ITEMS = Schema(
    "ava_items",
    (
        Column("item_id", "str"),
        Column("classes", "list_str", doc="anti-aesthetic class keys of the photograph (they overlap)"),
        Column("caption_anti", "str", doc="the caption naming the photograph's anti-aesthetic qualities"),
        Column("caption_clean", "str", nullable=True, doc="the same scene described plainly; null if none"),
        Column("reference_image", "str", nullable=True,
               doc="the scene's source picture, for procedural stand-in generators"),
        Column("path", "str", nullable=True, doc="PNG path relative to the run folder"),
        Column("sha256", "str", nullable=True),
        ITEM_STATUS,
    ),
    "E7: one row per anti-aesthetic photograph",
)


def ava_generation_prompts(items: pd.DataFrame) -> pd.DataFrame:
    """The clean captions as a PROMPTS-valid frame, prompt_id = item_id; items without one are left out."""
    items = AVA_ITEMS.validate(items, where="given to ava_generation_prompts")
    with_caption = items[items["caption_clean"].notna()]
    if len(with_caption) < len(items):
        log.info("%d of %d AVA items have no clean caption and are not rendered",
                 len(items) - len(with_caption), len(items))
    rows = [{"prompt_id": row.item_id, "caption_id": row.item_id, "prompt": row.caption_clean,
             "seed_key": row.item_id, "reference_image": row.reference_image, "classes": list(row.classes)}
            for row in with_caption.sort_values("item_id", kind="stable").itertuples(index=False)]
    return render_prompts(rows, rewriter="ava_clean_caption")


def score_ava(
    reward: RewardModel, items: pd.DataFrame, generated_manifest: pd.DataFrame, run_dir: str | os.PathLike
) -> pd.DataFrame:
    """r(photo, caption_anti) and r(render of caption_clean, caption_anti) per item (AVA_SCORES)."""
    items = AVA_ITEMS.validate(items, where="given to score_ava")
    if items["item_id"].duplicated().any():
        raise ValueError(f"AVA item {items['item_id'][items['item_id'].duplicated()].iloc[0]!r} appears twice")
    renders = rendered_images(generated_manifest)
    tasks = []
    for row in items.sort_values("item_id", kind="stable").itertuples(index=False):
        base = {"item_id": row.item_id, "classes": list(row.classes), "reward": reward.name}
        tasks.append(ScoreTask({**base, "source": "photo"}, row.caption_anti, item_loader(run_dir, row, "photo")))
        render = manifest_loader(run_dir, renders.get(row.item_id)) if row.caption_clean else _no_clean_caption
        tasks.append(ScoreTask({**base, "source": "generated"}, row.caption_anti, render))
    records = score_tasks(reward, tasks, desc=f"ava x {reward.name}")
    return records_to_frame(records, AVA_SCORES)


def _no_clean_caption():
    raise Unscorable("no clean caption to render")
