"""Negative guidance on Flux for the mitigation experiment (E11): VSF and NAG.

Both generators are Flux Dev (or any Flux checkpoint ``FluxGenerator`` loads)
steered away from ``request.negative_prompt`` inside attention, in a single
forward pass per step. The plain FluxPipeline call is reused unchanged: for the
duration of one ``generate`` the transformer gets our attention processor plus
forward pre-hooks that add the negative prompt to its inputs; afterwards the
stock processors come back and the pipeline is plain Flux again.

VSF, value sign flip (Guo & Du 2025, arXiv 2508.10931)
------------------------------------------------------
The negative prompt's T5 tokens (unpadded: its pieces and the end token, as in
the authors' code) are appended after the positive prompt's padded tokens; the
pooled CLIP embedding becomes ``neg + pooled_mix * (pos - neg)``. In attention
the negative tokens' keys and values are duplicated and the copy's values are
multiplied by ``-scale``. With queries ``[P | N | I]`` (positive text, negative
text, image) and keys ``[P | N | I | N-]`` (``N-`` the flipped copy) the
paper's additive mask is 0 where a query may look and -inf elsewhere:

    query \\ key   P    N    I    N-
    P             0   -inf  0   -inf   positive text evolves as with no negative prompt
    N           -inf   0    0   -inf   negative text reads itself and the image
    I             0   -inf  0    0     image reads the negative prompt only as N-

So no query ever reads the unflipped negative values except the negative
tokens themselves, whose outputs feed only their own residual stream; the image
receives ``-scale`` times the negative values, weighted by its own attention
to the negative keys. At ``scale = 0`` the copy adds nothing but still takes
softmax mass, so the image is not the plain one; the image's attention output
is affine in ``scale`` (the weights do not depend on it).

Two variants (option ``vsf_variant``); the run's provenance says which one ran:

- ``authors`` (the default): what the authors' released Flux code does
  (github.com/weathon/VSF, ``src/flux_pipeline.py`` and ``src/processor.py``).
  The processor sits on the 19 double-stream blocks only; the 38
  single-stream blocks keep the stock processor, so there the whole sequence,
  negative tokens included, attends unmasked and unflipped. Their mask
  (``vsf_authors_visibility``) indexes the positive prompt's length with the
  text length measured after the negative tokens were appended, which moves
  its blocks: the negative text sees neither text group, all text does not see
  the first ``2 * negative`` image keys, the first ``negative`` image queries
  do not see image keys ``negative .. 2 * negative``; every query sees the
  flipped copy, and the positive text and the image also see the unflipped
  negative keys.
  (The copy's keys carry no rotary embedding there; every Flux text token sits
  at position 0, whose rotation is the identity, so that equals copying after
  the rotation as done here.)
- ``described``: the method as the paper describes it, with the mask above
  in every block. The paper was written for SD3.5, whose blocks are all joint
  double-stream blocks; Flux's single-stream blocks are the same joint
  attention over ``[text | image]`` with shared projections, so the same copy
  and mask are applied there too and "the image sees the negative prompt only
  through the flipped copy" holds in every layer.

NAG, normalized attention guidance (Chen et al. 2025, arXiv 2505.21179)
----------------------------------------------------------------------
The negative prompt (padded like the positive one) runs as a second text
branch of batch 2: in every attention layer the image queries attend once with
the positive and once with the negative context, giving ``z+`` and ``z-``, and
the image output becomes

    z~ = phi * z+ - (phi - 1) * z-             (extrapolation, phi = nag_scale)
    r  = |z~|_p / |z+|_p                       (per token, over channels)
    z^ = z~ * min(r, tau) / r                  (norm ratio clipped at tau)
    z  = alpha * z^ + (1 - alpha) * z+

The norm ``p`` (``nag_norm``) is 2 by default: the reference processor
(``src/attention_flux_nag.py``) takes the L2 norm, and the authors' code
imports that package (``from nag import NAGFluxPipeline``, their
``eval/data/nag.py``). The paper's text writes the L1 norm: ``nag_norm: 1``.

as in the authors' reference implementation (github.com/ChenDarYen/
Normalized-Attention-Guidance, ``NAGFluxPipeline``, the package the paper's
authors ran), with its Flux defaults ``tau = 2.5, alpha = 0.25`` and
``phi <= 1`` meaning no guidance; its ``nag_scale`` is ``phi``, so the scales
4, 10 and 15 of E11 mean the same here. Guidance acts at every step (the
reference's ``nag_end``, which can stop it part-way, is not offered). Each
text branch keeps its own stream
(modulated by its own pooled embedding); in the double-stream blocks the image
stream is single and modulated by the positive pooled embedding; before the
single-stream blocks the image joins both branches, each branch's image part
is replaced by the guided output after every attention, and the positive
branch gives the prediction.
"""

