"""Keys never reach a run's files: the shared reduced run had every key variable set to a sentinel."""

from __future__ import annotations

import pytest

from .fixtures.reduced_run import SENTINEL, finished_run

pytestmark = pytest.mark.slow


def test_no_key_in_results_snakemake_metadata_or_logs(tmp_path_factory):
    folder = finished_run(tmp_path_factory)
    searched = [*(folder / "results").rglob("*"), *(folder / ".snakemake").rglob("*"),
                *folder.glob("snakemake-*.out")]  # the runs' own console output
    files = [path for path in searched if path.is_file()]
    assert any(path.parts[-2:] == ("logs", "prompts.log") for path in files)
    assert any(".snakemake" in path.parts and "log" in path.parts for path in files)
    leaked = [str(path.relative_to(folder)) for path in files if SENTINEL.encode() in path.read_bytes()]
    assert leaked == []

