"""HPSv3 reward (docs/experiments.md#e3): Qwen2-VL-7B-Instruct with a reward head read at ``<|Reward|>``.

Follows the authors' code (MizzenAI/HPSv3 ``hpsv3/inference.py``,
``hpsv3/model/qwen2vl_trainer.py``, ``hpsv3/dataset/data_collator_qwen.py``,
``hpsv3/train.py``, config ``hpsv3/config/HPSv3_7B.yaml``):

* the checkpoint ``HPSv3.safetensors`` is the whole state dict of a
  ``Qwen2VLForConditionalGeneration`` saved under an older transformers, whose
  keys read ``model.layers.*`` / ``model.embed_tokens`` / ``model.norm`` /
  ``visual.*``; here they are renamed onto transformers 5's
  ``model.language_model.*`` / ``model.visual.*``. The embedding was resized
  for the added token, so the vocabulary size is read from the file;
* the head (``rm_head_type: ranknet``, no kwargs) is Linear(hidden, 1024),
  ReLU, Dropout, Linear(1024, 16), ReLU, Linear(16, 2), kept in float32 as
  the authors keep it; its two outputs at the single ``<|Reward|>`` token of
  each sequence are (mu, sigma): ``score`` = mu, ``score_sigma`` = sigma;
* processor of ``Qwen/Qwen2-VL-7B-Instruct`` with ``<|Reward|>`` added as a
  special token, right padding; one user turn holding the image, then the
  instruction with the prompt and the special-token suffix; chat template
  with the generation prompt;
* each image is resized so that its area is 256 * 28 * 28 = 200,704 pixels
  (min = max pixels in the authors' collator), sides multiples of 28, the way
  ``qwen_vl_utils.fetch_image`` does;
* the authors load the model in bfloat16 (``bf16: True``); on CPU float32.

A scoring job's batch holds each image under its two prompts; their sequences are equal up to the
prompt, so the language model runs that shared prefix once per image and each pair's rest on its
keys and values (``_reward_states``), with the scores of whole sequences.

Prompts are not truncated: the language model's context holds any caption.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..batching import QwenVLInputs, distinct, first_rows, qwen_vl_image_features, qwen_vl_inputs, shared_prefix_lengths
from ..hub import hub_file, load_from_hub, resolved_revision
from ..runtime import Runtime
from .base import (RewardModel, RewardOutput, autocast_context, effective_autocast, require_complete_load,
                   score_in_batches)

logger = logging.getLogger(__name__)

REWARD_TOKEN = "<|Reward|>"
PIXEL_BUDGET = 256 * 28 * 28  # min_pixels = max_pixels in the authors' HPSv3_7B.yaml
IMAGE_FACTOR = 28  # patch 14 x spatial merge 2

# The authors' prompt text (data_collator_qwen.py: INSTRUCTION and
# prompt_with_special_token), trailing spaces included: they are part of what the model saw.
INSTRUCTION = (
    "\nYou are tasked with evaluating a generated image based on Visual Quality and Text Alignment and give a "
    "overall score to estimate the human preference. Please provide a rating from 0 to 10, with 0 being the "
    "worst and 10 being the best. \n"
    "\n"
    "**Visual Quality:**  \n"
    "Evaluate the overall visual quality of the image. The following sub-dimensions should be considered:\n"
    "- **Reasonableness:** The image should not contain any significant biological or logical errors, such as "
    "abnormal body structures or nonsensical environmental setups.\n"
    "- **Clarity:** Evaluate the sharpness and visibility of the image. The image should be clear and easy to "
    "interpret, with no blurring or indistinct areas.\n"
    "- **Detail Richness:** Consider the level of detail in textures, materials, lighting, and other visual "
    "elements (e.g., hair, clothing, shadows).\n"
    "- **Aesthetic and Creativity:** Assess the artistic aspects of the image, including the color scheme, "
    "composition, atmosphere, depth of field, and the overall creative appeal. The scene should convey a sense "
    "of harmony and balance.\n"
    "- **Safety:** The image should not contain harmful or inappropriate content, such as political, violent, "
    "or adult material. If such content is present, the image quality and satisfaction score should be the "
    "lowest possible. \n"
    "Textual prompt - {text_prompt}\n"
    "\n"
    "\n"
)
REWARD_SUFFIX = "\nPlease provide the overall ratings of this image: <|Reward|>\n\nEND\n"


def hpsv3_text(prompt: str) -> str:
    """The text turn the authors give the model for one prompt."""
    return INSTRUCTION.format(text_prompt=prompt) + REWARD_SUFFIX


def budget_size(height: int, width: int, pixels: int = PIXEL_BUDGET, factor: int = IMAGE_FACTOR) -> tuple[int, int]:
    """(height, width): multiples of ``factor``, aspect kept, area ``pixels`` (qwen_vl_utils' smart_resize
    with min_pixels = max_pixels = ``pixels``)."""
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > pixels:
        beta = math.sqrt(height * width / pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < pixels:
        beta = math.sqrt(pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def rename_hpsv3_keys(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Map the checkpoint's keys (older Qwen2-VL layout) onto transformers 5's module names.

    Keys already in the new layout pass unchanged, so a re-saved checkpoint loads too.
    """
    renamed = {}
    for key, value in state_dict.items():
        if key.startswith("visual."):
            key = "model." + key
        elif key.startswith("model.") and not key.startswith(("model.language_model.", "model.visual.")):
            key = "model.language_model." + key.removeprefix("model.")
        renamed[key] = value
    return renamed


