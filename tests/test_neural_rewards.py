"""The neural reward models, loaded under the paper's hub ids from a temporary cache of tiny stand-ins.

Each score is checked against a computation that does not go through the
reward class: the model's own forward pass or its embeddings, recombined here.
"""

from __future__ import annotations

import copy
from operator import attrgetter
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
import yaml
from PIL import Image
from skimage import data
from transformers import BlipForImageTextRetrieval, BlipProcessor, CLIPModel, CLIPProcessor

from widespectrum import registry
from widespectrum.demo import hub_cache
from widespectrum.demo.reward_models import (TINY_OPEN_CLIP_CONFIG, build_tiny_hpsv2, install_tiny_reward)
from widespectrum.runtime import Runtime
from widespectrum.scoring.blip import BLIPITMReward
from widespectrum.scoring.clip import CLIPReward
from widespectrum.scoring.hpsv2 import HPSv2Reward, register_model_config

from .fixtures.forward_calls import batch_sizes_seen

CLIP_L = "openai/clip-vit-large-patch14"
PICKSCORE = "yuvalkirstain/PickScore_v1"
PICKSCORE_PROCESSOR = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
BLIP_L = "Salesforce/blip-itm-large-coco"
HPSV2 = "xswu/HPSv2"
REWARDS_YAML = Path(__file__).resolve().parents[1] / "config" / "rewards.yaml"

LONG_PROMPT = "a painting of a cat " + " ".join(f"with a red hat number {i}" for i in range(40))
PROMPTS = [
    "an astronaut in a white space suit", "a cup of coffee", "a cat", "a man with a camera",
    "a rocket on the launch pad", "a dark stained tissue sample", "a face, cropped", "coffee on a table",
    LONG_PROMPT, "a page of old text",
]

torch.set_num_threads(2)


def _images() -> list[Image.Image]:
    """Ten photos of different sizes and modes, as a generator's outputs would differ."""
    astronaut = Image.fromarray(data.astronaut())
    coffee = Image.fromarray(data.coffee())
    chelsea = Image.fromarray(data.chelsea())
    return [
        astronaut, coffee, chelsea,
        Image.fromarray(data.camera()),  # greyscale
        Image.fromarray(data.rocket()),
        Image.fromarray(data.immunohistochemistry()),
        astronaut.crop((100, 50, 300, 170)),
        coffee.convert("RGBA"),
        chelsea.resize((64, 48)),
        Image.fromarray(data.page()),  # greyscale, wide
    ]


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return _images()


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> dict:
    """A hub cache holding tiny models under the real repo ids, and their snapshot shas."""
    cache = tmp_path_factory.mktemp("hub")
    shas = {
        CLIP_L: install_tiny_reward("clip", cache, CLIP_L, seed=0),
        PICKSCORE: install_tiny_reward("clip", cache, PICKSCORE, seed=1),
        PICKSCORE_PROCESSOR: install_tiny_reward("clip", cache, PICKSCORE_PROCESSOR, seed=2),
        BLIP_L: install_tiny_reward("blip", cache, BLIP_L),
        HPSV2: install_tiny_reward("hpsv2", cache, HPSV2),
    }
    return {"cache": cache, "shas": shas, "runtime": Runtime(device="cpu", cache_dir=str(cache), offline=True)}


@pytest.fixture(scope="module")
def rewards_registry() -> dict:
    """The paper's reward registry, with the tiny open_clip architecture for HPSv2."""
    entries = yaml.safe_load(REWARDS_YAML.read_text(encoding="utf-8"))
    entries = copy.deepcopy(entries)
    for name in ("hpsv2", "hpsv2.1"):
        entries[name]["options"]["model_config"] = TINY_OPEN_CLIP_CONFIG
    return {"rewards": entries}


@pytest.fixture(scope="module")
def rewards(hub, rewards_registry) -> dict:
    names = ("clip-l", "pickscore", "blip-l", "blip-l-logit", "hpsv2", "hpsv2.1")
    return {name: registry.build(rewards_registry, "rewards", name, hub["runtime"]) for name in names}


