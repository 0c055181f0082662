"""E7 table from the experiment's score files."""

from __future__ import annotations

from collections.abc import Mapping

from ...analysis.tables import TableResult
from ...contracts import AVA_SCORES
from ...tables.benchmark import bootstrap
from ...tables.inputs import TableInputs
from . import EXPERIMENT, analysis


def fig_diff(inputs: TableInputs, config: Mapping) -> TableResult:
    return analysis.fig_diff(inputs.frame("scores", AVA_SCORES), reward=EXPERIMENT.block(config)["reward"],
                           **bootstrap(config))
