"""HPSv2 / HPSv2.1 reward (docs/experiments.md#e3).

An open_clip ViT-H-14 whose weights come from ``xswu/HPSv2``
(``HPS_v2_compressed.pt`` or ``HPS_v2.1_compressed.pt``); the score is the
cosine of the L2-normalised image and text features, with no logit scale.
The open_clip tokenizer truncates prompts to the 77-token context; the rows
say when it did.

Preprocessing follows the HPSv2 reference (tgxs002/HPSv2,
``hpsv2/src/open_clip/transform.py`` with ``resize_longest_max=True``, used by
``img_score.py``): the longest side is resized (bicubic) to the model's input
size and the short side zero-padded, centred, to a square; not open_clip's
default resize-short-side and centre crop. The authors score under fp16
autocast on CUDA (``autocast`` option); CPU runs stay in float32.

The model is built with ``pretrained=None`` and the checkpoint is loaded
separately, because the HPSv2 file is not one of open_clip's pretrained tags.
A custom architecture can be given as ``model_config`` (open_clip's JSON
config format); the offline stand-in uses that to load through the same code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..batching import per_item
from ..hub import hub_file, resolved_revision
from ..runtime import Runtime
from .base import (RewardModel, RewardOutput, autocast_context, effective_autocast,
                   normalised_batch, pil_stages_and_normalisation, score_in_batches)

logger = logging.getLogger(__name__)

_PRECISION = {"torch.float32": "fp32", "torch.float16": "fp16", "torch.bfloat16": "bf16"}


def register_model_config(model_config: dict[str, Any]) -> str:
    """Register an open_clip architecture config under a name derived from its content; return the name.

    open_clip only builds architectures it finds as JSON files on its config
    paths; the file is read at registration and kept in open_clip's registry,
    so a temporary file suffices.
    """
    import open_clip

    text = json.dumps(model_config, sort_keys=True)
    name = f"widespectrum-{hashlib.sha1(text.encode()).hexdigest()[:12]}"
    if name not in open_clip.list_models():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.json"
            path.write_text(text, encoding="utf-8")
            open_clip.add_model_config(path)
        if name not in open_clip.list_models():
            raise ValueError(f"open_clip rejected the model config (needs embed_dim, vision_cfg, text_cfg): {text}")
    return name


def longest_side_pad_transform(model):
    """Resize the longest side to the model's input size, zero-pad the rest (centred), normalise.

    open_clip's ``resize_mode='longest'`` is this transform: the scale is
    size / longest side, the new sides are rounded, and the padding puts the
    odd pixel on the right / bottom, as the HPSv2 reference does. The pad is
    black in pixel space (fill 0 before normalisation).
    """
    import open_clip
    from open_clip.model import get_model_preprocess_cfg

    cfg = get_model_preprocess_cfg(model)
    return open_clip.image_transform(cfg["size"], is_train=False, mean=cfg.get("mean"), std=cfg.get("std"),
                                     resize_mode="longest", interpolation="bicubic", fill_color=0)


def clip_prompt_truncated(tokenizer, prompts: Sequence[str], tokens) -> np.ndarray:
    """Whether open_clip's tokenizer cut each prompt: its tokens plus start and end exceed the context.

    ``tokens`` is the tokenizer's output for ``prompts``: only a row that fills
    the whole context can have been cut, so only those prompts are encoded again.
    """
    limit = int(tokenizer.context_length)
    full = (tokens[:, -1] != 0).cpu().numpy()
    return np.array([bool(filled) and len(tokenizer.encode(prompt)) + 2 > limit
                     for prompt, filled in zip(prompts, full)], dtype=bool)


class OpenCLIPCosineReward(RewardModel):
    """Cosine of an open_clip model's L2-normalised image and text features (HPSv2, HPS v1).

    Subclasses load ``model``, ``tokenizer``, ``pil_stages``, ``pixel_mean``, ``pixel_std``,
    ``device``, ``dtype`` and ``autocast``. A batch encodes each distinct image and prompt once.
    """

    def score(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        return score_in_batches(self._score_batch, images, prompts, self.batch_size)

    def _encode_images(self, images: Sequence):
        import torch

        pixels = normalised_batch([self.pil_stages(image.convert("RGB")) for image in images],
                                  self.pixel_mean, self.pixel_std)
        features = self.model.encode_image(pixels.to(self.device, self.dtype)).float()
        return torch.nn.functional.normalize(features, dim=-1)

    def _encode_prompts(self, prompts: Sequence[str]):
        """Normalised text features and the tokens they came from (for the truncation flags)."""
        import torch

        tokens = self.tokenizer(list(prompts))
        features = self.model.encode_text(tokens.to(self.device)).float()
        return torch.nn.functional.normalize(features, dim=-1), tokens

    def _score_batch(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        with autocast_context(self.device, self.autocast):
            image_features = per_item(self._encode_images, images, key=id)
            text_features, tokens = per_item(self._encode_prompts, prompts)
        scores = (image_features * text_features).sum(dim=-1).cpu().numpy().astype(np.float64)
        return RewardOutput(scores=scores, truncated=clip_prompt_truncated(self.tokenizer, prompts, tokens))


class HPSv2Reward(OpenCLIPCosineReward):
    """Cosine similarity of HPSv2's normalised image and text features.

    ``architecture`` names a stock open_clip config; a ``model_config`` given
    instead is registered under a private name and replaces it.
    """

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        checkpoint_repo: str = "xswu/HPSv2",
        checkpoint_file: str = "HPS_v2_compressed.pt",
        revision: str = "main",
        architecture: str = "ViT-H-14",
        model_config: dict[str, Any] | None = None,
        dtype: str | None = None,
        autocast: str | None = None,
        batch_size: int = 16,
    ) -> None:
        import open_clip

        super().__init__(name=name, runtime=runtime, batch_size=batch_size)
        self.checkpoint_repo = checkpoint_repo
        self.checkpoint_file = checkpoint_file
        self.revision = revision
        self.model_config = model_config
        self.architecture = register_model_config(model_config) if model_config else architecture
        self.device = runtime.torch_device()
        self.dtype = runtime.torch_dtype(dtype)
        self.autocast = effective_autocast(self.device, autocast)

        checkpoint = hub_file(runtime, checkpoint_repo, revision, checkpoint_file)
        self.model = open_clip.create_model(
            self.architecture, pretrained=None, device=self.device, precision=_PRECISION[str(self.dtype)],
        )
        self._load_weights(checkpoint)
        self.model.eval()
        self.preprocess = longest_side_pad_transform(self.model)
        self.pil_stages, self.pixel_mean, self.pixel_std = pil_stages_and_normalisation(self.preprocess)
        self.tokenizer = open_clip.get_tokenizer(self.architecture)
        self.max_text_tokens = int(self.tokenizer.context_length)

    def _load_weights(self, checkpoint: str) -> None:
        """Strictly load the checkpoint: its state dict may sit under 'state_dict' or be the whole file."""
        import open_clip

        try:
            open_clip.load_checkpoint(self.model, checkpoint, strict=True, weights_only=True)
        except (RuntimeError, KeyError, ValueError) as err:
            raise RuntimeError(
                f"{self.name}: {self.checkpoint_file!r} of {self.checkpoint_repo!r} does not fit the open_clip "
                f"architecture {self.architecture!r}: {err}"
            ) from err
        # open_clip has just warned that the model is randomly initialised; it no longer is.
        logger.info("%s: loaded %s of %s into %s", self.name, self.checkpoint_file, self.checkpoint_repo,
                    self.architecture)

    def provenance(self) -> dict[str, Any]:
        return {
            "checkpoint_repo": self.checkpoint_repo,
            "checkpoint_file": self.checkpoint_file,
            "revision": self.revision,
            "resolved_revision": resolved_revision(self.runtime.cache_dir, self.checkpoint_repo, self.revision),
            "architecture": self.architecture,
            "model_config": self.model_config,
            "dtype": str(self.dtype).removeprefix("torch."),
            "autocast": self.autocast,
            "preprocess": "resize longest side, zero-pad to square (HPSv2 reference)",
            "max_text_tokens": self.max_text_tokens,
        }
