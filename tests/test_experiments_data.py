"""Side experiments (E6, E7, E8, E10): stand-in items, prompts to render, score tables."""

import math
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from scipy import ndimage

from widespectrum.contracts import (ART_SCORES, AVA_SCORES, CRITICAL_SCORES, EMOTION_SCORES, EMOTIONS,
                                    EMOTIONS_NEGATIVE, FACE_SCORES, MANIFEST, OK, PROMPTS, sha256_file)
from widespectrum.errors import SetupError
from widespectrum.experiments.common import experiment_requests, relative_folder
from widespectrum.experiments.art.measure import ART_ITEMS, derangement, load_leaderboard, score_art
from widespectrum.experiments.ava.measure import AVA_ITEMS, ava_generation_prompts, score_ava
from widespectrum.experiments.critical.measure import critical_generation_prompts, load_critical_prompts, score_critical
from widespectrum.experiments.emotion.measure import (EMOTION_ITEMS, emotion_generation_prompts, emotion_prompt, face_prompt,
                                              load_emotion_templates, score_emotion_items, score_faces)
from widespectrum.experiments.emotion_generation.faces import CentreCropper, FaceCropper
from widespectrum.generation.procedural import COLOUR_PHOTOS, OracleGenerator, SugarwaterGenerator, load_photo
from widespectrum.generation.runner import pair_seed, run_generation
from widespectrum.demo import standins
from widespectrum.runtime import Runtime
from widespectrum import imagestats
from widespectrum.scoring.base import RewardModel, RewardOutput
from widespectrum.scoring.probes import ProbeReward

SIZE = 64
CONFIG = Path(__file__).resolve().parents[1] / "config" / "experiments"


# ---------------------------------------------------------------- helpers

def hand_score(image, prompt: str) -> float:
    """Brightness times a number fixed by the prompt's text: a wrong image or a wrong prompt shows."""
    return imagestats.brightness(image) * (1 + zlib.crc32(prompt.encode()) % 997)


class HandReward(RewardModel):
    """A prompt-dependent reward that can be checked by hand, and can be told to fail."""

    def __init__(self, batch_size: int = 3, refuse: str | None = None, value: float | None = None) -> None:
        super().__init__(name="hand", runtime=Runtime(device="cpu"), batch_size=batch_size)
        self.refuse, self.value = refuse, value
        self.batches: list[int] = []

    def score(self, images, prompts) -> RewardOutput:
        self.batches.append(len(images))
        if self.refuse and any(self.refuse in p for p in prompts):
            raise RuntimeError(f"refused {self.refuse}")
        if self.value is not None:
            return RewardOutput(np.full(len(images), self.value))
        return RewardOutput(np.array([hand_score(i, p) for i, p in zip(images, prompts)]))


class SetupFailingReward(HandReward):
    def score(self, images, prompts) -> RewardOutput:
        raise SetupError("API key not set")


def pixels(run_dir: Path, relpath: str) -> np.ndarray:
    with Image.open(run_dir / relpath) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="module")
def emotion_items(run_dir):
    return standins.emotion_items(run_dir / "emotion" / "items", run_dir, n_items=3, seed=7, size=SIZE)


@pytest.fixture(scope="module")
def ava_items(run_dir):
    return standins.ava_items(run_dir / "ava" / "items", run_dir, n_items=12, seed=7, size=SIZE)


@pytest.fixture(scope="module")
def art_items(run_dir):
    return standins.lapis_items(run_dir / "art" / "items", run_dir, n_items=6, seed=7, size=SIZE)


# ---------------------------------------------------------------- stand-ins

@pytest.mark.parametrize("make", [standins.emotion_items, standins.ava_items, standins.lapis_items])
def test_standins_are_deterministic_and_on_disk(tmp_path, make):
    first = make(tmp_path / "a" / "items", tmp_path / "a", n_items=3, seed=11, size=SIZE)
    again = make(tmp_path / "b" / "items", tmp_path / "b", n_items=3, seed=11, size=SIZE)
    other = make(tmp_path / "c" / "items", tmp_path / "c", n_items=3, seed=12, size=SIZE)
    pd.testing.assert_frame_equal(first, again)
    assert set(first["sha256"]).isdisjoint(other["sha256"])
    assert (first["status"] == OK).all()
    for row in first.itertuples(index=False):
        assert not Path(row.path).is_absolute() and row.path.startswith("items/")
        assert sha256_file(tmp_path / "a" / row.path) == row.sha256
        assert pixels(tmp_path / "a", row.path).shape == (SIZE, SIZE, 3)


