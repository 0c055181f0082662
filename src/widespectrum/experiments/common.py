"""What the side experiments' steps share: items in, score tables out.

Each experiment starts from an *items* table: one row per picture, with the
PNG's path relative to the run folder and its sha256, declared as a
``contracts.Schema`` in the experiment's module. Pictures a generator must
render come from a PROMPTS-valid frame (one prompt per row, so p_o and p_a are
the same text) and are rendered once each through ``experiment_requests``.
Scoring pairs each picture with the prompt the experiment prescribes and
writes one row per (picture, prompt) in the experiment's score contract;
anything that stops a row (a missing or failed picture, no face found, a
reward error) becomes a row with that status, never a silent gap.

Nothing here imports torch: the models arrive as objects.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import contracts, provenance
from ..config import resolve_path
from ..contracts import OK, PROMPTS, Column, write_png
from ..errors import SetupError
from ..generation.base import GenerationRequest
from ..generation.runner import pair_seed
from ..images import load_image
from ..released.loading import decode_image, load_released_table
from ..runtime import Runtime
from ..scoring.base import RewardModel

log = logging.getLogger(__name__)

ITEM_STATUS = Column("status", "str", doc="'ok', or why the item has no usable picture")
RENDER_KIND = "o"  # single-prompt experiments render one image per prompt, filed as kind 'o'


class Unscorable(Exception):
    """A row that cannot be scored for a stated reason (no picture, no face), not a code error."""


@dataclass(frozen=True)
class ScoreTask:
    """One output row: its identifying fields, the prompt, and how to get its picture."""

    record: dict[str, Any]
    prompt: str
    load: Callable[[], Any]  # returns a PIL image, or raises Unscorable


# ---------------------------------------------------------------- item pictures

def relative_folder(folder: str | os.PathLike, run_dir: str | os.PathLike) -> str:
    """``folder`` relative to ``run_dir`` as a POSIX path; it must lie inside the run folder."""
    try:
        relative = Path(folder).resolve().relative_to(Path(run_dir).resolve())
    except ValueError:
        raise ValueError(f"{folder} is not inside the run folder {run_dir}: item paths are run-relative") from None
    return relative.as_posix()


def save_item_image(image, run_dir: str | os.PathLike, relpath: str) -> dict[str, str]:
    """Write ``image`` as a PNG at ``run_dir/relpath``; return the item columns path and sha256."""
    return {"path": relpath, "sha256": write_png(Path(run_dir) / relpath, image)}


def item_loader(run_dir: str | os.PathLike, row: Any | None, what: str = "image") -> Callable[[], Any]:
    """A loader for an item row's picture that raises Unscorable when the row has none."""

    def load():
        if row is None:
            raise Unscorable(f"{what} not in items")
        if row.status != OK:
            raise Unscorable(f"{what} failed: {row.status}")
        return load_image(run_dir, {"path": row.path, "sha256": row.sha256})

    return load


def manifest_loader(run_dir: str | os.PathLike, row: Any | None) -> Callable[[], Any]:
    """A loader for a manifest row's picture that raises Unscorable when generation failed."""

    def load():
        if row is None:
            raise Unscorable("image not in manifest")
        if row.status != OK:
            raise Unscorable(f"image failed: {row.status}")
        return load_image(run_dir, {"path": row.path, "sha256": row.sha256})

    return load


def rendered_images(manifest: pd.DataFrame) -> dict[str, Any]:
    """prompt_id -> manifest row of the single image rendered for it."""
    rows = [row for row in manifest.itertuples(index=False) if row.image_kind == RENDER_KIND]
    index = {row.prompt_id: row for row in rows}
    if len(index) != len(rows):
        raise ValueError("manifest has more than one rendered image for a prompt")
    return index


def manifest_generator(manifest: pd.DataFrame) -> str:
    names = sorted(set(manifest["generator"]))
    if len(names) != 1:
        raise ValueError(f"a manifest must come from exactly one generator, found {names}")
    return names[0]


# ---------------------------------------------------------------- prompts to render

def render_prompts(rows: Iterable[dict[str, Any]], rewriter: str) -> pd.DataFrame:
    """A PROMPTS-valid frame of single prompts: p_o = p_a = ``prompt``, no dimensions.

    Each row gives prompt_id, caption_id, prompt, seed_key and optionally
    reference_image; any further keys are kept as extra columns. ``seed_key``
    decides the seed, so prompts that should differ only in their words (the
    four emotions of one template) share it.
    """
    records = []
    for row in rows:
        extra = {k: v for k, v in row.items() if k not in ("prompt", "reference_image")}
        records.append({**extra, "prompt_original": row["prompt"], "prompt_anti": row["prompt"],
                        "dimensions": [], "negative_prompt": None,
                        "reference_image": row.get("reference_image"), "rewriter": rewriter})
    if not records:
        return PROMPTS.empty().assign(seed_key=pd.Series(dtype=object))
    frame = PROMPTS.validate(pd.DataFrame.from_records(records), where=f"of {rewriter}")
    duplicated = frame["prompt_id"].duplicated()
    if duplicated.any():
        raise ValueError(f"prompt id {frame['prompt_id'][duplicated].iloc[0]!r} appears twice")
    return frame


