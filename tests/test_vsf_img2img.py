"""VSF and NAG negative guidance and img2img on Flux, loaded by the paper's repo id from a cache of a tiny pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor
from PIL import Image

from widespectrum import registry
from widespectrum.generation.base import GenerationRequest
from widespectrum.generation.diffusers_backend import FluxGenerator
from widespectrum.generation.img2img import FluxImg2ImgGenerator
from widespectrum.generation.vsf import (
    FluxNAGAttnProcessor,
    FluxNAGGenerator,
    FluxVSFAttnProcessor,
    FluxVSFGenerator,
    StockIgnoringVSFLayout,
    TextLayout,
    installed,
    joint_qkv,
    nag_guidance,
    vsf_attention_bias,
    vsf_authors_visibility,
    vsf_visibility,
)
from widespectrum.demo.diffusers_models import install_tiny_pipeline
from widespectrum.runtime import Runtime

FLUX = "black-forest-labs/FLUX.1-dev"
# E11's settings scaled down: guidance embedding 0, few steps, short T5 sequence
SETTINGS = {"num_inference_steps": 2, "height": 64, "width": 64, "guidance_scale": 0.0, "max_sequence_length": 48}
PROMPT = "a lighthouse on a cliff at dusk"
NEGATIVE = "bright, sharp"


def request(prompt: str = PROMPT, negative_prompt: str | None = NEGATIVE, seed: int = 54324,
            reference_image: str | None = None, **settings) -> GenerationRequest:
    return GenerationRequest(prompt_id="0007", image_kind="a", prompt=prompt, seed=seed,
                             settings={**SETTINGS, **settings}, negative_prompt=negative_prompt,
                             reference_image=reference_image)


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    torch.set_num_threads(2)
    cache = tmp_path_factory.mktemp("hf-cache")
    install_tiny_pipeline("flux", cache, FLUX)
    return Runtime(device="cpu", cache_dir=str(cache), offline=True, threads=2)


@pytest.fixture(scope="module")
def plain(runtime):
    return FluxGenerator(name="flux-dev", runtime=runtime, model_id=FLUX)


@pytest.fixture(scope="module")
def vsf(runtime):
    return FluxVSFGenerator(name="flux-dev-vsf", runtime=runtime, model_id=FLUX, scale=2.0)


@pytest.fixture(scope="module")
def nag(runtime):
    return FluxNAGGenerator(name="flux-dev-nag", runtime=runtime, model_id=FLUX, nag_scale=4.0)


def generate_recording_first_step(generator, req: GenerationRequest):
    """``generator.generate(req)`` and the transformer's output at the first denoising step."""
    outputs = []
    handle = generator.pipe.transformer.register_forward_hook(lambda module, args, out: outputs.append(out[0]))
    try:
        image = generator.generate(req)
    finally:
        handle.remove()
    return image, outputs[0]


def plain_request(**kwargs) -> GenerationRequest:
    return request(negative_prompt=None, **kwargs)


@pytest.fixture(scope="module")
def plain_result(plain):
    """Plain Flux's image and first-step prediction for the shared request."""
    return generate_recording_first_step(plain, plain_request())


def assert_stock_flux(generator) -> None:
    transformer = generator.pipe.transformer
    assert all(type(p) is FluxAttnProcessor for p in transformer.attn_processors.values())
    modules = [transformer, transformer.norm_out, *transformer.transformer_blocks,
               *(block.norm1 for block in transformer.transformer_blocks), *transformer.single_transformer_blocks]
    assert not any(module._forward_pre_hooks for module in modules)


# ------------------------------------------------------------------ attention inputs for processor tests

def image_ids(side: int) -> torch.Tensor:
    """Flux's positions of a ``side`` x ``side`` latent grid: (0, row, column) per token."""
    ids = torch.zeros(side, side, 3)
    ids[..., 1] = torch.arange(side)[:, None]
    ids[..., 2] = torch.arange(side)[None, :]
    return ids.reshape(-1, 3)


def rotary(transformer, text_tokens: int, image_side: int):
    """Flux's rotary embedding for ``text_tokens`` text tokens (all at position 0) and an image grid."""
    return transformer.pos_embed(torch.cat([torch.zeros(text_tokens, 3), image_ids(image_side)]))


