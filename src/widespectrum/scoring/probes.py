"""A reward model that is one pixel statistic of the image (the demo's stand-in rewards)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ..imagestats import PROBES, WORK_SIZE, as_rgb_array
from ..runtime import Runtime
from .base import RewardModel, RewardOutput

log = logging.getLogger(__name__)

class ProbeReward(RewardModel):
    """A reward model whose score is one probe of the image.

    The prompt is ignored: probes measure the image only, so r(I, p_o) == r(I, p_a).
    Scores do not depend on the batch an image is in (each is computed alone).
    """

    def __init__(self, name: str, runtime: Runtime, batch_size: int = 16, probe: str = "aesthetic") -> None:
        super().__init__(name=name, runtime=runtime, batch_size=batch_size)
        if probe not in PROBES:
            raise ValueError(f"unknown probe {probe!r}; known: {sorted(PROBES)}")
        self.probe = probe
        self._function = PROBES[probe]

    def score(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
        scores = np.array([self._function(as_rgb_array(image)) for image in images], dtype=np.float64)
        log.debug("%s: probe %s scored %d images", self.name, self.probe, len(scores))
        return RewardOutput(scores=scores)

    def provenance(self) -> dict:
        return {"probe": self.probe, "work_size": WORK_SIZE, "kind": "pixel probe, no weights"}