def experiment_requests(
    prompts: pd.DataFrame, settings: dict, base_seed: int, takes_seed: bool = True
) -> list[GenerationRequest]:
    """One request per prompt (image kind 'o'), seeded from the row's ``seed_key``.

    ``generation.runner.build_requests`` renders both p_o and p_a; the side
    experiments have one prompt per row, so rendering it twice would only cost time.
    """
    requests = []
    for row in prompts.sort_values("prompt_id", kind="stable").itertuples(index=False):
        seed_key = getattr(row, "seed_key", None) or row.prompt_id
        requests.append(GenerationRequest(
            prompt_id=row.prompt_id,
            image_kind=RENDER_KIND,
            prompt=row.prompt_original,
            seed=pair_seed(base_seed, str(seed_key)) if takes_seed else None,
            settings=dict(settings),
            negative_prompt=None,
            reference_image=row.reference_image,
        ))
    return requests


# ---------------------------------------------------------------- scoring

def score_tasks(reward: RewardModel, tasks: Sequence[ScoreTask], desc: str) -> list[dict[str, Any]]:
    """Score every task in batches of ``reward.batch_size``; one record per task, in task order.

    Pictures are loaded a batch at a time so that memory holds one batch.
    A picture that cannot be loaded fails its own row; a reward error fails
    the rows of its batch; a SetupError stops the job.
    """
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    pending: list[tuple[int, Any]] = []

    def flush() -> None:
        if not pending:
            return
        indices = [i for i, _ in pending]
        try:
            output = reward.score([image for _, image in pending], [tasks[i].prompt for i in indices])
            scores = np.asarray(output.scores, dtype=np.float64)
            if scores.shape != (len(indices),):
                raise ValueError(f"reward returned shape {scores.shape} for a batch of {len(indices)}")
            for i, value in zip(indices, scores):
                finite = bool(np.isfinite(value))
                results[i] = {**tasks[i].record, "score": float(value) if finite else None,
                              "status": OK if finite else "error: non-finite score"}
        except SetupError:
            raise
        except Exception as err:  # a failed batch is recorded row by row, the job goes on
            log.exception("%s: scoring failed for a batch of %d", reward.name, len(indices))
            for i in indices:
                results[i] = {**tasks[i].record, "score": None, "status": f"error: {type(err).__name__}: {err}"}
        pending.clear()

    for index, task in enumerate(tqdm(tasks, desc=desc, unit="img")):
        try:
            image = task.load()
        except Unscorable as reason:
            results[index] = {**task.record, "score": None, "status": str(reason)}
            continue
        except SetupError:
            raise
        except Exception as err:  # an unreadable picture fails its own row only
            log.exception("%s: cannot load the picture of %s", reward.name, task.record)
            results[index] = {**task.record, "score": None, "status": f"error: {type(err).__name__}: {err}"}
            continue
        pending.append((index, image))
        if len(pending) >= max(1, reward.batch_size):
            flush()
    flush()
    failed = sum(r["status"] != OK for r in results)
    if failed:
        log.warning("%s: %d of %d rows not scored", desc, failed, len(results))
    return results  # type: ignore[return-value]


# ---------------------------------------------------------------- released sets

def released_table(config: Mapping, released: Mapping):
    """The released set of a block's ``released`` mapping, cut to its first ``n_rows``."""
    local_dir = resolve_path(released["local_dir"]) if released.get("local_dir") else None
    table = load_released_table(released["dataset"], released.get("revision"), released.get("split", "train"),
                                local_dir, cache_dir=Runtime.from_config(dict(config)).cache_dir)
    if released.get("n_rows"):
        table = table.slice(0, released["n_rows"])
    log.info("%s: %d rows", released["dataset"], len(table))
    return table


def save_released_image(value: Any, run_dir: Path, relpath: str) -> dict[str, Any]:
    """An encoded released image as a PNG item picture; an undecodable one becomes a status."""
    try:
        image = decode_image(value).convert("RGB")
    except Exception as err:  # one broken picture must not lose the set
        log.warning("cannot decode the image for %s: %s", relpath, err)
        return {"path": None, "sha256": None, "status": f"error: undecodable image: {type(err).__name__}: {err}"}
    return {**save_item_image(image, run_dir, relpath), "status": OK}


def write_provenance(config: Mapping, path: str | os.PathLike, component: dict[str, Any], **extra: Any) -> None:
    contracts.write_json(path, provenance.record(dict(config), component, **extra))
