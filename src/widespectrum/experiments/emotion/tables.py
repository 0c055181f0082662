"""E6 classification tables from the experiment's score files."""

from __future__ import annotations

from collections.abc import Mapping

from ...analysis.tables import TableResult
from ...contracts import EMOTION_SCORES
from ...tables.benchmark import bootstrap
from ...tables.inputs import TableInputs
from . import EXPERIMENT, analysis


def tab_emotion(inputs: TableInputs, config: Mapping) -> TableResult:
    spec = EXPERIMENT.block(config)
    return analysis.tab_emotion(inputs.frame("scores", EMOTION_SCORES), rewards=spec["rewards"], **bootstrap(config))


def fig_emotion_bias(inputs: TableInputs, config: Mapping) -> TableResult:
    spec = EXPERIMENT.block(config)
    return analysis.fig_emotion_bias(inputs.frame("scores", EMOTION_SCORES), rewards=spec["rewards"],
                                   **bootstrap(config))
