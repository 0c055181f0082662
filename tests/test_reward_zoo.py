"""HPSv3, ImageReward, HPS v1 and MPS through the registry, on tiny checkpoints in the authors' formats.

Every score is checked against a computation written here from the published
definition (the reward-token read, the normalisation, the cross-model formula),
on the same tiny weights read back from the files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from widespectrum import registry
from widespectrum.demo import hub_cache
from widespectrum.runtime import Runtime

from .fixtures import tiny_rewards

REWARDS_YAML = Path(__file__).resolve().parents[1] / "config" / "rewards.yaml"
HPSV3_REPO, QWEN2_VL = "MizzenAI/HPSv3", "Qwen/Qwen2-VL-7B-Instruct"
IMAGEREWARD_REPO, BERT = "THUDM/ImageReward", "google-bert/bert-base-uncased"

LONG_PROMPT = "a painting of a cat " + " ".join(f"with a red hat number {i}" for i in range(40))
PROMPTS = ["a cat", "an astronaut in a white space suit", "a cup of coffee", "a dark tissue sample",
           "a dog", "a face, cropped", "coffee on a table", LONG_PROMPT, "a page of old text", "a red rocket"]

torch.set_num_threads(2)


def _images() -> list[Image.Image]:
    """Ten seeded noise images of different sizes, aspect ratios and modes."""
    rng = np.random.default_rng(0)
    sizes = [(40, 30), (30, 40), (64, 64), (90, 20), (33, 47), (50, 50), (28, 28), (70, 35), (45, 60), (20, 80)]
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes]
    images[3] = images[3].convert("L")
    images[5] = images[5].convert("RGBA")
    return images


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return _images()


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("zoo")
    cache = root / "cache"
    tiny_rewards.build_tiny_qwen2_vl_base(root / "qwen")
    tiny_rewards.build_tiny_hpsv3(root / "hpsv3")
    imagereward_modules = tiny_rewards.build_tiny_imagereward(root / "imagereward")
    tiny_rewards.build_tiny_bert_tokenizer(root / "bert")
    shas = {QWEN2_VL: hub_cache.install_snapshot(root / "qwen", cache, QWEN2_VL),
            HPSV3_REPO: hub_cache.install_snapshot(root / "hpsv3", cache, HPSV3_REPO),
            IMAGEREWARD_REPO: hub_cache.install_snapshot(root / "imagereward", cache, IMAGEREWARD_REPO),
            BERT: hub_cache.install_snapshot(root / "bert", cache, BERT)}
    return {"root": root, "cache": cache, "shas": shas, "imagereward_modules": imagereward_modules,
            "runtime": Runtime(device="cpu", cache_dir=str(cache), offline=True)}


@pytest.fixture(scope="module")
def config() -> dict:
    return {"rewards": yaml.safe_load(REWARDS_YAML.read_text())}


@pytest.fixture(scope="module")
def hpsv3(hub, config):
    return registry.build(config, "rewards", "hpsv3", hub["runtime"])


@pytest.fixture(scope="module")
def hpsv3_small(hub):
    """HPSv3 at 16 merged patches per image: what batching does is the same, at a fraction of the time."""
    from widespectrum.scoring.hpsv3 import HPSv3Reward

    return HPSv3Reward(name="hpsv3", runtime=hub["runtime"], pixels=16 * 28 * 28)


# ---- HPSv3 -------------------------------------------------------------------------------------------

def _snapshot(hub, repo: str) -> Path:
    return hub_cache.repo_folder(hub["cache"], repo) / "snapshots" / hub["shas"][repo]


def test_hpsv3_pixel_budget_is_256_merged_patches():
    from widespectrum.scoring.hpsv3 import budget_size

    assert budget_size(1024, 1024) == (448, 448)  # 448 * 448 = 256 * 28 * 28
    height, width = budget_size(768, 1344)  # 4:7, a common generator size
    assert height % 28 == 0 and width % 28 == 0
    assert abs(height * width - 256 * 28 * 28) <= 2 * 28 * max(height, width)
    assert abs(width / height - 1344 / 768) < 0.1


def test_hpsv3_score_is_mu_of_the_head_at_the_reward_token(hub, hpsv3, images):
    model, processor = tiny_rewards.tiny_hpsv3_reference(_snapshot(hub, HPSV3_REPO) / "HPSv3.safetensors",
                                                         _snapshot(hub, QWEN2_VL))
    from safetensors.torch import load_file

    head = {k.removeprefix("rm_head."): v.double() for k, v in
            load_file(_snapshot(hub, HPSV3_REPO) / "HPSv3.safetensors").items() if k.startswith("rm_head.")}
    reward_id = processor.tokenizer.convert_tokens_to_ids("<|Reward|>")
    expected = []
    for image, prompt in zip(images[:4], PROMPTS[:4]):
        rgb = image.convert("RGB")
        # The authors' budget, by hand: area 200,704, sides multiples of 28.
        scale = (200704 / (rgb.width * rgb.height)) ** 0.5
        width, height = (int(np.ceil(side * scale / 28)) * 28 for side in (rgb.width, rgb.height))
        text = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                "<|vision_start|><|image_pad|><|vision_end|>"
                + tiny_rewards.INSTRUCTION.replace("{text_prompt}", prompt)
                + "\nPlease provide the overall ratings of this image: <|Reward|>\n\nEND\n"
                + "<|im_end|>\n<|im_start|>assistant\n")
        inputs = processor(text=[text], images=[rgb.resize((width, height))], return_tensors="pt")
        assert int((inputs["input_ids"] == model.config.image_token_id).sum()) == (width // 28) * (height // 28)
        position = int((inputs["input_ids"][0] == reward_id).nonzero()[0, 0])
        with torch.no_grad():
            hidden = model.model(**inputs).last_hidden_state[0, position].double()
        layer = torch.relu(hidden @ head["0.weight"].T + head["0.bias"])
        layer = torch.relu(layer @ head["3.weight"].T + head["3.bias"])
        expected.append((layer @ head["5.weight"].T + head["5.bias"]).numpy())
    expected = np.array(expected)
    output = hpsv3.score(images[:4], PROMPTS[:4])
    np.testing.assert_allclose(output.scores, expected[:, 0], atol=1e-5)
    np.testing.assert_allclose(output.sigmas, expected[:, 1], atol=1e-5)
    assert np.ptp(output.scores) > 1e-3  # the tiny model tells pairs apart
    assert not output.truncated.any()


def test_hpsv3_provenance_and_vocabulary_from_the_file(hub, hpsv3):
    record = hpsv3.provenance()
    assert record["resolved_revision"] == hub["shas"][HPSV3_REPO]
    assert record["base_resolved_revision"] == hub["shas"][QWEN2_VL]
    assert record["vocab_rows"] == len(hpsv3.tokenizer) == record["reward_token_id"] + 1
    assert (record["dtype"], record["head_dtype"], record["autocast"]) == ("float32", "float32", None)


def test_hpsv3_rejects_a_checkpoint_of_another_shape(tmp_path, hub):
    from safetensors.torch import load_file, save_file

    from widespectrum.scoring.hpsv3 import HPSv3Reward

    weights = load_file(_snapshot(hub, HPSV3_REPO) / "HPSv3.safetensors")
    weights["rm_head.5.weight"] = torch.zeros(4, 16)  # a head with four outputs
    (tmp_path / "broken").mkdir()
    save_file(weights, tmp_path / "broken" / "HPSv3.safetensors")
    hub_cache.install_snapshot(tmp_path / "broken", hub["cache"], "widespectrum-test/hpsv3-broken")
    with pytest.raises(RuntimeError, match="does not fit Qwen2-VL"):
        HPSv3Reward(name="broken", runtime=hub["runtime"], checkpoint_repo="widespectrum-test/hpsv3-broken")


# ---- ImageReward -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def imagereward(hub, config):
    return registry.build(config, "rewards", "imagereward", hub["runtime"])


def _short_side_crop(image: Image.Image, size: int) -> torch.Tensor:
    """ImageReward's _transform by hand: bicubic short side to ``size``, centre crop, RGB, CLIP mean/std."""
    short, long = sorted(image.size)
    new_long = int(size * long / short)
    width, height = (size, new_long) if image.width <= image.height else (new_long, size)
    resized = image.resize((width, height), Image.BICUBIC)
    left, top = int(round((width - size) / 2.0)), int(round((height - size) / 2.0))
    crop = resized.crop((left, top, left + size, top + size)).convert("RGB")
    mean, std = np.array([0.48145466, 0.4578275, 0.40821073]), np.array([0.26862954, 0.26130258, 0.27577711])
    pixels = (np.asarray(crop, dtype=np.float64) / 255.0 - mean) / std
    return torch.from_numpy(pixels.transpose(2, 0, 1).astype(np.float32))


