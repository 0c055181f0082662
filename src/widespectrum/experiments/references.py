"""Reference files a user supplies (ratings, predictions, labels): read, checked, copied into the run.

Shared by the judge-validation and human-agreement experiments, whose tables
compare the run's judge with such files.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .. import contracts
from ..config import ConfigError

log = logging.getLogger(__name__)


def read_reference_file(path: str | Path, columns: Sequence[str], what: str) -> pd.DataFrame:
    """A user's CSV or Parquet table with at least ``columns``; only those columns (and rater_id) are kept."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix in (".csv", ".tsv"):
        frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    else:
        raise ValueError(f"{what}: {path} is neither .csv, .tsv nor .parquet")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: {path} lacks column(s) {missing}; it has {list(frame.columns)}")
    kept = [*columns, *(["rater_id"] if "rater_id" in frame.columns and "rater_id" not in columns else [])]
    frame = frame[kept].copy()
    for column in ("image_id", "dimension", "rater_id", "pair_id"):
        if column in frame.columns:
            frame[column] = frame[column].astype("string").astype(object)
    return frame


def ingest(spec: Mapping, key: str, columns: Sequence[str], source: Path, output: str | Path, what: str) -> pd.DataFrame:
    """Copy the reference file ``spec[key]`` (resolved as ``source``) into the run folder as Parquet."""
    if not spec.get(key):
        raise ConfigError(f"{what} is not set")
    frame = read_reference_file(source, columns, what)
    contracts.write_table(frame, output)
    log.info("%s: %d rows from %s", Path(output).stem, len(frame), spec[key])
    return frame
