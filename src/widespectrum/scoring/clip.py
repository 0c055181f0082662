"""CLIP-family rewards: CLIP-L (plain cosine) and PickScore (scaled cosine).

docs/experiments.md#e3: CLIP-L is ``openai/clip-vit-large-patch14`` and scores the cosine of
the image and text embeddings; PickScore is ``yuvalkirstain/PickScore_v1`` with
the processor of ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K`` and scores
``logit_scale.exp() * cosine``.

Prompts longer than the text encoder's 77 positions are truncated to it, as
the CLIP tokenizer does for every CLIP-based reward; such prompts are flagged
(``RewardOutput.truncated``) because the words cut off cannot change the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..batching import per_item
from ..hub import load_from_hub, resolved_revision
from ..runtime import Runtime
from .base import RewardModel, RewardOutput, score_in_batches, tokens_past_limit


class CLIPReward(RewardModel):
    """Cosine of CLIP image and text embeddings, optionally times the learnt logit scale."""

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        model_id: str,
        revision: str = "main",
        processor_id: str | None = None,
        processor_revision: str = "main",
        logit_scale: bool = False,
        dtype: str | None = None,
        batch_size: int = 16,
    ) -> None:
        from transformers import CLIPModel, CLIPProcessor

        super().__init__(name=name, runtime=runtime, batch_size=batch_size)
        self.model_id = model_id
        self.revision = revision
        # Without a processor repo of its own, the model repo's processor at the model's revision is used.
        self.processor_id = processor_id or model_id
        self.processor_revision = processor_revision if processor_id else revision
        self.use_logit_scale = bool(logit_scale)
        self.device = runtime.torch_device()
        self.dtype = runtime.torch_dtype(dtype)

        self.model = load_from_hub(CLIPModel.from_pretrained, model_id, revision, runtime, dtype=self.dtype)
        self.model.to(self.device).eval()
        self.processor = load_from_hub(CLIPProcessor.from_pretrained, self.processor_id,
                                         self.processor_revision, runtime)
        self.max_text_tokens = int(self.model.config.text_config.max_position_embeddings)

    def score(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        return score_in_batches(self._score_batch, images, prompts, self.batch_size)

    def _score_batch(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        image_emb, text_emb = self._embed(images, prompts)
        cosine = (image_emb * text_emb).sum(dim=-1)
        if self.use_logit_scale:
            cosine = cosine * self.model.logit_scale.float().exp()
        return RewardOutput(scores=cosine.cpu().numpy().astype(np.float64), truncated=tokens_past_limit(self.processor.tokenizer, prompts, self.max_text_tokens))

    def _embed(self, images: Sequence, prompts: Sequence[str]):
        """L2-normalised float32 image and text embeddings, one row per pair (each distinct image and
        prompt encoded once)."""
        return per_item(self._encode_images, images, key=id), per_item(self._encode_prompts, prompts)

    def _encode_images(self, images: Sequence):
        import torch

        pixels = self.processor.image_processor(
            images=[image.convert("RGB") for image in images], return_tensors="pt"
        )["pixel_values"].to(self.device, self.dtype)
        # transformers 5 returns an output object; the projected embedding is its pooler_output.
        embedding = self.model.get_image_features(pixel_values=pixels).pooler_output.float()
        return torch.nn.functional.normalize(embedding, dim=-1)

    def _encode_prompts(self, prompts: Sequence[str]):
        import torch

        # Padding every prompt to the full length keeps a prompt's tensors the
        # same whatever else is in its batch (docs/experiments.md#e3: batch size must not matter).
        text = self.processor.tokenizer(
            list(prompts), padding="max_length", truncation=True, max_length=self.max_text_tokens,
            return_tensors="pt",
        ).to(self.device)
        embedding = self.model.get_text_features(**text).pooler_output.float()
        return torch.nn.functional.normalize(embedding, dim=-1)

    def provenance(self) -> dict[str, Any]:
        cache = self.runtime.cache_dir
        return {
            "model_id": self.model_id,
            "revision": self.revision,
            "resolved_revision": resolved_revision(cache, self.model_id, self.revision),
            "processor_id": self.processor_id,
            "processor_revision": self.processor_revision,
            "processor_resolved_revision": resolved_revision(cache, self.processor_id, self.processor_revision),
            "logit_scale": self.use_logit_scale,
            "dtype": str(self.dtype).removeprefix("torch."),
            "max_text_tokens": self.max_text_tokens,
        }
