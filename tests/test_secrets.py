"""Keys never reach a run's files: the reduced runs had every key variable set to a sentinel.

The shared run is the offline demo; the loopback run also sends the keys, to loopback servers
that speak the providers' protocols and accept only the sentinel.
"""

from __future__ import annotations

import pandas as pd
import pytest

from .fixtures.reduced_run import (LOOPBACK_GENERATOR, LOOPBACK_JUDGE, SENTINEL, finished_run, loopback_run,
                                   run_dir)

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



def test_keys_reach_the_loopback_services_and_no_file(tmp_path_factory):
    """The rewriter, an API generator and an LLM judge send the keys; nothing of the run keeps them."""
    run = loopback_run(tmp_path_factory)
    bearer = f"Bearer {SENTINEL}"
    # every request carried the sentinel (the servers refuse any other), and each client sent some
    schemas = [body["response_format"]["json_schema"]["name"] for body in run.chat.requests]
    assert {"long_description", "negative_prompt", "pairwise_selection"} <= set(schemas)
    assert all(headers["authorization"] == bearer for headers in run.chat.headers)
    assert run.images.calls() and all(seen.headers["authorization"] == bearer for seen in run.images.calls())
    # what the services answered is what the run holds: no failure row stood in for a refused key
    results = run_dir(run.folder)
    prompts = pd.read_parquet(results / "prompts/prompts.parquet")
    assert len(prompts) == 4 and prompts["prompt_anti"].str.startswith("grainy smeared scene").all()
    manifest = pd.read_parquet(results / f"images/{LOOPBACK_GENERATOR}/manifest.parquet")
    labels = pd.read_parquet(results / f"judgements/{LOOPBACK_JUDGE}/{LOOPBACK_GENERATOR}.parquet")
    assert len(manifest) == 8 and manifest["status"].eq("ok").all()
    assert len(labels) == 4 and labels["status"].eq("ok").all()
    assert len(run.images.calls()) == 8

    searched = [*(run.folder / "results").rglob("*"), *(run.folder / ".snakemake").rglob("*"),
                *run.folder.glob("snakemake-*.out")]
    files = [path for path in searched if path.is_file()]
    assert any("llm_cache" in path.parts for path in files) and any("api_cache" in path.parts for path in files)
    leaked = [str(path.relative_to(run.folder)) for path in files if SENTINEL.encode() in path.read_bytes()]
    assert leaked == []
