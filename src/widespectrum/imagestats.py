"""Pixel statistics: what an image's pixels measurably are.

The offline demo needs reward models and judges that run without any model hub.
The probes below stand in for them. Each is a pure function of an RGB uint8
array of shape (H, W, 3) returning one float, with no learned weights, so a
probe's number can be checked by hand.

Global statistics (``brightness``, ``contrast``, ``colourfulness``,
``highlight_clipping``, ``colour_clash``, ``mood``) use every pixel at the image's
own resolution: a mean or a spread does not depend on the pixel count. Spatial
probes first resize the image to ``WORK_SIZE`` x ``WORK_SIZE`` so that a blur
of "2 pixels" or an edge density means the same thing for a 64-pixel and a
1024-pixel image.

Probes measure the image only: a ``ProbeReward`` gives the same score to
r(I, p_o) and r(I, p_a). That is the point of the demo's ``aesthetic`` probe,
which plays an aesthetic reward model that ignores what was asked for.

Only numpy, scipy, scikit-image and PIL are imported (no torch), so a scoring
job built on these probes starts in well under a second.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.color import rgb2hsv


WORK_SIZE = 128  # side of the square every spatial probe resizes to
BLOCK_GRID = 32  # the demo's rough-detail blocks: the frame is cut into 32 x 32 blocks
TILE_GRID = 4  # the demo's collage tiles: the frame is cut into 4 x 4 tiles
EDGE_SIGMA = 1.0  # Gaussian scale (working pixels) of every derivative below
EDGE_THRESHOLD = 0.04  # gradient magnitude (luma units per working pixel) that counts as an edge
SALIENT_SHARE = 0.1  # the strongest tenth of a picture's gradients mark its subject
SALIENT_FLOOR = 0.005  # ... as long as they exceed this (luma per working pixel)
CENTRE_BOX = (0.25, 0.75)  # the middle quarter of the frame's area
BORDER_BOX = (0.2, 0.8)  # outside this box is the frame's border ring
REC709 = np.array([0.2126, 0.7152, 0.0722])

Probe = Callable[[np.ndarray], float]


# ---------------------------------------------------------------- image plumbing

def as_rgb_array(image) -> np.ndarray:
    """An RGB uint8 array (H, W, 3) from a PIL image, an array or an image file path."""
    if isinstance(image, (str, os.PathLike)):
        with Image.open(image) as opened:
            return np.asarray(opened.convert("RGB"))
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise TypeError(f"probes take uint8 pixels, got dtype {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"probes take an (H, W, 3) RGB array, got shape {array.shape}")
    return array[..., :3]


def luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of gamma-encoded RGB, in [0, 1]."""
    return as_rgb_array(rgb).astype(np.float64) @ REC709 / 255.0


def working_rgb(image) -> np.ndarray:
    """The image as floats in [0, 1], resized to WORK_SIZE x WORK_SIZE.

    Shrinking averages whole pixels (box filter) so that a block grid aligned
    with the frame survives exactly and pixel noise averages out; enlarging is
    bilinear so that it adds no edges of its own.
    """
    rgb = as_rgb_array(image)
    height, width = rgb.shape[:2]
    if (height, width) != (WORK_SIZE, WORK_SIZE):
        shrinking = height >= WORK_SIZE and width >= WORK_SIZE
        resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
        rgb = np.asarray(Image.fromarray(rgb).resize((WORK_SIZE, WORK_SIZE), resample))
    return rgb.astype(np.float64) / 255.0


def working_luma(image) -> np.ndarray:
    return working_rgb(image) @ REC709


def _box_mask(low: float, high: float, size: int = WORK_SIZE) -> np.ndarray:
    lo, hi = round(low * size), round(high * size)
    mask = np.zeros((size, size), dtype=bool)
    mask[lo:hi, lo:hi] = True
    return mask


