"""A generation job interrupted mid-chunk resumes where it stopped and ends with the manifest of an uninterrupted run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from widespectrum import contracts
from widespectrum.generation.base import GenerationRequest, Generator
from widespectrum.generation.runner import build_requests, run_generation
from widespectrum.runtime import Runtime

RUNTIME = Runtime(device="cpu")
IMAGE_DIR = "images/counting/chunk-0"


class Killed(BaseException):
    """Stands in for the job being killed: not an Exception, so the runner cannot turn it into a row."""


class CountingGenerator(Generator):
    """Seeded noise images; records every request it is asked for and dies after ``die_after`` images."""

    def __init__(self, name="counting", runtime=RUNTIME, die_after=None, fail=(), sigkill=False):
        super().__init__(name, runtime)
        self.calls: list[tuple[str, str]] = []
        self.die_after = die_after
        self.fail = set(fail)
        self.sigkill = sigkill

    def generate(self, request: GenerationRequest):
        if self.die_after is not None and len(self.calls) == self.die_after:
            if self.sigkill:  # the process dies on the spot: no exception handler, no finally block runs
                os.kill(os.getpid(), signal.SIGKILL)
            raise Killed()
        self.calls.append((request.prompt_id, request.image_kind))
        if (request.prompt_id, request.image_kind) in self.fail:
            raise RuntimeError("service said no")
        rng = np.random.default_rng([request.seed, ord(request.image_kind)])
        return Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))


def _requests(n_pairs=4, steps=2):
    prompts = contracts.PROMPTS.validate(pd.DataFrame({
        "prompt_id": [f"{i:04d}" for i in range(n_pairs)],
        "caption_id": [f"c{i}" for i in range(n_pairs)],
        "prompt_original": [f"a photo {i}" for i in range(n_pairs)],
        "prompt_anti": [f"a blurry photo {i}" for i in range(n_pairs)],
        "dimensions": [["clarity"]] * n_pairs,
        "negative_prompt": [None] * n_pairs,
        "reference_image": [None] * n_pairs,
        "rewriter": ["template"] * n_pairs,
    }))
    return build_requests(prompts, {"num_inference_steps": steps}, {"num_inference_steps": steps}, base_seed=10)


def _comparable(manifest: pd.DataFrame) -> pd.DataFrame:
    return manifest.drop(columns=["elapsed_s"]).reset_index(drop=True)


def _uninterrupted(tmp_path: Path) -> pd.DataFrame:
    return run_generation(CountingGenerator(), _requests(), tmp_path / "reference", IMAGE_DIR)


def test_rerun_after_a_kill_makes_only_the_unfinished_images(tmp_path):
    reference = _uninterrupted(tmp_path)
    run_dir = tmp_path / "run"
    requests = _requests()
    with pytest.raises(Killed):
        run_generation(CountingGenerator(die_after=3), requests, run_dir, IMAGE_DIR)
    journal = run_dir / f"{IMAGE_DIR}.journal"
    rows = json.loads((journal / "rows.json").read_text())["rows"]
    assert len(rows) == 3
    # Snakemake deletes a failed job's declared output (the chunk folder); the journal is beside it
    shutil.rmtree(run_dir / IMAGE_DIR, ignore_errors=True)

    resumed = CountingGenerator()
    manifest = run_generation(resumed, requests, run_dir, IMAGE_DIR)
    assert resumed.calls == [(r.prompt_id, r.image_kind) for r in requests[3:]]
    pd.testing.assert_frame_equal(_comparable(manifest), _comparable(reference))
    for row in manifest.itertuples():
        data = (run_dir / row.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert data == (tmp_path / "reference" / row.path).read_bytes()
    assert not journal.exists()


KILLED_JOB = """
import sys
from tests.test_generation_journal import CountingGenerator, IMAGE_DIR, _requests
from widespectrum.generation.runner import run_generation
run_generation(CountingGenerator(die_after=5, sigkill=True), _requests(), sys.argv[1], IMAGE_DIR)
"""


def test_a_sigkilled_job_resumes_from_its_journal(tmp_path, repo_root):
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo_root), *sys.path])}
    job = subprocess.run([sys.executable, "-c", KILLED_JOB, str(run_dir)], cwd=repo_root, env=env,
                         capture_output=True, timeout=120)
    assert job.returncode == -signal.SIGKILL, job.stderr.decode()[-2000:]

    requests = _requests()
    resumed = CountingGenerator()
    manifest = run_generation(resumed, requests, run_dir, IMAGE_DIR)
    assert resumed.calls == [(r.prompt_id, r.image_kind) for r in requests[5:]]
    pd.testing.assert_frame_equal(_comparable(manifest), _comparable(_uninterrupted(tmp_path)))


def test_an_altered_journalled_image_is_made_again(tmp_path):
    run_dir = tmp_path / "run"
    requests = _requests()
    with pytest.raises(Killed):
        run_generation(CountingGenerator(die_after=3), requests, run_dir, IMAGE_DIR)
    first = requests[0]
    damaged = run_dir / f"{IMAGE_DIR}.journal" / IMAGE_DIR / f"{first.prompt_id}_{first.image_kind}.png"
    damaged.write_bytes(damaged.read_bytes()[:-10])

    resumed = CountingGenerator()
    manifest = run_generation(resumed, requests, run_dir, IMAGE_DIR)
    expected = [(first.prompt_id, first.image_kind)] + [(r.prompt_id, r.image_kind) for r in requests[3:]]
    assert resumed.calls == expected
    pd.testing.assert_frame_equal(_comparable(manifest), _comparable(_uninterrupted(tmp_path)))


def test_a_changed_request_or_generator_is_not_taken_from_the_journal(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(Killed):
        run_generation(CountingGenerator(die_after=3), _requests(steps=2), run_dir, IMAGE_DIR)
    changed = CountingGenerator()
    run_generation(changed, _requests(steps=3), run_dir, IMAGE_DIR)
    assert len(changed.calls) == 8

    with pytest.raises(Killed):
        run_generation(CountingGenerator(die_after=3), _requests(), run_dir, IMAGE_DIR)
    other = CountingGenerator(name="another-model")
    run_generation(other, _requests(), run_dir, IMAGE_DIR)
    assert len(other.calls) == 8


def test_failed_requests_are_tried_again_on_rerun(tmp_path):
    run_dir = tmp_path / "run"
    requests = _requests()
    failing = ("0000", "a")
    with pytest.raises(Killed):
        run_generation(CountingGenerator(die_after=4, fail={failing}), requests, run_dir, IMAGE_DIR)
    resumed = CountingGenerator()
    manifest = run_generation(resumed, requests, run_dir, IMAGE_DIR)
    assert resumed.calls == [failing] + [(r.prompt_id, r.image_kind) for r in requests[4:]]
    assert (manifest["status"] == contracts.OK).all()


class SeedlessGenerator(CountingGenerator):
    """A service that takes no seed (API generators): its noise comes from the prompt alone."""

    takes_seed = False

    def generate(self, request: GenerationRequest):
        rng = np.random.default_rng(len(request.prompt))
        return Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))


def test_a_seedless_service_is_recorded_as_taking_no_seed(tmp_path):
    # build_requests gives no seed when the generator takes none; the settings record then says why it is null.
    requests = [GenerationRequest(r.prompt_id, r.image_kind, r.prompt, None, r.settings) for r in _requests(2)]
    manifest = run_generation(SeedlessGenerator("seedless"), requests, tmp_path, IMAGE_DIR)
    assert manifest["seed"].isna().all()
    for settings in manifest["settings"]:
        assert json.loads(settings) == {"num_inference_steps": 2, "seed": "none (the service takes no seed)"}
    seeded = run_generation(CountingGenerator(), _requests(2), tmp_path / "seeded", IMAGE_DIR)
    assert all("seed" not in json.loads(s) for s in seeded["settings"])