def test_item_folders_must_lie_in_the_run_folder(tmp_path):
    with pytest.raises(ValueError, match="not inside the run folder"):
        standins.emotion_items(tmp_path / "elsewhere", tmp_path / "run", n_items=1, seed=0, size=SIZE)
    assert relative_folder(tmp_path / "run" / "x" / "y", tmp_path / "run") == "x/y"


def test_emotion_items_have_four_pictures_and_one_template(emotion_items):
    EMOTION_ITEMS.validate(emotion_items)
    assert len(emotion_items) == 3 * 4
    for _, group in emotion_items.groupby("item_id"):
        assert sorted(group["image_emotion"]) == sorted(EMOTIONS)
        assert group["prompt_template"].nunique() == 1
        assert "[emotion]" in group["prompt_template"].iloc[0]


def _vignette(image: np.ndarray) -> float:
    """Mean luma of the four corner blocks over that of the centre block."""
    y = imagestats.luma(image)
    k = y.shape[0] // 6
    corners = np.concatenate([y[:k, :k], y[:k, -k:], y[-k:, :k], y[-k:, -k:]]).mean()
    centre = y[y.shape[0] // 2 - k:y.shape[0] // 2 + k, y.shape[1] // 2 - k:y.shape[1] // 2 + k].mean()
    return float(corners / centre)


def _noise(image: np.ndarray) -> float:
    y = imagestats.luma(image)
    return float((y - ndimage.median_filter(y, size=3)).std())


def _redness(image: np.ndarray) -> float:
    rgb = image.astype(np.float64)
    return float((rgb[..., 0] - rgb[..., 1:].mean(axis=2)).mean() / 255)


def test_emotion_edits_move_the_probes_the_right_way(emotion_items, run_dir):
    for _, group in emotion_items.groupby("item_id"):
        picture = {row.image_emotion: pixels(run_dir, row.path) for row in group.itertuples()}
        happy, sad, angry, fearful = (picture[e] for e in ("happy", "sad", "angry", "fearful"))
        # sad: darker, greyer, gloomier
        assert imagestats.brightness(sad) < imagestats.brightness(happy) - 0.1
        assert imagestats.chroma(sad) < 0.6 * imagestats.chroma(happy)
        assert imagestats.mood(sad) < imagestats.mood(happy)
        # angry: redder and harsher
        assert _redness(angry) > _redness(happy) + 0.03
        assert imagestats.contrast(angry) > imagestats.contrast(happy)
        # fearful: dark, grey-green, vignetted, noisy
        assert imagestats.brightness(fearful) < imagestats.brightness(happy) - 0.1
        assert imagestats.chroma(fearful) < 0.5 * imagestats.chroma(happy)
        mean = fearful.reshape(-1, 3).mean(axis=0)
        assert mean[1] > mean[0] and mean[1] > mean[2]
        assert _vignette(fearful) < 0.8 * _vignette(happy)


def test_fearful_edit_adds_grain_and_a_vignette_to_a_flat_picture():
    flat = np.full((SIZE, SIZE, 3), 0.6)
    fearful = _as_uint8(standins.fearful_edit(flat, np.random.default_rng(0)))
    assert _noise(_as_uint8(flat)) == 0 and _noise(fearful) > 0.01
    assert _vignette(fearful) < 0.6


def test_happy_picture_is_warmer_and_brighter_than_the_photo():
    photo = load_photo("coffee", SIZE)
    happy = standins.happy_edit(photo)
    assert imagestats.brightness((happy * 255).astype(np.uint8)) > imagestats.brightness((photo * 255).astype(np.uint8))
    assert imagestats.warmth((happy * 255).astype(np.uint8)) > imagestats.warmth((photo * 255).astype(np.uint8))


def test_ava_taxonomy_has_the_papers_classes_and_groups():
    assert {"analog_degradation", "intentional_blur", "exposure_extremes"} <= set(standins.AVA_TAXONOMY)
    assert all(key == key.lower() and " " not in key for key in standins.AVA_TAXONOMY)
    groups = {c.group for c in standins.AVA_TAXONOMY.values()}
    assert groups == {"clarity_and_focus", "color_and_tone", "lighting_and_exposure", "composition_and_structure",
                      "emotion_and_subject"}


def _as_uint8(values: np.ndarray) -> np.ndarray:
    return np.round(np.clip(values, 0, 1) * 255).astype(np.uint8)


def _axis_aligned_share(image: np.ndarray) -> float:
    """Share of gradient energy pointing within 10 degrees of horizontal or vertical."""
    y = imagestats.luma(image)
    gy, gx = np.gradient(y)
    weight = np.hypot(gx, gy)
    angle = np.degrees(np.arctan2(gy, gx)) % 90
    aligned = (angle < 10) | (angle > 80)
    return float(weight[aligned].sum() / weight.sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_ava_class_has_a_measurable_effect(seed):
    photo = load_photo("chelsea", 96)
    before = _as_uint8(photo)

    def alone(key, source=photo):
        out, phrases = standins.apply_ava_classes(source, [key], seed)
        assert len(phrases) == 1
        return _as_uint8(out), phrases[0]

    blurred, _ = alone("intentional_blur")
    assert imagestats.sharpness(blurred) < imagestats.sharpness(before) - math.log(2)  # detail variance halved
    empty, _ = alone("empty_frame")
    assert imagestats.richness(empty) < 0.5 * imagestats.richness(before)
    clash, _ = alone("clashing_colour")
    assert imagestats.colour_clash(clash) > imagestats.colour_clash(before) + 0.2
    gloom, _ = alone("gloomy_mood")
    assert imagestats.mood(gloom) < imagestats.mood(before) - 0.3
    film, _ = alone("analog_degradation")
    assert np.percentile(imagestats.luma(film), 1) > np.percentile(imagestats.luma(before), 1) + 0.05  # faded blacks
    assert _noise(film) > 2 * _noise(before)  # grain
    exposed, phrase = alone("exposure_extremes")
    if "overexposure" in phrase:
        assert imagestats.highlight_clipping(exposed) > 0.3 and imagestats.brightness(exposed) > 0.7
    else:
        assert imagestats.brightness(exposed) < 0.15
    # a tilt turns straight lines: horizontal stripes lose their axis-aligned gradients
    rows = np.arange(96)[:, None] * np.ones((1, 96))
    stripes = np.repeat((0.5 + 0.4 * np.sin(rows / 3.0))[..., None], 3, axis=2)
    tilted, _ = alone("dutch_tilt", stripes)
    assert _axis_aligned_share(_as_uint8(stripes)) > 0.95
    assert _axis_aligned_share(tilted) < 0.5


def test_exposure_extremes_go_both_ways():
    photo = load_photo("coffee", SIZE)
    phrases = {standins.apply_ava_classes(photo, ["exposure_extremes"], seed)[1][0] for seed in range(12)}
    assert any("overexposure" in p for p in phrases) and any("underexposure" in p for p in phrases)


def test_ava_items_carry_classes_and_both_captions(ava_items):
    AVA_ITEMS.validate(ava_items)
    assert ava_items["classes"].map(len).between(1, 3).all()
    seen = {c for classes in ava_items["classes"] for c in classes}
    assert len(seen) >= 5
    for row in ava_items.itertuples():
        assert set(row.classes) <= set(standins.AVA_TAXONOMY)
        assert row.reference_image in COLOUR_PHOTOS
        subject = standins.PHOTO_SUBJECTS[row.reference_image]
        assert subject in row.caption_anti and subject in row.caption_clean
        assert row.caption_anti != row.caption_clean
    with_blur = ava_items[ava_items["classes"].map(lambda c: "intentional_blur" in c)]
    assert with_blur["caption_anti"].str.contains("blur").all()


def test_paintings_differ_by_seed_and_repeat_with_it():
    canvases = [standins.paint_canvas(seed, SIZE) for seed in range(8)]
    arrays = [np.asarray(image) for image, _ in canvases]
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            assert not np.array_equal(arrays[i], arrays[j])
    image, caption = standins.paint_canvas(3, SIZE)
    assert np.array_equal(np.asarray(image), arrays[3]) and caption == canvases[3][1]
    for _, caption in canvases:
        assert caption.startswith("An abstract painting of ")
        assert any(name in caption for name in standins.PALETTES)
    assert len({caption for _, caption in canvases}) > 4
    # a painting is not a flat field
    assert all(imagestats.contrast(a) > 0.02 for a in arrays)


def test_lapis_items(art_items):
    ART_ITEMS.validate(art_items)
    assert art_items["item_id"].is_unique and len(art_items) == 6


# ---------------------------------------------------------------- shipped files

def test_critical_prompts_file_has_five_topics_of_twenty():
    prompts = load_critical_prompts(CONFIG / "critical_prompts.yaml")
    assert list(prompts.columns) == ["prompt_id", "topic", "prompt"]
    assert prompts.groupby("topic").size().to_dict() == {
        t: 20 for t in ("anti_war", "pollution", "inequality", "censorship", "digital_overload")}
    assert prompts["prompt_id"].is_unique and prompts["prompt"].is_unique
    assert prompts["prompt_id"].iloc[0] == "anti_war-01"


@pytest.mark.parametrize("bad, message", [
    ({"topics": {"Anti War": ["x"]}}, "snake_case"),
    ({"topics": {"war": []}}, "non-empty list"),
    ({"topics": {"war": ["same", "same"]}}, "appears twice"),
    ({"prompts": []}, "under 'topics'"),
])
def test_critical_prompt_loader_rejects_bad_files(tmp_path, bad, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError, match=message):
        load_critical_prompts(path)


def test_emotion_templates_make_120_prompts():
    templates = load_emotion_templates(CONFIG / "emotion_templates.yaml")
    assert len(templates) == 30
    prompts = emotion_generation_prompts(templates)
    PROMPTS.validate(prompts)
    assert len(prompts) == 120 and prompts["prompt_id"].is_unique
    row = prompts.set_index("prompt_id").loc["t07-sad"]
    assert row["prompt_original"] == emotion_prompt(templates[7], "sad") == row["prompt_anti"]
    assert row["emotion"] == "sad" and row["seed_key"] == "t07"
    assert not prompts["prompt_original"].str.contains(r"\ba angry\b").any()  # "an angry", never "a angry"
    assert not prompts["prompt_original"].str.contains("[", regex=False).any()


def test_emotion_template_loader_needs_one_slot(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"templates": ["A man", "A [emotion] man"]}))
    with pytest.raises(ValueError, match="exactly one"):
        load_emotion_templates(path)
    with pytest.raises(ValueError, match="no \\[emotion\\] slot"):
        emotion_prompt("A man", "sad")


