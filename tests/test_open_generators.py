"""The open generators added after the paper, built from the shipped registry by their real repo ids.

Tiny pipelines of the real classes sit in an offline hub cache under those ids.
What reached each pipeline is read off the pipeline itself: the scheduler's
timesteps (the step count), the guidance it stored, and a forward pre-hook on
the transformer that records every call's batch (two rows, or two calls, per
step when classifier-free guidance runs).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from widespectrum import contracts, layout, registry
from widespectrum.config import generation_settings, load_registry
from widespectrum.runconfig import load_run as load_config
from widespectrum.demo.diffusers_models import install_tiny_pipeline
from widespectrum.generation.base import GenerationRequest
from widespectrum.generation.diffusers_backend import DiffusersPipelineGenerator
from widespectrum.generation.runner import build_requests, run_generation
from widespectrum.runtime import Runtime

from .fixtures import tiny_pipelines

TINY = {  # repo id -> tiny pipeline kind
    "Qwen/Qwen-Image": "qwen_image",
    "Tongyi-MAI/Z-Image": "z_image",
    "Tongyi-MAI/Z-Image-Turbo": "z_image",
    "black-forest-labs/FLUX.2-klein-9B": "flux2_klein",
    "meituan-longcat/LongCat-Image": "longcat_image",
    "zai-org/GLM-Image": "glm_image",
}
TINY_SD3 = ("stabilityai/stable-diffusion-3.5-large", "yandex/stable-diffusion-3.5-large-alchemist")

# docs/experiments.md#e2 / the authors' scripts: (steps, guidance) per generator and prompt kind
PUBLISHED = {
    "qwen-image-local": {"o": {"num_inference_steps": 50, "true_cfg_scale": 4.0}},
    "flux2-klein-9b": {"o": {"num_inference_steps": 4, "guidance_scale": 0.0}},
    "z-image": {"o": {"num_inference_steps": 50, "guidance_scale": 3.5}},
    "z-image-turbo": {"o": {"num_inference_steps": 8, "guidance_scale": 1.0}},
    "glm-image": {"o": {"num_inference_steps": 50, "guidance_scale": 5.0}},
    "alchemist": {"o": {"num_inference_steps": 40, "guidance_scale": 4.0},
                  "a": {"num_inference_steps": 32, "guidance_scale": 6.0}},
    "longcat-image": {"o": {"num_inference_steps": 50, "guidance_scale": 4.0}},
    "sd3.5-large": {"o": {"num_inference_steps": 32, "guidance_scale": 4.0}},
}


@pytest.fixture(scope="module")
def shipped(repo_root):
    return load_registry(load_config(repo_root / "config" / "config.yaml"))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    cache = tmp_path_factory.mktemp("hf-cache")
    shas = {repo: tiny_pipelines.install(kind, cache, repo) for repo, kind in TINY.items()}
    shas.update({repo: install_tiny_pipeline("sd3", cache, repo) for repo in TINY_SD3})
    return {"runtime": Runtime(device="cpu", cache_dir=str(cache), offline=True, threads=2), "shas": shas}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_registry_entries_carry_the_published_settings(shipped, name):
    for kind in ("o", "a"):
        settings = generation_settings(shipped, name, kind)
        expected = PUBLISHED[name].get(kind, PUBLISHED[name]["o"])
        assert {key: settings.get(key) for key in expected} == expected
        assert (settings["height"], settings["width"]) == (1024, 1024)


def test_entries_that_differ_from_a_plain_call(shipped):
    generators = shipped["generators"]
    assert generators["longcat-image"]["options"]["fixed_arguments"]["enable_prompt_rewrite"] is False
    assert generators["alchemist"]["options"]["dtype"] == "bfloat16"
    assert generators["flux2-klein-9b"]["options"]["pipeline"] == "Flux2KleinPipeline"
    assert "negative_prompts" not in generators["flux2-klein-9b"]
    assert "negative_prompts" not in generators["glm-image"]


class Recorder:
    """Counts transformer calls and their batch sizes during one generate()."""

    def __init__(self, generator) -> None:
        self.generator = generator
        self.batches: list[int] = []

    def _hook(self, module, args, kwargs):
        states = kwargs.get("hidden_states", kwargs.get("x", args[0] if args else None))
        self.batches.append(len(states) if isinstance(states, list) else int(states.shape[0]))

    def generate(self, request: GenerationRequest):
        handle = self.generator.pipe.transformer.register_forward_pre_hook(self._hook, with_kwargs=True)
        try:
            return self.generator.generate(request)
        finally:
            handle.remove()


def _request(shipped, name: str, kind: str, **overrides) -> GenerationRequest:
    """The entry's own request for one pair (prompt, seed, negative prompt), with ``overrides`` on its settings."""
    spec = shipped["generators"][name]
    prompts = contracts.PROMPTS.validate(pd.DataFrame({
        "prompt_id": ["0003"], "caption_id": ["c3"], "prompt_original": ["a lighthouse on a cliff"],
        "prompt_anti": ["a blurred, dim lighthouse"], "dimensions": [["clarity"]], "negative_prompt": [None],
        "reference_image": [None], "rewriter": ["template"]}))
    requests = build_requests(prompts, {**generation_settings(shipped, name, "o"), **overrides},
                              {**generation_settings(shipped, name, "a"), **overrides}, base_seed=5,
                              negative_prompts=spec.get("negative_prompts"))
    return next(r for r in requests if r.image_kind == kind)


