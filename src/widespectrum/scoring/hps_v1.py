"""HPS v1, the human preference classifier of "Better Aligning Text-to-Image Models with Human
Preference" (tgxs002/align_sd, README and ``scripts/evaluate_hps.py``).

OpenAI CLIP ViT-L/14 (open_clip ``ViT-L-14-quickgelu``, the same layout and
QuickGELU) with the fine-tuned weights of ``hpc.pth``, a torch file holding
``{'state_dict': ...}`` in OpenAI CLIP's key names, read with
``weights_only=True``. The file is hosted outside the hub (OneDrive): the
registry gives a local path and/or a URL and the sha256 the file must have.

Score: cosine of the L2-normalised image and text features (``image_features @
text_features.T`` in the README), no logit scale. Preprocessing is CLIP's:
bicubic resize of the short side to 224, centre crop, CLIP mean/std.
``clip.tokenize`` refuses prompts past 77 tokens; here they are truncated to 77
(end token kept) and the row records it. ``clip.load`` runs the model in fp16 on
a GPU (``dtype`` option); CPU runs use float32.
"""

from __future__ import annotations

import logging
from typing import Any

from ..runtime import Runtime
from .base import pil_stages_and_normalisation
from .hpsv2 import _PRECISION, OpenCLIPCosineReward, register_model_config
from .offhub import verified_file

logger = logging.getLogger(__name__)


class HPSv1Reward(OpenCLIPCosineReward):
    """Cosine of HPS v1's normalised CLIP ViT-L/14 image and text features."""

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        sha256: str | None = None,
        path: str | None = None,
        url: str | None = None,
        architecture: str = "ViT-L-14-quickgelu",
        model_config: dict[str, Any] | None = None,
        dtype: str | None = None,
        batch_size: int = 16,
    ) -> None:
        import open_clip
        import torch

        super().__init__(name=name, runtime=runtime, batch_size=batch_size)
        self.checkpoint = verified_file(runtime, f"{name} checkpoint (hpc.pth)", sha256, path=path, url=url)
        self.sha256, self.url = sha256.lower(), url
        self.model_config = model_config
        self.architecture = register_model_config(model_config) if model_config else architecture
        self.device = runtime.torch_device()
        self.dtype = runtime.torch_dtype(dtype)
        self.autocast = None  # clip.load runs the whole model in the dtype, no autocast

        self.model, _, self.preprocess = open_clip.create_model_and_transforms(
            self.architecture, pretrained=None, device=self.device, precision=_PRECISION[str(self.dtype)])
        payload = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        state_dict = payload.get("state_dict", payload) if isinstance(payload, dict) else payload
        # Checkpoints saved from DataParallel carry a "module." prefix.
        state_dict = {key.removeprefix("module."): value for key, value in state_dict.items()}
        try:
            self.model.load_state_dict(state_dict, strict=True)
        except RuntimeError as err:
            raise RuntimeError(f"{name}: {self.checkpoint.name} does not fit open_clip {self.architecture!r}: "
                               f"{err}") from err
        self.model.to(self.device, self.dtype).eval()
        self.pil_stages, self.pixel_mean, self.pixel_std = pil_stages_and_normalisation(self.preprocess)
        self.tokenizer = open_clip.get_tokenizer(self.architecture)
        self.max_text_tokens = int(self.tokenizer.context_length)
        logger.info("%s: loaded %s (sha256 %s) into %s", name, self.checkpoint, self.sha256, self.architecture)

    def provenance(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint.name,
            "sha256": self.sha256,
            "url": self.url,
            "architecture": self.architecture,
            "model_config": self.model_config,
            "dtype": str(self.dtype).removeprefix("torch."),
            "max_text_tokens": self.max_text_tokens,
        }
