"""Tiny Flux, SDXL and SD3 pipelines of the real diffusers classes, random weights.

Each builder seeds torch, assembles the real pipeline class from small configs
(shaped after diffusers' own test configs, with the real CLIP vocabulary) and
writes a complete pipeline folder with ``save_pretrained``. Installed into a
hub cache under a real repo id, ``FluxPipeline.from_pretrained(
"black-forest-labs/FLUX.1-dev")`` then loads the tiny one, so the code that
loads the paper's checkpoints is the code that runs offline.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import hub_cache
from .tokenizers import CLIP_VOCAB_SIZE, t5_tokenizer, write_clip_tokenizer

logger = logging.getLogger(__name__)

TEXT_WIDTH = 32  # hidden size of every tiny CLIP text encoder
T5_VOCAB_SIZE = 1000
# The real CLIP tokenizer's special ids; the text encoders find the pooled token by them.
CLIP_BOS_ID, CLIP_EOS_ID = 49406, 49407

FLUX_SEED, SDXL_SEED, SD3_SEED = 0, 1, 2


def _clip_text_config():
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=CLIP_VOCAB_SIZE, hidden_size=TEXT_WIDTH, intermediate_size=37,
        projection_dim=TEXT_WIDTH, num_hidden_layers=3, num_attention_heads=4,
        max_position_embeddings=77, hidden_act="gelu", layer_norm_eps=1e-5,
        bos_token_id=CLIP_BOS_ID, eos_token_id=CLIP_EOS_ID, pad_token_id=CLIP_EOS_ID,
    )


def _t5_encoder(d_model: int):
    from transformers import T5Config, T5EncoderModel

    # gated-gelu like the T5 v1.1 XXL encoder that Flux and SD3 use
    config = T5Config(
        vocab_size=T5_VOCAB_SIZE, d_model=d_model, d_kv=8, d_ff=37, num_layers=2,
        num_heads=4, relative_attention_num_buckets=8, feed_forward_proj="gated-gelu",
        is_encoder_decoder=False, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )
    return T5EncoderModel(config)


def _clip_tokenizer():
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as folder:
        return CLIPTokenizer.from_pretrained(write_clip_tokenizer(folder))


def _vae(latent_channels: int, **kwargs):
    from diffusers import AutoencoderKL

    # four levels: the 8x spatial compression of the real VAEs
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=latent_channels,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 8, 8), layers_per_block=1, norm_num_groups=8,
        sample_size=64, **kwargs,
    )


def tiny_flux_transformer(seed: int = FLUX_SEED):
    """The tiny Flux transformer: FLUX.1-dev's layout (guidance embedding, 16 latent channels)."""
    import torch
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(seed)
    return FluxTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=1, num_single_layers=1,
        attention_head_dim=16, num_attention_heads=2, joint_attention_dim=TEXT_WIDTH,
        pooled_projection_dim=TEXT_WIDTH, guidance_embeds=True, axes_dims_rope=(4, 6, 6),
    )


