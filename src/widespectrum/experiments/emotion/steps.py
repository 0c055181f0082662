"""E6 classification items: procedural stand-ins, or the released set's pictures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ...demo import standins
from ..common import relative_folder, released_table, save_released_image
from .measure import EMOTION_ITEMS
from .released import emotion_bias_items


def build_items(config: Mapping, spec: Mapping, image_dir: Path, run_dir: Path) -> tuple[pd.DataFrame, dict]:
    if spec["source"] == "standin":
        items = standins.emotion_items(image_dir, run_dir, n_items=spec["n_items"], seed=config["seed"],
                                       size=spec["size"])
        return items, {"kind": "stand-in items", "function": "demo.standins.emotion_items",
                       "n_items": spec["n_items"], "size": spec["size"], "seed": config["seed"]}
    folder = relative_folder(image_dir, run_dir)
    rows = []
    table = emotion_bias_items(released_table(config, spec["released"]))
    for item in tqdm(table.itertuples(index=False), desc="emotion items", unit="item"):
        for emotion, value in item.images.items():
            saved = save_released_image(value, run_dir, f"{folder}/{item.item_id}_{emotion}.png")
            rows.append({"item_id": item.item_id, "image_emotion": emotion,
                         "prompt_template": item.prompt_template, **saved})
    items = EMOTION_ITEMS.validate(pd.DataFrame(rows, columns=EMOTION_ITEMS.names))
    return items, {"kind": "released items", **spec["released"]}