from __future__ import annotations

import inspect
import logging
import math
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from ..runtime import Runtime
from .base import GenerationRequest
from .diffusers_backend import FluxGenerator

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

# (module, hook, with_kwargs) for torch's register_forward_pre_hook
PreHook = tuple[Any, Callable, bool]


# ---------------------------------------------------------------- VSF attention

@dataclass(frozen=True)
class TextLayout:
    """Token counts of a VSF text sequence: the positive prompt's, then the negative prompt's."""

    positive: int
    negative: int

    @property
    def total(self) -> int:
        return self.positive + self.negative


def vsf_visibility(layout: TextLayout, image_tokens: int) -> "torch.Tensor":
    """Boolean ``[queries, keys]`` matrix, True where a query may attend (see the module docstring).

    Queries are ``[P | N | I]``, keys ``[P | N | I | N-]``.
    """
    import torch

    positive = slice(0, layout.positive)
    negative = slice(layout.positive, layout.total)
    image = slice(layout.total, layout.total + image_tokens)
    flipped = slice(layout.total + image_tokens, layout.total + image_tokens + layout.negative)
    queries = layout.total + image_tokens
    visible = torch.zeros(queries, queries + layout.negative, dtype=torch.bool)
    for rows, columns in ((positive, positive), (positive, image),
                          (negative, negative), (negative, image),
                          (image, positive), (image, image), (image, flipped)):
        visible[rows, columns] = True
    return visible


def vsf_authors_visibility(layout: TextLayout, image_tokens: int) -> "torch.Tensor":
    """The authors' mask as their Flux pipeline builds it, True where a query may attend.

    Same axes as ``vsf_visibility``. Their four assignments read the positive
    length from the text sequence after the negative tokens were appended, so
    ``text`` below is the whole text length where they meant the positive one.
    """
    import torch

    text, negative = layout.total, layout.negative
    visible = torch.ones(text + image_tokens, text + image_tokens + negative, dtype=torch.bool)
    visible[text - negative:text, :text] = False
    visible[:text, text:text + negative] = False
    visible[:text + negative, text + negative:text + 2 * negative] = False
    return visible


VISIBILITY = {"described": vsf_visibility, "authors": vsf_authors_visibility}


def vsf_attention_bias(layout: TextLayout, image_tokens: int, dtype, device,
                       variant: str = "described") -> "torch.Tensor":
    """The additive mask: 0 where the variant's visibility allows, -inf elsewhere."""
    import torch

    visible = VISIBILITY[variant](layout, image_tokens).to(device)
    return torch.zeros(visible.shape, dtype=dtype, device=device).masked_fill(~visible, float("-inf"))


