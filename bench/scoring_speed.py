"""Batched scoring vs one pair at a time, on the tiny reward models (issue target: at least 10x
over 256 pairs, identical scores), and the peak memory of one scoring job per reward.

    python bench/scoring_speed.py [--pairs 256] [--batch-size 32] [--repeats 3] [--rewards hpsv3 imagereward hps mps hpsv2]

Each time is the best of ``--repeats`` runs (a batched run of the open_clip rewards takes about
0.08 s, where one run's scheduling noise moves the ratio by a tenth).

Each reward runs in its own process (the "scoring job": load once, score every pair), so the
peak resident memory printed is that job's. The pairs are shaped as a job's: four per prompt,
its original and anti-aesthetic image each under its two prompts, so a batch holds each image and
each prompt twice. Models are the test fixtures' tiny random-weight checkpoints in the authors'
formats (tests/fixtures/tiny_rewards.py). Two run below their real input sizes, like the 32 px
open_clip models: HPSv3 at a reduced pixel budget (--hpsv3-pixels), so that the one-at-a-time
loop finishes in minutes on 2 cores, and ImageReward at 32 px (--imagereward-size). At 224 px
the tiny ViT (width 32, 16 heads of width 2) spends its time on 197 x 197 attention maps; a batch
of 32 holds 20 M of them per layer, which falls out of the CPU caches, so there batching is slower
than one pair at a time and the figure says nothing about the batching itself
(`--imagereward-size 224` shows it).

"attention s" is the time the one-pair-at-a-time loop spends in torch's scaled dot-product
attention, from a profiled rerun of that loop. On a CPU that work is compute bound and each pair
attends over its own sequence, so a batch does it all again, and "ceiling" (single s / attention s)
bounds what batching those sequences can reach. HPSv3 goes past it by doing less: the pairs of
one image share the sequence up to the prompt, and a batch runs that prefix once per image. BLIP
(ImageReward) computes its attention with plain matmuls, which the profiler does not count as
attention: its columns read "-".
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import REPO_ROOT, best_of, log, setup_logging
from widespectrum.scoring.runner import COMBINATIONS

REWARDS = ("hpsv3", "imagereward", "hps", "mps", "hpsv2")
WORDS = ("cat", "dog", "face", "cup")


def _build(root: Path, imagereward_size: int) -> dict:
    """Tiny checkpoints in a hub cache under the real ids, and the off-hub files with their digests."""
    from tests.fixtures import tiny_rewards
    from widespectrum.demo import hub_cache
    from widespectrum.demo.reward_models import TINY_OPEN_CLIP_CONFIG, build_tiny_clip, install_tiny_reward
    from widespectrum.scoring.mps import convert_mps_checkpoint

    cache = root / "cache"
    tiny_rewards.build_tiny_qwen2_vl_base(root / "qwen")
    tiny_rewards.build_tiny_hpsv3(root / "hpsv3")
    tiny_rewards.build_tiny_imagereward(root / "imagereward", image_size=imagereward_size)
    tiny_rewards.build_tiny_bert_tokenizer(root / "bert")
    build_tiny_clip(root / "clip-h", seed=3)
    for folder, repo in (("qwen", "Qwen/Qwen2-VL-7B-Instruct"), ("hpsv3", "MizzenAI/HPSv3"),
                         ("imagereward", "THUDM/ImageReward"), ("bert", "google-bert/bert-base-uncased"),
                         ("clip-h", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K")):
        hub_cache.install_snapshot(root / folder, cache, repo)
    install_tiny_reward("hpsv2", cache, "xswu/HPSv2")
    hpc = tiny_rewards.build_tiny_hpc(root / "hpc.pth")
    pickled = tiny_rewards.build_tiny_mps_pickle(root / "MPS_overall_checkpoint.pth", root / "clip-h")
    mps = convert_mps_checkpoint(pickled, root / "mps")
    return {
        "cache": str(cache),
        "options": {
            "hps": {"path": str(hpc), "sha256": tiny_rewards.sha256_file(hpc),
                    "model_config": tiny_rewards.tiny_hps_v1_config()},
            "mps": {"path": str(root / "mps"), "sha256": mps["weights_sha256"]},
            "hpsv2": {"model_config": TINY_OPEN_CLIP_CONFIG},
            "imagereward": {"image_size": imagereward_size},
        },
    }


def _job_pairs(pairs: int) -> tuple[list, list[str]]:
    """``pairs`` pairs shaped as a scoring job's (scoring/runner.py): per prompt, its original and
    anti-aesthetic image, each under the original and the anti-aesthetic prompt."""
    from PIL import Image

    rng = np.random.default_rng(0)
    images, prompts = [], []
    for i in range(pairs // len(COMBINATIONS)):
        kinds = {kind: Image.fromarray(rng.integers(0, 256, (48 + (2 * i + j) % 5 * 8, 64, 3), dtype=np.uint8))
                 for j, kind in enumerate("oa")}
        texts = {"o": f"a painting of a {WORDS[i % len(WORDS)]} number {i}",
                 "a": f"an ugly, badly drawn {WORDS[i % len(WORDS)]} number {i}, muddy colours"}
        for image_kind, prompt_kind in COMBINATIONS:
            images.append(kinds[image_kind])
            prompts.append(texts[prompt_kind])
    return images, prompts


def _attention_seconds(run) -> float:
    """Seconds ``run`` spends inside scaled dot-product attention, read from torch's profiler."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    return sum(event.cpu_time_total for event in prof.key_averages()
               if event.key == "aten::scaled_dot_product_attention") / 1e6


