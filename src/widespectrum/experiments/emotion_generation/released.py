"""The released E6 generation prompts (``weathon/anti_aesthetics_emotion``)."""

from __future__ import annotations

import re

import pandas as pd

from ...released.columns import find_column, text_value
from ...released.loading import ReleasedFormatError, Table, records
from ..emotion.measure import EMOTION_SLOT


def emotion_generation_prompts(table: Table) -> pd.DataFrame:
    """``weathon/anti_aesthetics_emotion``: 30 templates x 4 emotions.

    The released prompts are already filled in; the template of each is
    recovered by putting the slot back where the emotion word stands, which
    groups the four emotions of one template. Columns: prompt_id, template_id,
    emotion, prompt, prompt_template.
    """
    dataset = "weathon/anti_aesthetics_emotion"
    prompt_column = find_column(table, ("prompt", "text", "caption"), "the prompt", dataset)
    emotion_column = find_column(table, ("emotion", "label", "emotion_label"), "the emotion", dataset)
    templates: dict[str, int] = {}
    rows = []
    for row, record in enumerate(records(table, [prompt_column, emotion_column])):
        prompt = text_value(record[prompt_column], prompt_column, row, dataset)
        emotion = text_value(record[emotion_column], emotion_column, row, dataset).strip().lower()
        template, count = re.subn(rf"\b{re.escape(emotion)}\b", EMOTION_SLOT, prompt, count=1, flags=re.IGNORECASE)
        if not count:
            raise ReleasedFormatError(
                f"{dataset}: the prompt at row {row} does not contain its emotion {emotion!r}")
        template_id = templates.setdefault(template, len(templates))
        rows.append({"prompt_id": f"{row:04d}", "template_id": f"{template_id:03d}", "emotion": emotion,
                     "prompt": prompt, "prompt_template": template})
    frame = pd.DataFrame(rows, columns=["prompt_id", "template_id", "emotion", "prompt", "prompt_template"])
    repeated = frame[frame.duplicated(["template_id", "emotion"], keep=False)]
    if len(repeated):
        raise ReleasedFormatError(f"{dataset}: template {repeated['template_id'].iloc[0]} has emotion "
                                  f"{repeated['emotion'].iloc[0]!r} more than once")
    return frame
