"""HPSv3, ImageReward, HPS v1 and MPS through the registry, on tiny checkpoints in the authors' formats.

Every score is checked against a computation written here from the published
definition (the reward-token read, the normalisation, the cross-model formula),
on the same tiny weights read back from the files.
"""

from __future__ import annotations

import contextlib
from operator import attrgetter
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
from .fixtures.forward_calls import batch_sizes_seen

REWARDS_YAML = Path(__file__).resolve().parents[1] / "config" / "rewards.yaml"
HPSV3_REPO, QWEN2_VL = "MizzenAI/HPSv3", "Qwen/Qwen2-VL-7B-Instruct"
IMAGEREWARD_REPO, BERT = "THUDM/ImageReward", "google-bert/bert-base-uncased"
CLIP_H = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
# The "overall" condition of Kwai-Kolors/MPS (README, eval_overall_mps_on_hpdv2.py).
MPS_OVERALL_CONDITION = ("light, color, clarity, tone, style, ambiance, artistry, shape, face, hair, hands, limbs, "
                         "structure, instance, texture, quantity, attributes, position, number, location, word, things.")

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
    """An empty offline hub cache; each reward's fixture installs its repos there under the real ids."""
    root = tmp_path_factory.mktemp("zoo")
    cache = root / "cache"
    return {"root": root, "cache": cache, "shas": {},
            "runtime": Runtime(device="cpu", cache_dir=str(cache), offline=True)}


def _install(hub: dict, folder: Path, repo: str) -> None:
    hub["shas"][repo] = hub_cache.install_snapshot(folder, hub["cache"], repo)


@pytest.fixture(scope="module")
def hpsv3_repos(hub) -> dict:
    tiny_rewards.build_tiny_qwen2_vl_base(hub["root"] / "qwen")
    tiny_rewards.build_tiny_hpsv3(hub["root"] / "hpsv3")
    _install(hub, hub["root"] / "qwen", QWEN2_VL)
    _install(hub, hub["root"] / "hpsv3", HPSV3_REPO)
    return hub


@pytest.fixture(scope="module")
def imagereward_repos(hub) -> dict:
    hub["imagereward_modules"] = tiny_rewards.build_tiny_imagereward(hub["root"] / "imagereward")
    tiny_rewards.build_tiny_bert_tokenizer(hub["root"] / "bert")
    _install(hub, hub["root"] / "imagereward", IMAGEREWARD_REPO)
    _install(hub, hub["root"] / "bert", BERT)
    return hub


@pytest.fixture(scope="module")
def clip_h_repo(hub) -> dict:
    from widespectrum.demo.reward_models import build_tiny_clip

    build_tiny_clip(hub["root"] / "clip-h", seed=3)
    _install(hub, hub["root"] / "clip-h", CLIP_H)
    return hub


@pytest.fixture(scope="module")
def config() -> dict:
    return {"rewards": yaml.safe_load(REWARDS_YAML.read_text())}


@pytest.fixture(scope="module")
def hpsv3(hpsv3_repos, config):
    hub = hpsv3_repos
    return registry.build(config, "rewards", "hpsv3", hub["runtime"])


@pytest.fixture(scope="module")
def hpsv3_small(hpsv3_repos):
    """HPSv3 at 16 merged patches per image: what batching does is the same, at a fraction of the time."""
    from widespectrum.scoring.hpsv3 import HPSv3Reward

    return HPSv3Reward(name="hpsv3", runtime=hpsv3_repos["runtime"], pixels=16 * 28 * 28)


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


def test_hpsv3_attention_implementation_is_an_option_that_keeps_the_score(hpsv3_repos, hpsv3_small, images):
    from widespectrum.scoring.hpsv3 import HPSv3Reward

    eager = HPSv3Reward(name="hpsv3", runtime=hpsv3_repos["runtime"], pixels=16 * 28 * 28,
                        attn_implementation="eager")
    assert eager.model.config.vision_config._attn_implementation == "eager"
    assert (eager.provenance()["attn_implementation"], hpsv3_small.provenance()["attn_implementation"]) == (
        "eager", "sdpa")
    np.testing.assert_allclose(eager.score(images[:4], PROMPTS[:4]).scores,
                               hpsv3_small.score(images[:4], PROMPTS[:4]).scores, atol=1e-5, rtol=0)