def test_leaderboard_loader(tmp_path):
    shipped = load_leaderboard(CONFIG / "hpsv3_leaderboard.yaml")
    # HPSv3's README, "Image Generation Benchmark of HPSv3", column Overall: 11 models
    assert shipped.month == "25/08" and "HPSv3" in shipped.source["repository"] and len(shipped.entries) == 11
    top, bottom = shipped.entries.iloc[0], shipped.entries.iloc[-1]
    assert (top["model"], top["score"], bottom["model"], bottom["score"]) == ("Kolors", 10.55, "SD2", -0.24)
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump({"source": "s", "month": "25/08",
                                    "entries": [{"model": "A", "score": 1.5}, {"model": "B", "score": 9}]}))
    board = load_leaderboard(path)
    assert board.entries["model"].tolist() == ["B", "A"] and board.entries["score"].tolist() == [9.0, 1.5]
    for entries, message in (([{"model": "A", "score": 1}, {"model": "A", "score": 2}], "listed twice"),
                             ([{"model": "A", "score": "high"}], "not a finite number"),
                             ([{"model": "A"}], "the keys model and score")):
        path.write_text(yaml.safe_dump({"source": "s", "month": "m", "entries": entries}))
        with pytest.raises(ValueError, match=message):
            load_leaderboard(path)
    path.write_text(yaml.safe_dump({"source": "s", "entries": []}))
    with pytest.raises(ValueError, match="month"):
        load_leaderboard(path)


