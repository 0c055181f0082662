"""The per-dimension judge J on the tiny Qwen3-VL: all 11 questions about an image in one batch
(its vision pass shared) against one question at a time, the same ratings.

    python bench/judge_speed.py [--images 16] [--image-size 64]

The judge is the test fixtures' tiny random-weight Qwen3-VL (tests/fixtures/tiny_judges.py),
installed under the real ids and built from config/judges.yaml through the registry, at a
reduced ``image_size`` so that the one-at-a-time loop finishes in a minute on 2 cores (the paper
config's 512 px only lengthens both runs' vision passes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from _common import REPO_ROOT, log, setup_logging

J = "qwen3-vl-4b-rater"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()
    setup_logging()

    import torch
    from PIL import Image

    from tests.fixtures.tiny_judges import build_tiny_qwen3_vl_judge
    from widespectrum import registry
    from widespectrum.demo.hub_cache import install_snapshot
    from widespectrum.prompts.dimensions import DIMENSIONS
    from widespectrum.runtime import Runtime

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="widespectrum-bench-") as tmp:
        tmp = Path(tmp)
        model_dir, processor_dir = build_tiny_qwen3_vl_judge(tmp / "build")
        install_snapshot(processor_dir, tmp / "cache", "Qwen/Qwen3-VL-4B-Instruct")
        install_snapshot(model_dir, tmp / "cache", "weathon/smolvlm2_anti_aesthetics_7b")
        entries = {"judges": yaml.safe_load((REPO_ROOT / "config" / "judges.yaml").read_text(encoding="utf-8"))}
        entries["judges"][J]["options"]["image_size"] = args.image_size
        runtime = Runtime(device="cpu", cache_dir=str(tmp / "cache"), offline=True)
        judge = registry.build(entries, "judges", J, runtime)

        rng = np.random.default_rng(0)
        images = [Image.fromarray(rng.integers(0, 256, (96 + i % 3 * 16, 80, 3), dtype=np.uint8))
                  for i in range(args.images)]
        judge.rate(images[:1], DIMENSIONS[:1])  # one-time costs out of the timings
        timings, ratings = {}, {}
        for batch_size in (len(DIMENSIONS), 1):
            judge.batch_size = batch_size
            started = time.perf_counter()
            ratings[batch_size] = judge.rate(images, DIMENSIONS)
            timings[batch_size] = time.perf_counter() - started
    batched, single = timings[len(DIMENSIONS)], timings[1]
    log.info("J on %d images x %d dimensions, %d px, tiny Qwen3-VL", args.images, len(DIMENSIONS), args.image_size)
    log.info("11 questions per batch: %6.2f s", batched)
    log.info("one question at a time: %6.2f s", single)
    log.info("ratio: %.1fx, max |diff| %.2e", single / batched,
             float(np.max(np.abs(ratings[len(DIMENSIONS)] - ratings[1]))))


if __name__ == "__main__":
    main()
