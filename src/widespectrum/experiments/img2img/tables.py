"""E9 table from the re-renders' scores and ratings."""

from __future__ import annotations

from collections.abc import Mapping

from ...analysis.tables import TableResult
from ...contracts import PROMPTS, RATINGS, SCORES
from ...tables.benchmark import bootstrap
from ...tables.inputs import TableInputs
from . import EXPERIMENT, analysis


def tab_img2img(inputs: TableInputs, config: Mapping) -> TableResult:
    return analysis.tab_img2img(inputs.frame_or_empty("scores", SCORES), inputs.frame_or_empty("ratings", RATINGS),
                              inputs.optional("prompts", PROMPTS), generators=EXPERIMENT.block(config)["generators"],
                              reward=config["roles"].get("hpsv3"), j_dimensions="all", **bootstrap(config))
