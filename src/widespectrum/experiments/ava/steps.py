"""E7 items (stand-ins or the released photographs) and the prompts their clean captions make.

The released photographs take their captions and classes, in this order, from the
dataset's own caption columns when the revision has them, else from a folder of
recaption JSON files (``recaptions.folder``, one per ``file_name``), else from the
recaption backend over an OpenAI-compatible VLM endpoint (``recaptions.backend``).
Photographs judged not anti-aesthetic (both captions null) are filtered out and
counted, as the authors did; photographs whose recaption failed are counted apart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from ... import contracts
from ...captioning import (
    NOT_ANTI_AESTHETIC,
    OpenAICompatibleRecaptioner,
    load_taxonomy,
    read_recaption_folder,
    recaption_images,
)
from ...config import ConfigError, resolve_path
from ...demo import standins
from ...released.loading import decode_image, released_set_provenance
from ..common import relative_folder, released_table, save_released_image
from .measure import AVA_ITEMS, ava_generation_prompts
from .released import ava_items, ava_photographs, element_keys, has_captions

log = logging.getLogger(__name__)


def build_items(config: Mapping, spec: Mapping, image_dir: Path, run_dir: Path) -> tuple[pd.DataFrame, dict]:
    if spec["source"] == "standin":
        items = standins.ava_items(image_dir, run_dir, n_items=spec["n_items"], seed=config["seed"], size=spec["size"])
        return items, {"kind": "stand-in items", "function": "demo.standins.ava_items",
                       "n_items": spec["n_items"], "size": spec["size"], "seed": config["seed"]}
    folder = relative_folder(image_dir, run_dir)
    table = released_table(config, spec["released"])
    options = spec.get("recaptions") or {}
    if has_captions(table):
        captioned, counts = ava_items(table, load_taxonomy(resolve_path(taxonomy_file(options))))
        record = {"captions": "dataset columns", "taxonomy_file": taxonomy_file(options), **counts}
    else:
        captioned, record = recaptioned_items(ava_photographs(table), options)
    rows = []
    for item in tqdm(captioned.itertuples(index=False), desc="AVA items", unit="item"):
        saved = save_released_image(item.image, run_dir, f"{folder}/{item.item_id}.png")
        rows.append({"item_id": item.item_id, "classes": list(item.class_keys),
                     "caption_anti": item.anti_aesthetic_caption, "caption_clean": item.clean_caption,
                     "reference_image": None, "file_name": item.file_name, **saved})
    items = AVA_ITEMS.validate(pd.DataFrame(rows, columns=[*AVA_ITEMS.names, "file_name"]))
    source = released_set_provenance(config, spec["released"])
    return items, {"kind": "released items", **source, **record, "items": len(items)}


def taxonomy_file(options: Mapping[str, Any]) -> str:
    """The taxonomy file of ``options`` (``experiments.ava.recaptions``), as configured."""
    return str(options.get("taxonomy_file") or "config/ava_taxonomy.yaml")


def recaptioned_items(photographs: pd.DataFrame, options: Mapping[str, Any]) -> tuple[pd.DataFrame, dict]:
    """Photographs with captions and classes from the recaption folder or backend of ``options``
    (``experiments.ava.recaptions``), in ``ava_items``' columns, and the record of what was kept."""
    taxonomy_path = resolve_path(taxonomy_file(options))
    taxonomy = load_taxonomy(taxonomy_path)
    names = photographs["file_name"].tolist()
    if options.get("folder"):
        recaptions = read_recaption_folder(resolve_path(options["folder"]), names, taxonomy=taxonomy)
        source: dict[str, Any] = {"captions": "recaption folder", "folder": str(options["folder"])}
    elif options.get("backend"):
        backend_options = dict(options["backend"])
        backend = OpenAICompatibleRecaptioner(taxonomy_file=taxonomy_path, **backend_options)
        images = ((name, decode_image(value, name=name)) for name, value in zip(names, photographs["image"]))
        recaptions = recaption_images(backend, images)
        source = {"captions": "recaption backend", "backend": backend.provenance()}
    else:
        raise ConfigError("experiments.ava.recaptions: the released revision has no caption columns; give "
                          "recaptions.folder (recaption JSON files, one per file_name) or recaptions.backend "
                          "(an OpenAI-compatible VLM endpoint)")
    merged = photographs.merge(recaptions, on="file_name", how="left", validate="one_to_one")
    ok = merged["status"] == contracts.OK
    not_anti = merged["status"] == NOT_ANTI_AESTHETIC
    failed = merged[~ok & ~not_anti]
    if len(failed):
        log.warning("%d photograph(s) without a recaption: %s", len(failed),
                    dict(zip(failed["file_name"].head(5), failed["status"].head(5))))
    log.info("recaptions: %d anti-aesthetic, %d judged not anti-aesthetic (filtered), %d failed",
             int(ok.sum()), int(not_anti.sum()), len(failed))
    kept = merged[ok]
    items = pd.DataFrame({
        "item_id": kept["item_id"], "file_name": kept["file_name"], "image": kept["image"],
        "class_keys": [element_keys(list(keys), taxonomy) for keys in kept["anti_aesthetic_elements"]],
        "anti_aesthetic_caption": kept["anti_aesthetic_caption"], "clean_caption": kept["clean_caption"],
    }).reset_index(drop=True)
    record = {**source, "taxonomy_file": taxonomy_file(options),
              "photographs": len(merged), "not_anti_aesthetic": int(not_anti.sum()),
              "recaption_failed": len(failed), "failed_files": failed["file_name"].tolist()}
    return items, record


def build_prompts(items_file: str | Path) -> pd.DataFrame:
    """The items' clean captions, one render each."""
    return ava_generation_prompts(contracts.read_table(items_file, AVA_ITEMS))
