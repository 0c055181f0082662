"""Flux, SDXL and SD3 generators, loaded by the paper's repo ids from an offline cache of tiny pipelines."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from widespectrum import registry
from widespectrum.generation.base import GenerationRequest
from widespectrum.generation.diffusers_backend import (
    FluxGenerator,
    StableDiffusion3Generator,
    StableDiffusionXLGenerator,
)
from widespectrum.hub import ModelUnavailableError
from widespectrum.demo import hub_cache
from widespectrum.demo.diffusers_models import build_tiny_sd3, install_tiny_pipeline
from widespectrum.runtime import Runtime

from .fixtures.tiny_checkpoints import build_tiny_flux_transformer_file, build_tiny_sd3_lora

FLUX = "black-forest-labs/FLUX.1-dev"
SDXL = "stabilityai/stable-diffusion-xl-base-1.0"
SD3 = "stabilityai/stable-diffusion-3.5-medium"
DANCE_REPO = "xzyhku/flux_hpsv2.1_dancegrpo"
DANCE_FILE = "checkpoint-ema-300-0/diffusion_pytorch_model.safetensors"
GENEVAL_LORA = "jieliu/SD3.5M-FlowGRPO-GenEval"
DIFFUSERS_LORA = "offline-test/sd3-lora-diffusers-format"  # made up: a LoRA in diffusers' own layout
BROKEN_TRANSFORMER = "offline-test/flux-transformer-missing-a-key"

SETTINGS = {"num_inference_steps": 2, "height": 64, "width": 64}
SHORT = "a lighthouse on a cliff at dusk"
# past 77 CLIP tokens, with a tail that names things the head does not
LONG = (", ".join(["a crooked grey lighthouse on a crumbling cliff under a flat overcast sky"] * 6)
        + ", in the foreground a bright red bicycle, purple balloons, a yellow umbrella,"
        " green neon letters, an orange cat asleep on a wooden bench")


def request(prompt: str = SHORT, seed: int = 0, negative_prompt: str | None = None, **settings) -> GenerationRequest:
    return GenerationRequest(prompt_id="0001", image_kind="a", prompt=prompt, seed=seed,
                             settings={**SETTINGS, **settings}, negative_prompt=negative_prompt)


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A hub cache holding tiny pipelines, a transformer file and LoRAs under the paper's repo ids."""
    torch.set_num_threads(2)
    cache = tmp_path_factory.mktemp("hf-cache")
    shas = {repo: install_tiny_pipeline(kind, cache, repo)
            for kind, repo in (("flux", FLUX), ("sdxl", SDXL), ("sd3", SD3))}

    dance = tmp_path_factory.mktemp("dance")
    build_tiny_flux_transformer_file(dance / DANCE_FILE)
    shas[DANCE_REPO] = hub_cache.install_snapshot(dance, cache, DANCE_REPO)

    broken = tmp_path_factory.mktemp("broken")
    state = load_file(dance / DANCE_FILE)
    state.pop(sorted(state)[0])
    save_file(state, broken / "transformer.safetensors")
    hub_cache.install_snapshot(broken, cache, BROKEN_TRANSFORMER)

    sd3_snapshot = hub_cache.repo_folder(cache, SD3) / "snapshots" / shas[SD3]
    for repo, lora_format in ((GENEVAL_LORA, "peft"), (DIFFUSERS_LORA, "diffusers")):
        folder = build_tiny_sd3_lora(tmp_path_factory.mktemp("lora"), sd3_snapshot, lora_format=lora_format)
        shas[repo] = hub_cache.install_snapshot(folder, cache, repo)
    return {"runtime": Runtime(device="cpu", cache_dir=str(cache), offline=True, threads=2),
            "shas": shas, "dance_file": dance / DANCE_FILE}


@pytest.fixture(scope="module")
def flux(hub):
    return FluxGenerator(name="flux-dev", runtime=hub["runtime"], model_id=FLUX, dtype="float16")


@pytest.fixture(scope="module")
def sdxl(hub):
    return StableDiffusionXLGenerator(name="sdxl", runtime=hub["runtime"], model_id=SDXL)


@pytest.fixture(scope="module")
def sdxl_truncating(hub):
    return StableDiffusionXLGenerator(name="sdxl-77", runtime=hub["runtime"], model_id=SDXL, long_prompts=False)


@pytest.fixture(scope="module")
def sd3(hub):
    return StableDiffusion3Generator(name="sd35m", runtime=hub["runtime"], model_id=SD3)


@pytest.fixture(scope="module")
def generators(flux, sdxl, sd3):
    return {"flux": flux, "sdxl": sdxl, "sd3": sd3}


@pytest.mark.parametrize("family", ["flux", "sdxl", "sd3"])
def test_seeded_image_is_reproducible_and_seed_dependent(generators, family):
    generator = generators[family]
    first = generator.generate(request(seed=7))
    assert first.size == (64, 64) and first.mode == "RGB"
    assert np.array_equal(pixels(first), pixels(generator.generate(request(seed=7))))
    assert np.abs(pixels(first) - pixels(generator.generate(request(seed=8)))).mean() > 1.0