class FluxVSFAttnProcessor:
    """Flux joint attention with value sign flip, for double- and single-stream blocks.

    Needs ``joint_attention_kwargs={"vsf_text": TextLayout(...)}``, which the
    transformer hands to every attention layer. ``variant`` picks the mask
    (see the module docstring); the ``authors`` mask exists for the
    double-stream blocks only.
    """

    def __init__(self, scale: float, variant: str = "described") -> None:
        if variant not in VISIBILITY:
            raise ValueError(f"VSF variant {variant!r}: use one of {sorted(VISIBILITY)}")
        self.scale = float(scale)
        self.variant = variant
        self._bias_key: tuple | None = None
        self._bias: "torch.Tensor | None" = None

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None,
                 image_rotary_emb=None, vsf_text: TextLayout | None = None):
        import torch

        if vsf_text is None:
            raise ValueError("FluxVSFAttnProcessor needs joint_attention_kwargs['vsf_text'] (the text layout)")
        if attention_mask is not None:
            raise ValueError("FluxVSFAttnProcessor builds its own mask; got another one")
        if encoder_hidden_states is None and self.variant == "authors":
            raise ValueError("the authors' VSF runs in the double-stream blocks only")
        if encoder_hidden_states is not None and encoder_hidden_states.shape[1] != vsf_text.total:
            raise ValueError(f"text stream has {encoder_hidden_states.shape[1]} tokens, layout says {vsf_text.total}")
        query, key, value = joint_qkv(attn, hidden_states, encoder_hidden_states, image_rotary_emb)
        negative = slice(vsf_text.positive, vsf_text.total)
        # copied after the rotary embedding, so the copy keeps its original's position
        key = torch.cat([key, key[:, negative]], dim=1)
        value = torch.cat([value, value[:, negative] * -self.scale], dim=1)
        bias = self._attention_bias(vsf_text, query.shape[1] - vsf_text.total, query)
        out = attend(query, key, value, bias)
        if encoder_hidden_states is None:
            return out
        return image_output(attn, out[:, vsf_text.total:]), attn.to_add_out(out[:, :vsf_text.total])

    def _attention_bias(self, layout: TextLayout, image_tokens: int, like: "torch.Tensor") -> "torch.Tensor":
        # every block of a step (and every step) has the same layout: build the mask once
        key = (layout, image_tokens, like.dtype, like.device)
        if key != self._bias_key:
            self._bias = vsf_attention_bias(layout, image_tokens, like.dtype, like.device, self.variant)
            self._bias_key = key
        return self._bias


class StockIgnoringVSFLayout:
    """A block's own processor, called without the VSF layout (the authors' single-stream blocks)."""

    def __init__(self, stock) -> None:
        self.stock = stock

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None,
                 image_rotary_emb=None, vsf_text: TextLayout | None = None):
        return self.stock(attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb)


# ---------------------------------------------------------------- NAG attention

NAG_NORMS = (1, 2)


def nag_guidance(positive: "torch.Tensor", negative: "torch.Tensor", scale: float, tau: float,
                 alpha: float, norm: int = 2) -> "torch.Tensor":
    """Extrapolate, clip the L``norm`` norm ratio at ``tau``, blend with ``alpha`` (last dim = channels)."""
    import torch

    guided = scale * positive - (scale - 1) * negative
    ratio = guided.norm(p=norm, dim=-1, keepdim=True) / positive.norm(p=norm, dim=-1, keepdim=True)
    guided = guided * torch.where(ratio > tau, tau / ratio, torch.ones_like(ratio))
    return alpha * guided + (1 - alpha) * positive


class FluxNAGAttnProcessor:
    """Flux joint attention whose image output is guided away from a negative text branch.

    The text stream carries batch ``[positive, negative]``. In double-stream
    blocks the (single) image stream attends with both; in single-stream blocks
    the sequence is ``[text | image]`` per branch and the text length comes in
    ``joint_attention_kwargs["nag_text_tokens"]``.
    """

    def __init__(self, scale: float, tau: float, alpha: float, norm: int = 2) -> None:
        if norm not in NAG_NORMS:
            raise ValueError(f"NAG norm {norm!r}: use one of {NAG_NORMS}")
        self.scale, self.tau, self.alpha, self.norm = float(scale), float(tau), float(alpha), int(norm)

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None,
                 image_rotary_emb=None, nag_text_tokens: int | None = None):
        if attention_mask is not None:
            raise ValueError("FluxNAGAttnProcessor takes no attention mask")
        if encoder_hidden_states is not None:
            return self._double_stream(attn, hidden_states, encoder_hidden_states, image_rotary_emb)
        if nag_text_tokens is None:
            raise ValueError("FluxNAGAttnProcessor needs joint_attention_kwargs['nag_text_tokens'] in single blocks")
        return self._single_stream(attn, hidden_states, nag_text_tokens, image_rotary_emb)

    def _guide(self, image_out: "torch.Tensor") -> "torch.Tensor":
        positive, negative = image_out.chunk(2)
        return nag_guidance(positive, negative, self.scale, self.tau, self.alpha, self.norm)

    def _double_stream(self, attn, image, text, rotary):
        if text.shape[0] != 2 * image.shape[0]:
            raise ValueError(f"NAG expects the text batch ({text.shape[0]}) to be twice the image batch "
                             f"({image.shape[0]}): a positive and a negative branch")
        out = attend(*joint_qkv(attn, image.repeat(2, 1, 1), text, rotary))
        text_tokens = text.shape[1]
        return image_output(attn, self._guide(out[:, text_tokens:])), attn.to_add_out(out[:, :text_tokens])

    def _single_stream(self, attn, hidden_states, text_tokens: int, rotary):
        import torch

        out = attend(*joint_qkv(attn, hidden_states, None, rotary))
        guided = self._guide(out[:, text_tokens:])
        return torch.cat([out[:, :text_tokens], guided.repeat(2, 1, 1)], dim=1)


