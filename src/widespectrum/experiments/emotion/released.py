"""The released E6 classification set (``weathon/emotion_bias_dataset``): items and the authors' own scores.

The set holds, per item, a prompt with an ``[emotion]`` slot, the happy picture
and its sad, angry and fearful edits, and the scores the authors computed
(eval/data/emotion.ipynb): for each negative emotion e and score s,
``{e}_{s}`` = r(I_e, p_e) and ``{e}_{s}_happy_image`` = r(I_happy, p_e), where
s is ``hpsv2`` (HPSv2.1, stored as a one-element list), ``hpsv3``,
``img_reward`` (ImageReward) or ``blip`` (the raw BLIP ITM match logit, which
is what the paper's BLIP row compares).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ...contracts import EMOTION_SCORES, EMOTIONS_NEGATIVE, OK, records_to_frame
from ...released.columns import text_value
from ...released.loading import ReleasedFormatError, Table, column_names, is_image_value, records
from .measure import EMOTION_SLOT

log = logging.getLogger(__name__)

DATASET = "weathon/emotion_bias_dataset"
BIAS_EMOTIONS = ("happy", "sad", "angry", "fearful")
# The authors' score stems in the set and the rewards that produced them (eval/data/emotion.ipynb:
# hpsv2.score(..., hps_version="v2.1"), ImageReward-v1.0, HPSv3, BLIP ITM logits).
RELEASED_SCORE_STEMS = ("hpsv2", "hpsv3", "img_reward", "blip")
STATUS_MISSING = "missing in released data"
STATUS_NONFINITE = "non-finite in released data"


def score_columns(stem: str, emotion: str) -> tuple[str, str]:
    """(column of r(I_e, p_e), column of r(I_happy, p_e)) of one score stem."""
    return f"{emotion}_{stem}", f"{emotion}_{stem}_happy_image"


def item_id(row: int) -> str:
    return f"{row:03d}"


def prompts_without_slot(templates: pd.Series) -> list[str]:
    """Item ids whose prompt lacks the ``[emotion]`` slot (some LLM-written prompts do)."""
    return [i for i, t in templates.items() if EMOTION_SLOT not in t]


def emotion_bias_items(table: Table) -> pd.DataFrame:
    """One item per row: columns item_id, prompt_template and images (emotion -> image).

    A prompt without the ``[emotion]`` slot is kept, as the authors kept it (their
    ``str.replace`` leaves it unchanged, so every picture is scored under the same
    prompt); ``prompts_without_slot`` counts them for the run's record.
    """
    image_columns = {emotion: f"{emotion}_image" for emotion in BIAS_EMOTIONS}
    missing = [c for c in ["prompt", *image_columns.values()] if c not in column_names(table)]
    if missing:
        raise ReleasedFormatError(f"{DATASET}: missing column(s) {missing}; present: {column_names(table)}")
    items = []
    for row, record in enumerate(records(table, ["prompt", *image_columns.values()])):
        template = text_value(record["prompt"], "prompt", row, DATASET)
        images = {}
        for emotion, column in image_columns.items():
            if not is_image_value(record[column]):
                raise ReleasedFormatError(f"{DATASET}: column {column!r} holds no image at row {row}")
            images[emotion] = record[column]
        items.append({"item_id": item_id(row), "prompt_template": template, "images": images})
    frame = pd.DataFrame(items, columns=["item_id", "prompt_template", "images"])
    slotless = prompts_without_slot(frame.set_index("item_id")["prompt_template"])
    if slotless:
        log.warning("%s: %d prompt(s) without the %s slot (items %s); kept, scored under the prompt as written",
                    DATASET, len(slotless), EMOTION_SLOT, slotless)
    return frame


def released_score_value(value: Any, column: str, row: int) -> float | None:
    """A released per-item score: a number or a one-element list (hpsv2.score returns a list); None when absent."""
    if isinstance(value, list):
        if len(value) != 1:
            raise ReleasedFormatError(
                f"{DATASET}: column {column!r} at row {row}: expected a number or a one-element list, "
                f"got {len(value)} values")
        value = value[0]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReleasedFormatError(f"{DATASET}: column {column!r} at row {row} is not a score: {value!r}")
    return float(value)


def released_emotion_scores(table: Table, released_scores: Mapping[str, str]) -> tuple[pd.DataFrame, dict]:
    """EMOTION_SCORES of the rewards that ``released_scores`` (reward name -> score stem) maps to the
    set's score columns, and a record (rows read, prompts without the slot, rows per status).

    An absent value is a row with status "missing in released data"; a non-finite one "non-finite in
    released data". Unknown stems and missing columns are errors naming them.
    """
    unknown = sorted(set(released_scores.values()) - set(RELEASED_SCORE_STEMS))
    if unknown:
        raise ReleasedFormatError(f"{DATASET}: unknown score stem(s) {unknown}; known: {list(RELEASED_SCORE_STEMS)}")
    wanted = [c for stem in released_scores.values() for e in EMOTIONS_NEGATIVE for c in score_columns(stem, e)]
    present = column_names(table)
    missing = [c for c in ["prompt", *wanted] if c not in present]
    if missing:
        raise ReleasedFormatError(f"{DATASET}: missing score column(s) {missing}; present: {present}")
    rows = []
    data = records(table, ["prompt", *wanted])
    for row, record in enumerate(data):
        for reward, stem in released_scores.items():
            for emotion in EMOTIONS_NEGATIVE:
                for column, image_emotion in zip(score_columns(stem, emotion), (emotion, "happy")):
                    score = released_score_value(record[column], column, row)
                    status = OK
                    if score is None:
                        status = STATUS_MISSING
                    elif score != score or score in (float("inf"), float("-inf")):
                        score, status = None, STATUS_NONFINITE
                    rows.append({"item_id": item_id(row), "emotion": emotion, "image_emotion": image_emotion,
                                 "reward": reward, "score": score, "status": status})
    frame = records_to_frame(rows, EMOTION_SCORES)
    templates = pd.Series([r["prompt"] for r in data], index=[item_id(i) for i in range(len(data))], dtype=object)
    slotless = prompts_without_slot(templates.fillna(""))
    record = {"dataset": DATASET, "rows": len(data), "released_scores": dict(released_scores),
              "prompts_without_slot": len(slotless), "items_without_slot": slotless,
              "status_counts": {str(k): int(v) for k, v in frame["status"].value_counts().items()}}
    return frame, record
