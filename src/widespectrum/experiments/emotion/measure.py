"""E6: do reward models and generators honour a request for a negative emotion?

Classification (tab:emotion): every item has a happy picture and sad, angry
and fearful versions of it. Under the prompt asking for emotion e, the reward
should prefer I_e to I_happy; the table's accuracy is the share of items where
r(I_e, p_e) > r(I_happy, p_e).

Generation (tab:emotion_gen): emotion-neutral templates x four emotions are
rendered; a detector crops the face and a reward (BLIP in the paper) scores
"The face shows [emotion] expression" on the crop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import pandas as pd
import yaml

from ...contracts import EMOTIONS, EMOTIONS_NEGATIVE, FACE_SCORES, EMOTION_SCORES, Column, Schema, records_to_frame
from ...scoring.base import RewardModel
from ..common import (ITEM_STATUS, ScoreTask, Unscorable, item_loader, manifest_generator, manifest_loader,
               render_prompts, rendered_images, score_tasks)
from ..emotion_generation.faces import FaceCropper

log = logging.getLogger(__name__)

EMOTION_SLOT = "[emotion]"
FACE_TEMPLATE = "The face shows [emotion] expression"  # the paper's wording, verbatim

EMOTION_ITEMS = Schema(
    "emotion_items",
    (
        Column("item_id", "str"),
        Column("image_emotion", "str", allowed=EMOTIONS, doc="the emotion the picture shows"),
        Column("prompt_template", "str", doc="the item's prompt, with an [emotion] slot (a released prompt may lack it)"),
        Column("path", "str", nullable=True, doc="PNG path relative to the run folder"),
        Column("sha256", "str", nullable=True),
        ITEM_STATUS,
    ),
    "E6 classification: one row per item and emotion picture (happy, angry, fearful, sad)",
)


def emotion_prompt(template: str, emotion: str) -> str:
    """Fill the template's ``[emotion]`` slot, e.g. with "sad"."""
    if EMOTION_SLOT not in template:
        raise ValueError(f"template has no {EMOTION_SLOT} slot: {template!r}")
    if not emotion.strip():
        raise ValueError("emotion must not be empty")
    return template.replace(EMOTION_SLOT, emotion.strip())


def item_prompt(template: str, emotion: str) -> str:
    """An E6 classification item's prompt for ``emotion``: the slot filled, or the template as written
    when it has none (the authors' ``str.replace``; their released set has such prompts)."""
    return emotion_prompt(template, emotion) if EMOTION_SLOT in template else template


def face_prompt(emotion: str) -> str:
    return emotion_prompt(FACE_TEMPLATE, emotion)


# ---------------------------------------------------------------- classification

def _item_templates(items: pd.DataFrame) -> dict[str, str]:
    templates: dict[str, str] = {}
    for row in items.itertuples(index=False):
        known = templates.setdefault(row.item_id, row.prompt_template)
        if known != row.prompt_template:
            raise ValueError(f"item {row.item_id!r} has two prompt templates: {known!r} and {row.prompt_template!r}")
    return templates


def score_emotion_items(reward: RewardModel, items: pd.DataFrame, run_dir: str | os.PathLike) -> pd.DataFrame:
    """r(I_e, p_e) and r(I_happy, p_e) for every item and negative emotion e (EMOTION_SCORES)."""
    items = EMOTION_ITEMS.validate(items, where="given to score_emotion_items")
    pictures = {(row.item_id, row.image_emotion): row for row in items.itertuples(index=False)}
    if len(pictures) != len(items):
        raise ValueError("emotion items repeat an (item_id, image_emotion) pair")
    tasks = []
    templates = _item_templates(items)
    slotless = sorted(i for i, t in templates.items() if EMOTION_SLOT not in t)
    if slotless:
        log.warning("%d item prompt(s) without the %s slot, scored as written: %s", len(slotless), EMOTION_SLOT,
                    slotless)
    for item_id, template in sorted(templates.items()):
        for emotion in EMOTIONS_NEGATIVE:
            prompt = item_prompt(template, emotion)
            for image_emotion in (emotion, "happy"):
                record = {"item_id": item_id, "emotion": emotion, "image_emotion": image_emotion,
                          "reward": reward.name}
                loader = item_loader(run_dir, pictures.get((item_id, image_emotion)), f"{image_emotion} image")
                tasks.append(ScoreTask(record, prompt, loader))
    records = score_tasks(reward, tasks, desc=f"emotion x {reward.name}")
    return records_to_frame(records, EMOTION_SCORES)


# ---------------------------------------------------------------- generation

def load_emotion_templates(path: str | os.PathLike) -> list[str]:
    """The ``templates`` list of an emotion template file; each needs one [emotion] slot."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    templates = data.get("templates") if isinstance(data, dict) else None
    if not isinstance(templates, list) or not templates:
        raise ValueError(f"{path}: expected a non-empty list under 'templates'")
    for index, template in enumerate(templates):
        if not isinstance(template, str) or template.count(EMOTION_SLOT) != 1:
            raise ValueError(
                f"{path}: template {index} must be text with exactly one {EMOTION_SLOT} slot: {template!r}")
    if len(set(templates)) != len(templates):
        raise ValueError(f"{path}: templates repeat")
    return templates


def emotion_generation_prompts(templates: Sequence[str], emotions: Sequence[str] = EMOTIONS) -> pd.DataFrame:
    """Templates x emotions as a PROMPTS-valid frame (ids like 't07-sad').

    Extra columns: template_id, emotion, prompt_template and seed_key; the seed
    key is the template id, so a template's emotions share a seed and differ
    only in the emotion word.
    """
    unknown = [e for e in emotions if e not in EMOTIONS]
    if unknown:
        raise ValueError(f"unknown emotion(s) {unknown}; known: {list(EMOTIONS)}")
    rows = []
    for index, template in enumerate(templates):
        template_id = f"t{index:02d}"
        for emotion in emotions:
            rows.append({"prompt_id": f"{template_id}-{emotion}", "caption_id": template_id,
                         "prompt": emotion_prompt(template, emotion), "seed_key": template_id,
                         "template_id": template_id, "emotion": emotion, "prompt_template": template})
    return render_prompts(rows, rewriter="emotion_template")


def score_faces(
    reward: RewardModel, cropper: FaceCropper, manifest: pd.DataFrame, prompts: pd.DataFrame,
    run_dir: str | os.PathLike,
) -> pd.DataFrame:
    """Score "The face shows [emotion] expression" on the face crop of every rendered prompt (FACE_SCORES).

    ``prompts`` is the frame ``emotion_generation_prompts`` made (prompt_id and
    emotion are read); ``manifest`` is one generator's. No face found is a row
    with status "no face found".
    """
    generator = manifest_generator(manifest)
    images = rendered_images(manifest)
    tasks = []
    for row in prompts.sort_values("prompt_id", kind="stable").itertuples(index=False):
        record = {"generator": generator, "prompt_id": row.prompt_id, "emotion": row.emotion, "reward": reward.name}
        tasks.append(ScoreTask(record, face_prompt(row.emotion),
                               _face_loader(manifest_loader(run_dir, images.get(row.prompt_id)), cropper)))
    records = score_tasks(reward, tasks, desc=f"faces {generator} x {reward.name}")
    return records_to_frame(records, FACE_SCORES)


def _face_loader(load_image, cropper: FaceCropper):
    def load():
        face = cropper.crop(load_image())
        if face is None:
            raise Unscorable("no face found")
        return face

    return load