# ---------------------------------------------------------------- derangement

def test_derangement_has_no_fixed_point_and_is_seeded():
    for n in range(2, 25):
        for seed in range(5):
            order = derangement(n, seed)
            assert sorted(order) == list(range(n))
            assert not np.any(order == np.arange(n))
            assert np.array_equal(order, derangement(n, seed))
    assert {tuple(derangement(3, seed)) for seed in range(40)} == {(1, 2, 0), (2, 0, 1)}
    with pytest.raises(ValueError):
        derangement(1, 0)


# ---------------------------------------------------------------- scoring: E6 classification

def test_score_emotion_items_pairs_prompt_and_picture(emotion_items, run_dir):
    reward = HandReward(batch_size=4)
    scores = score_emotion_items(reward, emotion_items, run_dir)
    EMOTION_SCORES.validate(scores)
    assert len(scores) == 3 * 3 * 2 and (scores["status"] == OK).all()
    assert max(reward.batches) <= 4 and sum(reward.batches) == len(scores)
    paths = {(r.item_id, r.image_emotion): r.path for r in emotion_items.itertuples()}
    templates = dict(zip(emotion_items["item_id"], emotion_items["prompt_template"]))
    for row in scores.itertuples():
        assert row.image_emotion in (row.emotion, "happy")
        prompt = emotion_prompt(templates[row.item_id], row.emotion)
        expected = hand_score(pixels(run_dir, paths[(row.item_id, row.image_emotion)]), prompt)
        assert row.score == pytest.approx(expected, rel=1e-12)
    assert set(scores["emotion"]) == set(EMOTIONS_NEGATIVE)


