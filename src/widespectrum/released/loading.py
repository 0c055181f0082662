"""Reading the authors' released Hugging Face datasets.

Two ways in: a local folder holding a dataset's Parquet files (what a
``huggingface-cli download --repo-type dataset`` or a copy of the hub's
``refs/convert/parquet`` branch leaves on disk), read with pyarrow; or
``datasets.load_dataset`` at a pinned revision. Either way the result is a
``pyarrow.Table`` in the released schema, images still encoded: the
converters decode an image only where they need its pixels.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from ..images import open_rgb

logger = logging.getLogger(__name__)

Table = pa.Table | pd.DataFrame


class ReleasedFormatError(ValueError):
    """The released data does not have the shape this code reads: a column is
    missing or a value is malformed. The message names the column and, where
    one row is at fault, the row."""


def parquet_files(local_dir: str | os.PathLike, split: str | None = "train") -> list[Path]:
    """The Parquet files of ``split`` under ``local_dir``, sorted by path.

    Hub folders name a split either by file prefix (``data/train-00000-of-00002.parquet``)
    or by folder (``default/train/0000.parquet``). When no file names the split,
    every Parquet file is taken: a folder written for one split only.
    """
    root = Path(local_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"released data folder not found: {root}")
    files = sorted(root.rglob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no .parquet files under {root}")
    if split is None:
        return files
    named = [f for f in files if _names_split(f.relative_to(root), split)]
    if named:
        return named
    logger.info("no file under %s names split %r; reading all %d parquet files", root, split, len(files))
    return files


def _names_split(relative: Path, split: str) -> bool:
    stem = relative.name
    return split in relative.parts[:-1] or stem.startswith(f"{split}-") or stem.startswith(f"{split}.")


def load_released_table(
    dataset: str,
    revision: str | None,
    split: str = "train",
    local_dir: str | os.PathLike | None = None,
    columns: Sequence[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> pa.Table:
    """The released dataset as one Arrow table (only ``columns`` when given)."""
    if local_dir is not None:
        return _read_local(local_dir, split, columns)
    if revision is None:
        raise ValueError(f"loading {dataset} from the hub needs a pinned revision")
    return _read_hub(dataset, revision, split, columns, cache_dir)


def resolved_dataset_revision(dataset: str, revision: str | None, local_dir: str | os.PathLike | None = None,
                              cache_dir: str | os.PathLike | None = None) -> str | None:
    """The commit a released set was read at, for provenance; None when it cannot be known.

    A 40-hex ``revision`` is itself the commit. A local folder made by
    ``huggingface-cli download --local-dir`` keeps one metadata file per file under
    ``.cache/huggingface/download/`` whose first line is the commit it came from;
    the commit is known when they all agree. A hub read resolves ``revision``
    through the ``refs/`` of the dataset's folder in the hub cache.
    """
    if isinstance(revision, str) and re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    if local_dir is not None:
        commits = set()
        for meta in (Path(local_dir) / ".cache" / "huggingface" / "download").rglob("*.metadata"):
            first = meta.read_text(encoding="utf-8").splitlines()[:1]
            commits.update(c for c in first if re.fullmatch(r"[0-9a-f]{40}", c.strip()))
        return commits.pop() if len(commits) == 1 else None
    if revision is None:
        return None
    from huggingface_hub.constants import HF_HUB_CACHE

    ref = Path(cache_dir or HF_HUB_CACHE) / f"datasets--{dataset.replace('/', '--')}" / "refs" / revision
    return ref.read_text().strip() if ref.is_file() else None


def released_source(dataset: str, revision: str | None, local_dir: str | os.PathLike | None = None,
                    cache_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The provenance of one released set: id, requested revision, resolved commit (null when unknown)."""
    return {"dataset": dataset, "revision": revision, "resolved_revision": resolved_dataset_revision(
        dataset, revision, local_dir, cache_dir), "local_dir": None if local_dir is None else Path(local_dir).name}


def released_set_provenance(config: dict, released: dict) -> dict[str, Any]:
    """``released_source`` of an experiment block's ``released`` mapping, in the run's hub cache."""
    from ..config import resolve_path
    from ..runtime import Runtime

    local_dir = resolve_path(released["local_dir"]) if released.get("local_dir") else None
    return {**released, **released_source(released["dataset"], released.get("revision"), local_dir,
                                          Runtime.from_config(dict(config)).cache_dir)}


def _read_local(local_dir, split: str, columns: Sequence[str] | None) -> pa.Table:
    tables = []
    for path in parquet_files(local_dir, split):
        if columns is not None:
            present = set(pq.read_schema(path).names)
            missing = [c for c in columns if c not in present]
            if missing:
                raise ReleasedFormatError(
                    f"{path}: missing column(s) {missing}; present: {sorted(present)}")
        tables.append(pq.read_table(path, columns=list(columns) if columns is not None else None))
    logger.info("read %d parquet file(s) from %s", len(tables), local_dir)
    return pa.concat_tables(tables, promote_options="default")


