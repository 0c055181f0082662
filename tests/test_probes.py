"""Pixel probes against independent computations on hand-made images with known answers."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageFilter

from widespectrum import registry
from widespectrum.runtime import Runtime
from widespectrum import imagestats
from widespectrum.imagestats import PROBES
from widespectrum.scoring.probes import ProbeReward

N = imagestats.WORK_SIZE


def constant(value, size: int = N) -> np.ndarray:
    return np.full((size, size, 3), value, dtype=np.uint8)


def grey(values: np.ndarray) -> np.ndarray:
    """An RGB image whose three channels all equal ``values``."""
    return np.repeat(np.asarray(values, dtype=np.uint8)[..., None], 3, axis=2)


@pytest.fixture(scope="module")
def random_image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(96, 80, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def smooth_image() -> np.ndarray:
    """A photo-like image: random colour blobs a few pixels across."""
    from scipy import ndimage

    noise = np.random.default_rng(1).standard_normal((N, N, 3))
    blobs = ndimage.gaussian_filter(noise, sigma=(2, 2, 0))
    blobs = (blobs - blobs.min()) / (blobs.max() - blobs.min())
    return np.round(blobs * 255).astype(np.uint8)


def test_probes_import_without_torch():
    code = "import sys, widespectrum.scoring.probes; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- brightness and contrast

@pytest.mark.parametrize("value, expected", [(0, 0.0), (255, 1.0), (51, 0.2)])
def test_brightness_of_flat_greys(value, expected):
    assert imagestats.brightness(constant(value)) == pytest.approx(expected)


def test_brightness_uses_rec709_weights():
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    assert imagestats.brightness(red) == pytest.approx(0.2126)


def test_contrast_is_zero_for_flat_and_half_for_black_white_halves():
    assert imagestats.contrast(constant(90)) == pytest.approx(0.0, abs=1e-12)
    halves = constant(0)
    halves[:, N // 2:] = 255
    assert imagestats.contrast(halves) == pytest.approx(0.5)


# ---------------------------------------------------------------- colourfulness

def test_colourfulness_of_grey_images_is_zero(random_image):
    assert imagestats.colourfulness(grey(random_image[..., 0])) == pytest.approx(0.0, abs=1e-12)


def test_colourfulness_of_pure_red():
    red = np.zeros((8, 8, 3), dtype=np.uint8)
    red[..., 0] = 255
    # rg = 255, yb = 127.5 everywhere: no spread, M = 0.3 * |(255, 127.5)|
    assert imagestats.colourfulness(red) == pytest.approx(0.3 * math.sqrt(255**2 + 127.5**2))


def test_colourfulness_matches_hasler_susstrunk_formula(random_image):
    r, g, b = (random_image[..., i].astype(float).ravel() for i in range(3))
    rg = r - g
    yb = (r + g) / 2 - b
    n = rg.size
    sd_rg = math.sqrt(sum((v - rg.sum() / n) ** 2 for v in rg) / n)
    sd_yb = math.sqrt(sum((v - yb.sum() / n) ** 2 for v in yb) / n)
    expected = math.sqrt(sd_rg**2 + sd_yb**2) + 0.3 * math.sqrt((rg.sum() / n) ** 2 + (yb.sum() / n) ** 2)
    assert imagestats.colourfulness(random_image) == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------- sharpness and richness

def test_flat_image_has_zero_sharpness_and_richness():
    assert imagestats.sharpness(constant(128)) == 0.0
    assert imagestats.richness(constant(128)) == 0.0


@pytest.mark.parametrize("periods", [4, 8])
def test_sharpness_of_a_cosine_grating_matches_the_gaussian_laplacian_response(periods):
    # cos(w (x + 1/2)) with whole periods: its mirror extension at the borders is periodic,
    # so the LoG output is the grating times the continuous response -w^2 exp(-w^2 sigma^2 / 2)
    omega = 2 * math.pi * periods / N
    row = 128 + 100 * np.cos(omega * (np.arange(N) + 0.5))
    image = grey(np.round(np.tile(row, (N, 1))))
    amplitude = 100 * omega**2 * math.exp(-(omega * imagestats.EDGE_SIGMA) ** 2 / 2)
    variance = math.expm1(imagestats.sharpness(image))
    assert variance == pytest.approx(amplitude**2 / 2, rel=0.02)


def test_blur_lowers_sharpness(smooth_image):
    blurred = np.asarray(Image.fromarray(smooth_image).filter(ImageFilter.GaussianBlur(3)))
    assert imagestats.sharpness(blurred) < imagestats.sharpness(smooth_image) - 1.0


def test_spatial_probes_do_not_depend_on_resolution(smooth_image):
    # a 2x nearest-neighbour enlargement box-shrinks back to the very same working image
    doubled = smooth_image.repeat(2, axis=0).repeat(2, axis=1)
    for probe in (imagestats.sharpness, imagestats.richness, imagestats.relative_sharpness, imagestats.blockiness):
        assert probe(doubled) == pytest.approx(probe(smooth_image), abs=1e-12)


def test_richness_of_a_step_edge_is_the_gaussian_edge_band():
    step = constant(0)
    step[:, N // 2:] = 255
    # a unit step blurred by a Gaussian has gradient pdf(d) at distance d from the edge
    pdf = lambda d: math.exp(-d * d / (2 * imagestats.EDGE_SIGMA**2)) / (imagestats.EDGE_SIGMA * math.sqrt(2 * math.pi))
    edge_columns = sum(pdf(abs(col - (N / 2 - 0.5))) > imagestats.EDGE_THRESHOLD for col in range(N))
    assert imagestats.richness(step) == pytest.approx(edge_columns / N)


# ---------------------------------------------------------------- aesthetic

def test_aesthetic_prefers_well_exposed_over_blown_out():
    assert imagestats.aesthetic(constant(140)) > imagestats.aesthetic(constant(255)) + 3.0


def test_aesthetic_prefers_colour_and_contrast(smooth_image):
    washed = grey(imagestats.luma(smooth_image) * 255 * 0.5 + 64)
    assert imagestats.aesthetic(smooth_image) > imagestats.aesthetic(washed)


# ---------------------------------------------------------------- features for the judges

def test_highlight_clipping_counts_blown_pixels():
    image = constant(100)
    image[: N // 2, : N // 2, 1] = 255  # a quarter of the pixels with a blown green channel
    assert imagestats.highlight_clipping(image) == pytest.approx(0.25)


def test_hue_dispersion_of_one_hue_and_of_two_opposite_hues():
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 200
    assert imagestats.hue_dispersion(red) == pytest.approx(0.0, abs=1e-12)
    red_and_cyan = red.copy()
    red_and_cyan[:, 2:] = (0, 200, 200)
    assert imagestats.hue_dispersion(red_and_cyan) == pytest.approx(1.0)
    assert imagestats.hue_dispersion(constant(77)) == 0.0


def test_warmth_and_chroma_of_primaries():
    red, blue = np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    assert imagestats.warmth(red) == 1.0 and imagestats.warmth(blue) == -1.0
    assert imagestats.chroma(red) == 1.0 and imagestats.chroma(constant(200)) == 0.0


def test_mood_is_the_sum_of_its_documented_terms(random_image):
    expected = (imagestats.warmth(random_image) + imagestats.chroma(random_image)
                + 0.5 * math.log(imagestats.brightness(random_image) + 0.02))
    assert imagestats.mood(random_image) == pytest.approx(expected)


def test_mirror_symmetry_of_symmetric_and_antisymmetric_images(smooth_image):
    folded = smooth_image.copy()
    folded[:, N // 2:] = folded[:, : N // 2][:, ::-1]
    assert imagestats.mirror_symmetry(folded) == pytest.approx(1.0)
    ramp = grey(np.tile(np.linspace(0, 255, N), (N, 1)))
    assert imagestats.mirror_symmetry(ramp) == pytest.approx(-1.0)
    assert imagestats.mirror_symmetry(constant(10)) == 0.0


def test_blockiness_of_a_ramp_and_of_flat_blocks(random_image):
    ramp = grey(np.round(np.tile(np.linspace(0, 255, N), (N, 1))))
    assert abs(imagestats.blockiness(ramp)) < 0.05
    block = N // imagestats.BLOCK_GRID
    blocks = random_image[: imagestats.BLOCK_GRID, : imagestats.BLOCK_GRID].repeat(block, 0).repeat(block, 1)
    assert imagestats.blockiness(blocks) > 5.0


def test_tile_seams_see_tiles_but_not_blocks(random_image):
    tile = N // imagestats.TILE_GRID
    tiles = random_image[: imagestats.TILE_GRID, : imagestats.TILE_GRID].repeat(tile, 0).repeat(tile, 1)
    assert imagestats.tile_seams(tiles) > 5.0
    block = N // imagestats.BLOCK_GRID
    blocks = random_image[: imagestats.BLOCK_GRID, : imagestats.BLOCK_GRID].repeat(block, 0).repeat(block, 1)
    assert abs(imagestats.tile_seams(blocks)) < 0.3


def test_centre_features_locate_a_lone_square():
    centred, cornered = constant(0), constant(0)
    centred[56:72, 56:72] = 255
    cornered[4:20, 4:20] = 255
    assert imagestats.centre_focus(centred) == 1.0
    assert imagestats.centre_offset(centred) == pytest.approx(0.0, abs=1e-9)
    assert imagestats.centre_focus(cornered) == 0.0
    corner_centre = 11.5  # the square's centroid; its edges sit symmetrically round it
    expected = math.hypot(63.5 - corner_centre, 63.5 - corner_centre) / math.hypot(63.5, 63.5)
    assert imagestats.centre_offset(cornered) == pytest.approx(expected, abs=0.02)
    assert imagestats.centre_focus(constant(9)) == 0.25 and imagestats.centre_offset(constant(9)) == 0.0


def test_border_detail_ignores_the_middle(random_image):
    middle_only = constant(128)
    middle_only[40:88, 40:88] = random_image[:48, :48]
    assert imagestats.border_detail(middle_only) == 0.0
    assert imagestats.richness(middle_only) > 0.05


def test_lighting_contrast_is_zero_when_flat_and_blind_to_exposure():
    assert imagestats.lighting_contrast(constant(120)) == pytest.approx(0.0, abs=1e-12)
    lit = constant(30)
    lit[:, N // 2:] = 220
    assert imagestats.lighting_contrast(lit) > 0.5


def test_relative_sharpness_ignores_a_fade(smooth_image):
    faded = np.round(0.5 * smooth_image.astype(float) + 64).astype(np.uint8)
    assert imagestats.relative_sharpness(faded) == pytest.approx(imagestats.relative_sharpness(smooth_image), abs=0.05)
    assert imagestats.relative_sharpness(constant(3)) == 0.0


# ---------------------------------------------------------------- plumbing and the reward model

def test_measure_gives_every_probe_as_float(random_image):
    values = imagestats.measure(random_image)
    assert set(values) == set(PROBES) == {"sharpness", "brightness", "colourfulness", "contrast", "richness", "aesthetic"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in values.values())
    assert set(imagestats.measure(random_image, imagestats.FEATURES)) == set(imagestats.FEATURES)


def test_as_rgb_array_accepts_images_arrays_and_paths(random_image, tmp_path):
    path = tmp_path / "image.png"
    Image.fromarray(random_image).save(path)
    for source in (random_image, Image.fromarray(random_image), path, str(path)):
        assert np.array_equal(imagestats.as_rgb_array(source), random_image)
    assert imagestats.as_rgb_array(random_image[..., 0]).shape == (96, 80, 3)
    with pytest.raises(TypeError):
        imagestats.as_rgb_array(random_image.astype(float))


def test_probe_reward_gives_one_score_per_pair_and_ignores_the_prompt(random_image, smooth_image):
    reward = ProbeReward(name="sharpness", runtime=Runtime(), batch_size=2, probe="sharpness")
    images = [Image.fromarray(random_image), Image.fromarray(smooth_image), Image.fromarray(smooth_image)]
    out = reward.score(images, ["a caption", "a caption", "a completely different request"])
    assert out.scores.shape == (3,) and out.scores.dtype == np.float64 and out.sigmas is None
    assert out.scores[1] == out.scores[2]  # r(I, p_o) == r(I, p_a)
    assert out.scores[0] == pytest.approx(imagestats.sharpness(random_image))
    alone = reward.score(images[1:2], ["x"]).scores[0]
    assert alone == out.scores[1]  # no dependence on the batch


def test_probe_reward_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown probe"):
        ProbeReward(name="x", runtime=Runtime(), probe="beauty")
    reward = ProbeReward(name="x", runtime=Runtime(), probe="contrast")
    with pytest.raises(ValueError):
        reward.score([constant(1)], [])


def test_probe_reward_builds_from_the_registry():
    entries = {"rewards": {"aesthetic": {"loader": "probe", "options": {"probe": "aesthetic"}}}}
    reward = registry.build(entries, "rewards", "aesthetic", Runtime())
    assert isinstance(reward, ProbeReward) and reward.probe == "aesthetic" and reward.name == "aesthetic"
    assert reward.score([constant(140)], ["p"]).scores[0] == pytest.approx(imagestats.aesthetic(constant(140)))
