"""Factual captions of real artworks (docs/experiments.md#e8, for a run that regenerates the LAPIS scores).

The paper captioned the LAPIS paintings with Qwen3-VL-30B-A3B and scored each with HPSv3
under its caption. The caption says what the painting shows, as a text-to-image prompt
would: a sentence or two, no judgement of its quality or beauty, which would bias the
reward the caption is used with.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import pandas as pd

from ..contracts import OK, Column, Schema
from ..llm import ChatClient, text_part
from ..prompts.rewriters import word_count
from .common import ImageInput, caption_rows, image_url_part

PAPER_MODEL = "qwen/qwen3-vl-30b-a3b-instruct"  # docs/experiments.md#e8: Qwen3-VL-30B-A3B (OpenRouter's id)
# Bounds of a generation prompt: the length of a one- or two-sentence caption, which
# also stays inside the 77-token text window of the CLIP-based rewards.
MIN_WORDS = 8
MAX_WORDS = 40
CAPTION_FIELD = "caption"

ART_CAPTIONS = Schema(
    "art_captions",
    (
        Column("item_id", "str", doc="the artwork's id (LAPIS 'i')"),
        Column("caption", "str", nullable=True, doc="factual caption; null unless status is 'ok'"),
        Column("n_words", "int", nullable=True, doc="words in the caption"),
        Column("captioner", "str", doc="'openai:<model>'"),
        Column("status", "str", doc="'ok', or 'error: ...'"),
    ),
    "E8: a factual caption per artwork, the prompt HPSv3 scores it under",
)

CAPTION_SCHEMA = {
    "type": "object",
    "properties": {CAPTION_FIELD: {"type": "string"}},
    "required": [CAPTION_FIELD],
    "additionalProperties": False,
}


def art_caption_instruction(min_words: int, max_words: int) -> str:
    return (
        "Write a caption of this artwork that could serve as the prompt of a text-to-image model "
        "to recreate it. Say plainly what it shows: the subject, the setting, the main objects "
        "and people and what they do, the medium and style (for example an oil painting in an "
        "impressionist manner) and the dominant colors. State only what is visible; do not judge "
        "its quality or beauty, and name no artist or title. Use one or two sentences, between "
        f"{min_words} and {max_words} words. Reply as JSON with the single field \"{CAPTION_FIELD}\"."
    )


class ArtCaptionBackend(Protocol):
    """What ``caption_artworks`` needs of a backend (a VLM client, or an offline stand-in)."""

    name: str

    def check_ready(self) -> None: ...

    def caption(self, image: ImageInput) -> str: ...


class OpenAICompatibleArtCaptioner:
    """A VLM behind an OpenAI-compatible endpoint writes one factual caption per artwork."""

    def __init__(
        self,
        model: str = PAPER_MODEL,
        base_url: str = "https://openrouter.ai/api/v1",
        api_key_env: str = "OPENROUTER_API_KEY",
        temperature: float = 0.0,
        min_words: int = MIN_WORDS,
        max_words: int = MAX_WORDS,
        structured_output: bool = True,
        cache_dir: str | os.PathLike | None = None,
        max_retries: int = 3,
        timeout: float = 120.0,
        backoff_s: float = 2.0,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if not 1 <= min_words <= max_words:
            raise ValueError(f"need 1 <= min_words <= max_words, got {min_words} and {max_words}")
        self.name = f"openai:{model}"
        self.min_words = int(min_words)
        self.max_words = int(max_words)
        self.structured_output = bool(structured_output)
        self.client = ChatClient(
            model=model, base_url=base_url, api_key_env=api_key_env, temperature=temperature,
            max_retries=max_retries, timeout=timeout, cache_dir=cache_dir, backoff_s=backoff_s,
            extra_body=extra_body,
        )

    def check_ready(self) -> None:
        self.client.check_api_key()

    def _check(self, answer: dict) -> None:
        text = answer[CAPTION_FIELD].strip()
        if not text:
            raise ValueError("caption is empty")
        n = word_count(text)
        if not self.min_words <= n <= self.max_words:
            raise ValueError(f"caption has {n} words; {self.min_words} to {self.max_words} allowed")

    def caption(self, image: ImageInput) -> str:
        """The artwork's caption; ``LLMResponseError`` when no attempt gave a valid one."""
        messages = [
            {"role": "system", "content": art_caption_instruction(self.min_words, self.max_words)},
            {"role": "user", "content": [image_url_part(image), text_part("Caption this artwork.")]},
        ]
        answer = self.client.complete_json(messages, CAPTION_FIELD, CAPTION_SCHEMA, validate=self._check,
                                           send_schema=self.structured_output)
        return answer[CAPTION_FIELD].strip()

    def provenance(self) -> dict[str, Any]:
        return {**self.client.provenance(), "captioner": self.name, "min_words": self.min_words,
                "max_words": self.max_words, "structured_output": self.structured_output}


def caption_artworks(
    backend: ArtCaptionBackend,
    artworks: Iterable[tuple[str, ImageInput]],
    progress: bool = True,
) -> pd.DataFrame:
    """``ART_CAPTIONS`` rows, one per ``(item_id, PIL image or path)`` in input order.

    A missing API key fails before the first artwork; an artwork the backend cannot
    caption is a row with status ``error: ...``.
    """
    backend.check_ready()

    def answer(image: ImageInput) -> dict[str, Any]:
        caption = backend.caption(image)
        return {"caption": caption, "n_words": word_count(caption), "captioner": backend.name, "status": OK}

    failed = {"caption": None, "n_words": None, "captioner": backend.name}
    return caption_rows(artworks, "item_id", answer, failed, ART_CAPTIONS,
                        desc=f"caption artworks {backend.name}", progress=progress)