def test_brightness_reward_prefers_the_happy_picture(emotion_items, run_dir):
    reward = ProbeReward(name="brightness", runtime=Runtime(device="cpu"), probe="brightness", batch_size=5)
    scores = score_emotion_items(reward, emotion_items, run_dir)
    wide = scores.pivot_table(index=["item_id", "emotion"], columns="image_emotion", values="score")
    negative = wide.apply(lambda r: r[r.name[1]], axis=1)
    accuracy = (negative > wide["happy"]).groupby(level="emotion").mean()
    assert accuracy.to_dict() == {"angry": 0.0, "fearful": 0.0, "sad": 0.0}


def test_emotion_failures_become_status_rows(emotion_items, run_dir):
    items = emotion_items.copy()
    broken = (items["item_id"] == "001") & (items["image_emotion"] == "sad")
    items.loc[broken, ["path", "sha256"]] = None
    items.loc[broken, "status"] = "error: decode failed"
    items = items[~((items["item_id"] == "002") & (items["image_emotion"] == "angry"))]
    scores = score_emotion_items(HandReward(batch_size=1, refuse="fearful"), items, run_dir).set_index(
        ["item_id", "emotion", "image_emotion"])
    assert scores.loc[("001", "sad", "sad"), "status"] == "sad image failed: error: decode failed"
    assert scores.loc[("002", "angry", "angry"), "status"] == "angry image not in items"
    fearful = scores.xs("fearful", level="emotion")
    assert fearful["status"].str.startswith("error: RuntimeError: refused fearful").all()
    assert fearful["score"].isna().all()
    ok = scores[scores["status"] == OK]
    assert len(ok) == 18 - 2 - 6 and ok["score"].notna().all()


def test_non_finite_scores_and_tampered_pictures_fail_their_rows(emotion_items, run_dir, tmp_path):
    scores = score_emotion_items(HandReward(value=float("nan")), emotion_items, run_dir)
    assert (scores["status"] == "error: non-finite score").all()
    items = emotion_items.copy()
    items.loc[0, "sha256"] = "0" * 64
    scores = score_emotion_items(HandReward(), items, run_dir)
    tampered = scores[(scores["item_id"] == items.loc[0, "item_id"])
                      & (scores["image_emotion"] == items.loc[0, "image_emotion"])]
    assert tampered["status"].str.contains("ImageIntegrityError").all()
    assert (scores.drop(tampered.index)["status"] == OK).all()


def test_setup_errors_stop_the_job(emotion_items, run_dir):
    with pytest.raises(SetupError):
        score_emotion_items(SetupFailingReward(), emotion_items, run_dir)


# ---------------------------------------------------------------- scoring: E6 generation

