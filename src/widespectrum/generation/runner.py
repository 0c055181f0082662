"""Run one generator over a chunk of prompt pairs and write PNGs + a manifest."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
import zlib
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..errors import SetupError
from ..contracts import MANIFEST, OK, records_to_frame, sha256_file, write_json, write_png
from .base import NO_SEED, GenerationRequest, Generator

log = logging.getLogger(__name__)


def pair_seed(base_seed: int, prompt_id: str) -> int:
    """Seed of a pair: base + pair index, the same for I_o and I_a so only the prompt differs."""
    index = int(prompt_id) if prompt_id.isdigit() else zlib.crc32(prompt_id.encode())
    return (base_seed + index) % 2**31


def chunk_count(n_pairs: int, chunk_size: int) -> int:
    return max(1, math.ceil(n_pairs / chunk_size))


def chunk_of(prompts: pd.DataFrame, chunk: int, chunk_size: int) -> pd.DataFrame:
    ordered = prompts.sort_values("prompt_id", kind="stable").reset_index(drop=True)
    return ordered.iloc[chunk * chunk_size : (chunk + 1) * chunk_size]


def build_requests(
    prompts: pd.DataFrame,
    settings_original: dict,
    settings_anti: dict,
    base_seed: int,
    takes_seed: bool = True,
    negative_prompts: dict | None = None,
    image_kinds: tuple[str, ...] = ("o", "a"),
    prompt_negative: bool = False,
    fixed_seed: int | None = None,
) -> list[GenerationRequest]:
    """The requests of a chunk: I_o from p_o and I_a from p_a, with the same seed per pair.

    ``prompt_negative`` gives p_a the pair's own short negative prompt (VSF, NAG);
    ``fixed_seed`` replaces the per-pair seed where a protocol fixes one (docs/experiments.md#e11).
    """
    negative_prompts = negative_prompts or {}
    requests = []
    for row in prompts.itertuples(index=False):
        seed = None
        if takes_seed:
            seed = fixed_seed if fixed_seed is not None else pair_seed(base_seed, row.prompt_id)
        for kind, prompt, settings in (("o", row.prompt_original, settings_original),
                                       ("a", row.prompt_anti, settings_anti)):
            if kind not in image_kinds:
                continue
            negative = row.negative_prompt if (prompt_negative and kind == "a") else negative_prompts.get(kind)
            requests.append(GenerationRequest(
                prompt_id=row.prompt_id,
                image_kind=kind,
                prompt=prompt,
                seed=seed,
                settings=dict(settings),
                negative_prompt=negative,
                reference_image=row.reference_image,
                dimensions=tuple(row.dimensions) if kind == "a" else (),
            ))
    return requests


def image_relpath(image_dir: str, request: GenerationRequest) -> str:
    return f"{image_dir}/{request.prompt_id}_{request.image_kind}.png"


def run_generation(
    generator: Generator, requests: list[GenerationRequest], run_dir: str | Path, image_dir: str,
    journal_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Generate every request; failures become manifest rows with an error status.

    ``image_dir`` is relative to ``run_dir`` so the manifest stays valid when a
    run folder is moved or shared.

    A crash loses at most the image being made: each finished image is written
    into ``journal_dir`` (default: ``<image_dir>.journal`` beside the image
    folder) together with its manifest row, and a rerun of the same requests
    reuses every journalled image whose PNG still has its recorded sha256. The
    journal sits beside the image folder, not in it, because Snakemake deletes
    a failed job's declared outputs (the chunk folder is one). Once every
    request has a row the images move into ``image_dir`` and the journal goes.
    Failed requests are not journalled, so a rerun tries them again.
    """
    run_dir = Path(run_dir)
    journal = GenerationJournal(
        Path(journal_dir) if journal_dir is not None else run_dir / f"{image_dir}.journal",
        _generator_fingerprint(generator))
    finished = journal.load()
    if finished:
        log.info("%s: %d finished images kept from an interrupted run", generator.name, len(finished))
    records = []
    for request in tqdm(requests, desc=f"generate {generator.name}", unit="img"):
        fingerprint = request_fingerprint(request)
        kept = finished.get(fingerprint)
        if kept is not None:
            records.append(kept)
            continue
        record = {
            "generator": generator.name,
            "prompt_id": request.prompt_id,
            "image_kind": request.image_kind,
            "prompt": request.prompt,
            "path": None,
            "sha256": None,
            "seed": request.seed,
            "settings": json.dumps(_recorded_settings(request, generator.takes_seed), sort_keys=True),
        }
        started = time.perf_counter()
        try:
            image = generator.generate(request)
            relpath = image_relpath(image_dir, request)
            record["sha256"] = journal.commit_image(relpath, image)
            record["path"] = relpath
            record["status"] = OK
        except SetupError:
            raise
        except Exception as err:  # one failed image must not lose the chunk
            log.exception("generation failed: %s %s/%s", generator.name, request.prompt_id, request.image_kind)
            record["status"] = f"error: {type(err).__name__}: {err}"
        record["elapsed_s"] = time.perf_counter() - started
        if record["status"] == OK:
            journal.commit_row(fingerprint, record)
        records.append(record)
    journal.publish(run_dir, [r["path"] for r in records if r["status"] == OK])
    frame = records_to_frame(records, MANIFEST)
    n_failed = int((frame["status"] != OK).sum())
    if n_failed:
        log.warning("%s: %d of %d images failed", generator.name, n_failed, len(frame))
    return frame


def request_fingerprint(request: GenerationRequest) -> str:
    """sha256 of everything that decides a request's image: a changed request is never taken from a journal."""
    fields = {name: getattr(request, name) for name in request.__dataclass_fields__}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=list).encode()).hexdigest()