def test_imagereward_is_the_normalised_mlp_of_the_cls_state(hub, imagereward, images):
    from transformers import BertTokenizer

    modules = hub["imagereward_modules"]
    tokenizer = BertTokenizer.from_pretrained(_snapshot(hub, BERT))
    weights = torch.load(_snapshot(hub, IMAGEREWARD_REPO) / "ImageReward.pt", weights_only=True)
    expected = []
    for image, prompt in zip(images, PROMPTS):
        ids = tokenizer(prompt)["input_ids"]
        if len(ids) > 35:  # truncated to 35 with the closing [SEP] kept
            ids = ids[:34] + [tokenizer.sep_token_id]
        mask = [1] * len(ids) + [0] * (35 - len(ids))
        ids = ids + [tokenizer.pad_token_id] * (35 - len(ids))
        with torch.no_grad():
            image_embeds = modules["vision"](pixel_values=_short_side_crop(image, 224)[None]).last_hidden_state
            cls = modules["text"](input_ids=torch.tensor([ids]), attention_mask=torch.tensor([mask]),
                                  encoder_hidden_states=image_embeds).last_hidden_state[0, 0].double()
        r = cls
        for index in (0, 2, 4, 6, 7):  # five linear maps, no activation between them
            r = r @ weights[f"mlp.layers.{index}.weight"].double().T + weights[f"mlp.layers.{index}.bias"].double()
        expected.append((float(r[0]) - 0.16717362830052426) / 1.0333394966054072)
    output = imagereward.score(images, PROMPTS)
    np.testing.assert_allclose(output.scores, expected, atol=1e-5)
    assert np.ptp(output.scores) > 1e-2
    assert output.truncated.tolist() == [prompt == LONG_PROMPT for prompt in PROMPTS]


