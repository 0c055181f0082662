"""MPS, the multi-dimensional preference score of Kolors (docs/experiments.md#e3), overall checkpoint.

Follows the authors' code (Kwai-Kolors/MPS ``trainer/models/clip_model.py``,
``trainer/models/cross_modeling.py``, ``eval_overall_mps_on_hpdv2.py``):

* a CLIP-H (``laion/CLIP-ViT-H-14-laion2B-s32B-b79K`` architecture, tokenizer
  and image processor) whose projections are applied to every token: text
  tokens ``text_f`` (no attention mask, 77 positions), image tokens ``image_f``
  (the vision tower's last hidden state, before the post-LayerNorm), and the
  projected end-of-text state ``text_eos``;
* the fixed condition text below is encoded the same way; each prompt token's
  relevance is its largest similarity to any condition token, divided by the
  largest relevance; tokens above 0.3 (the evaluation scripts' threshold, used
  to report MPS; the training forward uses 0.01) stay visible to the image;
* the cross model (4 layers of cross-attention + parallel attention/SwiGLU
  blocks with rotary embeddings, ``Cross_model(dim=1024, layer_num=4,
  heads=16)``) reads the image tokens against the masked prompt tokens; its
  first output token, normalised, against the normalised ``text_eos``, times
  ``logit_scale.exp()``, is the score.

The reference divides by the maximum over the whole batch; it scores one pair
at a time (``infer_one_sample``), so there that maximum is the pair's own.
Here each pair is divided by its own maximum, which is the reference's value
for every pair whatever the batch, and keeps scores independent of batching.

The published checkpoint ``MPS_overall_checkpoint.pth`` is a pickled whole
module. ``convert_mps_checkpoint`` (CLI: ``widespectrum convert-mps SRC OUT``)
turns it once into ``model.safetensors`` + ``mps_config.json``; scoring reads
only those, verified by sha256, and never unpickles.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..batching import per_item
from ..hub import load_from_hub, resolved_revision
from ..runtime import Runtime
from .base import RewardModel, RewardOutput, load_weights, score_in_batches, tokens_past_limit
from ..contracts import sha256_file
from .offhub import verified_file

logger = logging.getLogger(__name__)

CONDITION = ("light, color, clarity, tone, style, ambiance, artistry, shape, face, hair, hands, limbs, structure, "
             "instance, texture, quantity, attributes, position, number, location, word, things.")
EVAL_THRESHOLD, TRAIN_THRESHOLD = 0.3, 0.01
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "mps_config.json"


# ---- the cross model, under the module names of the authors' state dict ------------------------------

def _modules():
    """The cross-model classes, built lazily so that importing this module needs no torch."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class BiaslessLayerNorm(nn.Module):
        """LayerNorm whose bias is a fixed zero buffer (it is in the checkpoint as ``norm.bias``)."""

        def __init__(self, dim):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim))
            self.register_buffer("bias", torch.zeros(dim))

        def forward(self, x):
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias)

    class Residual(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x, *args):
            return self.fn(x, *args) + x

    class Rotary(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)))

        def forward(self, n, device):
            freqs = torch.outer(torch.arange(n, device=device, dtype=self.inv_freq.dtype), self.inv_freq)
            return torch.cat((freqs, freqs), dim=-1)

    def swiglu(x):
        x, gate = x.chunk(2, dim=-1)
        return F.silu(gate) * x

    class SwiGLU(nn.Module):
        def forward(self, x):
            return swiglu(x)

    def rotate(positions, t):
        half = t.shape[-1] // 2
        rotated = torch.cat((-t[..., half:], t[..., :half]), dim=-1)
        return t * positions.cos() + rotated * positions.sin()

    class ParallelBlock(nn.Module):
        """Pre-norm self-attention (multi-query: one key/value head, rotary) in parallel with a SwiGLU MLP."""

        def __init__(self, dim, dim_head, heads, ff_mult):
            super().__init__()
            self.heads, self.scale = heads, dim_head ** -0.5
            self.norm = BiaslessLayerNorm(dim)
            self.splits = (dim_head * heads, dim_head, dim_head, dim * ff_mult * 2)
            self.rotary_emb = Rotary(dim_head)
            self.fused_attn_ff_proj = nn.Linear(dim, sum(self.splits), bias=False)
            self.attn_out = nn.Linear(dim_head * heads, dim, bias=False)
            self.ff_out = nn.Sequential(SwiGLU(), nn.Linear(dim * ff_mult, dim, bias=False))

        def forward(self, x):
            batch, n, _ = x.shape
            x = self.norm(x)
            q, k, v, ff = self.fused_attn_ff_proj(x).split(self.splits, dim=-1)
            q = q.view(batch, n, self.heads, -1).transpose(1, 2)
            positions = self.rotary_emb(n, x.device).to(x.dtype)
            q, k = rotate(positions, q) * self.scale, rotate(positions, k)
            sim = torch.einsum("bhid,bjd->bhij", q, k)
            attn = (sim - sim.amax(dim=-1, keepdim=True)).softmax(dim=-1)
            out = torch.einsum("bhij,bjd->bhid", attn, v).transpose(1, 2).reshape(batch, n, -1)
            return self.attn_out(out) + self.ff_out(ff)

    class CrossAttention(nn.Module):
        """Pre-norm multi-query cross-attention with a parallel SwiGLU feed-forward on the queries."""

        def __init__(self, dim, dim_head, heads, ff_mult):
            super().__init__()
            self.heads, self.scale = heads, dim_head ** -0.5
            self.norm = BiaslessLayerNorm(dim)
            self.to_q = nn.Linear(dim, dim_head * heads, bias=False)
            self.to_kv = nn.Linear(dim, dim_head * 2, bias=False)
            self.to_out = nn.Linear(dim_head * heads, dim, bias=False)
            self.ff = nn.Sequential(nn.Linear(dim, dim * ff_mult * 2, bias=False), SwiGLU(),
                                    nn.Linear(dim * ff_mult, dim, bias=False))

        def forward(self, x, context, mask):
            batch, n, _ = x.shape
            x = self.norm(x)
            q = self.to_q(x).view(batch, n, self.heads, -1).transpose(1, 2) * self.scale
            k, v = self.to_kv(context).chunk(2, dim=-1)
            sim = torch.einsum("bhid,bjd->bhij", q, k) + mask.unsqueeze(1)
            attn = (sim - sim.amax(dim=-1, keepdim=True)).softmax(dim=-1)
            out = torch.einsum("bhij,bjd->bhid", attn, v).transpose(1, 2).reshape(batch, n, -1)
            return self.to_out(out) + self.ff(x)

    class CrossModel(nn.Module):
        def __init__(self, dim, layer_num, heads, dim_head, ff_mult):
            super().__init__()
            self.layers = nn.ModuleList(
                nn.ModuleList([Residual(CrossAttention(dim, dim_head, heads, ff_mult)),
                               Residual(ParallelBlock(dim, dim_head, heads, ff_mult))])
                for _ in range(layer_num))

        def forward(self, query, context, mask):
            for cross, block in self.layers:
                query = block(cross(query, context, mask))
            return query

    return CrossModel