# name, prompt kind, steps to run, size, (transformer calls per step, batch per call)
RUNS = [
    ("qwen-image-local", "a", 3, 32, (2, 1)),  # true CFG: a second call with the negative prompt " "
    ("flux2-klein-9b", "a", 4, 32, (1, 1)),  # distilled, guidance 0: one pass
    ("z-image", "a", 3, 32, (1, 2)),  # CFG on a doubled batch
    ("z-image-turbo", "o", 8, 32, (1, 2)),  # guidance 1.0 still runs CFG
    ("longcat-image", "o", 3, 32, (2, 1)),  # CFG as a second call
    ("alchemist", "a", 3, 64, (1, 2)),
    ("sd3.5-large", "o", 3, 64, (1, 2)),
]


@pytest.mark.parametrize("name,kind,steps,size,passes", RUNS, ids=[run[0] for run in RUNS])
def test_each_open_model_runs_from_the_registry_by_its_real_id(shipped, hub, name, kind, steps, size, passes):
    extra = {"text_encoder_out_layers": [1, 2, 3]} if name == "flux2-klein-9b" else {}  # the tiny encoder's layers
    generator = registry.build(shipped, "generators", name, hub["runtime"])
    request = _request(shipped, name, kind, num_inference_steps=steps, height=size, width=size, **extra)
    recorder = Recorder(generator)
    image = recorder.generate(request)

    assert image.size == (size, size) and image.mode == "RGB"
    pipe = generator.pipe
    assert type(pipe).__name__ == shipped["generators"][name]["options"].get("pipeline", "StableDiffusion3Pipeline")
    assert len(pipe.scheduler.timesteps) == steps
    calls_per_step, batch = passes
    assert recorder.batches == [batch] * (steps * calls_per_step)
    if "guidance_scale" in request.settings:
        assert pipe.guidance_scale == request.settings["guidance_scale"]
    record = generator.provenance()
    repo = shipped["generators"][name]["options"]["model_id"]
    assert record["model_id"] == repo and record["resolved_revision"] == hub["shas"][repo]
    again = generator.generate(request)
    assert np.array_equal(np.asarray(image), np.asarray(again))  # seeded


def test_turbo_at_guidance_one_differs_from_no_guidance(shipped, hub):
    generator = registry.build(shipped, "generators", "z-image-turbo", hub["runtime"])
    images, batches = {}, {}
    for guidance in (1.0, 0.0):
        recorder = Recorder(generator)
        request = _request(shipped, "z-image-turbo", "o", num_inference_steps=2, height=32, width=32,
                           guidance_scale=guidance)
        images[guidance] = np.asarray(recorder.generate(request), dtype=np.int16)
        batches[guidance] = recorder.batches
    assert batches == {1.0: [2, 2], 0.0: [1, 1]}
    assert np.abs(images[1.0] - images[0.0]).max() > 0


