"""HPSv3 at its real size on a CUDA device: images per second at batch 1 vs 16 in bfloat16.

    python bench/hpsv3_gpu.py [--batches 1 16] [--repeats 5]

The network is the scorer's own class (``widespectrum.scoring.hpsv3``: Qwen2-VL +
the authors' reward head) built from the published sizes of
``Qwen/Qwen2-VL-7B-Instruct`` (its ``config.json`` on the hub) with random
weights: nothing is downloaded, and the throughput of a dense network does not
depend on its weights. Each image is the authors' 256 * 28 * 28 pixel budget
(448 x 448: 1024 patches, 256 merged visual tokens); the text is the authors'
instruction in the chat template, its length estimated at 4 characters per
token (``--text-tokens`` overrides it). Timed: the forward that scoring runs
(vision tower, language model, head at the reward token), not the processor.

On a machine without CUDA it prints "not measured: no CUDA device" and exits 0;
it never builds the 8B-parameter model on the CPU.
"""

from __future__ import annotations

import argparse
import math
import time

from _common import log, setup_logging

# Qwen/Qwen2-VL-7B-Instruct config.json (huggingface.co/Qwen/Qwen2-VL-7B-Instruct/blob/main/config.json).
QWEN2_VL_7B_TEXT = {
    "vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
    "num_attention_heads": 28, "num_key_value_heads": 4, "hidden_act": "silu", "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "max_window_layers": 28, "use_sliding_window": False, "bos_token_id": 151643, "eos_token_id": 151645,
}
QWEN2_VL_7B_VISION = {
    "depth": 32, "embed_dim": 1280, "hidden_size": 3584, "hidden_act": "quick_gelu", "mlp_ratio": 4,
    "num_heads": 16, "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
}
IMAGE_TOKEN_ID, VISION_START_ID, VISION_END_ID = 151655, 151652, 151653
CHAT_PREFIX = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
CHAT_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"
CHARS_PER_TOKEN = 4  # a rough English BPE rate; the exact count needs the real tokenizer


def qwen2_vl_7b_config():
    from transformers import Qwen2VLConfig

    return Qwen2VLConfig(text_config=QWEN2_VL_7B_TEXT, vision_config=QWEN2_VL_7B_VISION,
                         image_token_id=IMAGE_TOKEN_ID, vision_start_token_id=VISION_START_ID,
                         vision_end_token_id=VISION_END_ID)


def estimated_text_tokens() -> tuple[int, int, int]:
    """Tokens before the image, after it, and after the reward token, of one HPSv3 input (the authors' text)."""
    from widespectrum.scoring.hpsv3 import REWARD_TOKEN, hpsv3_text

    after = hpsv3_text("a painting of a lighthouse at dusk, oil on canvas") + CHAT_SUFFIX
    after_reward = after[after.index(REWARD_TOKEN) + len(REWARD_TOKEN):]
    return tuple(math.ceil(len(text) / CHARS_PER_TOKEN) for text in (CHAT_PREFIX, after, after_reward))


def synthetic_inputs(config, batch: int, side: int, before: int, after: int, device):
    """What the processor returns for ``batch`` images of ``side`` x ``side`` pixels (token ids around the
    image placeholders, patch pixels, grid sizes, attention mask, modality types) with random text ids."""
    import torch

    vision = config.vision_config
    grid = side // vision.patch_size
    visual_tokens = grid * grid // vision.spatial_merge_size ** 2
    generator = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(batch):
        text_ids = torch.randint(0, 150000, (before + after,), generator=generator)
        rows.append(torch.cat([text_ids[:before], torch.tensor([VISION_START_ID]),
                               torch.full((visual_tokens,), IMAGE_TOKEN_ID), torch.tensor([VISION_END_ID]),
                               text_ids[before:]]))
    input_ids = torch.stack(rows)
    patch_values = vision.in_channels * vision.temporal_patch_size * vision.patch_size ** 2
    return {
        "input_ids": input_ids.to(device),
        "attention_mask": torch.ones_like(input_ids).to(device),
        "mm_token_type_ids": (input_ids == IMAGE_TOKEN_ID).int().to(device),
        "pixel_values": torch.randn(batch * grid * grid, patch_values, generator=generator).to(device,
                                                                                              torch.bfloat16),
        "image_grid_thw": torch.tensor([[1, grid, grid]] * batch, device=device),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--side", type=int, default=448, help="image side in pixels (448: the authors' budget)")
    parser.add_argument("--text-tokens", type=int, help="text tokens after the image (default: estimated)")
    args = parser.parse_args()
    setup_logging()

    import torch

    if not torch.cuda.is_available():
        print("not measured: no CUDA device")
        return

    from widespectrum.scoring.hpsv3 import _reward_model_class

    device = torch.device("cuda")
    config = qwen2_vl_7b_config()
    with torch.device(device):
        model = _reward_model_class()._from_config(config, dtype=torch.bfloat16)
    model.rm_head.to(torch.float32)  # as the scorer keeps it
    model.eval()
    parameters = sum(p.numel() for p in model.parameters())
    before, after, after_reward = estimated_text_tokens()
    after = args.text_tokens or after
    log.info("HPSv3 real-size architecture, random weights: %.2fB parameters, bf16, %s, attention %s",
             parameters / 1e9, torch.cuda.get_device_name(device), model.config._attn_implementation)
    log.info("%6s %8s %10s %10s %14s %10s", "batch", "tokens", "s / batch", "images/s", "peak GiB",
             f"x batch {args.batches[0]}")
    baseline = None
    for batch in args.batches:
        inputs = synthetic_inputs(config, batch, args.side, before, after, device)
        reward_at = inputs["input_ids"].shape[1] - 1 - after_reward

        def forward():
            hidden = model.model(**inputs, use_cache=False).last_hidden_state
            return model.rm_head(hidden[:, reward_at].float())

        torch.cuda.reset_peak_memory_stats(device)
        with torch.inference_mode():
            forward()  # kernel selection and allocator warm-up out of the timing
            torch.cuda.synchronize(device)
            started = time.perf_counter()
            for _ in range(args.repeats):
                forward()
            torch.cuda.synchronize(device)
        per_batch = (time.perf_counter() - started) / args.repeats
        throughput = batch / per_batch
        baseline = baseline or throughput  # the first batch size, measured in this run
        log.info("%6d %8d %10.3f %10.1f %14.1f %9.2fx", batch, inputs["input_ids"].shape[1], per_batch, throughput,
                 torch.cuda.max_memory_allocated(device) / 2**30, throughput / baseline)


if __name__ == "__main__":
    main()
