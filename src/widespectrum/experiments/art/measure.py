"""E8 (tab:real_arts): how a reward model scores real artworks, against its own leaderboard.

Artworks are scored under their own captions and, as the sanity check the
paper reports, under captions shuffled so that no artwork keeps its own (a
derangement). The mean score is then placed on the reward model's published
leaderboard of generators, read by ``load_leaderboard``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ...contracts import ART_SCORES, Column, Schema, records_to_frame
from ...scoring.base import RewardModel
from ..common import ITEM_STATUS, ScoreTask, item_loader, score_tasks

log = logging.getLogger(__name__)

ART_ITEMS = Schema(
    "art_items",
    (
        Column("item_id", "str"),
        Column("caption", "str", doc="a description of the artwork"),
        Column("path", "str", nullable=True, doc="PNG path relative to the run folder"),
        Column("sha256", "str", nullable=True),
        ITEM_STATUS,
    ),
    "E8: one row per artwork",
)


def derangement(n: int, seed: int) -> np.ndarray:
    """A seeded permutation of range(n) with no fixed point, uniform over all such permutations.

    Rejection sampling: about 1/e of all permutations qualify, so it takes
    under three draws on average.
    """
    if n < 2:
        raise ValueError(f"a derangement needs at least 2 items, got {n}")
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n)
        if not np.any(order == np.arange(n)):
            return order


def score_art(reward: RewardModel, items: pd.DataFrame, run_dir: str | os.PathLike, seed: int) -> pd.DataFrame:
    """Every artwork under its own caption ('true') and under another's ('shuffled') (ART_SCORES)."""
    items = ART_ITEMS.validate(items, where="given to score_art").sort_values("item_id", kind="stable")
    if items["item_id"].duplicated().any():
        raise ValueError(f"art item {items['item_id'][items['item_id'].duplicated()].iloc[0]!r} appears twice")
    rows = list(items.itertuples(index=False))
    shuffled = derangement(len(rows), seed)
    tasks = []
    for row, other in zip(rows, shuffled):
        base = {"item_id": row.item_id, "reward": reward.name}
        load = item_loader(run_dir, row, "artwork")
        tasks.append(ScoreTask({**base, "caption_kind": "true"}, row.caption, load))
        tasks.append(ScoreTask({**base, "caption_kind": "shuffled"}, rows[other].caption, load))
    records = score_tasks(reward, tasks, desc=f"art x {reward.name}")
    return records_to_frame(records, ART_SCORES)


# ---------------------------------------------------------------- the reward model's leaderboard

SOURCE_FIELDS = ("repository", "table", "column", "read")


@dataclass(frozen=True)
class Leaderboard:
    source: dict[str, str]  # repository, table, column, read (date) and any further fields; or {"text": ...}
    month: str
    entries: pd.DataFrame  # model, score, display (the name printed; an entry's first alias, else model)

    def source_text(self) -> str:
        """The source in one line, e.g. for a figure's title."""
        if set(self.source) == {"text"}:
            return self.source["text"]
        return ", ".join(f"{key} {value}" for key, value in self.source.items())


def _read_source(value: Any, path) -> dict[str, str]:
    """A structured source mapping (SOURCE_FIELDS required, more allowed) or, as older files have, one string."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(f"{path}: 'source' must be non-empty")
        return {"text": value.strip()}
    if not isinstance(value, dict):
        raise ValueError(f"{path}: 'source' must be text or a mapping with {list(SOURCE_FIELDS)}")
    missing = [k for k in SOURCE_FIELDS if k not in value]
    if missing:
        raise ValueError(f"{path}: source lacks {missing}")
    source = {}
    for key, field in value.items():
        if isinstance(field, (dt.date, dt.datetime)):  # YAML reads an unquoted 2026-12-01 as a date
            field = field.isoformat()
        if not isinstance(field, str) or not field.strip():
            raise ValueError(f"{path}: source.{key} must be non-empty text, got {field!r}")
        source[str(key)] = field.strip()
    return source


def _read_aliases(entry: dict, index: int, path) -> list[str]:
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise ValueError(f"{path}: entry {index} ({entry.get('model')}): 'aliases' must be a list of names")
    return [a.strip() for a in aliases]


def load_leaderboard(path: str | os.PathLike) -> Leaderboard:
    """Read and check a leaderboard file: source, month, entries [{model, score, aliases?}].

    ``aliases`` are other spellings of an entry's name; the first is the one
    tables print (the paper prints HPSv3's "HunyuanDiT" as "Hunyuan-DiT").
    An empty ``entries`` list is valid (the published numbers have not been
    filled in); a table placing artworks on the leaderboard must then say so.
    """
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with source, month and entries")
    missing = [k for k in ("source", "month", "entries") if k not in data]
    if missing:
        raise ValueError(f"{path}: missing key(s) {missing}")
    source = _read_source(data["source"], path)
    if not isinstance(data["month"], str) or not data["month"].strip():
        raise ValueError(f"{path}: 'month' must be non-empty text")
    entries = data["entries"]
    if not isinstance(entries, list):
        raise ValueError(f"{path}: 'entries' must be a list of {{model, score}}")
    rows = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not {"model", "score"} <= set(entry) <= {"model", "score", "aliases"}:
            raise ValueError(f"{path}: entry {index} must have the keys model and score (and optionally "
                             f"aliases): {entry!r}")
        model, score = entry["model"], entry["score"]
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"{path}: entry {index} has no model name")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise ValueError(f"{path}: entry {index} ({model}) has score {score!r}, not a finite number")
        aliases = _read_aliases(entry, index, path)
        rows.append({"model": model, "score": float(score), "display": aliases[0] if aliases else model})
    frame = pd.DataFrame(rows, columns=["model", "score", "display"])
    if frame["model"].duplicated().any():
        raise ValueError(f"{path}: model {frame['model'][frame['model'].duplicated()].iloc[0]!r} is listed twice")
    if frame.empty:
        log.warning("%s has no entries: fill them from %s", path, source)
    frame = frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return Leaderboard(source=source, month=str(data["month"]), entries=frame)