def test_flux2_klein_takes_no_negative_prompt(shipped, hub):
    generator = registry.build(shipped, "generators", "flux2-klein-9b", hub["runtime"])
    request = _request(shipped, "flux2-klein-9b", "a", num_inference_steps=1, height=32, width=32,
                       text_encoder_out_layers=[1, 2, 3])
    with pytest.raises(ValueError, match="takes no negative prompt"):
        generator.generate(GenerationRequest(**{**request.__dict__, "negative_prompt": ""}))
    assert generator.provenance()["takes_negative_prompt"] is False


def test_the_authors_flux2_pipeline_class_is_an_option(shipped, hub):
    entries = {"generators": {"klein-as-flux2": {
        **shipped["generators"]["flux2-klein-9b"],
        "options": {**shipped["generators"]["flux2-klein-9b"]["options"], "pipeline": "Flux2Pipeline"}}}}
    generator = registry.build(entries, "generators", "klein-as-flux2", hub["runtime"])
    assert type(generator.pipe).__name__ == "Flux2Pipeline"
    assert generator.provenance()["pipeline"] == "Flux2Pipeline"


def test_fixed_arguments_reach_every_call(shipped, hub):
    options = {**shipped["generators"]["z-image"]["options"], "call_arguments": ["max_sequence_length"],
               "fixed_arguments": {"cfg_normalization": True}}
    generator = DiffusersPipelineGenerator(name="z-image-normalised", runtime=hub["runtime"], **options)
    request = _request(shipped, "z-image", "o", num_inference_steps=1, height=32, width=32)
    generator.generate(request)
    assert generator.pipe._cfg_normalization is True
    assert generator.provenance()["fixed_arguments"] == {"cfg_normalization": True}
    with pytest.raises(ValueError, match="cfg_normalization"):
        generator.generate(GenerationRequest(**{**request.__dict__,
                                                "settings": {**request.settings, "cfg_normalization": False}}))


@pytest.mark.parametrize("options,needle", [
    ({"pipeline": "GlmImagePipeline", "call_arguments": ["negative_prompt"]}, r"takes no \['negative_prompt'\]"),
    ({"pipeline": "GlmImagePipeline", "negative_prompt": True}, "takes no negative prompt"),
    ({"pipeline": "LongCatImagePipeline", "fixed_arguments": {"enable_prompt_rewrit": False}}, "enable_prompt_rewrit"),
    ({"pipeline": "ZImagePipeline", "call_arguments": ["cfg_truncation"],
      "fixed_arguments": {"cfg_truncation": 0.5}}, "both fixed and settable"),
    ({"pipeline": "NoSuchPipeline"}, "not a diffusers pipeline"),
])
def test_entries_are_checked_against_the_pipeline_signature_before_loading(options, needle):
    empty = Runtime(device="cpu", offline=True, cache_dir=None)
    with pytest.raises(ValueError, match=needle):
        DiffusersPipelineGenerator(name="x", runtime=empty, model_id="nobody/none", **options)


def test_longcat_encodes_the_prompt_as_given(shipped, hub):
    """With the prompt rewrite off the text encoder runs twice (prompt, empty negative), never to generate text."""
    generator = registry.build(shipped, "generators", "longcat-image", hub["runtime"])
    encoder_calls = []
    handle = generator.pipe.text_encoder.register_forward_pre_hook(lambda module, args: encoder_calls.append(1))
    try:
        generator.generate(_request(shipped, "longcat-image", "o", num_inference_steps=1, height=32, width=32))
    finally:
        handle.remove()
    assert len(encoder_calls) == 2
    assert generator.provenance()["fixed_arguments"]["enable_prompt_rewrite"] is False


class PriorRecorder:
    """Every DiT call of GLM-Image: its batch and the prior tokens the AR model handed it."""

    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.calls: list[dict] = []
        self.ar_steps = 0

    def _dit(self, module, args, kwargs):
        self.calls.append({"batch": int(kwargs["hidden_states"].shape[0]),
                           "prior": kwargs["prior_token_id"].clone(), "dropped": kwargs["prior_token_drop"].clone()})

    def _ar(self, module, args, kwargs):
        self.ar_steps += 1

    def __enter__(self):
        self.handles = [
            self.pipe.transformer.register_forward_pre_hook(self._dit, with_kwargs=True),
            self.pipe.vision_language_encoder.register_forward_pre_hook(self._ar, with_kwargs=True)]
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()