def test_hpsv3_runs_each_images_shared_prefix_once(hpsv3_small):
    """Two images with different token counts (16 and 12 merged patches at this budget), each under two
    prompts: the language model reads each image's system turn, image and instruction once (a first
    pass of 2 rows), then only each pair's prompt and suffix on top (a second pass of 4 short rows),
    and every pair keeps the score its whole sequence has alone."""
    rng = np.random.default_rng(7)
    square, wide = (Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ((90, 90), (100, 300)))
    pair_images = [square, wide, square, wide]
    pair_prompts = [PROMPTS[0], PROMPTS[7], PROMPTS[7], PROMPTS[1]]
    alone = [hpsv3_small.score([image], [prompt]).scores[0] for image, prompt in zip(pair_images, pair_prompts)]
    seen: list[tuple[int, int]] = []
    handle = hpsv3_small.model.model.language_model.register_forward_pre_hook(
        lambda _module, _args, kwargs: seen.append(tuple(kwargs["inputs_embeds"].shape[:2])), with_kwargs=True)
    try:
        together = hpsv3_small.score(pair_images, pair_prompts).scores
    finally:
        handle.remove()
    np.testing.assert_allclose(together, alone, atol=1e-5, rtol=0)
    (prefix_rows, prefix_span), (rest_rows, rest_span) = seen
    suffix = hpsv3_small.tokenizer("\nPlease provide the overall ratings of this image: <|Reward|>\n\nEND\n"
                                   "<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    longest_prompt = max(len(hpsv3_small.tokenizer(prompt)["input_ids"]) for prompt in pair_prompts)
    assert (prefix_rows, rest_rows) == (2, 4)
    # the rest holds a prompt, the suffix and the few blank lines between them, not the instruction
    assert len(suffix) <= rest_span <= longest_prompt + len(suffix) + 4
    assert prefix_span > len(hpsv3_small.tokenizer(tiny_rewards.INSTRUCTION)["input_ids"])


def _per_pair_rows(pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> list[torch.Tensor]:
    """The patch rows of each image of a processor's output, in turn."""
    ends = grid_thw.prod(dim=-1).cumsum(dim=0).tolist()
    return [pixel_values[start:end] for start, end in zip([0, *ends[:-1]], ends)]


def test_qwen_vl_inputs_are_the_processors_with_each_image_prepared_once(hpsv3_small):
    """Three images (two sizes, one twice as large in tokens) under five texts, two of them equal:
    the language model's inputs equal the processor's own call on one image per text, while the
    pixels hold each image once."""
    from widespectrum.batching import distinct, qwen_vl_inputs
    from widespectrum.scoring.hpsv3 import hpsv3_text

    rng = np.random.default_rng(3)
    first, second, third = (Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
                            for h, w in ((56, 56), (56, 112), (56, 56)))
    pair_images = [first, second, first, third, second]
    pair_prompts = [PROMPTS[0], PROMPTS[0], PROMPTS[7], PROMPTS[1], PROMPTS[0]]
    processor = hpsv3_small.processor
    texts = processor.apply_chat_template(
        [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": hpsv3_text(prompt)}]}]
         for prompt in pair_prompts], tokenize=False, add_generation_prompt=True)
    unique, image_of = distinct(pair_images, key=id)

    ours = qwen_vl_inputs(processor, texts, unique, image_of)
    theirs = processor(text=texts, images=pair_images, padding=True, return_tensors="pt")

    for key in ("input_ids", "attention_mask", "mm_token_type_ids", "image_grid_thw"):
        assert torch.equal(ours.text[key], theirs[key]), key
    assert len(ours.image_grid_thw) == 3
    assert torch.equal(ours.image_grid_thw[image_of], theirs["image_grid_thw"])
    distinct_rows = _per_pair_rows(ours.pixel_values, ours.image_grid_thw)
    for pair, rows in enumerate(_per_pair_rows(theirs["pixel_values"], theirs["image_grid_thw"])):
        assert torch.equal(rows, distinct_rows[image_of[pair]])
    assert ours.pixel_values.shape[0] == sum(len(rows) for rows in distinct_rows) < theirs["pixel_values"].shape[0]


def test_qwen_vl_inputs_refuse_a_text_without_its_one_image(hpsv3_small):
    from widespectrum.batching import qwen_vl_inputs

    image = Image.new("RGB", (56, 56))
    with pytest.raises(ValueError, match="exactly one"):
        qwen_vl_inputs(hpsv3_small.processor, ["no image here"], [image], torch.tensor([0]))


def test_hpsv3_rejects_a_checkpoint_of_another_shape(tmp_path, hpsv3_repos):
    hub = hpsv3_repos
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
def imagereward(imagereward_repos, config):
    hub = imagereward_repos
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
    assert record["autocast"] is None  # the entry's fp16 autocast is a CUDA setting


def test_precision_settings_are_the_authors_scripts():
    """HPSv3: bf16 weights (HPSv3_7B.yaml) under torch.cuda.amp.autocast() (eval/reward_models/eval_later.py);
    ImageReward: THUDM's float32 model under the same autocast (eval/reward_models/run_image_reward.py);
    HPSv2: under fp16 autocast (img_score.py); BLIP-L loaded in fp16 (eval/data/emotion.ipynb)."""
    rewards = yaml.safe_load(REWARDS_YAML.read_text())
    hpsv3, imagereward = rewards["hpsv3"]["options"], rewards["imagereward"]["options"]
    assert (hpsv3["dtype"], hpsv3["autocast"]) == ("bfloat16", "float16")
    assert (imagereward.get("dtype"), imagereward["autocast"]) == (None, "float16")
    assert rewards["hpsv2"]["options"]["autocast"] == "float16"
    assert [rewards[name]["options"]["dtype"] for name in ("blip-l", "blip-l-logit")] == ["float16", "float16"]


def test_hpsv3_text_is_the_authors_collator_text():
    """sha256 of INSTRUCTION and prompt_with_special_token as hpsv3/dataset/data_collator_qwen.py of
    MizzenAI/HPSv3 defines them: a changed character changes every HPSv3 score."""
    import hashlib

    from widespectrum.scoring import hpsv3

    digest = {text: hashlib.sha256(text.encode("utf-8")).hexdigest()
              for text in (hpsv3.INSTRUCTION, hpsv3.REWARD_SUFFIX)}
    assert digest[hpsv3.INSTRUCTION] == "4b760179e6eeec994804cc37e30968d0132bedeea81989ca7b045f8a2051397d"
    assert digest[hpsv3.REWARD_SUFFIX] == "2471faca094ae5bd6fe17b71dce20c3d7583625545e235889f7e74e7eeb69d0a"


def test_imagereward_rejects_foreign_weights(tmp_path, imagereward_repos):
    hub = imagereward_repos
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


# ---- MPS ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mps_converted(clip_h_repo) -> dict:
    hub = clip_h_repo
    from widespectrum.scoring.mps import convert_mps_checkpoint

    pickled = tiny_rewards.build_tiny_mps_pickle(hub["root"] / "downloads" / "MPS_overall_checkpoint.pth",
                                                 hub["root"] / "clip-h")
    out = hub["root"] / "mps-converted"
    return {"pickled": pickled, "out": out, "config": convert_mps_checkpoint(pickled, out)}


@pytest.fixture(scope="module")
def mps(hub, config, mps_converted):
    local = _with_options(config, "mps", path=str(mps_converted["out"]),
                          sha256=mps_converted["config"]["weights_sha256"])
    return registry.build(local, "rewards", "mps", hub["runtime"])


def _norm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.layer_norm(x, x.shape[-1:], weight, torch.zeros_like(weight))


def _rope(t: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    angles = torch.arange(t.shape[-2], dtype=torch.float64)[:, None] * inv_freq.double()[None]
    angles = torch.cat([angles, angles], dim=-1)
    half = t.shape[-1] // 2
    return t * angles.cos() + torch.cat([-t[..., half:], t[..., :half]], dim=-1) * angles.sin()


def _swiglu(x: torch.Tensor) -> torch.Tensor:
    value, gate = x.chunk(2, dim=-1)
    return torch.nn.functional.silu(gate) * value


def _cross_model_by_hand(w: dict, query, context, mask, dims) -> torch.Tensor:
    """The cross model of Kwai-Kolors/MPS cross_modeling.py, in float64 from the raw weights."""
    heads, dim_head = dims["heads"], dims["dim_head"]
    for i in range(dims["layer_num"]):
        p = f"cross_model.layers.{i}.0.fn."
        x = _norm(query, w[p + "norm.weight"])
        q = (x @ w[p + "to_q.weight"].T).unflatten(-1, (heads, dim_head)).transpose(1, 2) * dim_head ** -0.5
        k, v = (context @ w[p + "to_kv.weight"].T).chunk(2, dim=-1)
        attn = (q @ k.transpose(-1, -2)[:, None] + mask[:, None]).softmax(dim=-1)
        out = (attn @ v[:, None]).transpose(1, 2).flatten(2) @ w[p + "to_out.weight"].T
        query = query + out + _swiglu(x @ w[p + "ff.0.weight"].T) @ w[p + "ff.2.weight"].T
        p = f"cross_model.layers.{i}.1.fn."
        x = _norm(query, w[p + "norm.weight"])
        fused = x @ w[p + "fused_attn_ff_proj.weight"].T
        q, k, v, ff = fused.split((heads * dim_head, dim_head, dim_head, fused.shape[-1] - heads * dim_head
                                   - 2 * dim_head), dim=-1)
        q = q.unflatten(-1, (heads, dim_head)).transpose(1, 2)
        inv_freq = w[p + "rotary_emb.inv_freq"]
        q, k = _rope(q, inv_freq) * dim_head ** -0.5, _rope(k, inv_freq)
        attn = (q @ k.transpose(-1, -2)[:, None]).softmax(dim=-1)
        out = (attn @ v[:, None]).transpose(1, 2).flatten(2) @ w[p + "attn_out.weight"].T
        query = query + out + _swiglu(ff) @ w[p + "ff_out.1.weight"].T
    return query


def test_mps_is_the_authors_formula_one_pair_at_a_time(hub, mps, mps_converted, images):
    from safetensors.torch import load_file
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

    weights = {k: v.double() for k, v in load_file(mps_converted["out"] / "model.safetensors").items()}
    clip = CLIPModel.from_pretrained(_snapshot(hub, CLIP_H)).double().eval()
    clip.load_state_dict({k.removeprefix("model."): v for k, v in weights.items() if k.startswith("model.")},
                         strict=False)
    tokenizer = CLIPTokenizer.from_pretrained(_snapshot(hub, CLIP_H))
    processor = CLIPImageProcessor.from_pretrained(_snapshot(hub, CLIP_H))

    def text(prompt):
        ids = tokenizer([prompt], max_length=77, padding="max_length", truncation=True, return_tensors="pt")
        out = clip.text_model(input_ids=ids["input_ids"])
        return clip.text_projection(out.last_hidden_state), clip.text_projection(out.pooler_output)

    expected = []
    with torch.no_grad():
        condition, _ = text(MPS_OVERALL_CONDITION)
        for image, prompt in zip(images, PROMPTS):  # one pair at a time, as infer_one_sample
            text_f, text_eos = text(prompt)
            pixels = processor(images=image.convert("RGB"), return_tensors="pt")["pixel_values"].double()
            image_f = clip.visual_projection(clip.vision_model(pixel_values=pixels).last_hidden_state)
            sim = torch.einsum("bid,bjd->bji", text_f, condition).max(dim=1, keepdim=True)[0]
            sim = sim / sim.max()
            mask = torch.where(sim > 0.3, 0.0, float("-inf")).double().repeat(1, image_f.shape[1], 1)
            features = _cross_model_by_hand(weights, image_f, text_f, mask, mps_converted["config"]["cross_model"])
            features = features[:, 0, :] / features[:, 0, :].norm(dim=-1, keepdim=True)
            text_eos = text_eos / text_eos.norm(dim=-1, keepdim=True)
            expected.append(float(clip.logit_scale.exp() * (text_eos * features).sum()))
    output = mps.score(images, PROMPTS)
    np.testing.assert_allclose(output.scores, expected, atol=1e-4, rtol=1e-5)
    assert np.ptp(output.scores) > 1e-2
    assert output.truncated.tolist() == [prompt == LONG_PROMPT for prompt in PROMPTS]


def test_mps_conversion_runs_none_of_the_checkpoint_code(tmp_path, mps_converted):
    import pickle

    from widespectrum.scoring.mps import convert_mps_checkpoint

    config = mps_converted["config"]
    assert config["cross_model"] == tiny_rewards.TINY_CROSS
    assert config["source_sha256"] == tiny_rewards.sha256_file(mps_converted["pickled"])
    assert config["weights_sha256"] == tiny_rewards.sha256_file(mps_converted["out"] / "model.safetensors")

    class Payload:  # a pickle that would run os.system when unpickled by a plain loader
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    torch.save({"x": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(pickle.UnpicklingError, match="refuses to import"):
        convert_mps_checkpoint(tmp_path / "evil.pth", tmp_path / "out")


def test_convert_mps_command_writes_the_files_and_their_digest(tmp_path, mps_converted, capsys):
    from widespectrum.cli import main

    assert main(["convert-mps", str(mps_converted["pickled"]), str(tmp_path / "out")]) == 0
    digest = tiny_rewards.sha256_file(tmp_path / "out" / "model.safetensors")
    assert digest == mps_converted["config"]["weights_sha256"]  # the conversion is deterministic
    assert f"sha256: {digest}" in capsys.readouterr().out


def test_mps_scoring_reads_only_verified_safetensors(hub, config, mps_converted):
    from widespectrum.errors import SetupError

    wrong = _with_options(config, "mps", path=str(mps_converted["out"]), sha256="0" * 64)
    with pytest.raises(SetupError, match="has sha256"):
        registry.build(wrong, "rewards", "mps", hub["runtime"])


# ---- the scoring job ------------------------------------------------------------------------------------

def test_score_job_records_prompt_truncation_per_row(tmp_path, hps_v1):
    import pandas as pd

    from widespectrum import contracts
    from widespectrum.generation.procedural import OracleGenerator
    from widespectrum.generation.runner import build_requests, run_generation
    from widespectrum.scoring.runner import score_pairs

    prompts = contracts.PROMPTS.validate(pd.DataFrame({
        "prompt_id": ["0000", "0001"], "caption_id": ["c0", "c1"],
        "prompt_original": ["a photo of a cat", "a photo of a dog"],
        "prompt_anti": ["a dark photo of a cat", LONG_PROMPT],
        "dimensions": [["clarity"]] * 2, "negative_prompt": ["sharp"] * 2,
        "reference_image": ["astronaut", "coffee"], "rewriter": ["template"] * 2,
    }))
    runtime = Runtime(device="cpu")
    manifest = run_generation(OracleGenerator("oracle", runtime, size=32),
                              build_requests(prompts, {}, {}, base_seed=1), tmp_path, "images/oracle/chunk-0")
    scores = score_pairs(hps_v1, manifest, prompts, tmp_path).set_index(["prompt_id", "image_kind", "prompt_kind"])
    assert (scores["status"] == "ok").all() and len(scores) == 8
    cut = scores["prompt_truncated"]
    assert cut.loc[("0001", "o", "a")] and cut.loc[("0001", "a", "a")]
    assert cut.sum() == 2  # only the long rewrite, under both images
    image = Image.open(tmp_path / manifest.set_index(["prompt_id", "image_kind"]).loc[("0001", "a"), "path"])
    direct = hps_v1.score([image], [LONG_PROMPT]).scores[0]
    assert abs(scores.loc[("0001", "a", "a"), "score"] - direct) < 1e-6


# ---- every reward: batch size and order ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["hpsv3_small", "imagereward", "hps_v1", "mps"])
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


@pytest.mark.parametrize("name, image_encoder, text_encoder", [
    ("hpsv3_small", "model.model.visual", None),
    ("imagereward", "vision", None),
    ("hps_v1", "model.visual", "model.transformer"),
    ("mps", "clip.vision_model", "clip.text_model"),
])
def test_a_batch_encodes_each_image_and_prompt_once(request, images, name, image_encoder, text_encoder):
    """A scoring job's batch holds each image under its two prompts: the 4 pairs of 2 images and
    2 prompts encode 2 images and 2 prompts, and every pair keeps the score it has alone."""
    reward = request.getfixturevalue(name)
    pair_images = [images[0], images[0], images[2], images[2]]
    pair_prompts = [PROMPTS[1], PROMPTS[4], PROMPTS[1], PROMPTS[4]]
    alone = [reward.score([image], [prompt]).scores[0] for image, prompt in zip(pair_images, pair_prompts)]
    with contextlib.ExitStack() as stack:
        image_calls = stack.enter_context(batch_sizes_seen(attrgetter(image_encoder)(reward)))
        text_calls = stack.enter_context(batch_sizes_seen(attrgetter(text_encoder)(reward))) if text_encoder else None
        together = reward.score(pair_images, pair_prompts).scores
    assert image_calls == [2]
    assert text_calls in (None, [2])
    np.testing.assert_allclose(together, alone, atol=1e-5, rtol=0)


def test_autocast_applies_on_cuda_only():
    from widespectrum.scoring.base import autocast_context, effective_autocast

    assert effective_autocast(torch.device("cpu"), "float16") is None
    assert effective_autocast(torch.device("cuda"), "float16") == "float16"
    assert effective_autocast(torch.device("cuda"), None) is None
    with autocast_context(torch.device("cpu"), "float16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_distinct_keeps_first_seen_order_and_maps_every_item():
    from widespectrum.batching import distinct

    firsts, index = distinct(["b", "a", "b", "c", "a"])
    assert firsts == ["b", "a", "c"]
    assert index.tolist() == [0, 1, 0, 2, 1]
    twin = Image.new("RGB", (2, 2))
    firsts, index = distinct([twin, Image.new("RGB", (2, 2)), twin], key=id)  # equal pixels, two files
    assert len(firsts) == 2 and index.tolist() == [0, 1, 0]


def test_shared_prefix_lengths_per_group_capped_at_the_stop():
    from widespectrum.batching import shared_prefix_lengths

    ids = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 1, 2], [3, 4, 4, 4, 4], [5, 6, 9, 9, 9], [3, 4, 4, 4, 4]])
    group_of = torch.tensor([0, 0, 1, 2, 1])
    stop = torch.tensor([4, 4, 3, 2, 5])
    # group 0 shares 3 tokens; group 1's rows are equal but one stops at 3; group 2 has one row
    assert shared_prefix_lengths(ids, group_of, stop).tolist() == [3, 3, 2]


def test_first_rows_are_each_groups_first_copy():
    from widespectrum.batching import first_rows

    assert first_rows(torch.tensor([0, 1, 0, 2, 1])) == [0, 1, 3]


def test_per_item_encodes_each_distinct_item_once_and_repeats_its_rows():
    from widespectrum.batching import per_item

    calls = []

    def encode(items):
        calls.append(list(items))
        return torch.tensor([[len(item)] for item in items]), torch.tensor([ord(item[0]) for item in items])

    lengths, initials = per_item(encode, ["ab", "c", "ab", "c", "d"])
    assert calls == [["ab", "c", "d"]]
    assert lengths.tolist() == [[2], [1], [2], [1], [1]]
    assert initials.tolist() == [97, 99, 97, 99, 100]
    assert per_item(lambda items: torch.arange(len(items)) * 10, ["x", "y", "x"]).tolist() == [0, 10, 0]