def cross_model_dims(state_dict: Mapping[str, Any], prefix: str = "cross_model.") -> dict[str, int]:
    """The cross model's sizes, read from its weights."""
    to_q = state_dict[f"{prefix}layers.0.0.fn.to_q.weight"]
    to_kv = state_dict[f"{prefix}layers.0.0.fn.to_kv.weight"]
    ff_out = state_dict[f"{prefix}layers.0.0.fn.ff.2.weight"]
    dim, dim_head = int(to_q.shape[1]), int(to_kv.shape[0]) // 2
    layers = {int(k[len(prefix):].split(".")[1]) for k in state_dict if k.startswith(f"{prefix}layers.")}
    return {"dim": dim, "layer_num": len(layers), "heads": int(to_q.shape[0]) // dim_head, "dim_head": dim_head,
            "ff_mult": int(ff_out.shape[1]) // dim}


# ---- one-time conversion of the pickled checkpoint ---------------------------------------------------

def _stub_class(module: str, name: str):
    import torch

    return type(name, (torch.nn.Module,), {"__module__": f"widespectrum-stub.{module}"})


class _State:
    """Placeholder for a non-module object in the pickle (configs): keeps its attributes, runs no code."""

    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {"state": state})


class _AllowListUnpickler(pickle.Unpickler):
    """Imports only torch's tensor rebuilders and containers; every other class becomes an inert stub.

    The authors' module classes (``trainer.models.*``) and transformers' are
    replaced by ``nn.Module`` stubs (so ``state_dict()`` still walks the tree)
    or by ``_State``; no class of the checkpoint's own code is imported or run.
    """

    SAFE_PREFIXES = ("torch._utils", "torch.storage", "torch._tensor", "torch.nn.parameter", "collections")
    SAFE_NAMES = {("torch", n) for n in ("FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage",
                                         "IntStorage", "BoolStorage", "ByteStorage", "DoubleStorage",
                                         "float16", "float32", "bfloat16", "int64", "Size", "device",
                                         "dtype")}
    SAFE_NAMES |= {("builtins", n) for n in ("set", "frozenset", "slice")}
    SAFE_NAMES |= {("copyreg", "_reconstructor"), ("builtins", "object")}

    def find_class(self, module, name):
        import torch

        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)  # protocol-2 names
        if module.startswith(self.SAFE_PREFIXES) or (module, name) in self.SAFE_NAMES:
            return super().find_class(module, name)
        if module.startswith("torch.nn.modules"):
            real = super().find_class(module, name)
            if isinstance(real, type) and issubclass(real, torch.nn.Module):
                return real
        if module.startswith(("trainer.", "transformers.")) and not name.endswith(("Config", "Output")):
            return _stub_class(module, name)
        if module.startswith(("trainer.", "transformers.")):
            return _State
        raise pickle.UnpicklingError(f"MPS conversion refuses to import {module}.{name}")


