"""Prompt pairs (docs/experiments.md#e1): pick captions, sample 2-4 dimensions each, rewrite into p_a.

Everything random is drawn from ``numpy.random.default_rng(seed)``, so a seed in
the run config fixes which captions and dimensions a run uses.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import yaml
from tqdm.auto import tqdm

from ..contracts import PROMPTS
from .dimensions import DIMENSIONS
from .rewriters import Rewriter

logger = logging.getLogger(__name__)

DIMENSION_FIELDS = ("name", "description", "effect_phrase", "negative_term")
K_CHOICES = (2, 3, 4)  # docs/experiments.md#e1: k ~ Uniform{2, 3, 4}


def load_dimension_texts(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """The per-dimension texts of a YAML (or JSON) file, keyed in DIMENSIONS order.

    Every key of DIMENSIONS must be present with every field of DIMENSION_FIELDS.
    """
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected a mapping from dimension key to texts")
    unknown = [k for k in raw if k not in DIMENSIONS]
    missing = [k for k in DIMENSIONS if k not in raw]
    if unknown or missing:
        raise ValueError(
            f"{path}: unknown dimension key(s) {unknown}, missing key(s) {missing}; "
            f"the keys must be exactly {list(DIMENSIONS)}"
        )
    texts: dict[str, dict[str, str]] = {}
    for key in DIMENSIONS:
        entry = raw[key]
        if not isinstance(entry, Mapping):
            raise ValueError(f"{path}: dimension {key!r} must map field names to texts")
        bad = [f for f in DIMENSION_FIELDS if not isinstance(entry.get(f), str) or not entry[f].strip()]
        if bad:
            raise ValueError(f"{path}: dimension {key!r} lacks non-empty text field(s) {bad}")
        texts[key] = {f: " ".join(entry[f].split()) for f in DIMENSION_FIELDS}
    return texts


def load_captions(path: str | os.PathLike) -> pd.DataFrame:
    """Captions from a CSV with columns caption_id, caption and optionally reference_image."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("caption_id", "caption") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    if "reference_image" not in frame.columns:
        frame["reference_image"] = ""
    frame = frame[["caption_id", "caption", "reference_image"]].copy()
    frame["caption"] = frame["caption"].str.strip()
    empty = frame.index[frame["caption"] == ""]
    if len(empty):
        raise ValueError(f"{path}: empty caption at row {int(empty[0])}")
    duplicated = frame["caption_id"][frame["caption_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{path}: caption_id {duplicated.iloc[0]!r} appears more than once")
    frame["reference_image"] = frame["reference_image"].str.strip().replace("", None)
    return frame.reset_index(drop=True)


def sample_dimensions(
    n_pairs: int,
    seed: int,
    k_choices: Sequence[int] = K_CHOICES,
    dimensions: Sequence[str] = DIMENSIONS,
) -> list[list[str]]:
    """For each pair, k ~ Uniform(k_choices) distinct dimensions, listed in ``dimensions`` order."""
    dimensions = list(dimensions)
    if not k_choices or not all(1 <= int(k) <= len(dimensions) for k in k_choices):
        raise ValueError(f"k_choices {list(k_choices)} must lie in 1..{len(dimensions)}")
    rng = np.random.default_rng(seed)
    picks = []
    for _ in range(n_pairs):
        k = int(rng.choice(list(k_choices)))
        chosen = rng.choice(len(dimensions), size=k, replace=False)
        picks.append([dimensions[i] for i in sorted(chosen)])
    return picks


def select_captions(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` captions drawn without replacement (kept in file order), or all when n >= len."""
    if n >= len(frame):
        return frame.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(frame), size=n, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def build_prompt_pairs(
    captions: pd.DataFrame,
    dimension_texts: Mapping[str, Mapping[str, str]],
    rewriter: Rewriter,
    n: int,
    seed: int,
    k_choices: Sequence[int] = K_CHOICES,
) -> pd.DataFrame:
    """The PROMPTS table: one (p_o, p_a) pair per selected caption."""
    chosen = select_captions(captions, n, seed)
    dimensions = [d for d in DIMENSIONS if d in dimension_texts]
    dimension_sets = sample_dimensions(len(chosen), seed, k_choices, dimensions)
    references = chosen["reference_image"] if "reference_image" in chosen else [None] * len(chosen)
    records = []
    rows = zip(chosen["caption_id"], chosen["caption"], references, dimension_sets)
    for index, (caption_id, caption, reference, keys) in enumerate(
        tqdm(rows, total=len(chosen), desc=f"rewrite ({rewriter.name})", unit="prompt")
    ):
        texts = [dimension_texts[k] for k in keys]
        result = rewriter.rewrite(
            caption,
            descriptions=[t["description"] for t in texts],
            effects=[t["effect_phrase"] for t in texts],
            avoid=[t["negative_term"] for t in texts],
        )
        records.append({
            "prompt_id": f"{index:04d}",
            "caption_id": caption_id,
            "prompt_original": caption,
            "prompt_anti": result.prompt_anti,
            "dimensions": keys,
            "negative_prompt": result.negative_prompt,
            "reference_image": reference if isinstance(reference, str) and reference else None,
            "rewriter": rewriter.name,
        })
    logger.info("built %d prompt pairs with %s", len(records), rewriter.name)
    return PROMPTS.validate(pd.DataFrame.from_records(records, columns=PROMPTS.names))