@pytest.fixture(scope="module")
def emotion_render(run_dir):
    templates = ["A portrait of a sailor, looking [emotion]", "A child on a swing, her face [emotion]"]
    prompts = emotion_generation_prompts(templates)
    generator = OracleGenerator(name="oracle", runtime=Runtime(device="cpu"), size=SIZE)
    requests = experiment_requests(prompts, {"steps": 1}, base_seed=5)
    manifest = run_generation(generator, requests, run_dir, "emotion/images/oracle")
    return prompts, requests, manifest


def test_experiment_requests_render_once_with_a_shared_seed_per_template(emotion_render):
    prompts, requests, manifest = emotion_render
    assert len(requests) == len(prompts) == 8
    assert {r.image_kind for r in requests} == {"o"}
    seeds = {r.prompt_id: r.seed for r in requests}
    assert seeds["t00-sad"] == seeds["t00-happy"] == pair_seed(5, "t00") != seeds["t01-sad"]
    assert {r.prompt for r in requests} == set(prompts["prompt_original"])
    MANIFEST.validate(manifest)
    assert (manifest["status"] == OK).all()


class BlindCropper(FaceCropper):
    """Finds the 'face' (the centre) in every picture except one given picture."""

    def __init__(self, blind_to: np.ndarray) -> None:
        self.blind_to = blind_to

    def crop(self, image):
        if np.array_equal(np.asarray(image), self.blind_to):
            return None
        return CentreCropper(0.5).crop(image)


