"""Rewriters: turn a caption p_o and sampled dimensions into the wide-spectrum prompt p_a (docs/experiments.md#e1).

Two backends share one interface:

- ``TemplateRewriter`` works offline and deterministically from the effect phrases
  of ``config/dimensions.yaml``; it stands in for the LLM in tests and offline runs.
- ``OpenAICompatibleRewriter`` asks an LLM, as the paper did
  (``qwen/qwen3-vl-235b-a22b-instruct``, temperature 0.1, structured output with one field).

Both can also write the short negative prompt that VSF (docs/experiments.md#e11) needs.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..llm import ChatClient

P_A_MAX_WORDS = 70  # docs/experiments.md#e1: p_a has fewer than 70 words
NEGATIVE_MAX_WORDS = 5  # docs/experiments.md#e1: the VSF negative prompt has at most 5 words


def word_count(text: str) -> int:
    return len(text.split())


@dataclass(frozen=True)
class RewriteResult:
    prompt_anti: str
    negative_prompt: str | None = None


class Rewriter(ABC):
    """Writes p_a from a caption and the sampled dimensions' texts.

    ``descriptions`` are the dimensions' lowest-rating descriptions, ``effects`` their
    short imperative phrases and ``avoid`` the qualities each lowest rating lacks,
    all in the same (DIMENSIONS) order.
    """

    name: str

    @abstractmethod
    def rewrite(
        self,
        caption: str,
        descriptions: Sequence[str],
        effects: Sequence[str],
        avoid: Sequence[str] = (),
    ) -> RewriteResult: ...

    def provenance(self) -> dict[str, Any]:
        return {"rewriter": self.name}


# ------------------------------------------------------------------ template

class TemplateRewriter(Rewriter):
    """Deterministic offline rewriter.

    p_a is ``"<effect 1>; <effect 2>; ... Subject: <caption>"``: the effect phrases come
    first and verbatim, because docs/experiments.md#e1 gives the effects priority over the subject.
    When the result would reach ``max_words`` words the caption is cut, never an effect.

    Negative prompt rule: the ``avoid`` terms (each dimension's ``negative_term``, the
    quality its lowest rating lacks, e.g. clarity -> "sharp") joined by ", " in the
    order given, keeping whole terms while the total stays within 5 words.
    """

    name = "template"

    def __init__(self, max_words: int = P_A_MAX_WORDS, negative_prompt: bool = True) -> None:
        self.max_words = int(max_words)
        self.negative_prompt = bool(negative_prompt)

    def rewrite(
        self,
        caption: str,
        descriptions: Sequence[str],
        effects: Sequence[str],
        avoid: Sequence[str] = (),
    ) -> RewriteResult:
        if not effects:
            raise ValueError("the template rewriter needs at least one effect phrase")
        lead = "; ".join(e.strip() for e in effects) + ". Subject:"
        room = self.max_words - 1 - word_count(lead)
        if room < 1:
            raise ValueError(
                f"effect phrases alone take {word_count(lead)} words; p_a must stay under "
                f"{self.max_words} words: shorten the effect phrases"
            )
        subject = " ".join(caption.split()[:room])
        negative = join_negative_terms(avoid) if self.negative_prompt else None
        return RewriteResult(prompt_anti=f"{lead} {subject}", negative_prompt=negative)

    def provenance(self) -> dict[str, Any]:
        return {"rewriter": self.name, "max_words": self.max_words}


def join_negative_terms(terms: Sequence[str], max_words: int = NEGATIVE_MAX_WORDS) -> str | None:
    kept: list[str] = []
    for term in (t.strip() for t in terms):
        if term and word_count(", ".join([*kept, term])) <= max_words:
            kept.append(term)
    return ", ".join(kept) or None


# -------------------------------------------------------------------- LLM

REWRITE_FIELD = "long_description"
NEGATIVE_FIELD = "negative_prompt"


def _string_field_schema(field: str) -> dict:
    return {
        "type": "object",
        "properties": {field: {"type": "string"}},
        "required": [field],
        "additionalProperties": False,
    }


def rewrite_instruction(max_words: int) -> str:
    return (
        "You turn an image caption into a prompt for a text-to-image model. You are given the "
        "caption and a list of visual effects the image must have. Write one description of the "
        "image in which those effects dominate: state them first and plainly, and let the "
        "caption's subject come after them. Use only the listed effects; add no other style, "
        "mood, object or detail that is neither in the caption nor in the effects. Keep the "
        f"description under {max_words} words. Reply as JSON with the single field "
        f'"{REWRITE_FIELD}".'
    )


def negative_instruction(max_words: int) -> str:
    return (
        "A text-to-image model tends to drift towards polished, pleasing images. Given a list of "
        "visual effects an image must have, write a negative prompt naming the qualities the "
        "model must avoid so that those effects show, for example the clean, attractive look "
        f"they go against. Use at most {max_words} words. Reply as JSON with the single field "
        f'"{NEGATIVE_FIELD}".'
    )


def _effects_block(descriptions: Sequence[str]) -> str:
    return "Effects:\n" + "\n".join(f"- {d.strip()}" for d in descriptions)


class OpenAICompatibleRewriter(Rewriter):
    """An LLM behind an OpenAI-compatible endpoint writes p_a (and the negative prompt)."""

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str,
        temperature: float = 0.1,
        max_words: int = P_A_MAX_WORDS,
        cache_dir: str | os.PathLike | None = None,
        negative_prompt: bool = True,
        max_retries: int = 3,
        timeout: float = 120.0,
        backoff_s: float = 2.0,
    ) -> None:
        self.name = f"openai:{model}"
        self.max_words = int(max_words)
        self.negative_prompt = bool(negative_prompt)
        self.client = ChatClient(
            model=model,
            base_url=base_url,
            api_key_env=api_key_env,
            temperature=temperature,
            max_retries=max_retries,
            timeout=timeout,
            cache_dir=cache_dir,
            backoff_s=backoff_s,
        )

    def rewrite(
        self,
        caption: str,
        descriptions: Sequence[str],
        effects: Sequence[str],
        avoid: Sequence[str] = (),
    ) -> RewriteResult:
        if not descriptions:
            raise ValueError("the rewriter needs at least one dimension description")
        prompt_anti = self._ask_text(
            rewrite_instruction(self.max_words),
            f"Caption: {caption.strip()}\n\n{_effects_block(descriptions)}",
            REWRITE_FIELD,
            max_words=self.max_words - 1,
        )
        negative = None
        if self.negative_prompt:
            negative = self._ask_text(
                negative_instruction(NEGATIVE_MAX_WORDS),
                _effects_block(descriptions),
                NEGATIVE_FIELD,
                max_words=NEGATIVE_MAX_WORDS,
            )
        return RewriteResult(prompt_anti=prompt_anti, negative_prompt=negative)

    def _ask_text(self, instruction: str, user_text: str, field: str, max_words: int) -> str:
        def check(answer: dict) -> None:
            text = answer[field].strip()
            if not text:
                raise ValueError(f"field {field!r} is empty")
            if word_count(text) > max_words:
                raise ValueError(f"field {field!r} has {word_count(text)} words; at most {max_words} allowed")

        messages = [
            {"role": "system", "content": instruction},
            {"role": "user", "content": user_text},
        ]
        answer = self.client.complete_json(messages, field, _string_field_schema(field), validate=check)
        return " ".join(answer[field].split())

    def provenance(self) -> dict[str, Any]:
        return {"rewriter": self.name, "max_words": self.max_words, **self.client.provenance()}


# ----------------------------------------------------------------- factory

BACKENDS: dict[str, type[Rewriter]] = {
    "template": TemplateRewriter,
    "openai": OpenAICompatibleRewriter,
}


def build_rewriter(spec: Mapping[str, Any]) -> Rewriter:
    """A rewriter from a config mapping, e.g. ``{backend: template}`` or
    ``{backend: openai, model: ..., base_url: ..., api_key_env: OPENROUTER_API_KEY}``."""
    options = dict(spec)
    backend = options.pop("backend", None)
    if backend not in BACKENDS:
        raise ValueError(f"unknown rewriter backend {backend!r}; use one of {sorted(BACKENDS)}")
    try:
        return BACKENDS[backend](**options)
    except TypeError as err:
        raise ValueError(f"rewriter backend {backend!r}: bad options {sorted(options)}: {err}") from err
