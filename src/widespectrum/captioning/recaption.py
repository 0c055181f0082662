"""Recaptioning of the real anti-aesthetic photographs (docs/experiments.md#e7).

The release ``weathon/aas_real_images`` holds the photographs but no captions. The
authors made them with a VLM (``anti_aesthetics_agent/recaption.py`` of
github.com/weathon/icml2026_position): per photograph a JSON object with

- ``anti_aesthetic_elements``: fully qualified taxonomy keys (``group.element``);
- ``clean_caption``: the bare content in under five words, no descriptors;
- ``anti_aesthetic_caption``: the content and its anti-aesthetic qualities;

both captions null when the photograph is judged not clearly anti-aesthetic. Those
photographs are dropped from E7; here they are rows with status ``not anti-aesthetic``
so that the caller filters and counts them.

Two sources give the same table (``RECAPTIONS``): ``OpenAICompatibleRecaptioner`` asks
any OpenAI-compatible VLM endpoint, and ``read_recaption_folder`` reads a folder of
such JSON files (one per ``file_name``, as the authors' script wrote them).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from ..contracts import OK, Column, Schema, records_to_frame
from ..llm import ChatClient, text_part
from ..prompts.rewriters import word_count
from .common import ImageInput, caption_rows, image_url_part
from .taxonomy import Taxonomy, load_taxonomy

logger = logging.getLogger(__name__)

NOT_ANTI_AESTHETIC = "not anti-aesthetic"
CLEAN_MAX_WORDS = 4  # the authors' instruction: the clean caption has fewer than 5 words

RECAPTIONS = Schema(
    "recaptions",
    (
        Column("file_name", "str", doc="the photograph's file_name in weathon/aas_real_images"),
        Column("anti_aesthetic_elements", "list_str", nullable=True,
               doc="fully qualified taxonomy keys 'group.element'; empty when not anti-aesthetic, null on error"),
        Column("clean_caption", "str", nullable=True, doc="bare content in a few words; null unless status is 'ok'"),
        Column("anti_aesthetic_caption", "str", nullable=True,
               doc="content and anti-aesthetic qualities; null unless status is 'ok'"),
        Column("captioner", "str", doc="'openai:<model>' or 'folder:<folder name>'"),
        Column("status", "str", doc=f"'ok', '{NOT_ANTI_AESTHETIC}' (to be filtered and counted), or 'error: ...'"),
    ),
    "E7: the classes and captions of each real photograph",
)


@dataclass(frozen=True)
class Recaption:
    anti_aesthetic_elements: tuple[str, ...]
    clean_caption: str | None
    anti_aesthetic_caption: str | None

    @property
    def status(self) -> str:
        return OK if self.anti_aesthetic_elements else NOT_ANTI_AESTHETIC

    def row(self) -> dict[str, Any]:
        return {
            "anti_aesthetic_elements": list(self.anti_aesthetic_elements),
            "clean_caption": self.clean_caption,
            "anti_aesthetic_caption": self.anti_aesthetic_caption,
            "status": self.status,
        }


_FAILED = {"anti_aesthetic_elements": None, "clean_caption": None, "anti_aesthetic_caption": None}


def parse_recaption(answer: Mapping[str, Any], taxonomy: Taxonomy, clean_max_words: int | None) -> Recaption:
    """The recaption in ``answer``, or ``ValueError`` saying which field is wrong."""
    elements = answer.get("anti_aesthetic_elements")
    if not isinstance(elements, list) or not all(isinstance(e, str) for e in elements):
        raise ValueError(f"anti_aesthetic_elements must be a list of strings, got {elements!r}")
    known = set(taxonomy.keys)
    unknown = [e for e in elements if e not in known]
    if unknown:
        raise ValueError(f"anti_aesthetic_elements has key(s) not in the taxonomy: {unknown}")
    if len(set(elements)) != len(elements):
        raise ValueError(f"anti_aesthetic_elements repeats a key: {elements}")
    captions = {}
    for field in ("clean_caption", "anti_aesthetic_caption"):
        value = answer.get(field)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{field} must be a string or null, got {type(value).__name__}")
        captions[field] = value.strip() if isinstance(value, str) else None
        if elements and not captions[field]:
            raise ValueError(f"{field} is empty although anti-aesthetic elements were named")
        if not elements and captions[field] is not None:
            raise ValueError(f"{field} must be null when no anti-aesthetic element is named")
    clean = captions["clean_caption"]
    if clean is not None and clean_max_words is not None and word_count(clean) > clean_max_words:
        raise ValueError(f"clean_caption has {word_count(clean)} words; at most {clean_max_words} allowed: {clean!r}")
    return Recaption(tuple(elements), clean, captions["anti_aesthetic_caption"])


def recaption_schema(taxonomy: Taxonomy) -> dict:
    """The structured output asked for; ``thinking`` comes first so the model reasons before it labels."""
    nullable_text = {"type": ["string", "null"]}
    return {
        "type": "object",
        "properties": {
            "thinking": {"type": "string"},
            "anti_aesthetic_elements": {"type": "array", "items": {"type": "string", "enum": list(taxonomy.keys)}},
            "clean_caption": nullable_text,
            "anti_aesthetic_caption": nullable_text,
        },
        "required": ["thinking", "anti_aesthetic_elements", "clean_caption", "anti_aesthetic_caption"],
        "additionalProperties": False,
    }


def recaption_instruction(taxonomy: Taxonomy, clean_max_words: int) -> str:
    return (
        "You curate a dataset of deliberately anti-aesthetic photographs. For the image you are "
        "given:\n"
        "1. Decide whether it shows strong, unmistakable anti-aesthetic elements from the taxonomy "
        "below, so strong that it is clearly not an ordinary photograph. Most images are ordinary. "
        "If it is ordinary, answer an empty element list and null for both captions.\n"
        "2. Otherwise list the elements present by their full keys (group.element), at most one per "
        "group, using only keys of the taxonomy.\n"
        "3. Then write two captions. clean_caption names only the content, e.g. \"a bike on the "
        f"ground\": no adjective, no style, no quality, at most {clean_max_words} words. "
        "anti_aesthetic_caption describes the content together with every anti-aesthetic quality "
        "you see, in one to three sentences.\n"
        "Use the thinking field to reason first and to check that the clean caption has no "
        "descriptor (not 'blurry', 'dark', 'cluttered', 'abstract', ...).\n\n"
        f"Taxonomy:\n{taxonomy.describe()}\n\n"
        "Reply with one JSON object with the fields thinking, anti_aesthetic_elements, "
        "clean_caption and anti_aesthetic_caption, and nothing else."
    )


class RecaptionBackend(Protocol):
    """What ``recaption_images`` needs of a backend (a VLM client, or an offline stand-in)."""

    name: str

    def check_ready(self) -> None: ...

    def recaption(self, image: ImageInput) -> Recaption: ...


class OpenAICompatibleRecaptioner:
    """A VLM behind an OpenAI-compatible endpoint classifies and captions each photograph.

    The authors served their VLM with vLLM and thinking enabled; pass
    ``extra_body={"chat_template_kwargs": {"enable_thinking": True}}`` to do the same.
    ``structured_output=False`` for endpoints without ``response_format`` json_schema:
    the answer is validated all the same.
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str,
        temperature: float = 0.0,
        taxonomy_file: str | os.PathLike | None = None,
        clean_max_words: int = CLEAN_MAX_WORDS,
        structured_output: bool = True,
        cache_dir: str | os.PathLike | None = None,
        max_retries: int = 3,
        timeout: float = 240.0,
        backoff_s: float = 2.0,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if clean_max_words < 1:
            raise ValueError(f"clean_max_words must be >= 1, got {clean_max_words}")
        self.name = f"openai:{model}"
        self.taxonomy = load_taxonomy(taxonomy_file) if taxonomy_file is not None else load_taxonomy()
        self.clean_max_words = int(clean_max_words)
        self.structured_output = bool(structured_output)
        self.client = ChatClient(
            model=model, base_url=base_url, api_key_env=api_key_env, temperature=temperature,
            max_retries=max_retries, timeout=timeout, cache_dir=cache_dir, backoff_s=backoff_s,
            extra_body=extra_body,
        )

    def check_ready(self) -> None:
        self.client.check_api_key()

    def recaption(self, image: ImageInput) -> Recaption:
        """The photograph's recaption; ``LLMResponseError`` when no attempt gave a valid one."""
        messages = [
            {"role": "system", "content": recaption_instruction(self.taxonomy, self.clean_max_words)},
            {"role": "user", "content": [image_url_part(image), text_part("Analyse this image.")]},
        ]

        def check(answer: dict) -> None:
            parse_recaption(answer, self.taxonomy, self.clean_max_words)

        answer = self.client.complete_json(
            messages, "anti_aesthetic_recaption", recaption_schema(self.taxonomy),
            validate=check, send_schema=self.structured_output,
        )
        return parse_recaption(answer, self.taxonomy, self.clean_max_words)

    def provenance(self) -> dict[str, Any]:
        return {**self.client.provenance(), "captioner": self.name, "clean_max_words": self.clean_max_words,
                "structured_output": self.structured_output, "taxonomy": list(self.taxonomy.keys)}


