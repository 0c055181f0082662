"""E7 items (stand-ins or the released photographs) and the prompts their clean captions make."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ... import contracts
from ...demo import standins
from ..common import relative_folder, released_table, save_released_image
from .measure import AVA_ITEMS, ava_generation_prompts
from .released import ava_items


def build_items(config: Mapping, spec: Mapping, image_dir: Path, run_dir: Path) -> tuple[pd.DataFrame, dict]:
    if spec["source"] == "standin":
        items = standins.ava_items(image_dir, run_dir, n_items=spec["n_items"], seed=config["seed"], size=spec["size"])
        return items, {"kind": "stand-in items", "function": "demo.standins.ava_items",
                       "n_items": spec["n_items"], "size": spec["size"], "seed": config["seed"]}
    folder = relative_folder(image_dir, run_dir)
    rows = []
    for item in tqdm(ava_items(released_table(config, spec["released"])).itertuples(index=False),
                     desc="AVA items", unit="item"):
        saved = save_released_image(item.image, run_dir, f"{folder}/{item.item_id}.png")
        rows.append({"item_id": item.item_id, "classes": list(item.class_keys),
                     "caption_anti": item.anti_aesthetic_caption, "caption_clean": item.clean_caption,
                     "reference_image": None, "file_name": item.file_name, **saved})
    items = AVA_ITEMS.validate(pd.DataFrame(rows, columns=[*AVA_ITEMS.names, "file_name"]))
    return items, {"kind": "released items", **spec["released"]}


def build_prompts(items_file: str | Path) -> pd.DataFrame:
    """The items' clean captions, one render each."""
    return ava_generation_prompts(contracts.read_table(items_file, AVA_ITEMS))
