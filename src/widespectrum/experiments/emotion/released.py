"""The released E6 classification set (``weathon/emotion_bias_dataset``) as items."""

from __future__ import annotations


import pandas as pd

from ...released.columns import text_value
from ...released.loading import ReleasedFormatError, Table, column_names, is_image_value, records
from .measure import EMOTION_SLOT

BIAS_EMOTIONS = ("happy", "sad", "angry", "fearful")


def emotion_bias_items(table: Table) -> pd.DataFrame:
    """``weathon/emotion_bias_dataset``: one item per row, columns item_id,
    prompt_template (with the ``[emotion]`` slot) and images (emotion -> image)."""
    dataset = "weathon/emotion_bias_dataset"
    image_columns = {emotion: f"{emotion}_image" for emotion in BIAS_EMOTIONS}
    missing = [c for c in ["prompt", *image_columns.values()] if c not in column_names(table)]
    if missing:
        raise ReleasedFormatError(f"{dataset}: missing column(s) {missing}; present: {column_names(table)}")
    items = []
    for row, record in enumerate(records(table, ["prompt", *image_columns.values()])):
        template = text_value(record["prompt"], "prompt", row, dataset)
        if EMOTION_SLOT not in template:
            raise ReleasedFormatError(f"{dataset}: column 'prompt' has no {EMOTION_SLOT} slot at row {row}")
        images = {}
        for emotion, column in image_columns.items():
            if not is_image_value(record[column]):
                raise ReleasedFormatError(f"{dataset}: column {column!r} holds no image at row {row}")
            images[emotion] = record[column]
        items.append({"item_id": f"{row:03d}", "prompt_template": template, "images": images})
    return pd.DataFrame(items, columns=["item_id", "prompt_template", "images"])
