"""The procedural oracle and sugarwater generators: photos, effects, determinism."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from widespectrum import registry
from widespectrum.generation.base import GenerationRequest
from widespectrum.generation.procedural import (
    BUNDLED_PHOTOS,
    COLOUR_PHOTOS,
    EFFECTS,
    GREY_PHOTOS,
    OracleGenerator,
    SugarwaterGenerator,
    apply_effects,
    load_photo,
)
from widespectrum.prompts.dimensions import DIMENSIONS
from widespectrum.runtime import Runtime
from widespectrum import imagestats

SIZE = 128
PHOTOS = sorted(COLOUR_PHOTOS)  # what a prompt without a reference image gets

# The probe that each dimension's effect must move, and which way (+1 up, -1 down).
EFFECT_PROBES = {
    "background": (imagestats.border_detail, -1),
    "clarity": (imagestats.relative_sharpness, -1),
    "color_aesthetic": (imagestats.colour_clash, +1),
    "color_brightness": (imagestats.brightness, -1),
    "detail_realism": (imagestats.mirror_symmetry, +1),
    "detail_refinement": (imagestats.blockiness, +1),
    "emotion": (imagestats.mood, -1),
    "lighting_distinction": (imagestats.lighting_contrast, -1),
    "main_object": (imagestats.centre_offset, +1),
    "object_pairing": (imagestats.tile_seams, +1),
    "richness": (imagestats.richness, -1),
}


def request(photo: str | None, kind: str, dimensions=(), seed: int | None = 11, prompt_id: str = "0001"):
    return GenerationRequest(prompt_id=prompt_id, image_kind=kind, prompt="a caption", seed=seed,
                             reference_image=photo, dimensions=tuple(dimensions))


@pytest.fixture(scope="module")
def oracle() -> OracleGenerator:
    return OracleGenerator(name="oracle", runtime=Runtime(), size=SIZE)


@pytest.fixture(scope="module")
def sugarwater() -> SugarwaterGenerator:
    return SugarwaterGenerator(name="sugarwater", runtime=Runtime(), size=SIZE)


@pytest.fixture(scope="module")
def originals(oracle) -> dict[str, np.ndarray]:
    return {photo: np.asarray(oracle.generate(request(photo, "o"))) for photo in PHOTOS}


def test_generators_import_without_torch():
    code = "import sys, widespectrum.generation.procedural; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bundled_photos_ship_inside_scikit_image():
    data = importlib.resources.files("skimage.data")
    for filename in BUNDLED_PHOTOS.values():
        assert (data / filename).is_file(), filename


def test_grey_photos_come_out_as_grey_rgb(oracle):
    for photo in GREY_PHOTOS:
        pixels = np.asarray(oracle.generate(request(photo, "o")))
        assert pixels.shape == (SIZE, SIZE, 3), photo
        assert np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 1], pixels[..., 2])
    assert set(BUNDLED_PHOTOS) == set(COLOUR_PHOTOS) | set(GREY_PHOTOS)


def test_original_is_the_centre_cropped_photo(oracle, sugarwater, originals):
    with importlib.resources.as_file(importlib.resources.files("skimage.data") / "coffee.png") as path:
        photo = Image.open(path).convert("RGB")  # 600 x 400: the centre square starts at x = 100
    expected = np.asarray(photo.crop((100, 0, 500, 400)).resize((SIZE, SIZE), Image.Resampling.LANCZOS))
    image = oracle.generate(request("coffee", "o"))
    assert image.mode == "RGB" and image.size == (SIZE, SIZE)
    assert np.array_equal(np.asarray(image), expected)
    assert np.array_equal(np.asarray(sugarwater.generate(request("coffee", "o"))), expected)


def test_original_ignores_the_requested_dimensions(oracle, originals):
    image = oracle.generate(request("rocket", "o", ["clarity", "richness"]))
    assert np.array_equal(np.asarray(image), originals["rocket"])


def test_reference_image_may_be_a_file(oracle, tmp_path):
    pixels = np.random.default_rng(3).integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
    path = tmp_path / "reference.png"
    Image.fromarray(pixels).save(path)
    image = oracle.generate(request(str(path), "o"))
    expected = Image.fromarray(pixels[:, 10:50]).resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(image), np.asarray(expected))
    with pytest.raises(FileNotFoundError):
        oracle.generate(request(str(tmp_path / "missing.png"), "o"))


def test_missing_reference_picks_a_photo_from_the_prompt_id(oracle, originals):
    other = OracleGenerator(name="elsewhere", runtime=Runtime(), size=SIZE)
    chosen = set()
    for prompt_id in [f"{i:04d}" for i in range(12)]:
        image = np.asarray(oracle.generate(request(None, "o", prompt_id=prompt_id)))
        assert np.array_equal(image, np.asarray(other.generate(request(None, "o", prompt_id=prompt_id))))
        matches = [p for p in PHOTOS if np.array_equal(image, originals[p])]
        assert len(matches) == 1
        chosen.add(matches[0])
    assert len(chosen) > 2


def test_photos_option_restricts_the_choice():
    generator = OracleGenerator(name="oracle", runtime=Runtime(), size=SIZE, photos=["chelsea"])
    expected = np.asarray(generator.generate(request("chelsea", "o")))
    for prompt_id in ("a", "b", "c"):
        assert np.array_equal(np.asarray(generator.generate(request(None, "o", prompt_id=prompt_id))), expected)
    with pytest.raises(ValueError, match="unknown photo"):
        OracleGenerator(name="oracle", runtime=Runtime(), photos=["mona_lisa"])


def test_bad_size_dimension_or_kind_is_refused(oracle):
    with pytest.raises(ValueError, match="multiple of"):
        OracleGenerator(name="oracle", runtime=Runtime(), size=100)
    with pytest.raises(ValueError, match="unknown dimension"):
        oracle.generate(request("coffee", "a", ["symmetry"]))
    with pytest.raises(ValueError, match="image_kind"):
        oracle.generate(request("coffee", "x"))


def test_generation_is_deterministic(oracle):
    dims = ("clarity", "object_pairing", "detail_realism", "color_aesthetic")
    first = oracle.generate(request("astronaut", "a", dims, seed=5)).tobytes()
    load_photo.cache_clear()
    fresh = OracleGenerator(name="oracle", runtime=Runtime(), size=SIZE)
    assert fresh.generate(request("astronaut", "a", dims, seed=5)).tobytes() == first
    assert oracle.generate(request("astronaut", "a", dims, seed=6)).tobytes() != first
    unseeded = request("astronaut", "a", dims, seed=None)
    assert oracle.generate(unseeded).tobytes() == fresh.generate(unseeded).tobytes()


def test_effects_apply_in_a_fixed_order(originals):
    photo = originals["motorcycle"] / 255.0
    forward = apply_effects(photo, ["richness", "main_object", "emotion"], seed=2)
    backward = apply_effects(photo, ["emotion", "main_object", "richness"], seed=2)
    assert np.array_equal(forward, backward)
    assert list(EFFECTS) != sorted(EFFECTS) and set(EFFECTS) == set(DIMENSIONS)


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_each_effect_moves_its_probe_on_every_photo(oracle, originals, dimension):
    probe, direction = EFFECT_PROBES[dimension]
    moved = []
    for photo in PHOTOS:
        anti = np.asarray(oracle.generate(request(photo, "a", [dimension])))
        change = probe(anti) - probe(originals[photo])
        moved.append(direction * change > 0)
    assert all(moved), dict(zip(PHOTOS, moved))
    assert len(moved) >= 3


def test_sugarwater_beautifies_and_ignores_the_request(sugarwater, oracle, originals):
    for photo in PHOTOS:
        sweet = sugarwater.generate(request(photo, "a", ["clarity", "color_brightness"]))
        assert np.array_equal(np.asarray(sweet), np.asarray(sugarwater.generate(request(photo, "a", ["emotion"]))))
        assert imagestats.aesthetic(sweet) > imagestats.aesthetic(originals[photo]), photo
        dull = oracle.generate(request(photo, "a", ["clarity", "color_brightness"]))
        assert imagestats.aesthetic(dull) < imagestats.aesthetic(originals[photo]), photo


def test_generators_build_from_the_registry():
    entries = {"generators": {"oracle": {"loader": "oracle", "options": {"size": 64}},
                              "sugarwater": {"loader": "sugarwater", "options": {"size": 64}}}}
    for name, cls in (("oracle", OracleGenerator), ("sugarwater", SugarwaterGenerator)):
        generator = registry.build(entries, "generators", name, Runtime())
        assert isinstance(generator, cls) and generator.size == 64
        assert generator.generate(request("chelsea", "a", ["richness"])).size == (64, 64)
        assert generator.provenance()["kind"] == "procedural"
