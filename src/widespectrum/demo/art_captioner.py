"""An offline stand-in for the E8 VLM art captioner (captioning.ArtCaptionBackend).

It describes what a canvas measurably shows (its dominant hue, how light and how
varied it is) as a factual caption of a generation prompt's length, so the offline
demo runs the regenerating path of E8 (caption, then score under the caption)
without an endpoint. The same picture always gets the same caption.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..captioning.common import ImageInput
from ..images import open_rgb

# hue bins of 60 degrees, starting at red
HUES = ("red", "yellow", "green", "cyan", "blue", "magenta")


def _hsv(image: ImageInput) -> np.ndarray:
    picture = image if isinstance(image, Image.Image) else open_rgb(image)
    return np.asarray(picture.convert("RGB").convert("HSV"), dtype=np.float64) / 255.0


class PaletteCaptioner:
    """Captions from pixel statistics: 'An abstract painting dominated by blue and red tones, ...'."""

    name = "demo:palette"

    def check_ready(self) -> None:
        """Needs no key and no endpoint."""

    def caption(self, image: ImageInput) -> str:
        hsv = _hsv(image)
        hue, saturation, value = hsv[..., 0], hsv[..., 1], hsv[..., 2]
        coloured = saturation > 0.2
        if coloured.mean() < 0.1:
            colours = "grey"
        else:
            counts = np.bincount((hue[coloured] * 6).astype(int) % 6, minlength=6)
            first, second = np.argsort(-counts, kind="stable")[:2]
            colours = HUES[first] if counts[second] < 0.25 * counts[first] else f"{HUES[first]} and {HUES[second]}"
        light = "dark" if value.mean() < 0.35 else "bright" if value.mean() > 0.65 else "mid-toned"
        texture = "busy, varied shapes" if value.std() > 0.2 else "broad, even fields of colour"
        return (f"An abstract painting dominated by {colours} tones, {light} overall, "
                f"made of {texture} on a flat canvas.")
