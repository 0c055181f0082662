"""BLIP image-text matching reward (docs/experiments.md#e3, BLIP-L).

``Salesforce/blip-itm-large-coco`` through ``BlipForImageTextRetrieval`` with
its ITM head. The tables report the match probability, softmax(itm logits)[1];
the critical-comparison tables report the raw match logit, itm logits[1].
Prompts are truncated to the text encoder's position limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..hub import load_from_hub
from ..hub import resolved_revision
from ..runtime import Runtime
from .base import RewardModel, RewardOutput, score_in_batches, tokens_past_limit

OUTPUTS = ("probability", "logit")
MATCH = 1  # index of the "image and text match" class of the ITM head


class BLIPITMReward(RewardModel):
    """Probability (or raw logit) that the ITM head calls image and prompt a match."""

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        model_id: str = "Salesforce/blip-itm-large-coco",
        revision: str = "main",
        output: str = "probability",
        dtype: str | None = None,
        batch_size: int = 16,
    ) -> None:
        from transformers import BlipForImageTextRetrieval, BlipProcessor

        if output not in OUTPUTS:
            raise ValueError(f"{name}: output must be one of {list(OUTPUTS)}, not {output!r}")
        super().__init__(name=name, runtime=runtime, batch_size=batch_size)
        self.model_id = model_id
        self.revision = revision
        self.output = output
        self.device = runtime.torch_device()
        self.dtype = runtime.torch_dtype(dtype)

        self.model = load_from_hub(BlipForImageTextRetrieval.from_pretrained, model_id, revision, runtime,
                                     dtype=self.dtype)
        self.model.to(self.device).eval()
        self.processor = load_from_hub(BlipProcessor.from_pretrained, model_id, revision, runtime)
        self.max_text_tokens = int(self.model.config.text_config.max_position_embeddings)

    def score(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        return score_in_batches(self._score_batch, images, prompts, self.batch_size)

    def _itm_logits(self, images: Sequence, prompts: Sequence[str]):
        """The ITM head's (no match, match) logits as float32, one row per pair."""
        inputs = self.processor(
            images=[image.convert("RGB") for image in images], text=list(prompts),
            padding=True, truncation=True, max_length=self.max_text_tokens, return_tensors="pt",
        ).to(self.device)
        outputs = self.model(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
            pixel_values=inputs["pixel_values"].to(self.dtype), use_itm_head=True,
        )
        return outputs.itm_score.float()

    def _score_batch(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        import torch

        logits = self._itm_logits(images, prompts)
        if self.output == "probability":
            values = torch.softmax(logits, dim=-1)[:, MATCH]
        else:
            values = logits[:, MATCH]
        return RewardOutput(scores=values.cpu().numpy().astype(np.float64),
                            truncated=tokens_past_limit(self.processor.tokenizer, prompts, self.max_text_tokens))

    def provenance(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "revision": self.revision,
            "resolved_revision": resolved_revision(self.runtime.cache_dir, self.model_id, self.revision),
            "output": self.output,
            "dtype": str(self.dtype).removeprefix("torch."),
            "max_text_tokens": self.max_text_tokens,
        }