class _AllowListPickleModule:
    Unpickler = _AllowListUnpickler
    load = pickle.load
    __name__ = "widespectrum_mps_allow_list"


def convert_mps_checkpoint(source: str | os.PathLike, out_dir: str | os.PathLike) -> dict[str, Any]:
    """Turn ``MPS_overall_checkpoint.pth`` into ``model.safetensors`` + ``mps_config.json``; return the config.

    A plain state dict is read with ``weights_only=True``. A pickled whole
    module (the published file) needs unpickling: it is read through an
    allow-list unpickler that rebuilds tensors and stubs every other class,
    so none of the checkpoint's code runs. Run this once, on a file you trust.
    """
    import torch
    from safetensors.torch import save_file

    source, out = Path(source), Path(out_dir)
    try:
        loaded = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        loaded = torch.load(source, map_location="cpu", weights_only=False, pickle_module=_AllowListPickleModule)
    state_dict = loaded.state_dict() if isinstance(loaded, torch.nn.Module) else dict(loaded)
    state_dict = {key.removeprefix("module."): value for key, value in state_dict.items()}
    tensors = {key: value.detach().contiguous().clone() for key, value in state_dict.items()
               if isinstance(value, torch.Tensor)}
    if not any(k.startswith("cross_model.") for k in tensors) or not any(k.startswith("model.") for k in tensors):
        raise ValueError(f"{source} holds no MPS weights (model.* and cross_model.*): {sorted(tensors)[:5]}")
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, out / WEIGHTS_FILE)
    config = {"cross_model": cross_model_dims(tensors), "source_file": source.name,
              "source_sha256": sha256_file(source), "weights_sha256": sha256_file(out / WEIGHTS_FILE)}
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
    logger.info("converted %s -> %s (sha256 %s)", source, out / WEIGHTS_FILE, config["weights_sha256"])
    return config


# ---- the reward ----------------------------------------------------------------------------------------

