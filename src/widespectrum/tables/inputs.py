"""The files a table reads, as the table rule declares them (``snakemake.input``) or the catalog derives them.

Whatever of a table's inputs is present is read; a missing one becomes a note
of the table ("missing input <run path>"), so ``widespectrum tables`` works on
a partial run folder and says what it lacked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .. import contracts, layout


class TableInputs:
    """Named lists of input files of one table, read on demand into validated frames."""

    def __init__(self, run_dir: str | os.PathLike, files: Mapping[str, Sequence[str | os.PathLike]]):
        self.run_dir = Path(run_dir)
        self.files = {key: [Path(p) for p in paths] for key, paths in files.items()}
        self.notes: list[str] = []

    @classmethod
    def of_run(cls, run_dir: str | os.PathLike, requires: Mapping[str, Sequence[str]]) -> TableInputs:
        return cls(run_dir, {key: [layout.join(run_dir, r) for r in rel] for key, rel in requires.items()})

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.run_dir.resolve()).as_posix()
        except ValueError:
            return path.as_posix()

    def present(self, key: str) -> list[Path]:
        """The files of ``key`` that exist; each missing one is noted."""
        found = []
        for path in self.files.get(key, []):
            if path.is_file():
                found.append(path)
            else:
                self.notes.append(f"missing input {self._relative(path)}")
        return found

    def frame(self, key: str, schema: contracts.Schema | None) -> pd.DataFrame | None:
        """The present files of ``key`` concatenated (validated against ``schema``); None when none is present."""
        frames = [contracts.read_table(path, schema) for path in self.present(key)]
        if not frames:
            return None
        return contracts.concat_validated(frames, schema) if schema is not None else pd.concat(frames, ignore_index=True)

    def frame_or_empty(self, key: str, schema: contracts.Schema) -> pd.DataFrame:
        frame = self.frame(key, schema)
        return schema.empty() if frame is None else frame

    def by_owner(self, key: str, schema: contracts.Schema) -> dict[str, pd.DataFrame]:
        """The present files of ``key`` grouped by their owner (the judge of ``judgements/<judge>/...``)."""
        grouped: dict[str, list[pd.DataFrame]] = {}
        for path in self.present(key):
            owner = layout.owner_of(self._relative(path))
            grouped.setdefault(owner, []).append(contracts.read_table(path, schema))
        return {owner: contracts.concat_validated(frames, schema) for owner, frames in grouped.items()}

    def optional(self, key: str, schema: contracts.Schema) -> pd.DataFrame:
        """A single file the table uses when present, without a note when absent (the run's prompts)."""
        paths = [p for p in self.files.get(key, []) if p.is_file()]
        return contracts.read_table(paths[0], schema) if paths else schema.empty()
