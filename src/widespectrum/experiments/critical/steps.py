"""E10 steps: the prompts to render, or the released set's prompts and pictures filed as renders."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from ... import contracts
from ...config import ConfigError, resolve_path
from ...config import run_dir as run_dir_of
from ...released.loading import column_names, released_set_provenance
from ..common import relative_folder, released_table, save_released_image, write_provenance
from .measure import critical_generation_prompts, load_critical_prompts
from .released import critical_items

log = logging.getLogger(__name__)


def released_renders(config: Mapping, spec: Mapping, prompts_output: str | Path,
                     manifest_outputs: Mapping[str, str | Path],
                     provenance_file: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The released critical set as the prompts and per-generator manifests a render would leave.

    Each ``image_columns`` column becomes its generator's manifest (PNGs beside
    it, image kind 'o'), so the score jobs score the released pictures with the
    config's rewards. The set's own score columns are not read: the reward
    versions that made them are not published.
    """
    image_columns: dict[str, str] = dict(spec["image_columns"])
    if sorted(manifest_outputs) != sorted(image_columns.values()):
        raise ValueError(f"manifest outputs for {sorted(manifest_outputs)}, but experiments.critical.image_columns "
                         f"names {sorted(image_columns.values())}")
    table = released_table(config, spec["released"])
    missing = [c for c in image_columns if c not in column_names(table)]
    if missing:
        raise ConfigError(f"experiments.critical.image_columns: column(s) {missing} not in "
                          f"{spec['released']['dataset']}; it has {column_names(table)}")
    items = critical_items(table)
    unreadable = [c for c in image_columns if c not in items["images"].iloc[0]] if len(items) else []
    if unreadable:
        raise ConfigError(f"experiments.critical.image_columns: column(s) {unreadable} of "
                          f"{spec['released']['dataset']} hold no images")
    if spec.get("n_per_topic"):
        items = items.groupby("topic", sort=False).head(spec["n_per_topic"]).reset_index(drop=True)
    items = items.assign(prompt_id=[_critical_prompt_id(r.topic, r.item_id) for r in items.itertuples()])
    prompts = critical_generation_prompts(items[["prompt_id", "topic", "prompt"]])
    labels = dict(zip(items["prompt_id"], _label_text(items["label"])))
    prompts = prompts.assign(label=[labels[p] for p in prompts["prompt_id"]])
    contracts.write_table(prompts, prompts_output, contracts.PROMPTS)
    run_dir = run_dir_of(config)
    manifests = {}
    for column, generator in image_columns.items():
        folder = relative_folder(Path(manifest_outputs[generator]).parent, run_dir)
        manifests[generator] = _released_manifest(items, column, generator, run_dir, folder, spec["released"])
        contracts.write_table(manifests[generator], manifest_outputs[generator], contracts.MANIFEST)
    failed = {g: int((m["status"] != contracts.OK).sum()) for g, m in manifests.items()}
    log.info("critical: %d released prompts, pictures of %s (%s failed)", len(prompts), sorted(manifests), failed)
    if provenance_file is not None:
        source = released_set_provenance(config, spec["released"])
        write_provenance(config, provenance_file, {"kind": "released renders", **source},
                         experiment="critical", image_columns=image_columns, prompts=len(prompts), failed=failed)
    return manifests


def _critical_prompt_id(topic: str, item_id: str) -> str:
    """'<topic slug>-<item id>', the id zero-padded when numeric so ids sort in the set's order."""
    slug = re.sub(r"[^a-z0-9]+", "_", topic.lower()).strip("_") or "topic"
    return f"{slug}-{int(item_id):03d}" if item_id.isdigit() else f"{slug}-{item_id}"


def _label_text(labels: pd.Series) -> list[str | None]:
    """The set's label (undocumented, of unknown type) as text, kept for reading only."""
    def text(value: Any) -> str | None:
        if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
            return None
        # integer labels with a null among them arrive as floats
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)

    return [text(value) for value in labels]


def _released_manifest(items: pd.DataFrame, column: str, generator: str, run_dir: Path, folder: str,
                       released: Mapping) -> pd.DataFrame:
    settings = json.dumps({"source": "released", "dataset": released["dataset"],
                           "revision": released.get("revision"), "column": column}, sort_keys=True)
    rows = []
    for item in tqdm(items.itertuples(index=False), total=len(items), desc=f"critical {generator}", unit="img"):
        value = item.images.get(column)
        if value is None:
            saved = {"path": None, "sha256": None, "status": f"no image in {released['dataset']} column {column!r}"}
        else:
            saved = save_released_image(value, run_dir, f"{folder}/{item.prompt_id}.png")
        rows.append({"generator": generator, "prompt_id": item.prompt_id, "image_kind": "o", "prompt": item.prompt,
                     "seed": None, "settings": settings, **saved})
    return contracts.records_to_frame(rows, contracts.MANIFEST)


def build_prompts(spec: Mapping, renders_released: bool) -> pd.DataFrame:
    if renders_released:
        raise ConfigError("experiments.critical has source released: its prompts come with the released "
                          "pictures (released_renders)")
    return critical_generation_prompts(critical_prompts(spec))


def critical_prompts(spec: Mapping) -> pd.DataFrame:
    """The prompts file's first ``n_per_topic`` prompts of each topic: prompt_id, topic, prompt."""
    frame = load_critical_prompts(resolve_path(spec["prompts_file"]))
    if spec.get("n_per_topic"):
        frame = frame.groupby("topic", sort=False).head(spec["n_per_topic"]).reset_index(drop=True)
    return frame