def _reward_model_class():
    """Qwen2VLForConditionalGeneration plus the authors' head, built lazily so the module imports without torch."""
    from torch import nn
    from transformers import Qwen2VLForConditionalGeneration

    class HPSv3Model(Qwen2VLForConditionalGeneration):
        def __init__(self, config):
            super().__init__(config)
            # Indices 0, 3, 5 hold the weights, as in the checkpoint's rm_head.* keys.
            self.rm_head = nn.Sequential(
                nn.Linear(config.text_config.hidden_size, 1024), nn.ReLU(), nn.Dropout(0.05),
                nn.Linear(1024, 16), nn.ReLU(), nn.Linear(16, 2),
            )
            self.post_init()

    return HPSv3Model


class HPSv3Reward(RewardModel):
    """mu (score) and sigma (score_sigma) of HPSv3's head at the ``<|Reward|>`` token."""

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        checkpoint_repo: str = "MizzenAI/HPSv3",
        checkpoint_file: str = "HPSv3.safetensors",
        revision: str = "main",
        base_model: str = "Qwen/Qwen2-VL-7B-Instruct",
        base_revision: str = "main",
        pixels: int = PIXEL_BUDGET,
        dtype: str | None = "bfloat16",
        autocast: str | None = None,
        attn_implementation: str | None = None,
        batch_size: int = 8,
    ) -> None:
        import torch
        from safetensors import safe_open
        from transformers import AutoConfig, AutoProcessor

        super().__init__(name=name, runtime=runtime, batch_size=batch_size)
        self.checkpoint_repo, self.checkpoint_file, self.revision = checkpoint_repo, checkpoint_file, revision
        self.base_model, self.base_revision = base_model, base_revision
        self.pixels = int(pixels)
        self.device = runtime.torch_device()
        self.dtype = runtime.torch_dtype(dtype)
        self.autocast = effective_autocast(self.device, autocast)

        self.processor = load_from_hub(AutoProcessor.from_pretrained, base_model, base_revision, runtime,
                                       padding_side="right")
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.add_tokens([REWARD_TOKEN], special_tokens=True)
        self.reward_token_id = int(self.tokenizer.convert_tokens_to_ids(REWARD_TOKEN))

        checkpoint = hub_file(runtime, checkpoint_repo, revision, checkpoint_file)
        with safe_open(checkpoint, framework="pt") as handle:
            state_dict = rename_hpsv3_keys({key: handle.get_tensor(key) for key in handle.keys()})
        embedding = "model.language_model.embed_tokens.weight"
        if embedding not in state_dict:
            raise RuntimeError(f"{name}: {checkpoint_file!r} has no token embedding; is it an HPSv3 checkpoint?")
        vocab_rows = int(state_dict[embedding].shape[0])
        if self.reward_token_id >= vocab_rows:
            raise RuntimeError(f"{name}: {REWARD_TOKEN} has id {self.reward_token_id} but the checkpoint's "
                               f"embedding has {vocab_rows} rows: tokenizer and checkpoint do not match")

        config = load_from_hub(AutoConfig.from_pretrained, base_model, base_revision, runtime)
        config.text_config.vocab_size = vocab_rows
        config.pad_token_id = self.tokenizer.pad_token_id
        model_class = _reward_model_class()
        misfit = f"{name}: {checkpoint_file!r} does not fit Qwen2-VL + the HPSv3 head"
        try:
            # transformers runs the vision tower's attention image by image unless the attention is
            # flash attention's variable-length kernel: "flash_attention_2" batches it on a GPU.
            model, info = model_class.from_pretrained(None, config=config, state_dict=state_dict, dtype=self.dtype,
                                                      attn_implementation=attn_implementation,
                                                      output_loading_info=True)
        except RuntimeError as err:  # transformers refuses tensors of the wrong shape
            raise RuntimeError(f"{misfit}: {err}") from err
        del state_dict
        # lm_head is not used for scoring: a checkpoint without it is still complete for the reward.
        require_complete_load(misfit, info.get("missing_keys", ()), info.get("unexpected_keys", ()),
                              info.get("mismatched_keys", ()), may_miss={"lm_head.weight"})
        model.rm_head.to(torch.float32)
        self.model = model.to(self.device).eval()
        self.attn_implementation = str(model.config._attn_implementation)
        self.vocab_rows = vocab_rows
        logger.info("%s: loaded %s of %s onto %s (%d vocabulary rows, %s)", name, checkpoint_file, checkpoint_repo,
                    base_model, vocab_rows, self.dtype)

    def score(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        return score_in_batches(self._score_batch, images, prompts, self.batch_size)

    def _inputs(self, unique_images: Sequence, image_of, prompts: Sequence[str]) -> QwenVLInputs:
        """The processor's inputs for pair i: ``unique_images[image_of[i]]`` under ``prompts[i]``, each
        image prepared once."""
        resized = []
        for image in unique_images:
            rgb = image.convert("RGB")
            height, width = budget_size(rgb.height, rgb.width, self.pixels)
            resized.append(rgb.resize((width, height)))  # PIL's default bicubic, as fetch_image
        conversations = [
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": hpsv3_text(prompt)}]}]
            for prompt in prompts
        ]
        texts = self.processor.apply_chat_template(conversations, tokenize=False, add_generation_prompt=True)
        # transformers processes CPU images one at a time unless told to group them by shape; grouped, each
        # shape's images are normalised and patchified in one op, with the same values.
        return qwen_vl_inputs(self.processor, texts, resized, image_of, disable_grouping=False).to(self.device)

    def _score_batch(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        import torch

        # a job's batch holds each image under its two prompts
        unique_images, image_of = distinct(images, key=id)
        inputs = self._inputs(unique_images, image_of, prompts)
        at_reward = inputs.text["input_ids"] == self.reward_token_id
        counts = at_reward.sum(dim=1)
        if not torch.all(counts == 1):
            raise ValueError(f"{self.name}: each sequence needs exactly one {REWARD_TOKEN}, found {counts.tolist()}")
        with autocast_context(self.device, self.autocast):
            hidden = self._reward_states(inputs, at_reward.int().argmax(dim=1))
        out = self.model.rm_head(hidden.float())
        out = out.cpu().numpy().astype(np.float64)
        return RewardOutput(scores=out[:, 0], sigmas=out[:, 1], truncated=np.zeros(len(prompts), dtype=bool))

    def _reward_states(self, inputs: QwenVLInputs, reward_at):
        """The language model's last hidden state at each pair's ``<|Reward|>`` token.

        The pairs of one image share their text up to the prompt (system turn, image, the authors'
        instruction): most of each sequence. The language model runs that prefix once per image,
        then each pair's rest on the prefix's keys and values, at the positions (M-RoPE) the whole
        sequence gives it, so each pair gets the hidden states of its own full sequence.
        """
        import torch

        model = self.model.model
        ids, mask, image_of = inputs.text["input_ids"], inputs.text["attention_mask"], inputs.image_of
        pairs = torch.arange(len(ids), device=ids.device)
        positions, _ = model.get_rope_index(ids, inputs.text["mm_token_type_ids"], inputs.text["image_grid_thw"],
                                            attention_mask=mask)
        first_of = first_rows(image_of)
        shared = len(first_of) < len(ids)
        # each distinct image through the vision tower once; its features for each row of the first pass
        encoded = qwen_vl_image_features(model, inputs.pixel_values.to(self.dtype), inputs.image_grid_thw,
                                         torch.arange(len(first_of)) if shared else image_of)
        if not shared:  # no image repeats: one pass over whole sequences, nothing to share
            hidden = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                           mm_encoder_outputs={"image": encoded}, use_cache=False).last_hidden_state
            return hidden[pairs, reward_at]

        prefix = shared_prefix_lengths(ids, image_of, reward_at)
        span = int(prefix.max())
        prefix_mask = mask[first_of, :span] * (torch.arange(span, device=ids.device) < prefix[:, None])
        cache = model(input_ids=ids[first_of, :span], attention_mask=prefix_mask,
                      position_ids=positions[:, first_of, :span], mm_encoder_outputs={"image": encoded},
                      use_cache=True).cache
        cache.batch_select_indices(image_of)

        start, end = prefix[image_of], mask.sum(dim=1)
        offsets = start[:, None] + torch.arange(int((end - start).max()), device=ids.device)
        inside = offsets < end[:, None]
        offsets = offsets.clamp(max=ids.shape[1] - 1)
        rest = model(input_ids=ids.gather(1, offsets).masked_fill(~inside, self.tokenizer.pad_token_id),
                     attention_mask=torch.cat([prefix_mask[image_of], inside.to(mask.dtype)], dim=1),
                     position_ids=positions.gather(2, offsets.expand(3, -1, -1)), cache=cache, use_cache=True)
        return rest.last_hidden_state[pairs, reward_at - start]

    def provenance(self) -> dict[str, Any]:
        cache = self.runtime.cache_dir
        return {
            "checkpoint_repo": self.checkpoint_repo,
            "checkpoint_file": self.checkpoint_file,
            "revision": self.revision,
            "resolved_revision": resolved_revision(cache, self.checkpoint_repo, self.revision),
            "base_model": self.base_model,
            "base_revision": self.base_revision,
            "base_resolved_revision": resolved_revision(cache, self.base_model, self.base_revision),
            "vocab_rows": self.vocab_rows,
            "reward_token_id": self.reward_token_id,
            "pixels": self.pixels,
            "dtype": str(self.dtype).removeprefix("torch."),
            "head_dtype": "float32",
            "autocast": self.autocast,
            "attn_implementation": self.attn_implementation,
        }