def _gradient_magnitude(y: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_gradient_magnitude(y, sigma=EDGE_SIGMA, mode="reflect")


# ---------------------------------------------------------------- the probes

def brightness(image) -> float:
    """Mean luma, 0 (black) to 1 (white)."""
    return float(luma(image).mean())


def contrast(image) -> float:
    """RMS contrast: the standard deviation of luma (Peli 1990), 0 for a flat image."""
    return float(luma(image).std())


def colourfulness(image) -> float:
    """Hasler & Süsstrunk (2003) colourfulness M on 0-255 RGB.

    rg = R - G, yb = (R + G) / 2 - B, M = sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mu_rg^2 + mu_yb^2).
    0 for any grey image; their scale puts "moderately" colourful at 33,
    "highly" at 82 and "extremely" at 109.
    """
    rgb = as_rgb_array(image).astype(np.float64)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = math.hypot(rg.std(), yb.std())
    offset = math.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * offset)


def sharpness(image) -> float:
    """log(1 + variance of the Laplacian of Gaussian of luma), luma in 0-255 units.

    The classic variance-of-Laplacian focus measure, taken at WORK_SIZE with a
    Gaussian of one working pixel in front so that pixel noise does not read as
    detail. 0 for a flat image; a blur lowers it.
    """
    response = ndimage.gaussian_laplace(working_luma(image) * 255.0, sigma=EDGE_SIGMA, mode="reflect")
    return float(np.log1p(response.var()))


def richness(image) -> float:
    """Edge density: the share of the frame where luma has a visible edge.

    Edge density rather than the entropy of the luma histogram, because richness
    is about how much *structure* fills the frame: a histogram ignores where the
    pixels are (scrambling them keeps the entropy), and it drops when a picture
    is merely darkened. Edges are where the Gaussian gradient magnitude of luma
    (sigma 1 working pixel) exceeds EDGE_THRESHOLD; 0 for an empty frame.
    """
    return float((_gradient_magnitude(working_luma(image)) > EDGE_THRESHOLD).mean())


def highlight_clipping(image) -> float:
    """Share of blown pixels: at least one channel at 254 or 255 (white, or a clipped colour)."""
    return float((as_rgb_array(image).max(axis=2) >= 254).mean())


def exposure(image) -> float:
    """How well exposed the image looks, 1 at a mean luma of 0.55, falling off either side.

    exp(-((brightness - 0.55) / 0.2)^2): aesthetic taste prefers bright images,
    but not washed-out ones.
    """
    return float(math.exp(-(((brightness(image) - 0.55) / 0.2) ** 2)))


def aesthetic(image) -> float:
    """The demo's beauty-loving reward: what aesthetic alignment rewards, as pixels.

    A fixed sum of terms that an aesthetic reward model such as HPSv3 pays for:
    well exposed but not blown (2 x exposure - 4 x highlight clipping),
    saturated but not garish (2 tanh(colourfulness / 60), which stops paying
    beyond "highly colourful"), contrasty (5 x contrast), sharp (sharpness / 4)
    and rich (2 x richness). The weights give each term a range of about one
    unit over the bundled photos and their variants. It ignores the prompt,
    which is exactly the failure the paper measures.
    """
    return float(
        2.0 * exposure(image)
        - 4.0 * highlight_clipping(image)
        + 2.0 * math.tanh(colourfulness(image) / 60.0)
        + 5.0 * contrast(image)
        + sharpness(image) / 4.0
        + 2.0 * richness(image)
    )


PROBES: dict[str, Probe] = {
    "sharpness": sharpness,
    "brightness": brightness,
    "colourfulness": colourfulness,
    "contrast": contrast,
    "richness": richness,
    "aesthetic": aesthetic,
}


# ---------------------------------------------------------------- features for the judges

def relative_sharpness(image) -> float:
    """log of (LoG variance / luma variance): fine detail relative to overall contrast.

    Unlike ``sharpness`` it does not change when the whole image is faded or
    darkened by a constant factor, so it reads blur alone. 0 for a flat image.
    """
    y = working_luma(image)
    detail = ndimage.gaussian_laplace(y, sigma=EDGE_SIGMA, mode="reflect").var()
    return float(np.log((detail + 1e-8) / (y.var() + 1e-8)))