def _generator_fingerprint(generator: Generator) -> str:
    # the loaded checkpoint (resolved revision, dtype, options) decides the image as much as the request
    record = {"name": generator.name, "class": type(generator).__qualname__, **generator.provenance()}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


class GenerationJournal:
    """The finished images of one chunk and their manifest rows, kept across crashes.

    Layout: ``rows.json`` ({generator fingerprint, rows keyed by request
    fingerprint}) rewritten atomically after each image, and the PNGs under the
    same relative paths the manifest will give them.
    """

    ROWS = "rows.json"

    def __init__(self, folder: Path, generator_fingerprint: str) -> None:
        self.folder = folder
        self.generator_fingerprint = generator_fingerprint
        self.rows: dict[str, dict] = {}

    def load(self) -> dict[str, dict]:
        """Journalled rows whose PNG is present with the recorded sha256, by request fingerprint."""
        path = self.folder / self.ROWS
        if not path.is_file():
            return {}
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("generator") != self.generator_fingerprint:
            log.warning("journal %s was written by another generator setup; starting afresh", self.folder)
            return {}
        for fingerprint, row in saved["rows"].items():
            png = self.folder / row["path"]
            if png.is_file() and sha256_file(png) == row["sha256"]:
                self.rows[fingerprint] = row
            else:
                log.warning("journalled image %s is missing or altered; it is made again", png)
        return dict(self.rows)

    def commit_image(self, relpath: str, image) -> str:
        return write_png(self.folder / relpath, image)

    def commit_row(self, fingerprint: str, record: dict) -> None:
        self.rows[fingerprint] = dict(record)
        write_json(self.folder / self.ROWS, {"generator": self.generator_fingerprint, "rows": self.rows})

    def publish(self, run_dir: Path, relpaths: list[str]) -> None:
        """Move the images to their place in the run folder and remove the journal."""
        for relpath in relpaths:
            target = run_dir / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.folder / relpath, target)
        shutil.rmtree(self.folder, ignore_errors=True)


def _recorded_settings(request: GenerationRequest, takes_seed: bool = True) -> dict:
    settings = dict(request.settings)
    if request.negative_prompt is not None:
        settings["negative_prompt"] = request.negative_prompt
    if not takes_seed:
        settings["seed"] = NO_SEED
    return settings


def merge_manifests(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frame = pd.concat(frames, ignore_index=True) if frames else MANIFEST.empty()
    frame = MANIFEST.validate(frame)
    duplicated = frame.duplicated(["prompt_id", "image_kind"])
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise ValueError(f"manifest chunks overlap at prompt {first.prompt_id} image {first.image_kind}")
    return frame.sort_values(["prompt_id", "image_kind"], kind="stable").reset_index(drop=True)