@pytest.fixture(scope="module")
def attention_inputs(vsf):
    """Random text (3 positive + 2 negative tokens) and image (a 3x3 grid) states for one attention layer."""
    transformer = vsf.pipe.transformer
    generator = torch.Generator().manual_seed(11)
    width = transformer.inner_dim
    layout, side = TextLayout(positive=3, negative=2), 3
    return {
        "layout": layout,
        "text": torch.randn(1, layout.total, width, generator=generator),
        "other_negative": torch.randn(1, layout.negative, width, generator=generator),
        "image": torch.randn(1, side * side, width, generator=generator),
        "rotary": rotary(transformer, layout.total, side),
        "rotary_positive": rotary(transformer, layout.positive, side),
        "double": transformer.transformer_blocks[0].attn,
        "single": transformer.single_transformer_blocks[0].attn,
    }


def run_vsf_double(inputs, scale: float, text=None):
    processor = FluxVSFAttnProcessor(scale)
    with torch.no_grad():
        return processor(inputs["double"], inputs["image"], inputs["text"] if text is None else text,
                         image_rotary_emb=inputs["rotary"], vsf_text=inputs["layout"])


def run_vsf_single(inputs, scale: float, text=None, variant: str = "described"):
    sequence = torch.cat([inputs["text"] if text is None else text, inputs["image"]], dim=1)
    with torch.no_grad():
        return FluxVSFAttnProcessor(scale, variant)(inputs["single"], sequence, image_rotary_emb=inputs["rotary"],
                                                    vsf_text=inputs["layout"])


# ------------------------------------------------------------------ VSF: mask and processor

def test_vsf_mask_lets_the_image_see_the_negative_prompt_only_flipped():
    layout, image_tokens = TextLayout(positive=3, negative=2), 4
    visible = vsf_visibility(layout, image_tokens)
    assert visible.shape == (3 + 2 + 4, 3 + 2 + 4 + 2)
    positive, negative, image, flipped = slice(0, 3), slice(3, 5), slice(5, 9), slice(9, 11)
    expected = {  # query group -> key groups it may see
        "positive": {"positive", "image"},
        "negative": {"negative", "image"},
        "image": {"positive", "image", "flipped"},
    }
    groups = {"positive": positive, "negative": negative, "image": image, "flipped": flipped}
    for query_group, seen in expected.items():
        for key_group, columns in groups.items():
            block = visible[groups[query_group], columns]
            assert bool(block.all()) if key_group in seen else not bool(block.any()), (query_group, key_group)


@pytest.mark.parametrize("block", ["double", "single"])
def test_vsf_positive_text_attends_as_if_there_were_no_negative_prompt(attention_inputs, block):
    inputs = attention_inputs
    positive = inputs["layout"].positive
    stock = FluxAttnProcessor()
    with torch.no_grad():
        if block == "double":
            _, expected = stock(inputs["double"], inputs["image"], inputs["text"][:, :positive],
                                image_rotary_emb=inputs["rotary_positive"])
            _, text_out = run_vsf_double(inputs, 2.0)
        else:
            sequence = torch.cat([inputs["text"][:, :positive], inputs["image"]], dim=1)
            expected = stock(inputs["single"], sequence, image_rotary_emb=inputs["rotary_positive"])
            text_out = run_vsf_single(inputs, 2.0)
    torch.testing.assert_close(text_out[:, :positive], expected[:, :positive], rtol=1e-5, atol=1e-6)


def reference_image_attention(inputs, block: str, scale: float) -> torch.Tensor:
    """Image-token attention written out: softmax over [P, I, N] keys, values [V_P, V_I, -scale V_N]."""
    attn, layout = inputs[block], inputs["layout"]
    if block == "double":
        query, key, value = joint_qkv(attn, inputs["image"], inputs["text"], inputs["rotary"])
    else:
        query, key, value = joint_qkv(attn, torch.cat([inputs["text"], inputs["image"]], dim=1), None,
                                      inputs["rotary"])
    positive, negative, image = slice(0, layout.positive), slice(layout.positive, layout.total), \
        slice(layout.total, None)
    keys = torch.cat([key[:, positive], key[:, image], key[:, negative]], dim=1)
    values = torch.cat([value[:, positive], value[:, image], -scale * value[:, negative]], dim=1)
    scores = torch.einsum("bqhd,bkhd->bhqk", query[:, image], keys) / query.shape[-1] ** 0.5
    out = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(dim=-1), values).flatten(2)
    return attn.to_out[0](out) if block == "double" else out


