"""E6 classification items: procedural stand-ins, or the released set's pictures and scores."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ... import contracts
from ...config import resolve_path
from ...contracts import EMOTIONS_NEGATIVE
from ...demo import standins
from ...released.loading import load_released_table, released_set_provenance
from ...runtime import Runtime
from ..common import relative_folder, released_table, save_released_image
from .measure import EMOTION_ITEMS
from .released import emotion_bias_items, prompts_without_slot, released_emotion_scores, score_columns

log = logging.getLogger(__name__)


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
    slotless = prompts_without_slot(table.set_index("item_id")["prompt_template"])
    source = released_set_provenance(config, spec["released"])
    return items, {"kind": "released items", **source, "items": len(table),
                   "prompts_without_slot": len(slotless), "items_without_slot": slotless}


def released_scores(config: Mapping, spec: Mapping, items_file: str | Path, output: str | Path) -> pd.DataFrame:
    """Write EMOTION_SCORES of the rewards ``spec["released_scores"]`` maps to the set's score stems.

    The score columns are read from the same revision and rows as the items, and the
    items file is checked to hold the same item ids and prompts. The record (rows,
    prompts without the slot, status counts) goes to the job's log.
    """
    released = spec["released"]
    stems = dict(spec.get("released_scores") or {})
    local_dir = resolve_path(released["local_dir"]) if released.get("local_dir") else None
    columns = ["prompt", *[c for s in stems.values() for e in EMOTIONS_NEGATIVE for c in score_columns(s, e)]]
    table = load_released_table(released["dataset"], released.get("revision"), released.get("split", "train"),
                                local_dir, columns=columns, cache_dir=Runtime.from_config(dict(config)).cache_dir)
    if released.get("n_rows"):
        table = table.slice(0, released["n_rows"])
    frame, record = released_emotion_scores(table, stems)
    items = contracts.read_table(items_file, EMOTION_ITEMS)
    expected = dict(zip(items["item_id"], items["prompt_template"]))
    found = {f"{i:03d}": p for i, p in enumerate(table.column("prompt").to_pylist())}
    if expected != found:
        differing = sorted(k for k in set(expected) | set(found) if expected.get(k) != found.get(k))
        raise ValueError(f"{released['dataset']}: the score rows do not match the items file at item(s) "
                         f"{differing[:10]} (different revision or n_rows?)")
    contracts.write_table(frame, output, contracts.EMOTION_SCORES)
    log.info("released emotion scores of %s@%s: %s", released["dataset"], released.get("revision"), record)
    return frame