def saturation(image) -> float:
    """Mean HSV saturation, 0 to 1."""
    return float(rgb2hsv(as_rgb_array(image))[..., 1].mean())


def chroma(image) -> float:
    """Mean chroma, (max - min) of the channels / 255: how colourful, 0 for greys and near-black.

    Unlike HSV saturation it does not blow up on dark, noisy pixels.
    """
    rgb = as_rgb_array(image).astype(np.float64)
    return float((rgb.max(axis=2) - rgb.min(axis=2)).mean() / 255.0)


def hue_dispersion(image) -> float:
    """Circular variance of hue, each pixel weighted by its saturation: 0 one hue, 1 all hues.

    Greys carry no hue, so a grey image is 0.
    """
    hsv = rgb2hsv(as_rgb_array(image))
    weight = hsv[..., 1]
    total = weight.sum()
    if total <= 0:
        return 0.0
    resultant = np.abs((weight * np.exp(2j * np.pi * hsv[..., 0])).sum()) / total
    return float(1.0 - resultant)


def colour_clash(image) -> float:
    """Garish, fighting, blown-out colour: saturated hues spread round the wheel, plus clipping.

    mean saturation x hue dispersion + highlight clipping. About 0.05 for the
    bundled photos, above 1 for the demo's clashing colours.
    """
    rgb = as_rgb_array(image)
    return saturation(rgb) * hue_dispersion(rgb) + highlight_clipping(rgb)


def warmth(image) -> float:
    """Mean (R - B) / 255: positive for warm (orange) grading, negative for cold (blue)."""
    rgb = as_rgb_array(image).astype(np.float64)
    return float((rgb[..., 0] - rgb[..., 2]).mean() / 255.0)


def mood(image) -> float:
    """Cheerfulness of the grading: warmth + chroma + log(brightness + 0.02) / 2.

    Cold, grey and dark grading (the look of gloom) lowers all three terms;
    brightness enters as a log so that dimming a dark scene still counts.
    """
    return warmth(image) + chroma(image) + 0.5 * math.log(brightness(image) + 0.02)


def lighting_contrast(image) -> float:
    """Spread of the large-scale illumination: std of log luma blurred at 1/16 of the frame.

    Light and shadow are slow changes of brightness; in log luma they do not
    depend on the overall exposure, so darkening leaves this unchanged while
    flattening the lighting sends it towards 0.
    """
    log_y = np.log(working_luma(image) + 0.03)
    illumination = ndimage.gaussian_filter(log_y, sigma=WORK_SIZE / 16, mode="reflect")
    return float(illumination.std())


def salient_edges(image) -> np.ndarray:
    """Where the picture's strongest edges are: a boolean map at WORK_SIZE.

    The top tenth of the gradient magnitudes, and only those above a small
    floor (so a flat frame has none). Relative to the picture's own edges, so
    that a faded or low-contrast picture still shows where its subject is.
    """
    magnitude = _gradient_magnitude(working_luma(image))
    cut = max(float(np.quantile(magnitude, 1.0 - SALIENT_SHARE)), SALIENT_FLOOR)
    return magnitude > cut


def centre_focus(image) -> float:
    """Share of the picture's salient edges that lie in the middle quarter of the frame.

    A centred subject puts at least the area's share (0.25) of them in the
    middle, a small subject in a corner far less. A flat image gives 0.25.
    """
    edges = salient_edges(image)
    centre = _box_mask(*CENTRE_BOX)
    if not edges.any():
        return float(centre.mean())
    return float(edges[centre].sum() / edges.sum())


def centre_offset(image) -> float:
    """Distance of the salient edges' centroid from the frame centre, 0 (centred) to 1 (a corner).

    In units of the half-diagonal. A flat image gives 0.
    """
    edges = salient_edges(image)
    if not edges.any():
        return 0.0
    rows, cols = np.nonzero(edges)
    centre = (WORK_SIZE - 1) / 2
    distance = math.hypot(rows.mean() - centre, cols.mean() - centre)
    return float(distance / math.hypot(centre, centre))