@pytest.mark.parametrize("block", ["double", "single"])
def test_vsf_image_attention_matches_a_written_out_reference(attention_inputs, block):
    inputs = attention_inputs
    with torch.no_grad():
        if block == "double":
            image_out, _ = run_vsf_double(inputs, 3.0)
        else:
            image_out = run_vsf_single(inputs, 3.0)[:, inputs["layout"].total:]
        expected = reference_image_attention(inputs, block, 3.0)
    torch.testing.assert_close(image_out, expected, rtol=1e-5, atol=1e-6)


def test_vsf_image_output_is_affine_in_the_scale(attention_inputs):
    # the flipped copy's softmax weights do not depend on the scale: out(s) = out(0) + s (out(1) - out(0))
    outputs = {scale: run_vsf_double(attention_inputs, scale)[0] for scale in (0.0, 1.0, 2.5)}
    torch.testing.assert_close(outputs[2.5], outputs[0.0] + 2.5 * (outputs[1.0] - outputs[0.0]),
                               rtol=1e-4, atol=1e-5)
    assert not torch.allclose(outputs[0.0], outputs[1.0])


def test_vsf_negative_tokens_change_the_image_but_not_the_positive_text(attention_inputs):
    inputs = attention_inputs
    positive = inputs["layout"].positive
    changed = torch.cat([inputs["text"][:, :positive], inputs["other_negative"]], dim=1)
    image_a, text_a = run_vsf_double(inputs, 2.0)
    image_b, text_b = run_vsf_double(inputs, 2.0, text=changed)
    assert torch.equal(text_a[:, :positive], text_b[:, :positive])
    assert not torch.allclose(image_a, image_b)


def test_positive_text_after_the_first_block_ignores_the_negative_prompt(vsf):
    """Through the real transformer: swap the negative tokens, keep everything else; hook the first block."""
    transformer = vsf.pipe.transformer
    generator = torch.Generator().manual_seed(3)
    positive, negative, side = 6, 4, 4
    embed_width = transformer.config.joint_attention_dim
    positive_text = torch.randn(1, positive, embed_width, generator=generator)
    inputs = {
        "hidden_states": torch.randn(1, side * side, transformer.config.in_channels, generator=generator),
        "pooled_projections": torch.randn(1, transformer.config.pooled_projection_dim, generator=generator),
        "timestep": torch.tensor([0.7]), "guidance": torch.tensor([0.0]),
        "txt_ids": torch.zeros(positive + negative, 3),
        "img_ids": image_ids(side),
        "joint_attention_kwargs": {"vsf_text": TextLayout(positive, negative)},
    }
    first_block = []
    handle = transformer.transformer_blocks[0].register_forward_hook(lambda m, a, out: first_block.append(out))
    try:
        with torch.no_grad(), installed(transformer, FluxVSFAttnProcessor(2.0), []):
            for _ in range(2):
                negative_text = torch.randn(1, negative, embed_width, generator=generator)
                transformer(encoder_hidden_states=torch.cat([positive_text, negative_text], dim=1), **inputs)
    finally:
        handle.remove()
    (text_a, image_a), (text_b, image_b) = first_block
    assert torch.equal(text_a[:, :positive], text_b[:, :positive])
    assert not torch.allclose(text_a[:, positive:], text_b[:, positive:])
    assert not torch.allclose(image_a, image_b)
    assert_stock_flux(vsf)


def authors_mask_by_hand(positive: int, negative: int, image: int) -> torch.Tensor:
    """The authors' four -inf assignments, re-derived one (query, key) pair at a time.

    Their pipeline sets pos_len = (text length after appending the negative tokens) = positive + negative,
    queries [P N | I] and keys [P N | I | N-]:
      1. rows [-I-N, -I) (the negative text), columns [0, pos_len)
      2./3. rows [0, pos_len) (all text), columns [pos_len, pos_len + N)
      4. rows [0, pos_len + N), columns [pos_len + N, pos_len + 2N)
    """
    text = positive + negative
    queries, keys = text + image, text + image + negative
    visible = torch.ones(queries, keys, dtype=torch.bool)
    for q in range(queries):
        for k in range(keys):
            negative_text_query = queries - image - negative <= q < queries - image
            if negative_text_query and k < text:
                visible[q, k] = False
            if q < text and text <= k < text + negative:
                visible[q, k] = False
            if q < text + negative and text + negative <= k < text + 2 * negative:
                visible[q, k] = False
    return visible


