"""E6 generation table from the experiment's face-crop scores."""

from __future__ import annotations

from collections.abc import Mapping

from ...analysis.tables import TableResult
from ...contracts import FACE_SCORES
from ...tables.benchmark import bootstrap
from ...tables.inputs import TableInputs
from . import EXPERIMENT, analysis


def tab_emotion_gen(inputs: TableInputs, config: Mapping) -> TableResult:
    spec = EXPERIMENT.block(config)
    return analysis.tab_emotion_gen(inputs.frame("scores", FACE_SCORES), generators=spec["generators"],
                                  reward=spec["reward"], **bootstrap(config))