def _job(name: str, setup: dict, pairs: int, batch_size: int, hpsv3_pixels: int, repeats: int) -> dict:
    """One scoring job: load the reward once, score ``pairs`` pairs batched, then one pair at a time, each
    the best of ``repeats`` runs."""
    import torch
    import yaml

    from widespectrum import registry
    from widespectrum.runtime import Runtime

    torch.set_num_threads(2)
    rewards = yaml.safe_load((REPO_ROOT / "config" / "rewards.yaml").read_text())
    entry = dict(rewards[name])
    entry["options"] = {**entry.get("options", {}), **setup["options"].get(name, {})}
    if name == "hpsv3":
        entry["options"]["pixels"] = hpsv3_pixels
    runtime = Runtime(device="cpu", cache_dir=setup["cache"], offline=True)
    reward = registry.build({"rewards": {**rewards, name: entry}}, "rewards", name, runtime)

    images, prompts = _job_pairs(pairs)

    reward.score(images[:2], prompts[:2])  # one-time costs (kernel selection, lazy buffers) out of the timings

    def batched_run():
        reward.batch_size = batch_size
        return reward.score(images, prompts).scores

    def one_at_a_time():
        reward.batch_size = 1
        return np.concatenate([reward.score([image], [prompt]).scores for image, prompt in zip(images, prompts)])

    batched_s, batched = best_of(repeats, batched_run)
    single_s, single = best_of(repeats, one_at_a_time)
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; before the profiler's
    attention_s = _attention_seconds(one_at_a_time)
    return {"reward": name, "pairs": pairs, "batch_size": batch_size, "batched_s": batched_s, "attention_s": attention_s,
            "single_s": single_s, "max_abs_diff": float(np.max(np.abs(batched - single))), "peak_rss_mib": peak_rss_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hpsv3-pixels", type=int, default=16 * 28 * 28)
    parser.add_argument("--imagereward-size", type=int, default=32)
    parser.add_argument("--rewards", nargs="+", default=list(REWARDS), choices=REWARDS)
    parser.add_argument("--repeats", type=int, default=3, help="each timing is the best of this many runs")
    parser.add_argument("--job", help=argparse.SUPPRESS)  # internal: run one job, print its JSON
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        setup = json.loads(Path(args.setup).read_text())
        print(json.dumps(_job(args.job, setup, args.pairs, args.batch_size, args.hpsv3_pixels, args.repeats)))
        return

    setup_logging()
    with tempfile.TemporaryDirectory(prefix="widespectrum-bench-") as tmp:
        setup = _build(Path(tmp), args.imagereward_size)
        (Path(tmp) / "setup.json").write_text(json.dumps(setup))
        log.info("%-12s %6s %10s %10s %7s %12s %14s %12s %8s", "reward", "pairs", "batched s", "single s", "ratio",
                 "max |diff|", "peak RSS MiB", "attention s", "ceiling")
        for name in args.rewards:
            out = subprocess.run(
                [sys.executable, __file__, "--job", name, "--setup", str(Path(tmp) / "setup.json"),
                 "--pairs", str(args.pairs), "--batch-size", str(args.batch_size),
                 "--hpsv3-pixels", str(args.hpsv3_pixels), "--repeats", str(args.repeats)],
                capture_output=True, text=True, check=True, cwd=REPO_ROOT)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            counted = row["attention_s"] > 0
            attention = f"{row['attention_s']:.2f}" if counted else "-"
            ceiling = f"{row['single_s'] / row['attention_s']:.1f}x" if counted else "-"
            log.info("%-12s %6d %10.2f %10.2f %6.1fx %12.2e %14.1f %12s %8s", row["reward"], row["pairs"],
                     row["batched_s"], row["single_s"], row["single_s"] / row["batched_s"], row["max_abs_diff"],
                     row["peak_rss_mib"], attention, ceiling)


if __name__ == "__main__":
    main()