class MPSReward(RewardModel):
    """logit_scale.exp() * cos(cross-model image token, projected end-of-text state)."""

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        path: str | None = None,
        sha256: str | None = None,
        processor_id: str = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
        processor_revision: str = "main",
        condition: str = CONDITION,
        threshold: float = EVAL_THRESHOLD,
        dtype: str | None = None,
        batch_size: int = 16,
    ) -> None:
        import torch
        from safetensors.torch import load_file
        from transformers import AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel

        super().__init__(name=name, runtime=runtime, batch_size=batch_size)
        if not path:
            raise ValueError(f"{name}: set options.path to the folder written by `widespectrum convert-mps`")
        weights = verified_file(runtime, f"{name} converted weights", sha256, path=str(Path(path) / WEIGHTS_FILE))
        self.sha256 = sha256.lower()
        self.processor_id, self.processor_revision = processor_id, processor_revision
        self.condition, self.threshold = condition, float(threshold)
        self.device = runtime.torch_device()
        self.dtype = runtime.torch_dtype(dtype)

        state_dict = load_file(weights)
        dims = json.loads((Path(path) / CONFIG_FILE).read_text(encoding="utf-8"))["cross_model"]
        clip_config = load_from_hub(CLIPConfig.from_pretrained, processor_id, processor_revision, runtime)
        self.clip = CLIPModel(clip_config)
        self.cross_model = _modules()(**dims)
        clip_sd = {k.removeprefix("model."): v for k, v in state_dict.items() if k.startswith("model.")}
        cross_sd = {k.removeprefix("cross_model."): v for k, v in state_dict.items() if k.startswith("cross_model.")}
        load_weights(self.clip, clip_sd, f"{name}: {weights} does not fit CLIP-H")
        load_weights(self.cross_model, cross_sd, f"{name}: {weights} does not fit the MPS cross model")
        self.clip.to(self.device, self.dtype).eval()
        self.cross_model.to(self.device, self.dtype).eval()
        self.dims = dims
        self.tokenizer = load_from_hub(AutoTokenizer.from_pretrained, processor_id, processor_revision, runtime)
        self.image_processor = load_from_hub(CLIPImageProcessor.from_pretrained, processor_id, processor_revision,
                                             runtime)
        self.max_text_tokens = int(self.tokenizer.model_max_length)
        with torch.inference_mode():
            self.condition_tokens, _ = self._text(self._tokens([condition]))

    def _tokens(self, prompts: Sequence[str]):
        return self.tokenizer(list(prompts), max_length=self.max_text_tokens, padding="max_length", truncation=True,
                              return_tensors="pt")["input_ids"].to(self.device)

    def _text(self, input_ids):
        """Projected states of every text position, and of the end-of-text position (no attention mask)."""
        outputs = self.clip.text_model(input_ids=input_ids)
        return (self.clip.text_projection(outputs.last_hidden_state),
                self.clip.text_projection(outputs.pooler_output))

    def _image_tokens(self, images: Sequence):
        """Projected states of every image position."""
        pixels = self.image_processor(images=[image.convert("RGB") for image in images],
                                      return_tensors="pt")["pixel_values"].to(self.device, self.dtype)
        return self.clip.visual_projection(self.clip.vision_model(pixel_values=pixels).last_hidden_state)

    def score(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        return score_in_batches(self._score_batch, images, prompts, self.batch_size)

    def _score_batch(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        import torch

        # The two encoders see each distinct image and prompt once; the cross model sees every pair.
        text_tokens, text_eos = per_item(lambda unique: self._text(self._tokens(unique)), prompts)
        image_tokens = per_item(self._image_tokens, images, key=id)

        condition = self.condition_tokens.expand(len(prompts), -1, -1)
        relevance = torch.einsum("bid,bjd->bji", text_tokens, condition).amax(dim=1, keepdim=True)
        relevance = relevance / relevance.amax(dim=-1, keepdim=True)  # each pair's own maximum (see above)
        mask = torch.zeros_like(relevance).masked_fill(relevance <= self.threshold, float("-inf"))
        mask = mask.expand(-1, image_tokens.shape[1], -1)
        image_features = self.cross_model(image_tokens, text_tokens, mask)[:, 0, :].float()
        cosine = (torch.nn.functional.normalize(image_features, dim=-1)
                  * torch.nn.functional.normalize(text_eos.float(), dim=-1)).sum(dim=-1)
        scores = (self.clip.logit_scale.float().exp() * cosine).cpu().numpy().astype(np.float64)
        return RewardOutput(scores=scores, truncated=tokens_past_limit(self.tokenizer, prompts, self.max_text_tokens))

    def provenance(self) -> dict[str, Any]:
        return {
            "weights_sha256": self.sha256,
            "cross_model": self.dims,
            "processor_id": self.processor_id,
            "processor_revision": self.processor_revision,
            "processor_resolved_revision": resolved_revision(self.runtime.cache_dir, self.processor_id,
                                                             self.processor_revision),
            "condition": self.condition,
            "threshold": self.threshold,
            "dtype": str(self.dtype).removeprefix("torch."),
            "max_text_tokens": self.max_text_tokens,
        }