def test_imagereward_vit_layernorm_eps_and_provenance(hub, imagereward):
    assert imagereward.vision.config.layer_norm_eps == 1e-6
    record = imagereward.provenance()
    assert record["resolved_revision"] == hub["shas"][IMAGEREWARD_REPO]
    assert record["tokenizer_resolved_revision"] == hub["shas"][BERT]
    assert record["max_text_tokens"] == 35 and record["dtype"] == "float32"


def test_imagereward_rejects_foreign_weights(tmp_path, hub):
    from widespectrum.scoring.imagereward import ImageRewardReward

    weights = torch.load(_snapshot(hub, IMAGEREWARD_REPO) / "ImageReward.pt", weights_only=True)
    weights["blip.itm_head.weight"] = torch.zeros(2, 32)
    (tmp_path / "foreign").mkdir()
    torch.save(weights, tmp_path / "foreign" / "ImageReward.pt")
    (tmp_path / "foreign" / "med_config.json").write_text(
        (_snapshot(hub, IMAGEREWARD_REPO) / "med_config.json").read_text())
    hub_cache.install_snapshot(tmp_path / "foreign", hub["cache"], "widespectrum-test/imagereward-foreign")
    with pytest.raises(RuntimeError, match="not an ImageReward checkpoint.*itm_head"):
        ImageRewardReward(name="x", runtime=hub["runtime"], checkpoint_repo="widespectrum-test/imagereward-foreign")