def _cached(hub: dict) -> dict:
    return {"cache_dir": str(hub["cache"]), "local_files_only": True}


def _rgb(images: list[Image.Image]) -> list[Image.Image]:
    return [image.convert("RGB") for image in images]


def _clip_reference(hub: dict, model_id: str, processor_id: str, images, prompts) -> tuple[np.ndarray, ...]:
    """(cosine from the two towers, diagonal of the model's logits_per_image, logit scale)."""
    model = CLIPModel.from_pretrained(model_id, **_cached(hub)).eval()
    processor = CLIPProcessor.from_pretrained(processor_id, **_cached(hub))
    text = processor.tokenizer(prompts, padding=True, truncation=True, max_length=77, return_tensors="pt")
    pixels = processor.image_processor(images=_rgb(images), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        image_emb = model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output).numpy()
        text_emb = model.text_projection(model.text_model(**text).pooler_output).numpy()
        logits = model(pixel_values=pixels, **text).logits_per_image.numpy()
    image_emb /= np.linalg.norm(image_emb, axis=1, keepdims=True)
    text_emb /= np.linalg.norm(text_emb, axis=1, keepdims=True)
    return (image_emb * text_emb).sum(axis=1), np.diag(logits), float(model.logit_scale.item())


def test_tiny_builds_are_reproducible(tmp_path, hub):
    for kind, repo_id in (("clip", CLIP_L), ("blip", BLIP_L), ("hpsv2", HPSV2)):
        assert install_tiny_reward(kind, tmp_path, "again/" + kind) == hub["shas"][repo_id]
    assert hub["shas"][CLIP_L] != hub["shas"][PICKSCORE]  # seeds give different weights


def test_clip_l_is_the_plain_cosine(hub, rewards, images):
    cosine, logits, logit_scale = _clip_reference(hub, CLIP_L, CLIP_L, images, PROMPTS)
    scores = rewards["clip-l"].score(images, PROMPTS).scores
    assert scores.dtype == np.float64 and scores.shape == (len(images),)
    np.testing.assert_allclose(scores, cosine, atol=1e-5)
    np.testing.assert_allclose(scores, logits / np.exp(logit_scale), atol=1e-5)
    assert np.all(np.abs(scores) <= 1 + 1e-6)


def test_pickscore_is_cosine_times_learnt_scale(hub, rewards, images):
    cosine, logits, logit_scale = _clip_reference(hub, PICKSCORE, PICKSCORE_PROCESSOR, images, PROMPTS)
    scores = rewards["pickscore"].score(images, PROMPTS).scores
    np.testing.assert_allclose(scores, cosine * np.exp(logit_scale), atol=1e-4)
    np.testing.assert_allclose(scores, logits, atol=1e-4)
    assert np.exp(logit_scale) > 1.5  # the scale is not a no-op, so the two rewards differ in kind


def test_clip_truncates_prompts_to_77_tokens(rewards, images):
    shared = " ".join(["a small red house by the sea"] * 20)  # well over 77 tokens
    prompts = [shared + " at night", shared + " in bright daylight with many boats", "a small red house"]
    scores = rewards["clip-l"].score([images[0]] * 3, prompts).scores
    assert scores[0] == pytest.approx(scores[1], abs=1e-6)
    assert scores[0] != pytest.approx(scores[2], abs=1e-4)


def test_blip_probability_is_softmax_of_the_itm_logits(hub, rewards, images):
    model = BlipForImageTextRetrieval.from_pretrained(BLIP_L, **_cached(hub)).eval()
    processor = BlipProcessor.from_pretrained(BLIP_L, **_cached(hub))
    logits = []
    with torch.no_grad():
        for image, prompt in zip(_rgb(images), PROMPTS):  # one pair at a time: no padding involved
            inputs = processor(images=image, text=prompt, truncation=True, max_length=64, return_tensors="pt")
            logits.append(model(**inputs, use_itm_head=True).itm_score[0].numpy())
    logits = np.array(logits, dtype=np.float64)
    expected = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)

    probability = rewards["blip-l"].score(images, PROMPTS).scores
    match_logit = rewards["blip-l-logit"].score(images, PROMPTS).scores
    np.testing.assert_allclose(probability, expected, atol=1e-5)
    np.testing.assert_allclose(match_logit, logits[:, 1], atol=1e-5)
    assert np.all((probability >= 0) & (probability <= 1))
    np.testing.assert_allclose(probability, 1 / (1 + np.exp(logits[:, 0] - match_logit)), atol=1e-5)
    assert np.ptp(probability) > 1e-4  # the tiny model tells pairs apart


