"""Procedural stand-ins for a generator and its aesthetically aligned variant.

The offline demo has no diffusion model worth the name, so two generators made
of image processing play the paper's two roles on real photographs:

* ``OracleGenerator`` is the prompt-faithful base model. I_o is the photo;
  I_a carries every requested anti-aesthetic dimension as a visible effect
  (blur and noise for clarity, darkness for colour brightness, ...).
* ``SugarwaterGenerator`` is the aesthetically aligned model. I_o is the same
  photo; I_a ignores the request and returns a prettier I_o (more saturation,
  contrast, warmth and crispness): the failure mode the paper reports.

Photos come from the files bundled inside the scikit-image package (no
download) or from an image file named by ``request.reference_image``.
Everything is deterministic: one request gives identical pixels every time.
Only numpy, scipy, scikit-image and PIL are imported (no torch).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import logging
from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import skimage
from PIL import Image
from scipy import ndimage
from skimage.color import hsv2rgb, rgb2hsv

from ..prompts.dimensions import check_dimensions
from ..runtime import Runtime
from ..imagestats import BLOCK_GRID, REC709, TILE_GRID
from .base import GenerationRequest, Generator

log = logging.getLogger(__name__)

# Pictures shipped inside the scikit-image wheel itself (skimage/data/), under the
# names of skimage.data's loaders, read straight from the package so that no
# fetcher can try to download anything. Greyscale ones become grey RGB.
COLOUR_PHOTOS: dict[str, str] = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "immunohistochemistry": "ihc.png",
    "motorcycle": "motorcycle_left.png",
    "retina": "retina.jpg",
    "rocket": "rocket.jpg",
}
GREY_PHOTOS: dict[str, str] = {
    "brick": "brick.png",
    "camera": "camera.png",
    "clock": "clock_motion.png",
    "coins": "coins.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "moon": "moon.png",
}
BUNDLED_PHOTOS: dict[str, str] = {**COLOUR_PHOTOS, **GREY_PHOTOS}

Effect = Callable[[np.ndarray, np.random.Generator], np.ndarray]


# ---------------------------------------------------------------- photos

def bundled_photo_path(name: str):
    """The packaged file of a bundled photo (a Traversable inside skimage/data)."""
    if name not in BUNDLED_PHOTOS:
        raise KeyError(f"no bundled photo {name!r}; known: {sorted(BUNDLED_PHOTOS)}")
    return importlib.resources.files("skimage.data") / BUNDLED_PHOTOS[name]


@functools.lru_cache(maxsize=16)
def load_photo(reference: str, size: int) -> np.ndarray:
    """A bundled photo's name or an image path -> centre-cropped square float RGB in [0, 1].

    Cached, since a job asks for the same few photos over and over; the array is
    read-only so that no effect can change the cached copy.
    """
    if reference in BUNDLED_PHOTOS:
        source = bundled_photo_path(reference)
    else:
        source = Path(reference)
        if not source.is_file():
            raise FileNotFoundError(
                f"reference image {reference!r} is neither a bundled photo {sorted(BUNDLED_PHOTOS)} nor a file"
            )
    with source.open("rb") as handle, Image.open(handle) as opened:
        photo = opened.convert("RGB")
    width, height = photo.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    photo = photo.crop((left, top, left + side, top + side))
    photo = photo.resize((size, size), Image.Resampling.LANCZOS)
    pixels = np.asarray(photo, dtype=np.float64) / 255.0
    pixels.flags.writeable = False
    return pixels


def stable_int(text: str) -> int:
    """A 63-bit integer from a string, the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 1


def pick_photo(prompt_id: str, photos: Sequence[str]) -> str:
    return photos[stable_int(prompt_id) % len(photos)]


def to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8))


# ---------------------------------------------------------------- small tools

