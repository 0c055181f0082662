"""E8 items (stand-ins or the released artworks), the scores the released set carries, the leaderboard."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from ... import contracts, layout
from ...config import ConfigError
from ...demo import standins
from ..common import relative_folder, released_table, save_released_image
from .measure import ART_ITEMS, load_leaderboard
from .released import lapis_items


def build_items(config: Mapping, spec: Mapping, image_dir: Path, run_dir: Path) -> tuple[pd.DataFrame, dict]:
    """Artworks with their pictures and captions (``captions: captioner``: the captioner's)."""
    items, provenance = _artworks(config, spec, image_dir, run_dir)
    if spec.get("captions", "given") == "captioner":
        items, provenance["captioner"] = recaption_items(items, spec["captioner"], run_dir)
    return items, provenance


def captioner_backend(options: Mapping, cache_dir: Path):
    """The ``captioner`` block's backend: a VLM over an OpenAI-compatible endpoint, or the demo's stand-in."""
    options = dict(options)
    backend = options.pop("backend", "openai")
    if backend == "demo-palette":
        from ...demo.art_captioner import PaletteCaptioner
        return PaletteCaptioner()
    from ...captioning import OpenAICompatibleArtCaptioner
    return OpenAICompatibleArtCaptioner(**options, cache_dir=cache_dir)


def recaption_items(items: pd.DataFrame, options: Mapping, run_dir: Path) -> tuple[pd.DataFrame, dict]:
    """Each artwork's caption replaced by the captioner's (docs/experiments.md#e8, regenerating run).

    The paper scored the LAPIS paintings under Qwen3-VL-30B-A3B captions. An
    artwork without a picture keeps its status; one the captioner could not
    caption becomes a row with the captioner's error as status, and is not scored.
    """
    from ...captioning import caption_artworks

    backend = captioner_backend(options, Path(run_dir) / layout.experiment_file("art", "captioner_cache"))
    pictured = items.loc[items["status"] == contracts.OK]
    captions = caption_artworks(backend, [(row.item_id, Path(run_dir) / row.path)
                                          for row in pictured.itertuples(index=False)])
    by_id = captions.set_index("item_id")
    items = items.copy()
    for index, row in pictured.iterrows():
        answer = by_id.loc[row["item_id"]]
        if answer["status"] == contracts.OK:
            items.at[index, "caption"] = answer["caption"]
        else:
            items.at[index, "status"] = f"caption {answer['status']}"
    failed = int((captions["status"] != contracts.OK).sum())
    provenance = {**(backend.provenance() if hasattr(backend, "provenance") else {"captioner": backend.name}),
                  "captioned": int(len(captions)) - failed, "failed": failed}
    return ART_ITEMS.validate(items), provenance


def _artworks(config: Mapping, spec: Mapping, image_dir: Path, run_dir: Path) -> tuple[pd.DataFrame, dict]:
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
