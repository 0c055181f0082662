"""ImageReward (docs/experiments.md#e3): BLIP ViT-L + BERT with cross-attention + a 5-layer MLP.

Follows the authors' code (THUDM/ImageReward ``ImageReward/ImageReward.py``,
``ImageReward/models/BLIP/blip_pretrain.py``, ``vit.py``, ``med.py``):

* ``ImageReward.pt`` of ``THUDM/ImageReward`` is a plain state dict (read with
  ``torch.load(weights_only=True)``, nothing unpickled): ``blip.visual_encoder.*``
  (a timm-style ViT), ``blip.text_encoder.*`` (BLIP's BERT with a
  cross-attention block in every layer, no pooler), ``blip.vision_proj`` /
  ``blip.text_proj`` (unused by the score) and ``mlp.layers.*``. The ViT is
  mapped onto transformers' ``BlipVisionModel``, the BERT onto
  ``BlipTextModel``, whose module names BLIP's ``med.py`` shares;
* the text config is ``med_config.json`` of the same repo, its
  ``encoder_width`` the ViT's width; the ViT's sizes are read from the weights,
  its head count is an option (16 for ViT-L); ViT LayerNorm eps 1e-6;
* the prompt is tokenised by ``bert-base-uncased`` (plus BLIP's ``[DEC]`` and
  ``[ENC]`` tokens) padded and truncated to 35 tokens, its ``[CLS]`` kept
  (the score path does not swap in ``[ENC]``);
* the image: bicubic resize of the short side to 224, centre crop, CLIP mean/std;
* the text encoder attends to all image tokens; the ``[CLS]`` state goes
  through the MLP (5 linear layers, dropouts between, no activations), and
  score = (r - 0.16717362830052426) / 1.0333394966054072;
* THUDM's ``utils.load`` builds the model in float32, and the paper's
  ``eval/reward_models/run_image_reward.py`` scores under
  ``torch.cuda.amp.autocast()``: float32 weights, fp16 autocast on a GPU
  (``autocast`` option; ``dtype`` casts the BLIP weights instead).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..batching import per_item
from ..hub import hub_file, load_from_hub, resolved_revision
from ..runtime import Runtime
from .base import (RewardModel, RewardOutput, autocast_context, effective_autocast, load_weights,
                   normalised_batch, score_in_batches, tokens_past_limit)

logger = logging.getLogger(__name__)

MEAN, STD = 0.16717362830052426, 1.0333394966054072  # ImageReward.py: self.mean, self.std
MAX_TEXT_TOKENS = 35
MLP_LINEARS = (0, 2, 4, 6, 7)  # nn.Sequential indices of the Linear layers in ImageReward's MLP
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
UNUSED_PREFIXES = ("blip.vision_proj.", "blip.text_proj.")

_VIT_RENAMES = (
    (r"^cls_token$", "embeddings.class_embedding"),
    (r"^pos_embed$", "embeddings.position_embedding"),
    (r"^patch_embed\.proj\.", "embeddings.patch_embedding."),
    (r"^blocks\.(\d+)\.norm1\.", r"encoder.layers.\1.layer_norm1."),
    (r"^blocks\.(\d+)\.norm2\.", r"encoder.layers.\1.layer_norm2."),
    (r"^blocks\.(\d+)\.attn\.qkv\.", r"encoder.layers.\1.self_attn.qkv."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"encoder.layers.\1.self_attn.projection."),
    (r"^blocks\.(\d+)\.mlp\.", r"encoder.layers.\1.mlp."),
    (r"^norm\.", "post_layernorm."),
)


def rename_vit_key(key: str) -> str:
    """BLIP's timm-style ViT name -> transformers' BlipVisionModel name."""
    for pattern, target in _VIT_RENAMES:
        if re.match(pattern, key):
            return re.sub(pattern, target, key)
    raise KeyError(f"unknown ViT weight {key!r}")


def split_checkpoint(state_dict: Mapping[str, Any]) -> tuple[dict, dict, dict]:
    """(vision, text, mlp) weights under transformers / nn.Sequential names; unknown keys raise."""
    vision, text, mlp, unknown = {}, {}, {}, []
    for key, value in state_dict.items():
        if key.startswith("blip.visual_encoder."):
            vision[rename_vit_key(key.removeprefix("blip.visual_encoder."))] = value
        elif key.startswith("blip.text_encoder."):
            name = key.removeprefix("blip.text_encoder.")
            if not name.endswith("position_ids"):  # a buffer, rebuilt by the module
                text[name] = value
        elif key.startswith("mlp.layers."):
            mlp[key.removeprefix("mlp.layers.")] = value
        elif not key.startswith(UNUSED_PREFIXES):
            unknown.append(key)
    if unknown:
        raise KeyError(f"weights outside BLIP + MLP: {unknown[:5]}")
    return vision, text, mlp


def _mlp(width: int):
    from torch import nn

    return nn.Sequential(nn.Linear(width, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                         nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1))


class ImageRewardReward(RewardModel):
    """(MLP(BERT-with-cross-attention [CLS]) - mean) / std, as ImageReward.score."""

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        checkpoint_repo: str = "THUDM/ImageReward",
        checkpoint_file: str = "ImageReward.pt",
        config_file: str = "med_config.json",
        revision: str = "main",
        tokenizer_id: str = "google-bert/bert-base-uncased",
        tokenizer_revision: str = "main",
        vision_heads: int = 16,
        image_size: int = 224,
        dtype: str | None = None,
        autocast: str | None = None,
        batch_size: int = 16,
    ) -> None:
        import torch
        from transformers import BertTokenizer, BlipTextConfig, BlipTextModel, BlipVisionConfig, BlipVisionModel

        super().__init__(name=name, runtime=runtime, batch_size=batch_size)
        self.checkpoint_repo, self.checkpoint_file, self.revision = checkpoint_repo, checkpoint_file, revision
        self.tokenizer_id, self.tokenizer_revision = tokenizer_id, tokenizer_revision
        self.image_size = int(image_size)
        self.device = runtime.torch_device()
        self.dtype = runtime.torch_dtype(dtype)
        self.autocast = effective_autocast(self.device, autocast)

        checkpoint = hub_file(runtime, checkpoint_repo, revision, checkpoint_file)
        med_config = json.loads(Path(hub_file(runtime, checkpoint_repo, revision, config_file))
                                .read_text(encoding="utf-8"))
        state_dict = torch.load(checkpoint, map_location="cpu", weights_only=True)
        try:
            vision_sd, text_sd, mlp_sd = split_checkpoint(state_dict)
        except KeyError as err:
            raise RuntimeError(f"{name}: {checkpoint_file!r} is not an ImageReward checkpoint: {err}") from err

        width = int(vision_sd["embeddings.class_embedding"].shape[-1])
        patch = int(vision_sd["embeddings.patch_embedding.weight"].shape[-1])
        layers = 1 + max(int(k.split(".")[2]) for k in vision_sd if k.startswith("encoder.layers."))
        vision_config = BlipVisionConfig(
            hidden_size=width, intermediate_size=int(vision_sd["encoder.layers.0.mlp.fc1.weight"].shape[0]),
            num_hidden_layers=layers, num_attention_heads=int(vision_heads), image_size=self.image_size,
            patch_size=patch, layer_norm_eps=1e-6, hidden_act="gelu",
        )
        text_config = BlipTextConfig(
            vocab_size=med_config["vocab_size"], hidden_size=med_config["hidden_size"],
            intermediate_size=med_config["intermediate_size"], num_hidden_layers=med_config["num_hidden_layers"],
            num_attention_heads=med_config["num_attention_heads"],
            max_position_embeddings=med_config["max_position_embeddings"],
            layer_norm_eps=med_config.get("layer_norm_eps", 1e-12), hidden_act=med_config.get("hidden_act", "gelu"),
            encoder_hidden_size=width, pad_token_id=med_config.get("pad_token_id", 0),
        )
        self.vision = BlipVisionModel(vision_config)
        self.text = BlipTextModel(text_config, add_pooling_layer=False)
        self.mlp = _mlp(text_config.hidden_size)
        misfit = f"{name}: {checkpoint_file!r} does not fit BLIP ViT + BERT + MLP"
        load_weights(self.vision, vision_sd, f"{misfit} (vision encoder)")
        load_weights(self.text, text_sd, f"{misfit} (text encoder)")
        load_weights(self.mlp, mlp_sd, f"{misfit} (MLP)")
        self.vision.to(self.device, self.dtype).eval()
        self.text.to(self.device, self.dtype).eval()
        self.mlp.to(self.device, torch.float32).eval()

        self.tokenizer = load_from_hub(BertTokenizer.from_pretrained, tokenizer_id, tokenizer_revision, runtime)
        # BLIP's init_tokenizer adds these two; they shift no id of the prompt's tokens.
        self.tokenizer.add_special_tokens({"bos_token": "[DEC]"})
        self.tokenizer.add_tokens(["[ENC]"], special_tokens=True)
        self.vision_heads = int(vision_heads)
        logger.info("%s: loaded %s of %s (ViT %d x %d, %s)", name, checkpoint_file, checkpoint_repo, layers, width,
                    self.dtype)

    def crop(self, image):
        """Short side to ``image_size`` (bicubic), centre crop, RGB: ImageReward's _transform before its
        ToTensor and CLIP normalisation, which ``normalised_batch`` applies to the whole batch."""
        from torchvision.transforms import functional as F
        from torchvision.transforms import InterpolationMode

        image = F.resize(image, self.image_size, interpolation=InterpolationMode.BICUBIC)
        return F.center_crop(image, self.image_size).convert("RGB")

    def score(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        return score_in_batches(self._score_batch, images, prompts, self.batch_size)

    def _vision_states(self, images: Sequence):
        pixels = normalised_batch([self.crop(image) for image in images], CLIP_MEAN, CLIP_STD)
        return self.vision(pixel_values=pixels.to(self.device, self.dtype)).last_hidden_state

    def _score_batch(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        import torch

        text = self.tokenizer(list(prompts), padding="max_length", truncation=True, max_length=MAX_TEXT_TOKENS,
                              return_tensors="pt").to(self.device)
        with autocast_context(self.device, self.autocast):
            # The ViT sees each distinct image once; the text encoder cross-attends per pair.
            image_embeds = per_item(self._vision_states, images, key=id)
            image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=self.device)
            hidden = self.text(input_ids=text["input_ids"], attention_mask=text["attention_mask"],
                               encoder_hidden_states=image_embeds, encoder_attention_mask=image_mask).last_hidden_state
            rewards = self.mlp(hidden[:, 0, :].float()).squeeze(-1).float()
        scores = ((rewards - MEAN) / STD).cpu().numpy().astype(np.float64)
        return RewardOutput(scores=scores, truncated=tokens_past_limit(self.tokenizer, prompts, MAX_TEXT_TOKENS))

    def provenance(self) -> dict[str, Any]:
        cache = self.runtime.cache_dir
        return {
            "checkpoint_repo": self.checkpoint_repo,
            "checkpoint_file": self.checkpoint_file,
            "revision": self.revision,
            "resolved_revision": resolved_revision(cache, self.checkpoint_repo, self.revision),
            "tokenizer_id": self.tokenizer_id,
            "tokenizer_resolved_revision": resolved_revision(cache, self.tokenizer_id, self.tokenizer_revision),
            "vision_heads": self.vision_heads,
            "image_size": self.image_size,
            "max_text_tokens": MAX_TEXT_TOKENS,
            "normalisation": {"mean": MEAN, "std": STD},
            "dtype": str(self.dtype).removeprefix("torch."),
            "mlp_dtype": "float32",
            "autocast": self.autocast,
        }
