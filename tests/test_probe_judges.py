"""The probe pairwise judge and per-dimension rater on the procedural generators' images."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from widespectrum import registry
from widespectrum.generation.base import GenerationRequest
from widespectrum.generation.procedural import OracleGenerator, SugarwaterGenerator
from widespectrum.judging.base import PairRequest
from widespectrum.judging.probes import READINGS, ProbeDimensionRater, ProbePairwiseJudge
from widespectrum.prompts.dimensions import DIMENSIONS
from widespectrum.runtime import Runtime

SIZE = 128
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def request(photo: str, kind: str, dimensions=(), seed: int = 4) -> GenerationRequest:
    return GenerationRequest(prompt_id="0001", image_kind=kind, prompt="a caption", seed=seed,
                             reference_image=photo, dimensions=tuple(dimensions))


def pair(first, second, dimensions) -> PairRequest:
    return PairRequest(prompt_id="0001", prompt_anti="an anti-aesthetic rewrite", dimensions=tuple(dimensions),
                       first=first, second=second)


@pytest.fixture(scope="module")
def images():
    """Per photo: I_o, sugarwater's I_a, and the oracle's I_a for each single dimension."""
    oracle = OracleGenerator(name="oracle", runtime=Runtime(), size=SIZE)
    sugarwater = SugarwaterGenerator(name="sugarwater", runtime=Runtime(), size=SIZE)
    made = {}
    for photo in PHOTOS:
        made[photo] = {
            "o": oracle.generate(request(photo, "o")),
            "sugar": sugarwater.generate(request(photo, "a", ["clarity"])),
            **{d: oracle.generate(request(photo, "a", [d])) for d in DIMENSIONS},
        }
    return made


@pytest.fixture(scope="module")
def judge() -> ProbePairwiseJudge:
    return ProbePairwiseJudge(name="probe-judge", runtime=Runtime())


@pytest.fixture(scope="module")
def rater() -> ProbeDimensionRater:
    return ProbeDimensionRater(name="probe-rater", runtime=Runtime())


def test_judges_import_without_torch():
    code = "import sys, widespectrum.judging.probes; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_dimension_has_a_reading():
    assert set(READINGS) == set(DIMENSIONS)
    assert all(r.scale > 0 for r in READINGS.values())


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_judge_picks_the_oracle_anti_image_in_both_orders(judge, images, dimension):
    for photo in PHOTOS:
        original, anti = images[photo]["o"], images[photo][dimension]
        assert judge.judge(pair(original, anti, [dimension])) == 1, photo
        assert judge.judge(pair(anti, original, [dimension])) == 0, photo


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_judge_prefers_the_oracle_over_sugarwater(judge, images, dimension):
    for photo in PHOTOS:
        sweet, anti = images[photo]["sugar"], images[photo][dimension]
        assert judge.judge(pair(sweet, anti, [dimension])) == 1, photo
        assert judge.judge(pair(anti, sweet, [dimension])) == 0, photo


def test_judge_ties_identical_images_and_empty_requests(judge, images):
    image = images["coffee"]["clarity"]
    assert judge.judge(pair(image, image, DIMENSIONS)) == -1
    assert judge.judge(pair(images["coffee"]["o"], image, [])) == -1


def test_judge_counts_votes_and_ties_a_draw(judge, images):
    # the clarity image wins clarity, the darkened image wins brightness: one vote each
    blurred, dark = images["astronaut"]["clarity"], images["astronaut"]["color_brightness"]
    request = pair(blurred, dark, ["clarity", "color_brightness"])
    assert judge.votes(request).tolist() == [0, 1]
    assert judge.judge(request) == -1
    assert judge.judge(pair(blurred, dark, ["clarity", "color_brightness", "main_object"])) == -1
    assert judge.judge(pair(blurred, dark, ["clarity", "detail_refinement"])) == 0


def test_swapping_the_images_swaps_the_answer(judge, images):
    rng = np.random.default_rng(0)
    for _ in range(12):
        photo = PHOTOS[rng.integers(len(PHOTOS))]
        first, second = (images[photo][k] for k in rng.choice(["o", "sugar", *DIMENSIONS], 2, replace=False))
        dims = list(rng.choice(DIMENSIONS, int(rng.integers(1, 5)), replace=False))
        forward, backward = judge.judge(pair(first, second, dims)), judge.judge(pair(second, first, dims))
        assert (forward, backward) in {(0, 1), (1, 0), (-1, -1)}


def test_a_large_margin_leaves_everything_undecided(images):
    cautious = ProbePairwiseJudge(name="cautious", runtime=Runtime(), margin=100.0)
    assert cautious.judge(pair(images["rocket"]["o"], images["rocket"]["richness"], ["richness"])) == -1
    with pytest.raises(ValueError):
        ProbePairwiseJudge(name="x", runtime=Runtime(), margin=-1)


def test_ratings_are_in_range_and_lower_on_the_affected_dimension(rater, images):
    for photo in PHOTOS:
        stack = [images[photo]["o"], images[photo]["sugar"], *(images[photo][d] for d in DIMENSIONS)]
        ratings = rater.rate(stack, DIMENSIONS)
        assert ratings.shape == (len(stack), len(DIMENSIONS))
        assert np.all((ratings >= 0) & (ratings <= 2))
        original = ratings[0]
        for column, dimension in enumerate(DIMENSIONS):
            assert ratings[2 + column, column] < original[column] - 0.3, (photo, dimension)


def test_ratings_follow_the_requested_dimension_order(rater, images):
    image = images["chelsea"]["emotion"]
    forward = rater.rate([image], ["emotion", "clarity", "richness"])
    backward = rater.rate([image], ["richness", "clarity", "emotion"])
    assert np.array_equal(forward[:, ::-1], backward)
    with pytest.raises(ValueError, match="unknown dimension"):
        rater.rate([image], ["symmetry"])


def test_rating_is_a_smooth_monotone_map_of_the_probe(rater):
    greys = [np.full((32, 32, 3), value, dtype=np.uint8) for value in (5, 40, 90, 160, 240)]
    brightness = rater.rate(greys, ["color_brightness"])[:, 0]
    assert np.all(np.diff(brightness) > 0)
    reading = READINGS["color_brightness"]
    at_centre = np.full((8, 8, 3), round(255 * (np.exp(reading.centre) - 0.02)), dtype=np.uint8)
    assert rater.rate([at_centre], ["color_brightness"])[0, 0] == pytest.approx(1.0, abs=0.02)


def test_judges_build_from_the_registry():
    entries = {"judges": {"probe-judge": {"loader": "probe_pairwise", "options": {"margin": 0.25}},
                          "probe-rater": {"loader": "probe_rater"}}}
    judge = registry.build(entries, "judges", "probe-judge", Runtime())
    assert isinstance(judge, ProbePairwiseJudge) and judge.margin == 0.25
    assert isinstance(registry.build(entries, "judges", "probe-rater", Runtime()), ProbeDimensionRater)
    assert set(judge.provenance()["dimensions"]) == set(DIMENSIONS)