def border_detail(image) -> float:
    """Edge density in the border ring outside the middle 60% box: how much background there is."""
    edges = _gradient_magnitude(working_luma(image)) > EDGE_THRESHOLD
    return float(edges[~_box_mask(*BORDER_BOX)].mean())


def mirror_symmetry(image) -> float:
    """Pearson correlation of luma with its left-right mirror image (Gaussian sigma 1 first).

    Real scenes are seldom mirror-symmetric; an object folded onto itself is
    (the demo's "unreal, deformed" effect). 0 for a flat image.
    """
    y = ndimage.gaussian_filter(working_luma(image), sigma=EDGE_SIGMA, mode="reflect")
    mirrored = y[:, ::-1]
    y, mirrored = y - y.mean(), mirrored - mirrored.mean()
    norm = math.sqrt(float((y * y).sum() * (mirrored * mirrored).sum()))
    if norm <= 1e-12:
        return 0.0
    return float((y * mirrored).sum() / norm)


def _grid_differences(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean absolute luma step across each column gap and each row gap."""
    across_columns = np.abs(np.diff(y, axis=1)).mean(axis=0)
    across_rows = np.abs(np.diff(y, axis=0)).mean(axis=1)
    return across_columns, across_rows


def _gap_ratio(y: np.ndarray, on_grid: np.ndarray, off_grid: np.ndarray) -> float:
    """log of mean step on the chosen gaps over mean step on the comparison gaps, both axes."""
    steps = np.concatenate(_grid_differences(y))
    on = np.concatenate([on_grid, on_grid])
    off = np.concatenate([off_grid, off_grid])
    return float(np.log((steps[on].mean() + 1e-4) / (steps[off].mean() + 1e-4)))


def _gaps_every(period: int) -> np.ndarray:
    """Boolean over the WORK_SIZE - 1 gaps: True for the gap after every ``period``-th pixel."""
    return (np.arange(1, WORK_SIZE) % period) == 0


def blockiness(image) -> float:
    """Blocky, fragmented rendering: log(step across block edges / step inside blocks).

    Blocks are the frame cut into BLOCK_GRID x BLOCK_GRID squares. About 0 for a
    photograph; large when the image is made of flat blocks.
    """
    on_grid = _gaps_every(WORK_SIZE // BLOCK_GRID)
    return _gap_ratio(working_luma(image), on_grid, ~on_grid)


def tile_seams(image) -> float:
    """Collage seams: log(step across tile edges / step across the other block edges).

    Tiles are the frame cut into TILE_GRID x TILE_GRID. Comparing with the other
    block edges (not with every gap) keeps a blocky image from reading as a
    collage. About 0 for a photograph; large for shuffled tiles.
    """
    seams = _gaps_every(WORK_SIZE // TILE_GRID)
    blocks = _gaps_every(WORK_SIZE // BLOCK_GRID) & ~seams
    return _gap_ratio(working_luma(image), seams, blocks)


FEATURES: dict[str, Probe] = {
    "relative_sharpness": relative_sharpness,
    "highlight_clipping": highlight_clipping,
    "exposure": exposure,
    "saturation": saturation,
    "chroma": chroma,
    "hue_dispersion": hue_dispersion,
    "colour_clash": colour_clash,
    "warmth": warmth,
    "mood": mood,
    "lighting_contrast": lighting_contrast,
    "centre_focus": centre_focus,
    "centre_offset": centre_offset,
    "border_detail": border_detail,
    "mirror_symmetry": mirror_symmetry,
    "blockiness": blockiness,
    "tile_seams": tile_seams,
}


def measure(image, probes: Mapping[str, Probe] = PROBES) -> dict[str, float]:
    """Every probe of ``probes`` (default: all of PROBES) on one image."""
    rgb = as_rgb_array(image)
    return {name: probe(rgb) for name, probe in probes.items()}