def test_score_faces_scores_the_crop_under_the_face_prompt(emotion_render, run_dir):
    prompts, _, manifest = emotion_render
    reward = HandReward(batch_size=3)
    scores = score_faces(reward, CentreCropper(0.5), manifest, prompts, run_dir)
    FACE_SCORES.validate(scores)
    assert len(scores) == 8 and (scores["status"] == OK).all() and set(scores["generator"]) == {"oracle"}
    paths = dict(zip(manifest["prompt_id"], manifest["path"]))
    emotions = dict(zip(prompts["prompt_id"], prompts["emotion"]))
    for row in scores.itertuples():
        assert row.emotion == emotions[row.prompt_id]
        image = pixels(run_dir, paths[row.prompt_id])
        crop = image[SIZE // 4: SIZE // 4 + SIZE // 2, SIZE // 4: SIZE // 4 + SIZE // 2]
        assert row.score == pytest.approx(hand_score(crop, f"The face shows {row.emotion} expression"), rel=1e-12)
    assert face_prompt("sad") == "The face shows sad expression"


def test_score_faces_records_missing_faces_and_failed_images(emotion_render, run_dir):
    prompts, _, manifest = emotion_render
    manifest = manifest.copy()
    failed = manifest["prompt_id"] == "t01-angry"
    manifest.loc[failed, ["path", "sha256"]] = None
    manifest.loc[failed, "status"] = "error: RuntimeError: out of memory"
    blind = pixels(run_dir, manifest.set_index("prompt_id").loc["t00-happy", "path"])
    faceless = {row.prompt_id for row in manifest.itertuples()
                if row.status == OK and np.array_equal(pixels(run_dir, row.path), blind)}
    scores = score_faces(HandReward(), BlindCropper(blind), manifest, prompts, run_dir).set_index("prompt_id")
    assert scores.loc["t01-angry", "status"] == "image failed: error: RuntimeError: out of memory"
    assert "t00-happy" in faceless and (scores.loc[sorted(faceless), "status"] == "no face found").all()
    assert (scores.drop(["t01-angry", *faceless])["status"] == OK).all()


def test_centre_cropper():
    image = Image.fromarray(np.arange(100 * 60 * 3, dtype=np.uint32).reshape(60, 100, 3).astype(np.uint8))
    crop = CentreCropper(0.6).crop(image)
    assert crop.size == (60, 36)
    assert np.array_equal(np.asarray(crop), np.asarray(image)[12:48, 20:80])
    with pytest.raises(ValueError):
        CentreCropper(0.0)


# ---------------------------------------------------------------- scoring: E7 AVA

def test_score_ava_scores_photo_and_render_under_the_anti_caption(ava_items, run_dir):
    items = ava_items.copy()
    items.loc[items["item_id"] == "0003", "caption_clean"] = None
    prompts = ava_generation_prompts(items)
    PROMPTS.validate(prompts)
    assert "0003" not in set(prompts["prompt_id"]) and len(prompts) == len(items) - 1
    assert (prompts.set_index("prompt_id")["prompt_original"]
            == items.set_index("item_id")["caption_clean"].dropna()).all()
    generator = SugarwaterGenerator(name="sugarwater", runtime=Runtime(device="cpu"), size=SIZE)
    manifest = run_generation(generator, experiment_requests(prompts, {}, base_seed=1), run_dir, "ava/images/sw")
    reward = HandReward(batch_size=5)
    scores = score_ava(reward, items, manifest, run_dir)
    AVA_SCORES.validate(scores)
    assert len(scores) == 2 * len(items)
    assert scores.set_index(["item_id", "source"]).loc[("0003", "generated"), "status"] == "no clean caption to render"
    renders = dict(zip(manifest["prompt_id"], manifest["path"]))
    by_id = items.set_index("item_id")
    for row in scores[scores["status"] == OK].itertuples():
        item = by_id.loc[row.item_id]
        assert list(row.classes) == list(item["classes"])
        path = item["path"] if row.source == "photo" else renders[row.item_id]
        assert row.score == pytest.approx(hand_score(pixels(run_dir, path), item["caption_anti"]), rel=1e-12)
    # the generator rendered the item's own scene: its source photo, not another
    first = manifest.iloc[0]
    reference = by_id.loc[first["prompt_id"], "reference_image"]
    assert np.array_equal(pixels(run_dir, first["path"]), pixels_of_photo(reference))


def pixels_of_photo(name: str) -> np.ndarray:
    return np.round(load_photo(name, SIZE) * 255).astype(np.uint8)


def test_aesthetic_probe_prefers_the_clean_render(ava_items, run_dir):
    generator = OracleGenerator(name="oracle", runtime=Runtime(device="cpu"), size=SIZE)
    prompts = ava_generation_prompts(ava_items)
    manifest = run_generation(generator, experiment_requests(prompts, {}, base_seed=1), run_dir, "ava/images/or")
    reward = ProbeReward(name="aesthetic", runtime=Runtime(device="cpu"), probe="aesthetic")
    scores = score_ava(reward, ava_items, manifest, run_dir)
    gap = scores.pivot(index="item_id", columns="source", values="score")
    assert (gap["generated"] - gap["photo"]).mean() > 0


# ---------------------------------------------------------------- scoring: E8 art

def test_score_art_uses_true_and_deranged_captions(art_items, run_dir):
    scores = score_art(HandReward(batch_size=4), art_items, run_dir, seed=9)
    ART_SCORES.validate(scores)
    assert len(scores) == 2 * len(art_items) and (scores["status"] == OK).all()
    ordered = art_items.sort_values("item_id").reset_index(drop=True)
    other = derangement(len(ordered), 9)
    for index, item in ordered.iterrows():
        image = pixels(run_dir, item["path"])
        mine = scores[scores["item_id"] == item["item_id"]].set_index("caption_kind")["score"]
        assert mine["true"] == pytest.approx(hand_score(image, item["caption"]), rel=1e-12)
        assert mine["shuffled"] == pytest.approx(hand_score(image, ordered.loc[other[index], "caption"]), rel=1e-12)
    again = score_art(HandReward(), art_items, run_dir, seed=9)
    pd.testing.assert_frame_equal(scores, again)


def test_score_art_needs_two_items(art_items, run_dir):
    with pytest.raises(ValueError, match="at least 2"):
        score_art(HandReward(), art_items.head(1), run_dir, seed=0)


# ---------------------------------------------------------------- scoring: E10 critical

def test_score_critical_scores_each_generator_under_the_prompt(run_dir):
    prompts = load_critical_prompts(CONFIG / "critical_prompts.yaml").groupby("topic").head(2)
    to_render = critical_generation_prompts(prompts)
    PROMPTS.validate(to_render)
    assert (to_render["prompt_original"] == to_render["prompt_anti"]).all() and "topic" in to_render
    manifests = {}
    for cls, name in ((OracleGenerator, "krea-standin"), (SugarwaterGenerator, "dance-standin")):
        generator = cls(name=name, runtime=Runtime(device="cpu"), size=SIZE)
        requests = experiment_requests(to_render, {}, base_seed=2)
        manifests[name] = run_generation(generator, requests, run_dir, f"critical/images/{name}")
    failed = manifests["krea-standin"]["prompt_id"] == "censorship-02"
    manifests["krea-standin"].loc[failed, ["path", "sha256"]] = None
    manifests["krea-standin"].loc[failed, "status"] = "error: ValueError: blocked"
    scores = score_critical(HandReward(batch_size=4), manifests, prompts, run_dir)
    CRITICAL_SCORES.validate(scores)
    assert len(scores) == 2 * 10
    indexed = scores.set_index(["generator", "prompt_id"])
    assert indexed.loc[("krea-standin", "censorship-02"), "status"] == "image failed: error: ValueError: blocked"
    texts = dict(zip(prompts["prompt_id"], prompts["prompt"]))
    topics = dict(zip(prompts["prompt_id"], prompts["topic"]))
    for row in scores[scores["status"] == OK].itertuples():
        path = manifests[row.generator].set_index("prompt_id").loc[row.prompt_id, "path"]
        assert row.topic == topics[row.prompt_id]
        assert row.score == pytest.approx(hand_score(pixels(run_dir, path), texts[row.prompt_id]), rel=1e-12)
    with pytest.raises(ValueError, match="holds images of"):
        score_critical(HandReward(), {"other": manifests["krea-standin"]}, prompts, run_dir)


# ---------------------------------------------------------------- the open-vocabulary face detector

DETECTOR_ID = "iSEE-Laboratory/llmdet_large"


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory):
    """A tiny random MM-Grounding-DINO (LLMDet's architecture) installed in a temporary hub cache."""
    pytest.importorskip("torch")
    from widespectrum.demo.hub_cache import install_snapshot

    from .fixtures.tiny_detector import build_tiny_detector

    root = tmp_path_factory.mktemp("detector")
    source, cache = build_tiny_detector(root / "source"), root / "hub"
    sha = install_snapshot(source, cache, DETECTOR_ID)
    return {"source": source, "cache": cache, "sha": sha}


