"""Input preparation of the two Qwen-VL scorers at their real image sizes: the processor called on
one image per text (each image prepared once per text) against ``batching.qwen_vl_inputs`` (each
distinct image prepared once), the same language-model inputs.

    python bench/qwen_vl_inputs_speed.py [--images 16] [--repeats 3]

HPSv3 shows the Qwen2-VL processor each image resized to the 256 * 28 * 28 pixel budget under its
two prompts; J shows the Qwen3-VL processor each 512 x 512 image under its 11 questions. The
processors are the test fixtures' (the real classes with their default image settings; a small
BPE tokenizer), so the image work is real-size and the text work is a lower bound. This runs on
the CPU before each batch reaches the model, so on a GPU it adds to every batch's time.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from _common import best_of, log, setup_logging


def _compare(name: str, processor, texts: list[str], images: list, copies: int, repeats: int,
             **image_options) -> None:
    import torch

    from widespectrum.batching import qwen_vl_inputs

    image_of = torch.arange(len(images)).repeat_interleave(copies)
    per_text = [images[k] for k in image_of.tolist()]
    ours = qwen_vl_inputs(processor, texts, images, image_of, **image_options)
    theirs = processor(text=texts, images=per_text, padding=True, return_tensors="pt", **image_options)
    same = all(torch.equal(ours.text[key], theirs[key]) for key in ("input_ids", "attention_mask", "mm_token_type_ids"))
    processor_s, _ = best_of(repeats, lambda: processor(text=texts, images=per_text, padding=True,
                                                         return_tensors="pt", **image_options))
    ours_s, _ = best_of(repeats, lambda: qwen_vl_inputs(processor, texts, images, image_of, **image_options))
    log.info("%-6s %7d %6d %14.1f %14.1f %7.1fx %10s", name, len(images), len(texts),
             1e3 * processor_s / len(images), 1e3 * ours_s / len(images), processor_s / ours_s, same)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    setup_logging()

    import torch
    from PIL import Image
    from transformers import AutoProcessor

    from tests.fixtures import tiny_judges, tiny_rewards
    from widespectrum.judging.dimension_judge import question
    from widespectrum.prompts.dimensions import DIMENSIONS
    from widespectrum.scoring.hpsv3 import budget_size, hpsv3_text

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    generated = [Image.fromarray(rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)) for _ in range(args.images)]
    with tempfile.TemporaryDirectory(prefix="widespectrum-bench-") as tmp:
        qwen2_vl = AutoProcessor.from_pretrained(tiny_rewards.build_tiny_qwen2_vl_base(Path(tmp) / "qwen2-vl"))
        qwen3_vl = AutoProcessor.from_pretrained(tiny_judges.build_tiny_qwen3_vl_processor(Path(tmp) / "qwen3-vl"))
    qwen3_vl.tokenizer.padding_side = "left"

    log.info("%-6s %7s %6s %14s %14s %8s %10s", "scorer", "images", "texts", "processor ms", "distinct ms",
             "ratio", "same ids")
    prompts = ("a painting of a cat", "an ugly, badly drawn cat, muddy colours")
    hpsv3_images = [image.resize(budget_size(image.height, image.width)[::-1]) for image in generated]
    texts = qwen2_vl.apply_chat_template(
        [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": hpsv3_text(prompt)}]}]
         for _ in hpsv3_images for prompt in prompts], tokenize=False, add_generation_prompt=True)
    # as HPSv3Reward calls it: images grouped by shape (J leaves the default)
    _compare("HPSv3", qwen2_vl, texts, hpsv3_images, len(prompts), args.repeats, disable_grouping=False)

    j_images = [image.resize((512, 512)) for image in generated]
    texts = qwen3_vl.apply_chat_template(
        [[{"role": "user", "content": [{"type": "text", "text": question(d, "0: none, 1: some, 2: strong")},
                                       {"type": "image"}]}]
         for _ in j_images for d in DIMENSIONS], tokenize=False, add_generation_prompt=True)
    _compare("J", qwen3_vl, texts, j_images, len(DIMENSIONS), args.repeats)


if __name__ == "__main__":
    main()
