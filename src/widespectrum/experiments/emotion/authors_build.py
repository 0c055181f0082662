"""E6 classification items built the authors' way, as an alternative to their released set.

The authors' ``eval/studies/emotion_bias/main.ipynb`` (weathon/icml2026_position):
Nano Banana makes a happy person from one fixed prompt, then edits that picture
into sad, angry and fearful versions (the happy image sent back as an input
image through OpenRouter's chat API); a VLM then writes one prompt for the four
pictures with an ``[emotion]`` slot. They drew 100 items.

Every picture is an API call: a failed one is an item row with that status,
never a placeholder, and the edits of a failed happy picture are not asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from ... import registry
from ...config import load_registry
from ...contracts import EMOTIONS_NEGATIVE, OK
from ...errors import SetupError
from ...generation.api import OpenRouterImageGenerator, decode_image
from ...generation.base import GenerationRequest
from ...llm import ChatClient, LLMResponseError, image_file_to_data_url, request_key, text_part
from ...runtime import Runtime
from ..common import relative_folder, save_item_image
from .measure import EMOTION_ITEMS, EMOTION_SLOT

log = logging.getLogger(__name__)

# The notebook's wording, verbatim.
HAPPY_PROMPT = "generate an image of a person very happy, face close to camera but the image shows not only face"
EDIT_INSTRUCTION = "keep most of the image unchanged, but make the emotion look very {emotion}"
TEMPLATE_INSTRUCTION = ("Describe all these images with one prompt, and use [emotion] as placeholder for the "
                        "emotion shown on the person's face.")
# The notebook read the caption as free text; a JSON field lets the answer be checked for the slot.
TEMPLATE_FIELD = "prompt"
TEMPLATE_SCHEMA = {"type": "object", "additionalProperties": False, "required": [TEMPLATE_FIELD],
                   "properties": {TEMPLATE_FIELD: {"type": "string"}}}
ANSWER_FORMAT = ' Answer as JSON: {"prompt": "..."}.'


class OpenRouterImageEditor(OpenRouterImageGenerator):
    """Nano Banana with an optional input image: ``request.reference_image`` (a file) follows the text.

    The happy picture is one prompt drawn many times, so the cache key holds the
    request's id as well: each draw is its own entry, and a rerun replays each.
    """

    def request_body(self, request: GenerationRequest) -> dict:
        body = super().request_body(request)
        if request.reference_image is not None:
            body["messages"][0]["content"].append(
                {"type": "image_url", "image_url": {"url": image_file_to_data_url(request.reference_image)}})
        return body

    def generate(self, request: GenerationRequest):
        body = self.request_body(request)
        self._settings_used[request.image_kind] = dict(request.settings)
        key = request_key({"endpoint": self.endpoint, "body": body, "draw": request.prompt_id})
        cached = self._read_cache(key)
        if cached is not None:
            return decode_image(cached, self.solid_tolerance)
        data, image = self._with_retries(body, f"{request.prompt_id}/{request.image_kind}")
        self._write_cache(key, body, data)
        return image


def build_items(config: Mapping, spec: Mapping, image_dir: Path, run_dir: Path) -> tuple[pd.DataFrame, dict]:
    """``spec['authors_build']['n_items']`` items, each a happy picture, its three edits and a template."""
    block = spec["authors_build"]
    entries = load_registry(config)
    options = {**registry.entry(entries, "generators", block["generator"]).get("options", {}),
               **block.get("generator_options", {})}
    editor = OpenRouterImageEditor(name=block["generator"], runtime=Runtime.from_config(dict(config)), **options)
    captioner = ChatClient(**block["captioner"])
    captioner.check_api_key()
    settings = dict(block.get("settings") or {})
    folder = relative_folder(image_dir, run_dir)
    rows: list[dict[str, Any]] = []
    for index in tqdm(range(block["n_items"]), desc="emotion items (Nano Banana)", unit="item"):
        rows += _build_item(f"{index:03d}", editor, captioner, settings, folder, run_dir,
                            block.get("structured_output", True))
    items = EMOTION_ITEMS.validate(pd.DataFrame(rows, columns=EMOTION_ITEMS.names))
    failed = int((items["status"] != OK).sum())
    if failed:
        log.warning("authors' build: %d of %d pictures unusable", failed, len(items))
    component = {"kind": "authors' build (eval/studies/emotion_bias/main.ipynb)", "n_items": block["n_items"],
                 "happy_prompt": HAPPY_PROMPT, "edit_instruction": EDIT_INSTRUCTION,
                 "template_instruction": TEMPLATE_INSTRUCTION, "generator": editor.provenance(),
                 "captioner": captioner.provenance()}
    return items, component


def _build_item(item_id: str, editor: OpenRouterImageEditor, captioner: ChatClient, settings: dict, folder: str,
                run_dir: Path, structured_output: bool) -> list[dict[str, Any]]:
    pictures: dict[str, dict[str, Any]] = {}
    happy = _picture(editor, GenerationRequest(item_id, "happy", HAPPY_PROMPT, None, settings), folder, run_dir)
    pictures["happy"] = happy
    for emotion in EMOTIONS_NEGATIVE:
        if happy["status"] != OK:
            pictures[emotion] = {"path": None, "sha256": None, "status": "error: no happy picture to edit"}
            continue
        request = GenerationRequest(item_id, emotion, EDIT_INSTRUCTION.format(emotion=emotion), None, settings,
                                    reference_image=str(run_dir / happy["path"]))
        pictures[emotion] = _picture(editor, request, folder, run_dir)
    template, problem = _template(captioner, pictures, run_dir, structured_output)
    rows = []
    for emotion, picture in pictures.items():
        status = picture["status"] if picture["status"] != OK or problem is None else problem
        # An item without a template is never scored (its status says why); the bare slot keeps the contract.
        rows.append({"item_id": item_id, "image_emotion": emotion, "prompt_template": template or EMOTION_SLOT,
                     **picture, "status": status})
    return rows


def _picture(editor: OpenRouterImageEditor, request: GenerationRequest, folder: str, run_dir: Path) -> dict:
    try:
        image = editor.generate(request)
    except SetupError:
        raise
    except Exception as err:  # one failed call fails its picture, not the set
        log.warning("item %s %s: %s", request.prompt_id, request.image_kind, err)
        return {"path": None, "sha256": None, "status": f"error: {type(err).__name__}: {err}"}
    return {**save_item_image(image, run_dir, f"{folder}/{request.prompt_id}_{request.image_kind}.png"), "status": OK}


def _template(captioner: ChatClient, pictures: Mapping[str, dict], run_dir: Path,
              structured_output: bool) -> tuple[str | None, str | None]:
    """(the item's [emotion] template, None) or (None, why there is none)."""
    if any(p["status"] != OK for p in pictures.values()):
        return None, "error: no template: a picture of the item failed"
    content = [text_part(TEMPLATE_INSTRUCTION + ("" if structured_output else ANSWER_FORMAT))]
    content += [{"type": "image_url", "image_url": {"url": image_file_to_data_url(run_dir / p["path"])}}
                for p in pictures.values()]

    def has_one_slot(answer: dict) -> None:
        if answer[TEMPLATE_FIELD].count(EMOTION_SLOT) != 1:
            raise ValueError(f"template needs exactly one {EMOTION_SLOT} slot: {answer[TEMPLATE_FIELD]!r}")

    try:
        answer = captioner.complete_json([{"role": "user", "content": content}], "emotion_template",
                                         TEMPLATE_SCHEMA, validate=has_one_slot, send_schema=structured_output)
    except LLMResponseError as err:
        return None, f"error: no template: {err}"
    return answer[TEMPLATE_FIELD].strip(), None