OPENAI_MEAN = np.array([0.48145466, 0.4578275, 0.40821073])
OPENAI_STD = np.array([0.26862954, 0.26130258, 0.27577711])


def _longest_side_padded(image: Image.Image, size: int) -> torch.Tensor:
    """The HPSv2 reference preprocessing, by hand: bicubic resize of the longest side, black centred pad."""
    scale = size / max(image.size)
    width, height = round(image.width * scale), round(image.height * scale)
    canvas = Image.new("RGB", (size, size), (0, 0, 0))
    canvas.paste(image.resize((width, height), Image.BICUBIC), ((size - width) // 2, (size - height) // 2))
    pixels = (np.asarray(canvas, dtype=np.float64) / 255.0 - OPENAI_MEAN) / OPENAI_STD
    return torch.from_numpy(pixels.transpose(2, 0, 1).astype(np.float32))


def test_hpsv2_pads_the_short_side_black_instead_of_cropping():
    wide = Image.new("RGB", (64, 16), (255, 255, 255))
    pixels = _longest_side_padded(wide, 32)
    white = (1.0 - OPENAI_MEAN) / OPENAI_STD
    black = -OPENAI_MEAN / OPENAI_STD
    # 64x16 -> 32x8: rows 12..19 hold the image, the 12 rows above and below are padding.
    np.testing.assert_allclose(pixels[:, 16, :].mean(dim=1).numpy(), white, atol=1e-5)
    np.testing.assert_allclose(pixels[:, 0, :].mean(dim=1).numpy(), black, atol=1e-5)
    from widespectrum.scoring.hpsv2 import longest_side_pad_transform

    model = open_clip.create_model(register_model_config(TINY_OPEN_CLIP_CONFIG), pretrained=None)
    np.testing.assert_allclose(longest_side_pad_transform(model)(wide).numpy(), pixels.numpy(), atol=1e-5)


def test_batched_normalisation_equals_the_reference_per_image():
    from widespectrum.scoring.base import normalised_batch, pil_stages_and_normalisation
    from widespectrum.scoring.hpsv2 import longest_side_pad_transform

    model = open_clip.create_model(register_model_config(TINY_OPEN_CLIP_CONFIG), pretrained=None)
    transform = longest_side_pad_transform(model)
    pil_stages, mean, std = pil_stages_and_normalisation(transform)
    rng = np.random.default_rng(5)
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ((20, 64), (48, 30))]
    batch = normalised_batch([pil_stages(image) for image in images], mean, std)
    for image, pixels in zip(images, batch):
        np.testing.assert_allclose(pixels.numpy(), _longest_side_padded(image, 32).numpy(), atol=1e-6)
        assert torch.equal(pixels, transform(image))  # the same float ops as ToTensor + Normalize


def test_clip_truncation_is_flagged_only_past_the_context():
    from widespectrum.scoring.hpsv2 import clip_prompt_truncated

    tokenizer = open_clip.get_tokenizer(register_model_config(TINY_OPEN_CLIP_CONFIG))
    room = tokenizer.context_length - 2  # start and end tokens take two places
    prompts = ["a cat", " ".join(["cat"] * room), " ".join(["cat"] * (room + 1))]  # "cat" is one BPE token
    flags = clip_prompt_truncated(tokenizer, prompts, tokenizer(prompts))
    assert flags.tolist() == [False, False, True]


def _hpsv2_reference(snapshot_file: Path, images, prompts) -> np.ndarray:
    architecture = register_model_config(TINY_OPEN_CLIP_CONFIG)
    model = open_clip.create_model(architecture, pretrained=None)
    model.load_state_dict(torch.load(snapshot_file, map_location="cpu", weights_only=True)["state_dict"])
    model.eval()
    pixels = torch.stack([_longest_side_padded(image, TINY_OPEN_CLIP_CONFIG["vision_cfg"]["image_size"])
                          for image in _rgb(images)])
    with torch.no_grad():
        image_features, text_features, _ = model(pixels, open_clip.get_tokenizer(architecture)(prompts))
    return np.diag(image_features.numpy() @ text_features.numpy().T)


def test_hpsv2_is_the_cosine_of_normalised_features(hub, rewards, images):
    snapshot = hub_cache.repo_folder(hub["cache"], HPSV2) / "snapshots" / hub["shas"][HPSV2]
    scores = rewards["hpsv2"].score(images, PROMPTS).scores
    np.testing.assert_allclose(scores, _hpsv2_reference(snapshot / "HPS_v2_compressed.pt", images, PROMPTS),
                               atol=1e-5)
    scores_21 = rewards["hpsv2.1"].score(images, PROMPTS).scores
    np.testing.assert_allclose(scores_21, _hpsv2_reference(snapshot / "HPS_v2.1_compressed.pt", images, PROMPTS),
                               atol=1e-5)
    assert not np.allclose(scores, scores_21)


def test_hpsv2_loads_a_bare_state_dict_and_rejects_a_wrong_one(tmp_path, hub, rewards, images):
    build_tiny_hpsv2(tmp_path / "tiny", checkpoint_files=("HPS_v2_compressed.pt",))
    state_dict = torch.load(tmp_path / "tiny" / "HPS_v2_compressed.pt", weights_only=True)["state_dict"]
    torch.save(state_dict, tmp_path / "tiny" / "HPS_v2_compressed.pt")
    hub_cache.install_snapshot(tmp_path / "tiny", hub["cache"], "widespectrum-test/hpsv2-bare")
    bare = HPSv2Reward(name="bare", runtime=hub["runtime"], checkpoint_repo="widespectrum-test/hpsv2-bare",
                       model_config=TINY_OPEN_CLIP_CONFIG)
    np.testing.assert_allclose(bare.score(images[:3], PROMPTS[:3]).scores,
                               rewards["hpsv2"].score(images[:3], PROMPTS[:3]).scores, atol=1e-6)

    del state_dict["text_projection"]
    torch.save({"state_dict": state_dict}, tmp_path / "tiny" / "HPS_v2_compressed.pt")
    hub_cache.install_snapshot(tmp_path / "tiny", hub["cache"], "widespectrum-test/hpsv2-broken")
    with pytest.raises(RuntimeError, match="(?s)does not fit the open_clip architecture.*text_projection"):
        HPSv2Reward(name="broken", runtime=hub["runtime"], checkpoint_repo="widespectrum-test/hpsv2-broken",
                    model_config=TINY_OPEN_CLIP_CONFIG)


@pytest.mark.parametrize("name", ["clip-l", "pickscore", "blip-l", "blip-l-logit", "hpsv2"])
def test_batch_size_does_not_change_a_score(rewards, images, name):
    reward = rewards[name]
    by_batch_size = {}
    try:
        for batch_size in (1, 3, 10):
            reward.batch_size = batch_size
            by_batch_size[batch_size] = reward.score(images, PROMPTS).scores
    finally:
        reward.batch_size = 16
    # Callers may also split the pairs themselves, as the scoring runner does.
    split = np.concatenate([reward.score(images[:7], PROMPTS[:7]).scores,
                            reward.score(images[7:], PROMPTS[7:]).scores])
    for scores in (*by_batch_size.values(), split):
        np.testing.assert_allclose(scores, by_batch_size[10], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name, image_encoder, text_encoder", [
    ("clip-l", "model.vision_model", "model.text_model"),
    ("pickscore", "model.vision_model", "model.text_model"),
    ("hpsv2", "model.visual", "model.transformer"),
])
def test_a_batch_encodes_each_image_and_prompt_once(rewards, images, name, image_encoder, text_encoder):
    """The 4 pairs of 2 images and 2 prompts (a scoring job's batch holds each image under its two
    prompts) encode 2 images and 2 prompts, and every pair keeps the score it has alone."""
    reward = rewards[name]
    pair_images = [images[1], images[1], images[4], images[4]]
    pair_prompts = [PROMPTS[0], PROMPTS[2], PROMPTS[0], PROMPTS[2]]
    alone = [reward.score([image], [prompt]).scores[0] for image, prompt in zip(pair_images, pair_prompts)]
    with (batch_sizes_seen(attrgetter(image_encoder)(reward)) as image_calls,
          batch_sizes_seen(attrgetter(text_encoder)(reward)) as text_calls):
        together = reward.score(pair_images, pair_prompts).scores
    assert (image_calls, text_calls) == ([2], [2])
    np.testing.assert_allclose(together, alone, atol=1e-5, rtol=0)


