"""An experiment whose inputs are reference files the user supplies (judge validation, human agreement)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from .base import Experiment


class ReferenceExperiment(Experiment):
    """``parts``: the run file's stem -> (the config key naming the user's file, the columns the table reads)."""

    parts: Mapping[str, tuple[str, tuple[str, ...]]] = {}

    def reference_parts(self, config) -> list[str]:
        spec = self.spec(config) or {}
        return [part for part, (key, _) in self.parts.items() if spec.get(key)]

    def external_files(self, config):
        spec = self.block(config)
        return {f"{part}.parquet": spec[self.parts[part][0]] for part in self.reference_parts(config)}

    def named_entries(self, config):
        return []

    def ingest_external(self, config, name, source, output):
        part = name.removesuffix(".parquet")
        key, columns = self.parts[part]
        # pandas loads in the job that copies the file, not while the DAG is built
        references = importlib.import_module(f"{__package__}.references")
        references.ingest(self.block(config), key, columns, source, output, f"{self.key()}.{key}")