def build_tiny_flux(out_dir: str | os.PathLike) -> Path:
    """A FluxPipeline shaped like FLUX.1-dev, saved to ``out_dir``."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline
    from transformers import CLIPTextModel

    transformer = tiny_flux_transformer(FLUX_SEED)
    torch.manual_seed(FLUX_SEED + 100)
    pipe = FluxPipeline(
        transformer=transformer,
        vae=_vae(16, use_quant_conv=False, use_post_quant_conv=False,
                 scaling_factor=0.3611, shift_factor=0.1159),
        text_encoder=CLIPTextModel(_clip_text_config()),
        tokenizer=_clip_tokenizer(),
        text_encoder_2=_t5_encoder(TEXT_WIDTH),
        tokenizer_2=t5_tokenizer(T5_VOCAB_SIZE),
        # FLUX.1-dev's scheduler config: resolution-dependent shift
        scheduler=FlowMatchEulerDiscreteScheduler(
            shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
            base_image_seq_len=256, max_image_seq_len=4096,
        ),
    )
    return _save(pipe, out_dir)


def build_tiny_sdxl(out_dir: str | os.PathLike, fp16_variant: bool = True) -> Path:
    """A StableDiffusionXLPipeline shaped like SDXL base 1.0, saved to ``out_dir``.

    Like the real repo it also carries half-precision ``*.fp16.safetensors``
    files, so configs that ask for ``variant: fp16`` load offline.
    """
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(SDXL_SEED)
    clip_tokenizer = _clip_tokenizer()  # saved twice: both real tokenizers share this vocabulary
    time_embed_dim = 8
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(16, 32), norm_num_groups=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 1),
        # SDXL conditions on both encoders' hidden states, concatenated ...
        cross_attention_dim=2 * TEXT_WIDTH,
        # ... and on the pooled embedding plus six size/crop numbers
        addition_embed_type="text_time", addition_time_embed_dim=time_embed_dim,
        projection_class_embeddings_input_dim=6 * time_embed_dim + TEXT_WIDTH,
    )
    pipe = StableDiffusionXLPipeline(
        unet=unet,
        vae=_vae(4, scaling_factor=0.13025),
        text_encoder=CLIPTextModel(_clip_text_config()),
        text_encoder_2=CLIPTextModelWithProjection(_clip_text_config()),
        tokenizer=clip_tokenizer,
        tokenizer_2=clip_tokenizer,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
            steps_offset=1, timestep_spacing="leading",
        ),
    )
    out = _save(pipe, out_dir)
    if fp16_variant:
        pipe.to(torch.float16).save_pretrained(out, variant="fp16")
    return out


def build_tiny_sd3(out_dir: str | os.PathLike) -> Path:
    """A StableDiffusion3Pipeline shaped like SD3.5 Medium (MMDiT-X, qk RMS norm), saved to ``out_dir``."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(SD3_SEED)
    clip_tokenizer = _clip_tokenizer()
    # the two CLIP encoders' hidden states are zero-padded to the T5 width, so T5 is wider
    t5_width = 2 * TEXT_WIDTH
    transformer = SD3Transformer2DModel(
        sample_size=32, patch_size=2, in_channels=16, out_channels=16, num_layers=2,
        attention_head_dim=8, num_attention_heads=4, joint_attention_dim=t5_width,
        caption_projection_dim=32, pooled_projection_dim=2 * TEXT_WIDTH, pos_embed_max_size=64,
        dual_attention_layers=(0,), qk_norm="rms_norm",
    )
    pipe = StableDiffusion3Pipeline(
        transformer=transformer,
        vae=_vae(16, use_quant_conv=False, use_post_quant_conv=False,
                 scaling_factor=1.5305, shift_factor=0.0609),
        text_encoder=CLIPTextModelWithProjection(_clip_text_config()),
        text_encoder_2=CLIPTextModelWithProjection(_clip_text_config()),
        text_encoder_3=_t5_encoder(t5_width),
        tokenizer=clip_tokenizer,
        tokenizer_2=clip_tokenizer,
        tokenizer_3=t5_tokenizer(T5_VOCAB_SIZE),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
    )
    return _save(pipe, out_dir)


def _save(pipe, out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir)
    pipe.save_pretrained(out)
    logger.info("saved tiny %s to %s", type(pipe).__name__, out)
    return out


TINY_PIPELINES: dict[str, Callable[[str | os.PathLike], Path]] = {
    "flux": build_tiny_flux,
    "sdxl": build_tiny_sdxl,
    "sd3": build_tiny_sd3,
}


def install_tiny_pipeline(kind: str, cache_dir: str | os.PathLike, repo_id: str, ref: str = "main") -> str:
    """Build the tiny ``kind`` pipeline and install it in ``cache_dir`` as ``repo_id``; return its sha."""
    try:
        build = TINY_PIPELINES[kind]
    except KeyError:
        raise ValueError(f"no tiny pipeline {kind!r}; known: {sorted(TINY_PIPELINES)}") from None
    with tempfile.TemporaryDirectory() as folder:
        build(folder)
        return hub_cache.install_snapshot(folder, cache_dir, repo_id, ref=ref)