@pytest.mark.parametrize("positive,negative,image", [(3, 2, 9), (5, 1, 4), (4, 3, 16)])
def test_authors_vsf_mask_matches_their_construction(positive, negative, image):
    layout = TextLayout(positive=positive, negative=negative)
    expected = authors_mask_by_hand(positive, negative, image)
    assert torch.equal(vsf_authors_visibility(layout, image), expected)
    # what the length slip does: the positive text sees the unflipped negative keys, the paper's mask hides them
    assert expected[:positive, positive:positive + negative].all()
    assert not vsf_visibility(layout, image)[:positive, positive:positive + negative].any()
    bias = vsf_attention_bias(layout, image, torch.float32, "cpu", variant="authors")
    assert torch.equal(bias == 0, expected) and torch.isinf(bias[~expected]).all()


def test_authors_vsf_processor_refuses_single_stream_blocks(attention_inputs):
    with pytest.raises(ValueError, match="double-stream"):
        run_vsf_single(attention_inputs, 2.0, variant="authors")


@pytest.mark.parametrize("variant", ["authors", "described"])
def test_vsf_variant_decides_which_blocks_get_the_processor(runtime, variant):
    generator = FluxVSFGenerator(name=f"vsf-{variant}", runtime=runtime, model_id=FLUX, vsf_variant=variant)
    transformer = generator.pipe.transformer
    seen = {}
    handles = [block.attn.register_forward_pre_hook(
        lambda module, args, name=name: seen.setdefault(name, module.processor) and None)
        for name, block in [("double", transformer.transformer_blocks[0]),
                            ("single", transformer.single_transformer_blocks[0])]]
    try:
        generator.generate(request(num_inference_steps=1))
    finally:
        for handle in handles:
            handle.remove()
    assert isinstance(seen["double"], FluxVSFAttnProcessor) and seen["double"].variant == variant
    if variant == "authors":
        assert isinstance(seen["single"], StockIgnoringVSFLayout)
        assert type(seen["single"].stock) is FluxAttnProcessor
    else:
        assert isinstance(seen["single"], FluxVSFAttnProcessor)
    assert generator.provenance()["negative_guidance"]["variant"] == variant
    assert_stock_flux(generator)


# ------------------------------------------------------------------ VSF: generator

def test_vsf_feeds_the_transformer_appended_tokens_and_the_mixed_pooled_embedding(vsf):
    pipe = vsf.pipe
    seen = {"tokens": [], "pooled": []}
    handles = [
        pipe.transformer.context_embedder.register_forward_pre_hook(
            lambda m, args: seen["tokens"].append(args[0])),
        pipe.transformer.time_text_embed.register_forward_pre_hook(
            lambda m, args: seen["pooled"].append(args[-1])),
    ]
    try:
        vsf.generate(request())
    finally:
        for handle in handles:
            handle.remove()

    with torch.no_grad():
        positive_tokens, positive_pooled, _ = pipe.encode_prompt(PROMPT, max_sequence_length=48)
        negative_ids = pipe.tokenizer_2(NEGATIVE, return_tensors="pt").input_ids  # no padding
        negative_tokens = pipe.text_encoder_2(negative_ids)[0]
        clip_ids = pipe.tokenizer(NEGATIVE, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                                  truncation=True, return_tensors="pt").input_ids
        negative_pooled = pipe.text_encoder(clip_ids).pooler_output
    torch.testing.assert_close(seen["tokens"][0], torch.cat([positive_tokens, negative_tokens], dim=1))
    torch.testing.assert_close(seen["pooled"][0], negative_pooled + 1.1 * (positive_pooled - negative_pooled))
    assert negative_ids.shape[1] < 48  # the negative prompt is not padded to the positive's length


def test_vsf_changes_the_image_and_is_seeded(vsf, plain_result):
    plain_image, unguided = plain_result
    image, guided = generate_recording_first_step(vsf, request())
    assert (guided - unguided).abs().mean() > 1e-3 * unguided.abs().mean()
    assert image.size == (64, 64)
    assert not np.array_equal(pixels(image), pixels(plain_image))
    assert np.array_equal(pixels(image), pixels(vsf.generate(request())))
    assert np.abs(pixels(image) - pixels(vsf.generate(request(seed=1)))).mean() > 1.0
    assert not np.array_equal(pixels(image), pixels(vsf.generate(request(negative_prompt="dark, blurry"))))
    assert_stock_flux(vsf)