@pytest.mark.parametrize("family,repo", [("flux", FLUX), ("sdxl", SDXL), ("sd3", SD3)])
def test_provenance_names_the_snapshot_that_was_loaded(hub, generators, family, repo):
    record = generators[family].provenance()
    assert record["model_id"] == repo and record["revision"] == "main"
    assert record["resolved_revision"] == hub["shas"][repo]
    # a half-precision request on CPU runs in float32 (Runtime.torch_dtype)
    assert record["dtype"] == "float32" and record["device"] == "cpu"


def test_negative_prompt_reaches_the_pipeline(sd3):
    negative = "bright, sharp, colourful"

    def direct(negative_prompt: str) -> np.ndarray:
        """The loaded pipeline called by hand with diffusers' own argument, same seed and settings."""
        with torch.inference_mode():
            image = sd3.pipe(prompt=SHORT, negative_prompt=negative_prompt, guidance_scale=4.0, **SETTINGS,
                             generator=torch.Generator(device="cpu").manual_seed(5), output_type="pil").images[0]
        return pixels(image)

    with_negative = pixels(sd3.generate(request(seed=5, guidance_scale=4.0, negative_prompt=negative)))
    assert np.array_equal(with_negative, direct(negative))
    # and the negative prompt matters here: diffusers' default (an empty one) renders otherwise
    assert not np.array_equal(direct(negative), direct(""))


def test_unknown_setting_is_rejected_by_name(flux, sdxl):
    with pytest.raises(ValueError, match="'steps'"):
        flux.generate(request(steps=2))
    with pytest.raises(ValueError, match="'max_sequence_length'"):
        sdxl.generate(request(max_sequence_length=77))


def test_missing_seed_is_rejected(flux):
    with pytest.raises(ValueError, match="seed"):
        flux.generate(GenerationRequest("0001", "o", SHORT, seed=None, settings=SETTINGS))


def test_registry_builds_a_generator_from_config(hub):
    entries = {"generators": {"flux-dev": {"loader": "flux", "options": {
        "model_id": FLUX, "revision": "main", "dtype": "float16", "scheduler": "FlowMatchEulerDiscreteScheduler"}}}}
    generator = registry.build(entries, "generators", "flux-dev", hub["runtime"])
    assert isinstance(generator, FluxGenerator) and generator.name == "flux-dev"
    assert generator.provenance()["scheduler"] == "FlowMatchEulerDiscreteScheduler"


def test_unknown_scheduler_is_rejected(hub):
    with pytest.raises(ValueError, match="NoSuchScheduler"):
        FluxGenerator(name="x", runtime=hub["runtime"], model_id=FLUX, scheduler="NoSuchScheduler")


# ------------------------------------------------------------------ SDXL prompts

def test_compel_encoding_equals_the_pipeline_encoding_on_short_prompts(sdxl, sdxl_truncating):
    for negative in (None, ""):
        through_compel = sdxl.generate(request(negative_prompt=negative, guidance_scale=5.0))
        through_pipeline = sdxl_truncating.generate(request(negative_prompt=negative, guidance_scale=5.0))
        assert np.abs(pixels(through_compel) - pixels(through_pipeline)).max() <= 1


def test_long_prompt_uses_the_tokens_past_77(sdxl, sdxl_truncating):
    tokenizer = sdxl.pipe.tokenizer
    ids = tokenizer(LONG).input_ids
    assert len(ids) > tokenizer.model_max_length
    head = tokenizer.decode(ids[1 : tokenizer.model_max_length - 1])  # what survives truncation
    # truncation: the long prompt and its first 75 tokens give the same image ...
    assert np.array_equal(pixels(sdxl_truncating.generate(request(LONG))),
                          pixels(sdxl_truncating.generate(request(head))))
    # ... long prompts: the rest of the prompt changes it
    long_image = sdxl.generate(request(LONG, negative_prompt="", guidance_scale=7.5))
    head_image = sdxl.generate(request(head, negative_prompt="", guidance_scale=7.5))
    assert np.abs(pixels(long_image) - pixels(head_image)).mean() > 0.25


def test_fp16_variant_loads_the_half_precision_files(hub, sdxl_truncating):
    variant = StableDiffusionXLGenerator(name="playground-like", runtime=hub["runtime"], model_id=SDXL,
                                         variant="fp16", long_prompts=False,
                                         scheduler="EulerAncestralDiscreteScheduler")
    record = variant.provenance()
    assert record["variant"] == "fp16" and record["scheduler"] == "EulerAncestralDiscreteScheduler"
    weight = variant.pipe.unet.conv_in.weight
    assert weight.dtype == torch.float32
    assert torch.equal(weight, sdxl_truncating.pipe.unet.conv_in.weight.half().float())
    assert variant.generate(request()).size == (64, 64)


# ------------------------------------------------------------------ Flux transformer swap

