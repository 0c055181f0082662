"""Two runs of the reduced demo from scratch give byte-identical tables, figures' data, images and scores.

One run is the session's shared run (tests/fixtures/reduced_run.py), the other a fresh copy
started later in another folder: nothing of the first can leak into the second.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from .fixtures.reduced_run import TABLES, comparable_files, finished_run, run_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return run_dir(finished_run(tmp_path_factory)), run_dir(finished_run(tmp_path_factory, "second"))


def test_every_table_figure_image_and_score_is_byte_identical(runs):
    first, second = (comparable_files(run) for run in runs)
    assert sorted(first) == sorted(second)
    expected = {f"tables/{t}.{suffix}" for t in TABLES for suffix in ("csv", "json", "tex")}
    expected |= {f"figures/{t}.png" for t in TABLES}
    assert expected <= set(first)
    assert [name for name in first if first[name] != second[name]] == []


def test_manifests_hash_the_same_images(runs):
    manifests = [pd.read_parquet(run / "images" / "sugarwater" / "manifest.parquet") for run in runs]
    assert manifests[0]["sha256"].notna().all() and len(manifests[0]) == 12
    assert list(manifests[0]["sha256"]) == list(manifests[1]["sha256"])
    for run, manifest in zip(runs, manifests):
        on_disk = [hashlib.sha256((run / path).read_bytes()).hexdigest() for path in manifest["path"]]
        assert on_disk == list(manifest["sha256"])