def test_provenance_records_requested_and_resolved_revisions(hub, rewards):
    shas = hub["shas"]
    clip_l = rewards["clip-l"].provenance()
    assert (clip_l["model_id"], clip_l["revision"], clip_l["resolved_revision"]) == (CLIP_L, "main", shas[CLIP_L])
    pickscore = rewards["pickscore"].provenance()
    assert pickscore["resolved_revision"] == shas[PICKSCORE]
    assert (pickscore["processor_id"], pickscore["processor_resolved_revision"]) == (
        PICKSCORE_PROCESSOR, shas[PICKSCORE_PROCESSOR])
    assert pickscore["logit_scale"] is True and clip_l["logit_scale"] is False
    blip = rewards["blip-l-logit"].provenance()
    assert (blip["model_id"], blip["resolved_revision"], blip["output"]) == (BLIP_L, shas[BLIP_L], "logit")
    hps = rewards["hpsv2.1"].provenance()
    assert (hps["checkpoint_repo"], hps["checkpoint_file"], hps["resolved_revision"]) == (
        HPSV2, "HPS_v2.1_compressed.pt", shas[HPSV2])
    # The registry asks for fp16 autocast, which only applies on CUDA: this CPU run records none.
    assert (hps["autocast"], hps["dtype"]) == (None, "float32")