def _glm_prompts():
    # the second prompt quotes a text: GLM-Image's glyph encoder reads quoted text (and only that)
    return contracts.PROMPTS.validate(pd.DataFrame({
        "prompt_id": ["0001", "0002"], "caption_id": ["c1", "c2"],
        "prompt_original": ["a lighthouse on a cliff", "a shop door with a sign that says 'open'"],
        "prompt_anti": ["a blurred, dim lighthouse", "a smeared shop door"], "dimensions": [["clarity"], ["clarity"]],
        "negative_prompt": [None, None], "reference_image": [None, None], "rewriter": ["template", "template"]}))


def test_glm_image_runs_from_the_registry_into_the_manifest(shipped, hub, tmp_path):
    """The AR prior's tokens for the requested size reach the DiT, seeded; the PNGs land in the manifest.

    At 32 x 64 pixels (height x width) the AR model writes GLM-Image's 32-pixel
    grid of 1 x 2 tokens after the preview grid of int(16 sqrt(1/2)) x
    int(16 sqrt(2)) = 11 x 22, plus the closing token: 245 steps. The DiT gets
    those 2 tokens upsampled twice (2 x 4), and with guidance 5 > 1 a second,
    unconditional call per step that drops them.
    """
    import torch

    steps, height, width = 2, 32, 64
    generator = registry.build(shipped, "generators", "glm-image", hub["runtime"])
    settings = {**generation_settings(shipped, "glm-image", "o"), "num_inference_steps": steps,
                "height": height, "width": width}
    requests = build_requests(_glm_prompts(), settings, settings, base_seed=5, image_kinds=("o",))
    image_dir = layout.chunk_dir("glm-image", 0)
    with PriorRecorder(generator.pipe) as recorder:
        manifest = run_generation(generator, requests, tmp_path / "run", image_dir)

    assert recorder.ar_steps == 2 * (1 * 2 + 11 * 22 + 1)
    assert [call["batch"] for call in recorder.calls] == [1] * (2 * steps * 2)
    for image_calls in (recorder.calls[:2 * steps], recorder.calls[2 * steps:]):
        prior = image_calls[0]["prior"]
        assert prior.shape == (1, 8)
        grid = prior.view(2, 4)  # each AR token covers a 2 x 2 block of DiT patches
        assert torch.equal(grid[0], grid[1]) and torch.equal(grid[:, 0::2], grid[:, 1::2])
        assert all(torch.equal(call["prior"], prior) for call in image_calls)
        assert [call["dropped"].tolist() for call in image_calls] == [[[False] * 8], [[True] * 8]] * steps
    first_prior = recorder.calls[0]["prior"]

    assert list(manifest["status"]) == [contracts.OK] * 2
    assert list(manifest["generator"]) == ["glm-image"] * 2
    assert list(manifest["prompt"]) == list(_glm_prompts()["prompt_original"])
    assert list(manifest["seed"]) == [6, 7]  # base seed + pair index
    for row in manifest.itertuples():
        path = tmp_path / "run" / row.path
        assert row.path.startswith(image_dir + "/")
        assert row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        with Image.open(path) as image:
            assert (image.format, image.size, image.mode) == ("PNG", (width, height), "RGB")
        assert json.loads(row.settings) == {"num_inference_steps": steps, "guidance_scale": 5.0,
                                            "height": height, "width": width}
    record = generator.provenance()
    assert record["pipeline"] == "GlmImagePipeline" and record["takes_negative_prompt"] is False
    assert record["resolved_revision"] == hub["shas"]["zai-org/GLM-Image"]

    # the pipeline seeds the AR sampling from the generator's seed: the same seed gives the same tokens and bytes
    first = requests[0]
    reruns = {}
    for name, request in (("same seed", first), ("next seed", GenerationRequest(**{**first.__dict__,
                                                                                   "seed": first.seed + 1}))):
        with PriorRecorder(generator.pipe) as recorder:
            rerun = run_generation(generator, [request], tmp_path / name, image_dir)
        assert rerun["status"].iloc[0] == contracts.OK
        reruns[name] = (recorder.calls[0]["prior"], rerun["sha256"].iloc[0])
    assert torch.equal(reruns["same seed"][0], first_prior) and reruns["same seed"][1] == manifest["sha256"].iloc[0]
    assert not torch.equal(reruns["next seed"][0], first_prior) and reruns["next seed"][1] != manifest["sha256"].iloc[0]