# ---- HPS v1 ------------------------------------------------------------------------------------------

def _with_options(config: dict, name: str, **options) -> dict:
    """The registry with ``name``'s options updated, as a user fills in an off-hub file's local path."""
    rewards = {**config["rewards"], name: {**config["rewards"][name]}}
    rewards[name]["options"] = {**rewards[name].get("options", {}), **options}
    return {"rewards": rewards}


@pytest.fixture(scope="module")
def hpc_file(hub) -> Path:
    return tiny_rewards.build_tiny_hpc(hub["root"] / "downloads" / "hpc.pth")


@pytest.fixture(scope="module")
def hps_v1(hub, config, hpc_file):
    local = _with_options(config, "hps", path=str(hpc_file), sha256=tiny_rewards.sha256_file(hpc_file),
                          model_config=tiny_rewards.tiny_hps_v1_config())
    return registry.build(local, "rewards", "hps", hub["runtime"])


def test_hps_v1_is_the_cosine_of_clip_features(hps_v1, hpc_file, images):
    import open_clip

    from widespectrum.scoring.hpsv2 import register_model_config

    architecture = register_model_config(tiny_rewards.tiny_hps_v1_config())
    model = open_clip.create_model(architecture, pretrained=None)
    model.load_state_dict(torch.load(hpc_file, weights_only=True)["state_dict"])
    model.eval()
    pixels = torch.stack([_short_side_crop(image, 32) for image in images])
    with torch.no_grad():
        image_features = model.encode_image(pixels).double()
        text_features = model.encode_text(open_clip.get_tokenizer(architecture)(PROMPTS)).double()
    expected = ((image_features / image_features.norm(dim=-1, keepdim=True))
                * (text_features / text_features.norm(dim=-1, keepdim=True))).sum(dim=-1).numpy()
    output = hps_v1.score(images, PROMPTS)
    np.testing.assert_allclose(output.scores, expected, atol=1e-5)
    assert output.truncated.tolist() == [prompt == LONG_PROMPT for prompt in PROMPTS]
    assert hps_v1.provenance()["sha256"] == tiny_rewards.sha256_file(hpc_file)


def test_hps_v1_refuses_a_file_with_another_digest(hub, config, hpc_file):
    from widespectrum.errors import SetupError

    wrong = _with_options(config, "hps", path=str(hpc_file), sha256="0" * 64,
                          model_config=tiny_rewards.tiny_hps_v1_config())
    with pytest.raises(SetupError, match="has sha256"):
        registry.build(wrong, "rewards", "hps", hub["runtime"])
    offline = _with_options(config, "hps", model_config=tiny_rewards.tiny_hps_v1_config(), sha256="1" * 64)
    with pytest.raises(FileNotFoundError, match="offline"):
        registry.build(offline, "rewards", "hps", hub["runtime"])


# ---- every reward: batch size and order ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["hpsv3_small", "imagereward", "hps_v1"])
def test_scores_do_not_depend_on_batch_size_or_order(request, images, name):
    reward = request.getfixturevalue(name)
    by_size = {}
    try:
        for batch_size in (1, 3, 10):
            reward.batch_size = batch_size
            by_size[batch_size] = reward.score(images, PROMPTS).scores
        order = np.random.default_rng(1).permutation(len(images))
        shuffled = reward.score([images[i] for i in order], [PROMPTS[i] for i in order]).scores
    finally:
        reward.batch_size = 8
    for scores in by_size.values():
        np.testing.assert_allclose(scores, by_size[10], atol=1e-5, rtol=0)
    np.testing.assert_allclose(shuffled, by_size[10][order], atol=1e-5, rtol=0)