def test_a_pinned_revision_loads_that_snapshot(hub, rewards, images):
    pinned = CLIPReward(name="pinned", runtime=hub["runtime"], model_id=CLIP_L, revision=hub["shas"][CLIP_L])
    assert pinned.provenance()["resolved_revision"] == hub["shas"][CLIP_L]
    np.testing.assert_allclose(pinned.score(images[:2], PROMPTS[:2]).scores,
                               rewards["clip-l"].score(images[:2], PROMPTS[:2]).scores, atol=1e-6)


@pytest.mark.parametrize(
    ("build", "missing"),
    [
        (lambda rt: CLIPReward(name="x", runtime=rt, model_id="openai/clip-vit-base-patch32"),
         "openai/clip-vit-base-patch32"),
        (lambda rt: CLIPReward(name="x", runtime=rt, model_id=PICKSCORE, processor_id="laion/absent"),
         "laion/absent"),
        (lambda rt: BLIPITMReward(name="x", runtime=rt, model_id="Salesforce/blip-itm-base-coco"),
         "Salesforce/blip-itm-base-coco"),
        (lambda rt: HPSv2Reward(name="x", runtime=rt, checkpoint_file="HPS_v3_compressed.pt",
                                model_config=TINY_OPEN_CLIP_CONFIG),
         "HPS_v3_compressed.pt"),
    ],
)
def test_a_checkpoint_missing_from_the_offline_cache_is_named(hub, build, missing):
    with pytest.raises(FileNotFoundError, match=f"cannot load .*{missing}.*offline, cache only") as raised:
        build(hub["runtime"])
    assert str(hub["cache"]) in str(raised.value)


def test_pairs_must_match_and_options_are_checked(hub, rewards, images):
    with pytest.raises(ValueError, match="2 images but 1 prompts"):
        rewards["clip-l"].score(images[:2], PROMPTS[:1])
    assert rewards["blip-l"].score([], []).scores.shape == (0,)
    with pytest.raises(ValueError, match="output must be one of"):
        BLIPITMReward(name="x", runtime=hub["runtime"], output="odds")
