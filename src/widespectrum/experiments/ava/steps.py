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
    Taxonomy,
    load_taxonomy,
    read_recaption_folder,
    recaption_images,
)
from ...config import ConfigError, resolve_path
from ...demo import standins
from ...released.loading import decode_image, released_set_provenance
from ..common import relative_folder, released_table, save_released_image
from .measure import AVA_ITEMS, ava_generation_prompts
from .released import ava_items, ava_photographs, has_captions

log = logging.getLogger(__name__)


def build_items(config: Mapping, spec: Mapping, image_dir: Path, run_dir: Path) -> tuple[pd.DataFrame, dict]:
    if spec["source"] == "standin":
        items = standins.ava_items(image_dir, run_dir, n_items=spec["n_items"], seed=config["seed"], size=spec["size"])
        return items, {"kind": "stand-in items", "function": "demo.standins.ava_items",
                       "n_items": spec["n_items"], "size": spec["size"], "seed": config["seed"]}
    folder = relative_folder(image_dir, run_dir)
    table = released_table(config, spec["released"])
    if has_captions(table):
        captioned, record = ava_items(table), {"captions": "dataset columns"}
    else:
        captioned, record = recaptioned_items(ava_photographs(table), spec.get("recaptions") or {})
    rows = []
    for item in tqdm(captioned.itertuples(index=False), desc="AVA items", unit="item"):
        saved = save_released_image(item.image, run_dir, f"{folder}/{item.item_id}.png")
        rows.append({"item_id": item.item_id, "classes": list(item.class_keys),
                     "caption_anti": item.anti_aesthetic_caption, "caption_clean": item.clean_caption,
                     "reference_image": None, "file_name": item.file_name, **saved})
    items = AVA_ITEMS.validate(pd.DataFrame(rows, columns=[*AVA_ITEMS.names, "file_name"]))
    source = released_set_provenance(config, spec["released"])
    return items, {"kind": "released items", **source, **record, "items": len(items)}


def element_keys(qualified: list[str], taxonomy: Taxonomy) -> list[str]:
    """Fully qualified ``group.element`` keys -> element keys, fig_diff's rows (the paper names the element:
    analog_degradation, intentional_blur, exposure_extremes); ``Taxonomy.label`` prints them."""
    elements = [key.rsplit(".", 1)[-1] for key in taxonomy.keys]
    if len(set(elements)) != len(elements):
        raise ValueError("taxonomy element keys repeat across groups; the element alone does not name a class")
    return [key.rsplit(".", 1)[-1] for key in qualified]


def recaptioned_items(photographs: pd.DataFrame, options: Mapping[str, Any]) -> tuple[pd.DataFrame, dict]:
    """Photographs with captions and classes from the recaption folder or backend of ``options``
    (``experiments.ava.recaptions``), in ``ava_items``' columns, and the record of what was kept."""
    taxonomy_file = resolve_path(options.get("taxonomy_file") or "config/ava_taxonomy.yaml")
    taxonomy = load_taxonomy(taxonomy_file)
    names = photographs["file_name"].tolist()
    if options.get("folder"):
        recaptions = read_recaption_folder(resolve_path(options["folder"]), names, taxonomy=taxonomy)
        source: dict[str, Any] = {"captions": "recaption folder", "folder": str(options["folder"])}
    elif options.get("backend"):
        backend_options = dict(options["backend"])
        backend = OpenAICompatibleRecaptioner(taxonomy_file=taxonomy_file, **backend_options)
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
    record = {**source, "taxonomy_file": str(options.get("taxonomy_file") or "config/ava_taxonomy.yaml"),
              "photographs": len(merged), "not_anti_aesthetic": int(not_anti.sum()),
              "recaption_failed": len(failed), "failed_files": failed["file_name"].tolist()}
    return items, record


def build_prompts(items_file: str | Path) -> pd.DataFrame:
    """The items' clean captions, one render each."""
    return ava_generation_prompts(contracts.read_table(items_file, AVA_ITEMS))