def _blur(pixels: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(pixels, sigma=(sigma, sigma, 0), mode="reflect")


def _luma(pixels: np.ndarray) -> np.ndarray:
    return pixels @ REC709


def _smooth_field(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Smooth random noise with zero mean and unit spread (a random blob pattern)."""
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma=sigma, mode="wrap")
    return (field - field.mean()) / (field.std() + 1e-12)


def _resize(pixels: np.ndarray, size: int) -> np.ndarray:
    image = to_image(pixels).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.float64) / 255.0


# ---------------------------------------------------------------- the anti-aesthetic effects

def background_blank(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Background: everything outside a central oval becomes a drab, muddy blank."""
    size = pixels.shape[0]
    rows, cols = np.mgrid[0:size, 0:size] / size
    inside = ((rows - 0.5) / 0.3) ** 2 + ((cols - 0.5) / 0.3) ** 2 <= 1.0
    # drab: the picture's own mean colour, half greyed and tinted olive, so the
    # blank neither brightens nor darkens the picture as a whole
    mean_colour = pixels.mean(axis=(0, 1))
    mud = 0.5 * mean_colour + 0.5 * mean_colour @ REC709 + np.array([0.02, 0.02, -0.03])
    mud = mud + rng.uniform(-0.02, 0.02, size=3)
    mottling = 0.03 * _smooth_field(rng, size, sigma=size / 6)[..., None]
    backdrop = np.clip(mud + mottling, 0.0, 1.0)
    soft_inside = ndimage.gaussian_filter(inside.astype(np.float64), sigma=size / 128)[..., None]
    return soft_inside * pixels + (1.0 - soft_inside) * backdrop


def main_object_small(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Main object: the picture shrinks to a small inset pushed into a random corner.

    The rest of the frame is the picture itself, blurred beyond recognition and
    dimmed, so nothing else competes for attention.
    """
    size = pixels.shape[0]
    inset_side = round(0.3 * size)
    inset = _resize(pixels, inset_side)
    canvas = 0.8 * _blur(pixels, sigma=size / 12)
    margin = round(rng.uniform(0.02, 0.05) * size)
    top = margin if rng.random() < 0.5 else size - margin - inset_side
    left = margin if rng.random() < 0.5 else size - margin - inset_side
    canvas[top:top + inset_side, left:left + inset_side] = inset
    return canvas


def object_pairing_collage(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Object pairing: the frame cut into TILE_GRID x TILE_GRID tiles, shuffled and turned."""
    size = pixels.shape[0]
    tile = size // TILE_GRID
    tiles = [pixels[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]
             for r in range(TILE_GRID) for c in range(TILE_GRID)]
    order = np.arange(len(tiles))
    while np.any(order == np.arange(len(tiles))):  # no tile may stay where it was
        order = rng.permutation(len(tiles))
    turns = rng.integers(1, 4, size=len(tiles))  # every tile is rotated, never upright
    canvas = np.empty_like(pixels)
    for slot, (source, quarter_turns) in enumerate(zip(order, turns)):
        r, c = divmod(slot, TILE_GRID)
        canvas[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = np.rot90(tiles[source], k=quarter_turns)
    return canvas


def detail_realism_deform(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Detail realism: a smooth random warp, then one half folded onto the other.

    The warp bends shapes; the mirror fold doubles whatever is in the frame into
    a malformed, impossibly symmetric chimera.
    """
    size = pixels.shape[0]
    amplitude = 0.06 * size
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    rows += amplitude * _smooth_field(rng, size, sigma=size / 8)
    cols += amplitude * _smooth_field(rng, size, sigma=size / 8)
    warped = np.stack(
        [ndimage.map_coordinates(pixels[..., ch], [rows, cols], order=1, mode="reflect") for ch in range(3)],
        axis=2,
    )
    half = size // 2
    if rng.random() < 0.5:
        warped[:, size - half:] = warped[:, :half][:, ::-1]
    else:
        warped[:, :half] = warped[:, size - half:][:, ::-1]
    return warped


def richness_empty(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Richness: the content fades into an empty, flat canvas; a faint ghost remains.

    The canvas is the picture's own mean colour, so emptiness does not also
    brighten or darken the picture.
    """
    ghost = rng.uniform(0.08, 0.12)
    canvas = pixels.mean(axis=(0, 1))
    return ghost * pixels + (1.0 - ghost) * canvas


def detail_refinement_rough(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Detail refinement: coarse flat blocks (BLOCK_GRID per side) in a few uneven, posterised tones.

    Each block's tone is jittered before posterising, like careless daubs, so
    that even a uniform texture breaks into visibly different blocks.
    """
    size = pixels.shape[0]
    block = size // BLOCK_GRID
    means = pixels.reshape(BLOCK_GRID, block, BLOCK_GRID, block, 3).mean(axis=(1, 3))
    means = means + rng.normal(0.0, 0.03, size=(BLOCK_GRID, BLOCK_GRID, 1))
    levels = int(rng.integers(5, 8))
    posterised = np.round(np.clip(means, 0.0, 1.0) * (levels - 1)) / (levels - 1)
    return np.repeat(np.repeat(posterised, block, axis=0), block, axis=1)


def clarity_blur_noise(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Clarity: a strong defocus blur and grain."""
    size = pixels.shape[0]
    blurred = _blur(pixels, sigma=size / 48)
    return blurred + rng.normal(0.0, 0.025, size=pixels.shape)


def lighting_flatten(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lighting distinction: the large-scale light and shadow divided out (flat, sourceless light).

    In log luma the slow illumination component is removed and the fine
    reflectance detail kept, so nothing is lit and nothing casts a shadow.
    """
    size = pixels.shape[0]
    floor = 0.03  # the same offset as the lighting_contrast probe; lets black areas lift too
    log_y = np.log(_luma(pixels) + floor)
    illumination = ndimage.gaussian_filter(log_y, sigma=size / 16, mode="reflect")
    gain = np.exp(illumination.mean() - illumination)[..., None]
    flat = (pixels + floor) * gain - floor
    lift = rng.uniform(0.0, 0.02)  # a little haze, as flat light has no deep blacks
    return lift + (1.0 - lift) * flat


def color_aesthetic_clash(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour aesthetic: garish, clashing hues in random patches, pushed to overexposure."""
    size = pixels.shape[0]
    hsv = rgb2hsv(np.clip(pixels, 0.0, 1.0))
    patches = np.digitize(_smooth_field(rng, size, sigma=size / 10), [-0.45, 0.45])
    hue_shift = rng.uniform(0.0, 1.0) + patches / 3.0
    hsv[..., 0] = (hsv[..., 0] + hue_shift) % 1.0
    hsv[..., 1] = np.clip(0.55 + 0.8 * hsv[..., 1], 0.0, 1.0)
    hsv[..., 2] = np.clip(1.7 * hsv[..., 2], 0.0, 1.0)
    return hsv2rgb(hsv)


def emotion_gloom(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Emotion: cold, grey, gloomy grading (desaturated, blue-shifted, dimmed)."""
    grey = _luma(pixels)[..., None]
    washed = grey + 0.3 * (pixels - grey)
    cold = washed * np.array([0.75, 0.9, 1.15])
    dim = rng.uniform(0.55, 0.65)
    return dim * np.clip(cold, 0.0, 1.0) ** 1.2


def color_brightness_dark(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour brightness: the scene sinks into darkness."""
    gain = rng.uniform(0.3, 0.4)
    return gain * np.clip(pixels, 0.0, 1.0) ** 1.5


# Applied in this order: composition first (so later effects treat the new
# layout as the picture), then texture, then the fade to emptiness (after the
# grain, so the grain fades too), then light and colour grading, with darkness
# last so that no later brightening undoes it.
EFFECTS: dict[str, Effect] = {
    "background": background_blank,
    "main_object": main_object_small,
    "object_pairing": object_pairing_collage,
    "detail_realism": detail_realism_deform,
    "detail_refinement": detail_refinement_rough,
    "clarity": clarity_blur_noise,
    "richness": richness_empty,
    "lighting_distinction": lighting_flatten,
    "color_aesthetic": color_aesthetic_clash,
    "emotion": emotion_gloom,
    "color_brightness": color_brightness_dark,
}


def apply_effects(pixels: np.ndarray, dimensions: Sequence[str], seed: int) -> np.ndarray:
    """Apply the requested dimensions' effects in EFFECTS order.

    Each effect draws from its own random stream, seeded by (seed, effect's
    position in EFFECTS), so one effect looks the same whichever others join it.
    """
    requested = set(check_dimensions(dimensions))
    for index, (dimension, effect) in enumerate(EFFECTS.items()):
        if dimension in requested:
            rng = np.random.default_rng([seed, index])
            pixels = np.clip(effect(pixels, rng), 0.0, 1.0)
    return pixels


def _soft_highlights(pixels: np.ndarray, knee: float = 0.8, ceiling: float = 0.985) -> np.ndarray:
    """Roll highlights off smoothly below ``ceiling`` instead of clipping them to white."""
    room = ceiling - knee
    rolled = knee + room * np.tanh((pixels - knee) / room)
    return np.clip(np.where(pixels > knee, rolled, pixels), 0.0, 1.0)


def beautify(pixels: np.ndarray) -> np.ndarray:
    """The aligned model's taste: levels stretched, then more contrast, saturation, warmth and crispness."""
    y = _luma(pixels)
    low, high = np.percentile(y, [1.0, 99.0])
    if high - low > 1e-3:  # stretch the tonal range to at least 0.04-0.94
        target_low, target_high = min(low, 0.04), max(high, 0.94)
        pixels = target_low + (pixels - low) * (target_high - target_low) / (high - low)
    pixels = np.clip(pixels, 0.0, 1.0)
    mean = float(_luma(pixels).mean())
    if 0.01 < mean < 0.5:  # lift a dim picture a third of the way towards a mean of 0.5
        pixels = pixels ** (np.log(mean + (0.5 - mean) / 3) / np.log(mean))
    pixels = pixels + 0.18 * (pixels - _luma(pixels).mean())  # contrast about the mean
    hsv = rgb2hsv(np.clip(pixels, 0.0, 1.0))
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.35, 0.0, 1.0)
    pixels = hsv2rgb(hsv) * np.array([1.05, 1.0, 0.93])  # warmer
    pixels = pixels + 0.6 * (pixels - _blur(pixels, sigma=1.0))  # unsharp mask
    return _soft_highlights(pixels)


# ---------------------------------------------------------------- the generators

class _PhotoGenerator(Generator):
    """Shared plumbing: which photo a request gets, cropped and resized."""

    def __init__(self, name: str, runtime: Runtime, size: int = 256, photos: Sequence[str] | None = None) -> None:
        super().__init__(name=name, runtime=runtime)
        if size < BLOCK_GRID or size % BLOCK_GRID:
            raise ValueError(f"size must be a positive multiple of {BLOCK_GRID}, got {size}")
        self.size = int(size)
        # colour photos by default: colour effects need colour to act on
        self.photos = tuple(photos) if photos else tuple(COLOUR_PHOTOS)
        unknown = [p for p in self.photos if p not in BUNDLED_PHOTOS and not Path(p).is_file()]
        if unknown:
            raise ValueError(f"unknown photo(s) {unknown}; bundled: {sorted(BUNDLED_PHOTOS)} or image files")

    @staticmethod
    def seed_for(request: GenerationRequest) -> int:
        """The request's seed, or one derived from its prompt id when it has none."""
        if request.seed is None:
            return stable_int(request.prompt_id)
        return int(request.seed) & 0x7FFF_FFFF_FFFF_FFFF

    def generate(self, request: GenerationRequest) -> Image.Image:
        if request.image_kind not in ("o", "a"):
            raise ValueError(f"image_kind must be 'o' or 'a', got {request.image_kind!r}")
        reference = request.reference_image or pick_photo(request.prompt_id, self.photos)
        log.debug("%s: pair %s, image %s from photo %s", self.name, request.prompt_id, request.image_kind, reference)
        photo = load_photo(reference, self.size)
        if request.image_kind == "o":
            return to_image(photo)
        return to_image(self.anti(photo, request))

    @abstractmethod
    def anti(self, photo: np.ndarray, request: GenerationRequest) -> np.ndarray:
        """I_a's pixels (floats in [0, 1]) from the photo that is I_o."""

    def provenance(self) -> dict[str, Any]:
        return {"kind": "procedural", "size": self.size, "photos": list(self.photos),
                "scikit_image": skimage.__version__}


class OracleGenerator(_PhotoGenerator):
    """The prompt-faithful base generator: I_a shows every requested dimension."""

    def anti(self, photo: np.ndarray, request: GenerationRequest) -> np.ndarray:
        return apply_effects(photo, request.dimensions, self.seed_for(request))

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "effect_order": list(EFFECTS)}


class SugarwaterGenerator(_PhotoGenerator):
    """The aesthetically aligned generator: I_a ignores the request and beautifies I_o."""

    def anti(self, photo: np.ndarray, request: GenerationRequest) -> np.ndarray:
        check_dimensions(request.dimensions)
        return beautify(photo)