def test_grounding_cropper_keeps_the_best_box(tiny_detector):
    import torch
    from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

    from widespectrum.experiments.emotion_generation.faces import GroundingFaceCropper

    runtime = Runtime(device="cpu", cache_dir=str(tiny_detector["cache"]), offline=True)
    cropper = GroundingFaceCropper(DETECTOR_ID, "main", runtime, text="a face.", box_threshold=0.0)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, size=(80, 120, 3), dtype=np.uint8))

    # the same checkpoint run by hand: best query = highest sigmoid over text tokens
    model = AutoModelForZeroShotObjectDetection.from_pretrained(tiny_detector["source"]).eval()
    processor = AutoProcessor.from_pretrained(tiny_detector["source"])
    with torch.no_grad():
        outputs = model(**processor(images=image, text="a face.", return_tensors="pt"))
    query_scores = outputs.logits[0].sigmoid().max(dim=-1).values
    best = int(query_scores.argmax())
    cx, cy, w, h = outputs.pred_boxes[0, best].tolist()
    x0, y0, x1, y1 = (cx - w / 2) * 120, (cy - h / 2) * 80, (cx + w / 2) * 120, (cy + h / 2) * 80
    box = (max(0, math.floor(x0)), max(0, math.floor(y0)), min(120, math.ceil(x1)), min(80, math.ceil(y1)))

    score, found = cropper.detect(image)
    assert score == pytest.approx(float(query_scores[best]), rel=1e-5)
    assert found == pytest.approx((x0, y0, x1, y1), abs=1e-3)
    crop = cropper.crop(image)
    assert crop is not None and np.array_equal(np.asarray(crop), np.asarray(image.crop(box)))
    assert cropper.provenance()["resolved_revision"] == tiny_detector["sha"]
    assert cropper.provenance()["model_class"] == "MMGroundingDinoForObjectDetection"

    strict = GroundingFaceCropper(DETECTOR_ID, "main", runtime, box_threshold=1.0)
    assert strict.crop(image) is None


def test_grounding_cropper_names_a_missing_checkpoint(tmp_path):
    from widespectrum.experiments.emotion_generation.faces import GroundingFaceCropper

    runtime = Runtime(device="cpu", cache_dir=str(tmp_path), offline=True)
    with pytest.raises(FileNotFoundError, match="llmdet_tiny"):
        GroundingFaceCropper("iSEE-Laboratory/llmdet_tiny", "main", runtime)
