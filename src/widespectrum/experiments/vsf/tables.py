"""E11 table from the variants' scores and ratings."""

from __future__ import annotations

from collections.abc import Mapping

from ...analysis.tables import TableResult
from ...contracts import PROMPTS, RATINGS, SCORES
from ...tables.benchmark import bootstrap
from ...tables.inputs import TableInputs
from . import EXPERIMENT, analysis


def tab_vsf(inputs: TableInputs, config: Mapping) -> TableResult:
    roles = config["roles"]
    return analysis.tab_vsf(inputs.frame_or_empty("scores", SCORES), inputs.frame_or_empty("ratings", RATINGS),
                          inputs.optional("prompts", PROMPTS), variants=EXPERIMENT.block(config)["variants"],
                          reward=roles.get("hpsv3"), blip_reward=roles.get("blip"), **bootstrap(config))
