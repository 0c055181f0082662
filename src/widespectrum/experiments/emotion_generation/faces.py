"""Face crops for E6 generation: the emotion is judged on the face, not the whole scene.

The paper cropped faces with LLMDet, an open-vocabulary detector. Its Hugging
Face ports (``iSEE-Laboratory/llmdet_tiny``, ``_base``, ``_large``) and the
MM-Grounding-DINO and Grounding DINO checkpoints all load through
``AutoModelForZeroShotObjectDetection`` with a ``GroundingDinoProcessor``;
``GroundingFaceCropper`` runs any of them with the text query "a face." and
keeps the highest-scoring box.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from typing import Any

from PIL import Image

from ...hub import load_from_hub, resolved_revision
from ...runtime import Runtime

log = logging.getLogger(__name__)


class FaceCropper(ABC):
    """Finds the face in a picture."""

    name: str = "face-cropper"

    @abstractmethod
    def crop(self, image: Image.Image) -> Image.Image | None:
        """The face region of ``image``, or None when there is none."""

    def provenance(self) -> dict[str, Any]:
        return {}


def _corner_box(box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """A float (x0, y0, x1, y1) box clamped to the picture and rounded outwards; None if empty."""
    x0, y0, x1, y1 = (float(v) for v in box)
    left, top = max(0, math.floor(x0)), max(0, math.floor(y0))
    right, bottom = min(width, math.ceil(x1)), min(height, math.ceil(y1))
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


class GroundingFaceCropper(FaceCropper):
    """An open-vocabulary detector (LLMDet / MM-Grounding-DINO / Grounding DINO) asked for "a face.".

    Boxes scoring at most ``box_threshold`` are dropped; of the rest the
    highest-scoring box is the face. ``model_id`` is e.g.
    ``iSEE-Laboratory/llmdet_large``.
    """

    def __init__(
        self,
        model_id: str,
        revision: str = "main",
        runtime: Runtime | None = None,
        text: str = "a face.",
        box_threshold: float = 0.3,
        text_threshold: float = 0.25,
        dtype: str | None = None,
        name: str = "grounding-face",
    ) -> None:
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        self.name = name
        self.runtime = runtime or Runtime()
        self.model_id = model_id
        self.revision = revision
        # Grounding DINO's text queries are lower-case phrases each ending in a full stop.
        self.text = text.strip().lower() if text.strip().endswith(".") else f"{text.strip().lower()}."
        self.box_threshold = float(box_threshold)
        self.text_threshold = float(text_threshold)
        self.device = self.runtime.torch_device()
        self.dtype = self.runtime.torch_dtype(dtype)
        self.model = load_from_hub(AutoModelForZeroShotObjectDetection.from_pretrained, model_id, revision,
                                   self.runtime, dtype=self.dtype)
        self.model.to(self.device).eval()
        self.processor = load_from_hub(AutoProcessor.from_pretrained, model_id, revision, self.runtime)

    def detect(self, image: Image.Image) -> tuple[float, tuple[float, float, float, float]] | None:
        """(score, (x0, y0, x1, y1)) of the best box above the threshold, in pixels; None if none."""
        import torch

        image = image.convert("RGB")
        with torch.inference_mode():
            inputs = self.processor(images=image, text=self.text, return_tensors="pt").to(self.device)
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
            outputs = self.model(**inputs)
            # post-processing in float32: half-precision boxes lose whole pixels at 1024 px
            outputs["logits"] = outputs.logits.float()
            outputs["pred_boxes"] = outputs.pred_boxes.float()
            found = self.processor.post_process_grounded_object_detection(
                outputs, inputs["input_ids"], threshold=self.box_threshold, text_threshold=self.text_threshold,
                target_sizes=[(image.height, image.width)],
            )[0]
        if len(found["scores"]) == 0:
            return None
        best = int(found["scores"].argmax())
        return float(found["scores"][best]), tuple(float(v) for v in found["boxes"][best].tolist())

    def crop(self, image: Image.Image) -> Image.Image | None:
        detection = self.detect(image)
        if detection is None:
            log.debug("%s: no box above %.2f", self.name, self.box_threshold)
            return None
        box = _corner_box(detection[1], image.width, image.height)
        return None if box is None else image.crop(box)

    def provenance(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "revision": self.revision,
                "resolved_revision": resolved_revision(self.runtime.cache_dir, self.model_id, self.revision),
                "model_class": type(self.model).__name__, "text": self.text,
                "box_threshold": self.box_threshold, "text_threshold": self.text_threshold}


class CentreCropper(FaceCropper):
    """The offline demo's stand-in for a face detector: the middle ``fraction`` of width and height.

    The demo's pictures put their subject in the middle of the frame, so the
    centre plays the face; it finds a "face" in every picture.
    """

    def __init__(self, fraction: float = 0.6, name: str = "centre-crop") -> None:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.fraction = float(fraction)
        self.name = name

    def crop(self, image: Image.Image) -> Image.Image:
        width, height = image.size
        crop_width, crop_height = max(1, round(width * self.fraction)), max(1, round(height * self.fraction))
        left, top = (width - crop_width) // 2, (height - crop_height) // 2
        return image.crop((left, top, left + crop_width, top + crop_height))

    def provenance(self) -> dict[str, Any]:
        return {"kind": "centre crop (offline stand-in for a face detector)", "fraction": self.fraction}