# ---------------------------------------------------------------- shared attention pieces

def joint_qkv(attn, hidden_states, encoder_hidden_states, rotary):
    """Queries, keys, values of a Flux joint attention, text first, shaped ``[batch, tokens, heads, dim]``.

    Double-stream blocks project text and image with separate weights;
    single-stream blocks get one ``[text | image]`` sequence.
    """
    import torch
    from diffusers.models.embeddings import apply_rotary_emb

    def heads(x):
        return x.unflatten(-1, (-1, attn.head_dim))

    query = attn.norm_q(heads(attn.to_q(hidden_states)))
    key = attn.norm_k(heads(attn.to_k(hidden_states)))
    value = heads(attn.to_v(hidden_states))
    if encoder_hidden_states is not None:
        query = torch.cat([attn.norm_added_q(heads(attn.add_q_proj(encoder_hidden_states))), query], dim=1)
        key = torch.cat([attn.norm_added_k(heads(attn.add_k_proj(encoder_hidden_states))), key], dim=1)
        value = torch.cat([heads(attn.add_v_proj(encoder_hidden_states)), value], dim=1)
    if rotary is not None:
        query = apply_rotary_emb(query, rotary, sequence_dim=1)
        key = apply_rotary_emb(key, rotary, sequence_dim=1)
    return query, key, value


def attend(query, key, value, bias=None):
    """Scaled dot-product attention on ``[batch, tokens, heads, dim]``; returns ``[batch, tokens, channels]``."""
    import torch.nn.functional as F

    out = F.scaled_dot_product_attention(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2),
                                         attn_mask=bias)
    return out.transpose(1, 2).flatten(2).to(query.dtype)


def image_output(attn, image_out):
    return attn.to_out[1](attn.to_out[0](image_out))


@contextmanager
def installed(transformer, processor, pre_hooks: Sequence[PreHook]) -> Iterator[None]:
    """Run with ``processor`` (one for every attention layer, or a mapping by layer name) and the given
    forward pre-hooks; undo afterwards."""
    original = transformer.attn_processors
    transformer.set_attn_processor(processor)
    handles = [module.register_forward_pre_hook(hook, with_kwargs=with_kwargs)
               for module, hook, with_kwargs in pre_hooks]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        transformer.set_attn_processor(original)


# ---------------------------------------------------------------- transformer input hooks

def _with_attention_kwargs(kwargs: dict, **extra: Any) -> dict:
    return {**(kwargs.get("joint_attention_kwargs") or {}), **extra}


def _append_negative_tokens(module, args, kwargs, *, embeds, pooled, pooled_mix: float):
    """VSF: negative T5 tokens after the positive ones, pooled embedding mixed, layout for the processor."""
    import torch

    text = kwargs["encoder_hidden_states"]
    negative = embeds.to(text).expand(text.shape[0], -1, -1)
    positive_pooled = kwargs["pooled_projections"]
    negative_pooled = pooled.to(positive_pooled)
    txt_ids = kwargs["txt_ids"]
    kwargs.update(
        encoder_hidden_states=torch.cat([text, negative], dim=1),
        # Flux places every text token at position 0; so do the authors for the negative ones
        txt_ids=torch.cat([txt_ids, txt_ids.new_zeros(negative.shape[1], txt_ids.shape[-1])]),
        pooled_projections=negative_pooled + pooled_mix * (positive_pooled - negative_pooled),
        joint_attention_kwargs=_with_attention_kwargs(
            kwargs, vsf_text=TextLayout(positive=text.shape[1], negative=negative.shape[1])),
    )
    return args, kwargs


