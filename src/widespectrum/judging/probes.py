"""Offline judges that decide from measurable pixel properties.

They stand in for the paper's LLM pairwise judge and its per-dimension judge J
(docs/experiments.md#e4) in the offline demo. Each of the 11 dimensions has a *reading*: a
number computed from the probes of ``scoring.probes`` that is higher the
better the image is on that dimension, with a centre (the reading of an image
rated 1 of 2) and a scale (reading units per step of evidence):

* ``ProbeDimensionRater`` maps a reading to an expected rating
  2 * sigmoid((reading - centre) / scale): smooth, monotone, in (0, 2).
* ``ProbePairwiseJudge`` compares the two images' readings on each requested
  dimension; the image whose reading is lower by more than ``margin`` scales
  shows that dimension's anti-aesthetic effect more strongly and wins it.

Centres and scales were set on the colour photos bundled with scikit-image:
the photos themselves rate about 1.5-1.9 on most dimensions, the procedural
oracle's effect about 0.1-0.5, and the smallest photo-vs-effect gap is about
two scales. On random requests of 2-4 dimensions the judge picks the oracle's
I_a in about 97% of pairs and ties the rest, where one effect masks another.
A photo that already shows an effect leaves the oracle no room on that
dimension (the motion-blurred clock on a bare wall is already blurry and
backgroundless), and the judge then ties. Nothing here knows which image is
I_o. Imports stay light (no torch).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..prompts.dimensions import check_dimensions
from ..runtime import Runtime
from .. import imagestats
from .base import DimensionRater, PairRequest, PairwiseJudge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """How one dimension is read off the pixels: higher is aesthetically better."""

    measure: Callable[[np.ndarray], float]
    centre: float  # the reading of an image rated 1 (of 2)
    scale: float  # reading units per logit of the rating, and the judge's unit
    doc: str


def _log_offset(probe: Callable[[np.ndarray], float], offset: float, sign: float = 1.0):
    """sign * log(probe + offset): ratios, not differences, of a probe that lives near 0."""
    return lambda rgb: sign * math.log(probe(rgb) + offset)


def _main_object(rgb: np.ndarray) -> float:
    return imagestats.centre_focus(rgb) - imagestats.centre_offset(rgb)


def _detail_realism(rgb: np.ndarray) -> float:
    return math.log(1.01 - imagestats.mirror_symmetry(rgb))


READINGS: dict[str, Reading] = {
    "background": Reading(
        _log_offset(imagestats.border_detail, 0.01), -2.85, 1.0,
        "log(edge density in the border ring + 0.01): a blank backdrop has no edges"),
    "clarity": Reading(
        imagestats.relative_sharpness, -4.3, 1.0,
        "relative sharpness: fine detail over overall contrast, low when blurred"),
    "color_aesthetic": Reading(
        _log_offset(imagestats.colour_clash, 0.02, sign=-1.0), 1.3, 1.0,
        "-log(colour clash + 0.02): garish hues all round the wheel and blown channels"),
    "color_brightness": Reading(
        _log_offset(imagestats.brightness, 0.02), -1.6, 0.5,
        "log(mean luma + 0.02): darkness"),
    "detail_realism": Reading(
        _detail_realism, -2.6, 1.0,
        "log(1.01 - mirror symmetry): objects folded into impossible mirror twins"),
    "detail_refinement": Reading(
        lambda rgb: -imagestats.blockiness(rgb), -3.0, 1.5,
        "-blockiness: a frame rendered as rough flat blocks"),
    "emotion": Reading(
        imagestats.mood, -0.5, 0.2,
        "warmth + chroma + log(mean luma + 0.02) / 2: cold, grey, dark grading reads as gloom"),
    "lighting_distinction": Reading(
        _log_offset(imagestats.lighting_contrast, 0.01), -2.0, 0.4,
        "log(spread of the large-scale illumination + 0.01): flat, sourceless light"),
    "main_object": Reading(
        _main_object, -0.2, 0.15,
        "centre focus - centre offset: edges pulled away from the middle into a corner"),
    "object_pairing": Reading(
        lambda rgb: -imagestats.tile_seams(rgb), -0.8, 0.3,
        "-tile seams: a collage of tiles that do not belong together"),
    "richness": Reading(
        _log_offset(imagestats.richness, 0.01), -3.0, 1.0,
        "log(edge density + 0.01): an empty frame"),
}


def readings(image, dimensions: Sequence[str]) -> np.ndarray:
    """Each dimension's reading of one image, in the order of ``dimensions``."""
    rgb = imagestats.as_rgb_array(image)
    return np.array([READINGS[d].measure(rgb) for d in dimensions], dtype=np.float64)


def _scales(dimensions: Sequence[str]) -> np.ndarray:
    return np.array([READINGS[d].scale for d in dimensions], dtype=np.float64)


def _centres(dimensions: Sequence[str]) -> np.ndarray:
    return np.array([READINGS[d].centre for d in dimensions], dtype=np.float64)


def _calibration() -> dict:
    return {d: {"centre": r.centre, "scale": r.scale, "reading": r.doc} for d, r in READINGS.items()}


class ProbePairwiseJudge(PairwiseJudge):
    """Picks the image that shows the requested anti-aesthetic dimensions more strongly.

    Each requested dimension is a vote: the image whose reading is lower by
    more than ``margin`` scales wins it; smaller differences leave it
    undecided. The image with more votes is selected (0 = first, 1 = second);
    -1 when no dimension is decided or the votes draw. Swapping the two images
    swaps the answer, and identical images always tie.
    """

    def __init__(self, name: str, runtime: Runtime, margin: float = 0.5) -> None:
        super().__init__(name=name, runtime=runtime)
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = float(margin)

    def votes(self, request: PairRequest) -> np.ndarray:
        """Per requested dimension: 0 (first shows it more), 1 (second does) or -1 (undecided)."""
        dimensions = check_dimensions(request.dimensions)
        if not dimensions:
            return np.zeros(0, dtype=int)
        advantage = (readings(request.first, dimensions) - readings(request.second, dimensions)) / _scales(dimensions)
        # a positive advantage: the first image is better on d, so the second shows d's effect more
        return np.where(advantage > self.margin, 1, np.where(advantage < -self.margin, 0, -1))

    def judge(self, request: PairRequest) -> int:
        votes = self.votes(request)
        first, second = int((votes == 0).sum()), int((votes == 1).sum())
        log.debug("pair %s: votes %s", request.prompt_id, votes.tolist())
        if first == second:
            return -1
        return 0 if first > second else 1

    def provenance(self) -> dict:
        return {"kind": "pixel probes, no weights", "margin": self.margin, "dimensions": _calibration()}


class ProbeDimensionRater(DimensionRater):
    """Expected rating in [0, 2] per dimension: 2 * sigmoid((reading - centre) / scale).

    2 is aesthetically best on the dimension, 0 is its anti-aesthetic extreme.
    """

    def rate(self, images: Sequence, dimensions: Sequence[str]) -> np.ndarray:
        dimensions = check_dimensions(dimensions)
        ratings = np.empty((len(images), len(dimensions)), dtype=np.float64)
        centres, scales = _centres(dimensions), _scales(dimensions)
        for row, image in enumerate(images):
            ratings[row] = 2.0 / (1.0 + np.exp(-(readings(image, dimensions) - centres) / scales))
        return ratings

    def provenance(self) -> dict:
        return {"kind": "pixel probes, no weights", "dimensions": _calibration()}
