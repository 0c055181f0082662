"""`widespectrum lock RUN`: provenance records -> lock file -> registries pinned to it."""

from __future__ import annotations

import json

import pytest
import yaml

from widespectrum.cli import main
from widespectrum.lock import LockError, collect_revisions, read_lock
from widespectrum.registry import apply_lock

FLUX = "a" * 40
TRANSFORMER = "b" * 40
CLIP_H = "c" * 40
PICKSCORE = "d" * 40
HPS = "e" * 40
DATASET = "f" * 40


def _record(path, component):
    path.parent.mkdir(parents=True, exist_ok=True)
    # the envelope of provenance.record, trimmed to what a lock reads
    path.write_text(json.dumps({"run": "paper", "code_commit": "9" * 40, "component": component}))


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "results" / "paper"
    provenance = run / "provenance"
    flux = {"pipeline": "FluxPipeline", "model_id": "black-forest-labs/FLUX.1-dev", "revision": "main",
            "resolved_revision": FLUX}
    _record(provenance / "generate" / "flux-dev-0.json", flux)
    _record(provenance / "generate" / "flux-dev-1.json", flux)
    _record(provenance / "generate" / "danceflux-0.json", {
        **flux, "transformer": {"repo": "xzyhku/flux_hpsv2.1_dancegrpo", "filename": "x.safetensors",
                                "revision": "main", "resolved_revision": TRANSFORMER}})
    _record(provenance / "score" / "pickscore-flux-dev.json", {
        "model_id": "yuvalkirstain/PickScore_v1", "revision": "main", "resolved_revision": PICKSCORE,
        "processor_id": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K", "processor_revision": "main",
        "processor_resolved_revision": CLIP_H})
    _record(provenance / "score" / "hpsv2-flux-dev.json", {
        "checkpoint_repo": "xswu/HPSv2", "checkpoint_file": "HPS_v2_compressed.pt", "revision": "main",
        "resolved_revision": HPS})
    _record(provenance / "experiments" / "emotion" / "items.json", {
        "dataset": "weathon/emotion_bias_dataset", "revision": "main", "resolved_revision": DATASET})
    # a procedural stand-in loads nothing from a hub
    _record(provenance / "generate" / "oracle-0.json", {"kind": "procedural", "size": 128})
    return run


def test_lock_file_lists_each_resolved_commit(run_dir, tmp_path):
    lock_path = tmp_path / "config" / "lock.yaml"
    assert main(["lock", str(run_dir), "--output", str(lock_path)]) == 0
    written = yaml.safe_load(lock_path.read_text())
    assert written == {"run": "paper", "revisions": {
        "black-forest-labs/FLUX.1-dev": FLUX,
        "laion/CLIP-ViT-H-14-laion2B-s32B-b79K": CLIP_H,
        "weathon/emotion_bias_dataset": DATASET,
        "xswu/HPSv2": HPS,
        "xzyhku/flux_hpsv2.1_dancegrpo": TRANSFORMER,
        "yuvalkirstain/PickScore_v1": PICKSCORE,
    }}
    assert read_lock(lock_path) == written["revisions"]
    assert "widespectrum lock" in lock_path.read_text()  # says how to refresh it


def test_two_commits_for_one_id_is_an_error(run_dir):
    _record(run_dir / "provenance" / "generate" / "flux-dev-2.json",
            {"model_id": "black-forest-labs/FLUX.1-dev", "revision": "main", "resolved_revision": "1" * 40})
    with pytest.raises(LockError, match="FLUX.1-dev resolved to 2 commits.*flux-dev-2.json"):
        collect_revisions(run_dir / "provenance")


def test_unresolved_revision_is_an_error(run_dir):
    _record(run_dir / "provenance" / "score" / "clip.json",
            {"model_id": "openai/clip-vit-large-patch14", "revision": "main", "resolved_revision": "main"})
    with pytest.raises(LockError, match="not a commit sha"):
        collect_revisions(run_dir / "provenance")


def test_run_without_hub_models_writes_no_lock(tmp_path):
    _record(tmp_path / "run" / "provenance" / "generate" / "oracle-0.json", {"kind": "procedural"})
    assert main(["lock", str(tmp_path / "run"), "--output", str(tmp_path / "lock.yaml")]) == 1
    assert not (tmp_path / "lock.yaml").exists()


def test_apply_lock_pins_branch_revisions_only():
    registry = {
        "generators": {
            "danceflux": {"loader": "flux", "options": {
                "model_id": "black-forest-labs/FLUX.1-dev", "revision": "main",
                "transformer": {"repo": "xzyhku/flux_hpsv2.1_dancegrpo", "filename": "x", "revision": "main"}}},
            "pinned": {"loader": "flux", "options": {"model_id": "black-forest-labs/FLUX.1-dev",
                                                     "revision": "7" * 40}},
            "unlocked": {"loader": "sdxl", "options": {"model_id": "stabilityai/sdxl", "revision": "main"}},
            "oracle": {"loader": "oracle", "options": {"size": 128}},
        },
        "rewards": {
            "pickscore": {"loader": "clip", "options": {"model_id": "yuvalkirstain/PickScore_v1", "revision": "main",
                                                        "processor_id": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"}},
            "hpsv2": {"loader": "hpsv2", "options": {"checkpoint_repo": "xswu/HPSv2", "revision": "main"}},
        },
    }
    lock = {"black-forest-labs/FLUX.1-dev": FLUX, "xzyhku/flux_hpsv2.1_dancegrpo": TRANSFORMER,
            "yuvalkirstain/PickScore_v1": PICKSCORE, "laion/CLIP-ViT-H-14-laion2B-s32B-b79K": CLIP_H,
            "xswu/HPSv2": HPS}
    pinned = apply_lock(registry, lock)
    assert pinned["generators"]["danceflux"]["options"] == {
        "model_id": "black-forest-labs/FLUX.1-dev", "revision": FLUX,
        "transformer": {"repo": "xzyhku/flux_hpsv2.1_dancegrpo", "filename": "x", "revision": TRANSFORMER}}
    assert pinned["generators"]["pinned"]["options"]["revision"] == "7" * 40  # an explicit sha wins
    assert pinned["generators"]["unlocked"]["options"]["revision"] == "main"
    assert pinned["generators"]["oracle"] == registry["generators"]["oracle"]
    assert pinned["rewards"]["pickscore"]["options"] == {
        "model_id": "yuvalkirstain/PickScore_v1", "revision": PICKSCORE,
        "processor_id": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K", "processor_revision": CLIP_H}
    assert pinned["rewards"]["hpsv2"]["options"]["revision"] == HPS
    assert registry["generators"]["danceflux"]["options"]["revision"] == "main"  # a copy, not in place


def test_lock_of_a_real_record_round_trips(tmp_path):
    """provenance.record's own envelope, as the jobs write it, is what the lock reads."""
    from widespectrum.runconfig import load_run as load_config
    from widespectrum.provenance import record

    config = load_config("config/demo.yaml")
    component = {"model_id": "widespectrum/tiny-flux", "revision": "main", "resolved_revision": FLUX}
    path = tmp_path / "run" / "provenance" / "generate" / "tiny-flux-0.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record(config, component)))
    assert collect_revisions(tmp_path / "run" / "provenance") == {"widespectrum/tiny-flux": FLUX}
