"""E12 table from the main benchmark's scores and ratings."""

from __future__ import annotations

from collections.abc import Mapping

from ...analysis import experiments as tables
from ...analysis.tables import TableResult
from ...contracts import RATINGS, SCORES
from ...tables.inputs import TableInputs
from . import regressed_rewards


def fig_slopes(inputs: TableInputs, config: Mapping) -> TableResult:
    scores = inputs.frame("scores", SCORES)
    ratings = inputs.frame("ratings", RATINGS)
    if not inputs.files.get("ratings"):
        inputs.notes.append("roles.rater is not set: no per-dimension ratings to regress on")
    rewards, blip = regressed_rewards(config)
    if blip is None:
        inputs.notes.append("no BLIP reward (experiments.slopes.blip_reward or roles.blip): every coefficient is NaN")
    return tables.fig_slopes(scores, ratings, rewards=rewards, blip_reward=blip)