@pytest.mark.parametrize("negative", [None, "  "])
def test_missing_negative_prompt_is_rejected(vsf, nag, negative):
    for generator in (vsf, nag):
        with pytest.raises(ValueError, match="needs a negative prompt"):
            generator.generate(request(negative_prompt=negative))


def test_registry_builds_the_guided_generators_by_class_path(runtime):
    entries = {"generators": {
        "flux-dev-vsf": {"loader": "widespectrum.generation.vsf:FluxVSFGenerator",
                         "options": {"model_id": FLUX, "dtype": "float16", "scale": 3.0}},
        "flux-dev-nag": {"loader": "widespectrum.generation.vsf:FluxNAGGenerator",
                         "options": {"model_id": FLUX, "nag_scale": 10}},
    }}
    vsf_built = registry.build(entries, "generators", "flux-dev-vsf", runtime)
    nag_built = registry.build(entries, "generators", "flux-dev-nag", runtime)
    assert vsf_built.provenance()["negative_guidance"] == {
        "method": "vsf", "variant": "authors", "scale": 3.0, "pooled_mix": 1.1}
    assert nag_built.provenance()["negative_guidance"] == {
        "method": "nag", "nag_scale": 10.0, "nag_tau": 2.5, "nag_alpha": 0.25, "nag_norm": 2}
    assert vsf_built.provenance()["model_id"] == FLUX


def test_invalid_guidance_options_are_rejected_before_loading():
    runtime = Runtime(device="cpu", offline=True)
    with pytest.raises(ValueError, match="scale"):
        FluxVSFGenerator(name="x", runtime=runtime, model_id=FLUX, scale=-1.0)
    with pytest.raises(ValueError, match="nag_alpha"):
        FluxNAGGenerator(name="x", runtime=runtime, model_id=FLUX, nag_scale=4, nag_alpha=1.5)
    with pytest.raises(ValueError, match="nag_tau"):
        FluxNAGGenerator(name="x", runtime=runtime, model_id=FLUX, nag_scale=4, nag_tau=0)


# ------------------------------------------------------------------ NAG

def test_nag_guidance_extrapolates_clips_the_l1_ratio_and_blends():
    positive = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    negative = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    # row 0: 4*[1,1] - 3*[0,0] = [4,4], L1 ratio 4 > 2.5 -> [2.5,2.5]; blend 0.25*2.5 + 0.75*1
    # row 1: 4*[1,1] - 3*[1,0] = [1,4], L1 ratio 2.5, not above tau -> kept; 0.25*[1,4] + 0.75*[1,1]
    out = nag_guidance(positive, negative, scale=4.0, tau=2.5, alpha=0.25, norm=1)
    torch.testing.assert_close(out, torch.tensor([[1.375, 1.375], [1.0, 1.75]]))
    torch.testing.assert_close(nag_guidance(positive, negative, 4.0, 2.5, alpha=0.0), positive)
    torch.testing.assert_close(nag_guidance(positive, negative, 1.0, 2.5, alpha=1.0), positive)


