"""E8 items (stand-ins or the released artworks), the scores the released set carries, the leaderboard."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from ... import contracts
from ...config import ConfigError
from ...demo import standins
from ..common import relative_folder, released_table, save_released_image
from .measure import ART_ITEMS, load_leaderboard
from .released import lapis_items


def build_items(config: Mapping, spec: Mapping, image_dir: Path, run_dir: Path) -> tuple[pd.DataFrame, dict]:
    """Artworks with their pictures where the set has them, and its score columns kept as extras."""
    if spec["source"] == "standin":
        items = standins.lapis_items(image_dir, run_dir, n_items=spec["n_items"], seed=config["seed"],
                                     size=spec["size"])
        return items, {"kind": "stand-in items", "function": "demo.standins.lapis_items",
                       "n_items": spec["n_items"], "size": spec["size"], "seed": config["seed"]}
    folder = relative_folder(image_dir, run_dir)
    frame = lapis_items(released_table(config, spec["released"]))
    score_columns = [c for c in frame.columns if c.startswith("score_")]
    missing = [c for c in (spec.get("released_scores") or {}).values() if f"score_{c}" not in score_columns]
    if missing:
        raise ConfigError(f"experiments.art.released_scores: column(s) {missing} not in "
                          f"{spec['released']['dataset']}; it has {[c[6:] for c in score_columns]}")
    rows = []
    for item in tqdm(frame.to_dict("records"), desc="art items", unit="item"):
        if item["image"] is None:
            saved = {"path": None, "sha256": None, "status": f"no image in {spec['released']['dataset']}"}
        else:
            saved = save_released_image(item["image"], run_dir, f"{folder}/{item['item_id']}.png")
        rows.append({"item_id": item["item_id"], "caption": item["caption"], **saved,
                     **{c: item[c] for c in score_columns}})
    items = ART_ITEMS.validate(pd.DataFrame(rows, columns=[*ART_ITEMS.names, *score_columns]))
    return items, {"kind": "released items", **spec["released"]}


def released_scores(spec: Mapping, items_file: str | Path, output: str | Path) -> pd.DataFrame:
    """ART_SCORES of the rewards ``released_scores`` maps to columns of the released set.

    The released set scores each artwork under its own caption only, so every
    row is a 'true' caption row; an artwork without a released score is a row
    with that status.
    """
    items = contracts.read_table(items_file, ART_ITEMS)
    rows = []
    for reward, column in (spec.get("released_scores") or {}).items():
        values = items[f"score_{column}"] if f"score_{column}" in items.columns else pd.Series([None] * len(items))
        for item_id, value in zip(items["item_id"], values):
            present = value is not None and pd.notna(value)
            rows.append({"item_id": item_id, "caption_kind": "true", "reward": reward,
                         "score": float(value) if present else None,
                         "status": contracts.OK if present else f"no {column} score in the released set"})
    frame = contracts.records_to_frame(rows, contracts.ART_SCORES)
    contracts.write_table(frame, output, contracts.ART_SCORES)
    return frame


def write_leaderboard(source: Path, named: str, output: str | Path) -> dict[str, Any]:
    """The leaderboard file, checked, as JSON in the run folder (the table reads it there)."""
    board = load_leaderboard(source)
    record = {"source": board.source, "source_text": board.source_text(), "month": board.month, "file": named,
              "entries": board.entries.to_dict("records")}
    contracts.write_json(output, record)
    return record