def _add_negative_branch(module, args, kwargs, *, embeds, pooled):
    """NAG: the negative prompt as a second text branch (batch ``[positive, negative]``)."""
    import torch

    text = kwargs["encoder_hidden_states"]
    if embeds.shape[1] != text.shape[1]:
        raise ValueError(f"negative prompt has {embeds.shape[1]} tokens, the positive {text.shape[1]}")
    positive_pooled = kwargs["pooled_projections"]
    guidance = kwargs.get("guidance")
    kwargs.update(
        encoder_hidden_states=torch.cat([text, embeds.to(text).expand_as(text)]),
        pooled_projections=torch.cat([positive_pooled, pooled.to(positive_pooled).expand_as(positive_pooled)]),
        timestep=kwargs["timestep"].repeat(2),
        guidance=None if guidance is None else guidance.repeat(2),
        joint_attention_kwargs=_with_attention_kwargs(kwargs, nag_text_tokens=text.shape[1]),
    )
    return args, kwargs


def _image_uses_positive_modulation(norm, args, kwargs):
    """NAG: in double-stream blocks the single image stream is modulated by the positive branch only."""
    kwargs["emb"] = kwargs["emb"][: args[0].shape[0]]
    return args, kwargs


def _image_joins_both_branches(block, args, kwargs):
    """NAG: before the single-stream blocks the image is copied into each text branch."""
    image, text = kwargs["hidden_states"], kwargs["encoder_hidden_states"]
    kwargs["hidden_states"] = image.repeat(text.shape[0] // image.shape[0], 1, 1)
    return args, kwargs


def _keep_positive_branch(norm_out, args):
    """NAG: the prediction comes from the positive branch."""
    hidden_states, conditioning = args
    batch = conditioning.shape[0] // 2
    return hidden_states[:batch], conditioning[:batch]


# ---------------------------------------------------------------- generators

class _NegativeGuidedFluxGenerator(FluxGenerator):
    """A Flux generator that needs ``request.negative_prompt`` and steers away from it in attention."""

    method: ClassVar[str]

    def generate(self, request: GenerationRequest):
        negative = request.negative_prompt
        if negative is None or not negative.strip():
            raise ValueError(f"generator {self.name!r} ({self.method}) needs a negative prompt; "
                             f"request {request.prompt_id}/{request.image_kind} has none")
        self.check_settings(request.settings)
        sequence_length = int(request.settings.get("max_sequence_length", self._default_sequence_length()))
        with self._guidance(negative, sequence_length):
            # the negative prompt acts through the hooks; the pipeline's own (true-CFG) negative stays off
            return super().generate(replace(request, negative_prompt=None))

    @abstractmethod
    def _guidance(self, negative: str, sequence_length: int):
        """A context manager that installs the method for one pipeline call."""

    def _default_sequence_length(self) -> int:
        return inspect.signature(type(self.pipe).__call__).parameters["max_sequence_length"].default

    def _encode(self, text: str, sequence_length: int):
        """T5 token embeddings padded to ``sequence_length`` and the pooled CLIP embedding, as the pipeline does."""
        import torch

        with torch.inference_mode():
            embeds, pooled, _ = self.pipe.encode_prompt(prompt=text, prompt_2=None,
                                                        max_sequence_length=sequence_length)
        return embeds, pooled


class FluxVSFGenerator(_NegativeGuidedFluxGenerator):
    """Flux with value sign flip (see the module docstring); E11 runs it at scale 2.0 or 3.0.

    Options are FluxGenerator's (``model_id``, ``revision``, ``dtype``,
    ``transformer``, ...) plus ``scale`` (the flip factor), ``pooled_mix``
    (the pooled-embedding extrapolation, 1.1 in the authors' code) and
    ``vsf_variant`` (``authors``, the default, or ``described``).
    """

    method = "vsf"

    def __init__(self, name: str, runtime: Runtime, model_id: str, scale: float = 2.0, pooled_mix: float = 1.1,
                 vsf_variant: str = "authors", **options: Any) -> None:
        if not (math.isfinite(scale) and scale >= 0):
            raise ValueError(f"VSF scale must be a finite number >= 0, got {scale}")
        if vsf_variant not in VISIBILITY:
            raise ValueError(f"VSF variant {vsf_variant!r}: use one of {sorted(VISIBILITY)}")
        self.vsf_variant = vsf_variant
        self.scale = float(scale)
        self.pooled_mix = float(pooled_mix)
        super().__init__(name, runtime, model_id, **options)

    @contextmanager
    def _guidance(self, negative: str, sequence_length: int) -> Iterator[None]:
        embeds, pooled = self.encode_negative(negative, sequence_length)
        transformer = self.pipe.transformer
        hook = partial(_append_negative_tokens, embeds=embeds, pooled=pooled, pooled_mix=self.pooled_mix)
        logger.debug("VSF (%s): %d negative tokens, scale %s", self.vsf_variant, embeds.shape[1], self.scale)
        with installed(transformer, self._processors(), [(transformer, hook, True)]):
            yield

    def _processors(self):
        vsf = FluxVSFAttnProcessor(self.scale, self.vsf_variant)
        if self.vsf_variant == "described":
            return vsf
        return {name: vsf if name.startswith("transformer_blocks.") else StockIgnoringVSFLayout(stock)
                for name, stock in self.pipe.transformer.attn_processors.items()}

    def encode_negative(self, negative: str, sequence_length: int):
        """The negative prompt's T5 embeddings without padding (its pieces and the end token) and pooled CLIP."""
        ids = self.pipe.tokenizer_2(negative, truncation=True, max_length=sequence_length).input_ids
        return self._encode(negative, len(ids))

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(),
                "negative_guidance": {"method": "vsf", "variant": self.vsf_variant, "scale": self.scale,
                                      "pooled_mix": self.pooled_mix}}