def test_nag_guidance_clips_the_l2_ratio_by_default():
    positive = torch.tensor([[1.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    negative = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    # row 0: [4,4], L2 ratio 4*sqrt2/sqrt2 = 4 > 2.5 -> [2.5,2.5]
    # row 1: [1,4], L2 ratio sqrt(17)/sqrt(2) = sqrt(8.5) > 2.5 (its L1 ratio is exactly 2.5: not clipped in L1)
    # row 2: 4*[2,0] - 3*[1,0] = [5,0], ratio 2.5 in both norms -> kept
    factor = 2.5 / 8.5 ** 0.5
    guided = torch.tensor([[2.5, 2.5], [1.0 * factor, 4.0 * factor], [5.0, 0.0]])
    expected = 0.25 * guided + 0.75 * positive
    torch.testing.assert_close(nag_guidance(positive, negative, scale=4.0, tau=2.5, alpha=0.25), expected)
    l1 = nag_guidance(positive, negative, scale=4.0, tau=2.5, alpha=0.25, norm=1)
    torch.testing.assert_close(l1[1], 0.25 * torch.tensor([1.0, 4.0]) + 0.75 * positive[1])


def test_nag_generator_passes_its_norm_to_the_processor(runtime):
    l1 = FluxNAGGenerator(name="nag-l1", runtime=runtime, model_id=FLUX, nag_scale=4.0, nag_norm=1)
    seen = []
    block = l1.pipe.transformer.transformer_blocks[0].attn
    handle = block.register_forward_pre_hook(lambda module, args: seen.append(module.processor))
    try:
        l1.generate(request(num_inference_steps=1))
    finally:
        handle.remove()
    assert seen and all(isinstance(p, FluxNAGAttnProcessor) and p.norm == 1 for p in seen)
    assert l1.provenance()["negative_guidance"]["nag_norm"] == 1
    with pytest.raises(ValueError, match="nag_norm"):
        FluxNAGGenerator(name="x", runtime=Runtime(device="cpu", offline=True), model_id=FLUX, nag_scale=4,
                         nag_norm=3)


def test_nag_processor_guides_the_image_from_two_stock_attentions(attention_inputs):
    """Double stream: z+ and z- are the stock processor's image attention with each text; text outputs stay stock."""
    inputs = attention_inputs
    attn, image, rot = inputs["double"], inputs["image"], inputs["rotary_positive"]
    positive_text = inputs["text"][:, :3]
    negative_text = torch.cat([inputs["other_negative"], inputs["text"][:, 3:4]], dim=1)
    captured = []
    handle = attn.to_out[0].register_forward_pre_hook(lambda m, args: captured.append(args[0]))
    with torch.no_grad():
        try:
            _, positive_text_out = FluxAttnProcessor()(attn, image, positive_text, image_rotary_emb=rot)
            _, negative_text_out = FluxAttnProcessor()(attn, image, negative_text, image_rotary_emb=rot)
        finally:
            handle.remove()
        image_out, text_out = FluxNAGAttnProcessor(4.0, 2.5, 0.25)(
            attn, image, torch.cat([positive_text, negative_text]), image_rotary_emb=rot)
        expected_image = attn.to_out[0](nag_guidance(captured[0], captured[1], 4.0, 2.5, 0.25))
    torch.testing.assert_close(image_out, expected_image, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(text_out, torch.cat([positive_text_out, negative_text_out]), rtol=1e-5, atol=1e-6)


def test_nag_single_stream_writes_the_guided_image_into_both_branches(attention_inputs):
    inputs = attention_inputs
    attn, image, rot = inputs["single"], inputs["image"], inputs["rotary_positive"]
    branches = torch.cat([torch.cat([inputs["text"][:, :3], image], dim=1),
                          torch.cat([inputs["text"][:, 2:5], image], dim=1)])
    with torch.no_grad():
        stock = FluxAttnProcessor()(attn, branches, image_rotary_emb=rot)
        out = FluxNAGAttnProcessor(10.0, 2.5, 0.25)(attn, branches, image_rotary_emb=rot, nag_text_tokens=3)
    guided = nag_guidance(stock[:1, 3:], stock[1:, 3:], 10.0, 2.5, 0.25)
    torch.testing.assert_close(out[:, :3], stock[:, :3], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out[:, 3:], guided.expand(2, -1, -1), rtol=1e-5, atol=1e-6)


def test_nag_changes_the_image_and_leaves_stock_flux_behind(nag, plain_result):
    plain_image, unguided = plain_result
    image, guided = generate_recording_first_step(nag, request())
    assert guided.shape == unguided.shape  # the positive branch's prediction only
    assert (guided - unguided).abs().mean() > 1e-3 * unguided.abs().mean()
    assert not np.array_equal(pixels(image), pixels(plain_image))
    assert np.array_equal(pixels(image), pixels(nag.generate(request())))
    assert_stock_flux(nag)


def test_nag_without_blend_reproduces_plain_flux_through_the_guided_path(runtime, plain_result):
    unblended = FluxNAGGenerator(name="nag-alpha-0", runtime=runtime, model_id=FLUX, nag_scale=4.0, nag_alpha=0.0)
    text_batches = []
    handle = unblended.pipe.transformer.context_embedder.register_forward_pre_hook(
        lambda m, args: text_batches.append(args[0].shape[0]))
    try:
        image = unblended.generate(request())
    finally:
        handle.remove()
    assert set(text_batches) == {2}  # the negative branch did run
    assert np.abs(pixels(image) - pixels(plain_result[0])).max() <= 1


def test_nag_scale_one_is_plain_flux(runtime, plain_result):
    off = FluxNAGGenerator(name="nag-off", runtime=runtime, model_id=FLUX, nag_scale=1.0)
    assert np.array_equal(pixels(off.generate(request())), pixels(plain_result[0]))


# ------------------------------------------------------------------ img2img

@pytest.fixture(scope="module")
def input_images(tmp_path_factory):
    """Two different 64x48 pictures and one of an odd size, in a folder used as base_dir."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / "noise.png")
    gradient = np.broadcast_to(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (48, 64, 3))
    Image.fromarray(np.ascontiguousarray(gradient)).save(folder / "gradient.png")
    Image.new("RGB", (70, 50), (200, 30, 30)).save(folder / "odd.png")
    return folder


@pytest.fixture(scope="module")
def img2img(runtime, input_images):
    return FluxImg2ImgGenerator(name="krea-img2img", runtime=runtime, model_id=FLUX, strength=0.5,
                                base_dir=input_images)


IMG2IMG_SETTINGS = {"num_inference_steps": 4, "guidance_scale": 3.5, "max_sequence_length": 48}


def img2img_request(reference: str | None, seed: int = 54324, **settings) -> GenerationRequest:
    return GenerationRequest(prompt_id="0007", image_kind="a", prompt=PROMPT, seed=seed,
                             settings={**IMG2IMG_SETTINGS, **settings}, reference_image=reference)


def test_img2img_loads_the_img2img_pipeline_from_the_repo(img2img):
    assert type(img2img.pipe).__name__ == "FluxImg2ImgPipeline"
    record = img2img.provenance()
    assert record["pipeline"] == "FluxImg2ImgPipeline" and record["model_id"] == FLUX
    assert record["strength"] == 0.5 and record["resolved_revision"] is not None


def test_img2img_keeps_the_input_size_unless_told(img2img):
    assert img2img.generate(img2img_request("noise.png")).size == (64, 48)
    assert img2img.generate(img2img_request("odd.png")).size == (64, 48)  # rounded down to 16-pixel patches
    assert img2img.generate(img2img_request("noise.png", height=32, width=32)).size == (32, 32)


def test_img2img_runs_strength_times_the_steps_from_the_input(img2img, input_images):
    calls = []
    handle = img2img.pipe.transformer.register_forward_hook(lambda m, a, out: calls.append(1))
    try:
        image = img2img.generate(img2img_request("noise.png"))
    finally:
        handle.remove()
    assert len(calls) == 2  # 4 steps at strength 0.5
    absolute = img2img.generate(img2img_request(str(input_images / "noise.png")))
    assert np.array_equal(pixels(image), pixels(absolute))
    assert np.abs(pixels(image) - pixels(img2img.generate(img2img_request("gradient.png")))).mean() > 1.0
    assert np.abs(pixels(image) - pixels(img2img.generate(img2img_request("noise.png", seed=1)))).mean() > 0.1


def test_img2img_at_full_strength_ignores_the_input(runtime, input_images):
    full = FluxImg2ImgGenerator(name="full", runtime=runtime, model_id=FLUX, strength=1.0, base_dir=input_images)
    assert np.array_equal(pixels(full.generate(img2img_request("noise.png"))),
                          pixels(full.generate(img2img_request("gradient.png"))))


@pytest.mark.parametrize("strength", [0.0, 1.5])
def test_img2img_strength_outside_the_unit_interval_is_rejected(strength):
    with pytest.raises(ValueError, match="strength"):
        FluxImg2ImgGenerator(name="x", runtime=Runtime(device="cpu", offline=True), model_id=FLUX, strength=strength)


def test_img2img_input_problems_are_named(runtime, img2img):
    with pytest.raises(ValueError, match="input image"):
        img2img.generate(img2img_request(None))
    with pytest.raises(FileNotFoundError, match="missing.png"):
        img2img.generate(img2img_request("missing.png"))
    no_base = FluxImg2ImgGenerator(name="no-base", runtime=runtime, model_id=FLUX)
    with pytest.raises(ValueError, match="base_dir"):
        no_base.generate(img2img_request("noise.png"))
