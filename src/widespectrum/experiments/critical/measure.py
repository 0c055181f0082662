"""E10 ("Image New Speak"): critical prompts rendered by two generators, scored under the prompt.

Five topics of pointed, critical scenes. DanceFlux (aesthetically aligned) and
Flux Krea each render every prompt; the reward models score both images under
the prompt, and the tables count which image each reward prefers and test the
paired differences.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

import pandas as pd
import yaml

from ...contracts import CRITICAL_SCORES, records_to_frame
from ...scoring.base import RewardModel
from ..common import ScoreTask, manifest_loader, render_prompts, rendered_images, score_tasks

log = logging.getLogger(__name__)

TOPIC_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def load_critical_prompts(path: str | os.PathLike) -> pd.DataFrame:
    """The prompt file's ``topics`` mapping (topic -> list of prompts) as prompt_id, topic, prompt.

    Ids are '<topic>-<nn>' in file order, counting from 01.
    """
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    topics = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(topics, dict) or not topics:
        raise ValueError(f"{path}: expected a non-empty mapping under 'topics'")
    rows = []
    for topic, prompts in topics.items():
        if not isinstance(topic, str) or not TOPIC_KEY.match(topic):
            raise ValueError(f"{path}: topic {topic!r} is not a snake_case key")
        if not isinstance(prompts, list) or not prompts:
            raise ValueError(f"{path}: topic {topic!r} needs a non-empty list of prompts")
        for number, prompt in enumerate(prompts, start=1):
            if not isinstance(prompt, str) or not prompt.strip():
                raise ValueError(f"{path}: prompt {number} of topic {topic!r} is empty or not text")
            rows.append({"prompt_id": f"{topic}-{number:02d}", "topic": topic, "prompt": prompt.strip()})
    frame = pd.DataFrame(rows, columns=["prompt_id", "topic", "prompt"])
    repeated = frame["prompt"].duplicated()
    if repeated.any():
        raise ValueError(f"{path}: prompt {frame['prompt'][repeated].iloc[0]!r} appears twice")
    return frame


def critical_generation_prompts(frame: pd.DataFrame) -> pd.DataFrame:
    """The critical prompts as a PROMPTS-valid frame (extra columns topic, seed_key)."""
    rows = [{"prompt_id": row.prompt_id, "caption_id": row.prompt_id, "prompt": row.prompt,
             "seed_key": row.prompt_id, "topic": row.topic}
            for row in frame.sort_values("prompt_id", kind="stable").itertuples(index=False)]
    return render_prompts(rows, rewriter="critical_prompt")


def score_critical(
    reward: RewardModel, manifests: Mapping[str, pd.DataFrame], prompts: pd.DataFrame, run_dir: str | os.PathLike
) -> pd.DataFrame:
    """r(image, critical prompt) for every generator's image of every prompt (CRITICAL_SCORES).

    ``manifests`` maps each generator's name to its manifest; ``prompts`` is
    the frame ``load_critical_prompts`` returns.
    """
    tasks = []
    for generator, manifest in sorted(manifests.items()):
        named = set(manifest["generator"])
        if named - {generator}:
            raise ValueError(f"the manifest given as {generator!r} holds images of {sorted(named)}")
        images = rendered_images(manifest)
        for row in prompts.sort_values("prompt_id", kind="stable").itertuples(index=False):
            record = {"prompt_id": row.prompt_id, "topic": row.topic, "generator": generator, "reward": reward.name}
            tasks.append(ScoreTask(record, row.prompt, manifest_loader(run_dir, images.get(row.prompt_id))))
    records = score_tasks(reward, tasks, desc=f"critical x {reward.name}")
    return records_to_frame(records, CRITICAL_SCORES)