def _read_hub(dataset: str, revision: str, split: str, columns, cache_dir) -> pa.Table:
    import datasets

    loaded = datasets.load_dataset(
        dataset, revision=revision, split=split,
        cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
    )
    if columns is not None:
        missing = [c for c in columns if c not in loaded.column_names]
        if missing:
            raise ReleasedFormatError(
                f"{dataset}@{revision}: missing column(s) {missing}; present: {loaded.column_names}")
        loaded = loaded.select_columns(list(columns))
    # The arrow view keeps images as {bytes, path} structs, exactly as in Parquet.
    return loaded.with_format("arrow")[:]


def iter_released_batches(
    local_dir: str | os.PathLike,
    columns: Sequence[str] | None = None,
    split: str = "train",
    batch_size: int = 64,
) -> Iterator[pa.RecordBatch]:
    """Record batches of a local released dataset, for passes over image columns
    too large to hold in memory at once."""
    for path in parquet_files(local_dir, split):
        handle = pq.ParquetFile(path)
        yield from handle.iter_batches(batch_size=batch_size, columns=list(columns) if columns else None)


# ------------------------------------------------------------------ values

def column_names(table: Table) -> list[str]:
    return list(table.column_names) if isinstance(table, pa.Table) else [str(c) for c in table.columns]


def require_columns(table: Table, required: Sequence[str], what: str) -> None:
    present = column_names(table)
    missing = [c for c in required if c not in present]
    if missing:
        raise ReleasedFormatError(f"{what}: missing column(s) {missing}; present: {present}")


def records(table: Table, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of ``columns`` as plain Python values (lists, dicts, floats; NaN kept)."""
    if isinstance(table, pa.Table):
        return table.select(list(columns)).to_pylist()
    frame = table[list(columns)]
    return [{c: plain(v) for c, v in zip(columns, row)} for row in frame.itertuples(index=False, name=None)]


def column_values(table: Table, name: str) -> list[Any]:
    if isinstance(table, pa.Table):
        return table.column(name).to_pylist()
    return [plain(v) for v in table[name].tolist()]


def missing(value: Any) -> bool:
    """An absent cell: None (Arrow) or NaN (pandas keeps a missing value of an object column as NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def string_list(value: Any, column: str, where: str) -> list[str]:
    """A list of names stored as a list or as a JSON string; None is an empty list.

    ``where`` names the row in errors (e.g. "row 7" or "row 7 (model flux_dev)").
    """
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ReleasedFormatError(f"column {column!r}: not valid JSON at {where}: {err}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ReleasedFormatError(f"column {column!r}: expected a list of names at {where}, got {value!r}")
    return list(value)


def plain(value: Any) -> Any:
    """numpy arrays and scalars (what pandas holds after reading Parquet) as Python values."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def iter_column_chunks(table: Table, name: str, rows: Sequence[int] | None = None,
                       chunk_size: int = 64) -> Iterator[tuple[int, Any]]:
    """(row position, value) of one column, materialising ``chunk_size`` values at a
    time so a column of large images never sits in Python memory whole."""
    positions = list(range(len(table))) if rows is None else list(rows)
    column = table.column(name) if isinstance(table, pa.Table) else table[name]
    for start in range(0, len(positions), chunk_size):
        batch = positions[start:start + chunk_size]
        if isinstance(column, pa.ChunkedArray):
            values = column.take(pa.array(batch, type=pa.int64())).to_pylist()
        else:
            values = [plain(v) for v in column.iloc[batch].tolist()]
        yield from zip(batch, values)


def is_image_value(value: Any) -> bool:
    return isinstance(value, (bytes, bytearray, Image.Image)) or (
        isinstance(value, dict) and "bytes" in value)


def decode_image(value: Any, name: str | None = None) -> Image.Image:
    """A released image as a loaded RGB image (``images.open_rgb``'s conversions and checks).

    Hugging Face stores an ``Image`` feature as a struct ``{bytes, path}``; a
    row may also carry raw encoded bytes or, through ``datasets``, a PIL image.
    ``name`` is what an error calls the image.
    """
    if isinstance(value, Image.Image):
        value.load()
        return value if value.mode == "RGB" else value.convert("RGB")
    if isinstance(value, dict):
        data = value.get("bytes")
        if data is None:
            path = value.get("path")
            if not path:
                raise ValueError("image struct has neither bytes nor path")
            return open_rgb(path, name=name)
        value = data
    if isinstance(value, (bytes, bytearray, memoryview)):
        return open_rgb(bytes(value), name=name)
    raise TypeError(f"not an image value: {type(value).__name__}")


def encoded_bytes(value: Any) -> bytes | None:
    """The stored encoded bytes of an image value, where it has them."""
    if isinstance(value, dict):
        value = value.get("bytes")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return None