def recaption_images(
    backend: RecaptionBackend,
    images: Iterable[tuple[str, ImageInput]],
    progress: bool = True,
) -> pd.DataFrame:
    """``RECAPTIONS`` rows, one per ``(file_name, PIL image or path)`` in input order.

    A missing API key fails before the first image; an image the backend cannot
    recaption is a row with status ``error: ...``.
    """
    backend.check_ready()

    def answer(image: ImageInput) -> dict[str, Any]:
        return {**backend.recaption(image).row(), "captioner": backend.name}

    return caption_rows(images, "file_name", answer, {**_FAILED, "captioner": backend.name}, RECAPTIONS,
                        desc=f"recaption {backend.name}", progress=progress)


def recaption_file_stem(file_name: str) -> str:
    """The JSON file's stem for a photograph: its base name up to the first dot, as the authors named them."""
    return Path(file_name).name.split(".")[0]


def read_recaption_folder(
    folder: str | os.PathLike,
    file_names: Sequence[str] | None = None,
    taxonomy: Taxonomy | None = None,
    clean_max_words: int | None = None,
) -> pd.DataFrame:
    """``RECAPTIONS`` rows from a folder of recaption JSON files, without a VLM.

    With ``file_names`` there is one row per name in that order, read from
    ``<stem>.json`` (``recaption_file_stem``); a missing or invalid file is a row with
    status ``error: ...``. Without, one row per ``*.json`` in name order, whose
    ``file_name`` is the file's ``file_name`` field when it has one, else its stem.
    ``clean_max_words`` is not enforced by default: the authors' files count as written.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"recaption folder not found: {folder}")
    taxonomy = taxonomy or load_taxonomy()
    captioner = f"folder:{folder.name}"
    if file_names is None:
        paths = sorted(folder.glob("*.json"))
        entries = [(None, path) for path in paths]
    else:
        entries = [(str(name), folder / f"{recaption_file_stem(str(name))}.json") for name in file_names]
    records = []
    for file_name, path in entries:
        record: dict[str, Any] = {"file_name": file_name or path.stem, "captioner": captioner}
        try:
            if not path.exists():
                raise FileNotFoundError(f"no recaption file {path.name}")
            answer = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(answer, dict):
                raise ValueError(f"{path.name} does not hold a JSON object")
            if file_name is None and isinstance(answer.get("file_name"), str):
                record["file_name"] = answer["file_name"]
            record.update(parse_recaption(answer, taxonomy, clean_max_words).row())
        except (OSError, ValueError) as err:  # json.JSONDecodeError is a ValueError
            logger.warning("recaption file %s: %s", path.name, err)
            record.update(_FAILED)
            record["status"] = f"error: {type(err).__name__}: {err}"
        records.append(record)
    logger.info("read %d recaption file(s) from %s: %d ok, %d not anti-aesthetic", len(records), folder.name,
                sum(r["status"] == OK for r in records), sum(r["status"] == NOT_ANTI_AESTHETIC for r in records))
    return records_to_frame(records, RECAPTIONS)