def test_transformer_from_another_repo_replaces_the_base_weights(hub, flux):
    source = {"repo": DANCE_REPO, "filename": DANCE_FILE, "revision": "main"}
    dance = FluxGenerator(name="dance-flux", runtime=hub["runtime"], model_id=FLUX, transformer=source)
    expected = load_file(hub["dance_file"])
    loaded = dance.pipe.transformer.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)

    base_image, dance_image = flux.generate(request()), dance.generate(request())
    assert np.abs(pixels(base_image) - pixels(dance_image)).mean() > 1.0
    record = dance.provenance()["transformer"]
    assert record["repo"] == DANCE_REPO and record["filename"] == DANCE_FILE
    assert record["resolved_revision"] == hub["shas"][DANCE_REPO]


def test_transformer_file_that_does_not_fit_is_rejected(hub):
    source = {"repo": BROKEN_TRANSFORMER, "filename": "transformer.safetensors"}
    with pytest.raises(ValueError, match="1 missing"):
        FluxGenerator(name="x", runtime=hub["runtime"], model_id=FLUX, transformer=source)


# ------------------------------------------------------------------ SD3 LoRA merge

def snapshot_of(hub, repo_id: str):
    return hub_cache.repo_folder(hub["runtime"].cache_dir, repo_id) / "snapshots" / hub["shas"][repo_id]


def expected_merge(base, adapter: dict, prefix: str, scaling: float) -> torch.Tensor:
    down, up = adapter[f"{prefix}.lora_A.weight"], adapter[f"{prefix}.lora_B.weight"]
    return base + scaling * (up @ down)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_peft_lora_is_merged_into_the_transformer(hub, sd3, scale):
    lora = {"repo": GENEVAL_LORA, "revision": "main", "scale": scale}
    tuned = StableDiffusion3Generator(name="sd35m-geneval", runtime=hub["runtime"], model_id=SD3, lora=lora)
    snapshot = snapshot_of(hub, GENEVAL_LORA)
    config = json.loads((snapshot / "adapter_config.json").read_text())
    adapter = load_file(snapshot / "adapter_model.safetensors")
    module = "transformer_blocks.0.attn.to_q"
    expected = expected_merge(sd3.pipe.transformer.get_submodule(module).weight, adapter,
                              f"base_model.model.{module}", scale * config["lora_alpha"] / config["r"])
    merged = tuned.pipe.transformer.get_submodule(module)
    assert type(merged) is torch.nn.Linear  # merged and unloaded: no adapter layers left
    torch.testing.assert_close(merged.weight, expected)

    assert np.abs(pixels(sd3.generate(request())) - pixels(tuned.generate(request()))).mean() > 0.5
    record = tuned.provenance()["lora"]
    assert record["repo"] == GENEVAL_LORA and record["scale"] == scale
    assert record["resolved_revision"] == hub["shas"][GENEVAL_LORA]


def test_diffusers_format_lora_is_fused(hub, sd3):
    lora = {"repo": DIFFUSERS_LORA, "format": "diffusers"}
    tuned = StableDiffusion3Generator(name="sd35m-diffusers-lora", runtime=hub["runtime"], model_id=SD3, lora=lora)
    adapter = load_file(snapshot_of(hub, DIFFUSERS_LORA) / "pytorch_lora_weights.safetensors")
    module = "transformer_blocks.1.attn.to_v"
    # the builder's LoRA has lora_alpha = 2 * r
    expected = expected_merge(sd3.pipe.transformer.get_submodule(module).weight, adapter,
                              f"transformer.{module}", 2.0)
    merged = tuned.pipe.transformer.get_submodule(module)
    assert type(merged) is torch.nn.Linear
    torch.testing.assert_close(merged.weight, expected)


def test_peft_adapter_read_as_diffusers_format_is_rejected(hub):
    lora = {"repo": GENEVAL_LORA, "format": "diffusers", "weight_name": "adapter_model.safetensors"}
    with pytest.raises(ValueError, match="format: peft"):
        StableDiffusion3Generator(name="x", runtime=hub["runtime"], model_id=SD3, lora=lora)


# ------------------------------------------------------------------ offline failures

@pytest.mark.parametrize("make", [
    lambda rt: FluxGenerator(name="x", runtime=rt, model_id="black-forest-labs/FLUX.1-Krea-dev"),
    lambda rt: FluxGenerator(name="x", runtime=rt, model_id=FLUX,
                             transformer={"repo": DANCE_REPO, "filename": "checkpoint-ema-1/missing.safetensors"}),
    lambda rt: StableDiffusion3Generator(name="x", runtime=rt, model_id=SD3,
                                         lora={"repo": "jieliu/SD3.5M-FlowGRPO-PickScore"}),
], ids=["pipeline", "transformer-file", "lora"])
def test_model_missing_from_the_offline_cache_raises_a_clear_error(hub, make):
    with pytest.raises(ModelUnavailableError, match="not in the Hugging Face cache .* offline"):
        make(hub["runtime"])


def test_tiny_builds_are_reproducible(hub, tmp_path):
    assert hub_cache.content_sha(build_tiny_sd3(tmp_path)) == hub["shas"][SD3]