class FluxNAGGenerator(_NegativeGuidedFluxGenerator):
    """Flux with normalized attention guidance (see the module docstring); E11 compares scales 4, 10, 15.

    Options are FluxGenerator's plus ``nag_scale`` (phi; <= 1 turns guidance
    off, as in the reference implementation), ``nag_tau``, ``nag_alpha`` and
    ``nag_norm`` (2, the reference's and the authors' code, or 1, the paper's text).
    """

    method = "nag"

    def __init__(self, name: str, runtime: Runtime, model_id: str, *, nag_scale: float, nag_tau: float = 2.5,
                 nag_alpha: float = 0.25, nag_norm: int = 2, **options: Any) -> None:
        if nag_norm not in NAG_NORMS:
            raise ValueError(f"nag_norm must be one of {NAG_NORMS}, got {nag_norm!r}")
        self.nag_norm = int(nag_norm)
        if not math.isfinite(nag_scale):
            raise ValueError(f"nag_scale must be finite, got {nag_scale}")
        if not nag_tau > 0:
            raise ValueError(f"nag_tau must be > 0, got {nag_tau}")
        if not 0 <= nag_alpha <= 1:
            raise ValueError(f"nag_alpha must lie in [0, 1], got {nag_alpha}")
        self.nag_scale, self.nag_tau, self.nag_alpha = float(nag_scale), float(nag_tau), float(nag_alpha)
        super().__init__(name, runtime, model_id, **options)

    @contextmanager
    def _guidance(self, negative: str, sequence_length: int) -> Iterator[None]:
        if self.nag_scale <= 1:
            yield
            return
        embeds, pooled = self._encode(negative, sequence_length)
        transformer = self.pipe.transformer
        pre_hooks: list[PreHook] = [(transformer, partial(_add_negative_branch, embeds=embeds, pooled=pooled), True)]
        pre_hooks += [(block.norm1, _image_uses_positive_modulation, True) for block in transformer.transformer_blocks]
        if len(transformer.single_transformer_blocks):
            pre_hooks.append((transformer.single_transformer_blocks[0], _image_joins_both_branches, True))
        pre_hooks.append((transformer.norm_out, _keep_positive_branch, False))
        processor = FluxNAGAttnProcessor(self.nag_scale, self.nag_tau, self.nag_alpha, self.nag_norm)
        with installed(transformer, processor, pre_hooks):
            yield

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "negative_guidance": {
            "method": "nag", "nag_scale": self.nag_scale, "nag_tau": self.nag_tau, "nag_alpha": self.nag_alpha,
            "nag_norm": self.nag_norm}}
