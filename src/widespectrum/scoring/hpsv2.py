"""HPSv2 / HPSv2.1 reward (SPEC E3).

An open_clip ViT-H-14 whose weights come from ``xswu/HPSv2``
(``HPS_v2_compressed.pt`` or ``HPS_v2.1_compressed.pt``); the score is the
cosine of the L2-normalised image and text features, with no logit scale.
The open_clip tokenizer truncates prompts to the 77-token context.

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
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..hub import load_from_hub
from ..hub import resolved_revision
from ..runtime import Runtime
from .base import RewardModel, RewardOutput, score_in_batches

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


class HPSv2Reward(RewardModel):
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

        checkpoint = self._download_checkpoint()
        self.model, _, self.preprocess = open_clip.create_model_and_transforms(
            self.architecture, pretrained=None, device=self.device, precision=_PRECISION[str(self.dtype)],
        )
        self._load_weights(checkpoint)
        self.model.eval()
        self.tokenizer = open_clip.get_tokenizer(self.architecture)

    def _download_checkpoint(self) -> str:
        from huggingface_hub import hf_hub_download

        return load_from_hub(partial(hf_hub_download, filename=self.checkpoint_file), self.checkpoint_repo,
                             self.revision, self.runtime, item=self.checkpoint_file)

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

    def score(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        return score_in_batches(self._score_batch, images, prompts, self.batch_size)

    def _embed(self, images: Sequence, prompts: Sequence[str]):
        """L2-normalised float32 image and text features, one row per pair."""
        import torch

        pixels = torch.stack([self.preprocess(image.convert("RGB")) for image in images])
        tokens = self.tokenizer(list(prompts)).to(self.device)
        image_features = self.model.encode_image(pixels.to(self.device, self.dtype)).float()
        text_features = self.model.encode_text(tokens).float()
        return (torch.nn.functional.normalize(image_features, dim=-1),
                torch.nn.functional.normalize(text_features, dim=-1))

    def _score_batch(self, images: Sequence, prompts: Sequence[str]) -> np.ndarray:
        image_features, text_features = self._embed(images, prompts)
        return (image_features * text_features).sum(dim=-1).cpu().numpy().astype(np.float64)

    def provenance(self) -> dict[str, Any]:
        return {
            "checkpoint_repo": self.checkpoint_repo,
            "checkpoint_file": self.checkpoint_file,
            "revision": self.revision,
            "resolved_revision": resolved_revision(self.runtime.cache_dir, self.checkpoint_repo, self.revision),
            "architecture": self.architecture,
            "model_config": self.model_config,
            "dtype": str(self.dtype).removeprefix("torch."),
        }
