"""E10 tables from the experiment's score files."""

from __future__ import annotations

from collections.abc import Mapping

from ...analysis.tables import TableResult
from ...contracts import CRITICAL_SCORES
from ...tables.inputs import TableInputs
from . import EXPERIMENT, analysis


def tab_critical_selection(inputs: TableInputs, config: Mapping) -> TableResult:
    spec = EXPERIMENT.block(config)
    columns = tuple(spec["columns"]) if spec.get("columns") else None
    return analysis.tab_critical_selection(inputs.frame("scores", CRITICAL_SCORES), pair=tuple(spec["pair"]),
                                         rewards=spec["rewards"], columns=columns)


def tab_critical_test(inputs: TableInputs, config: Mapping) -> TableResult:
    spec = EXPERIMENT.block(config)
    return analysis.tab_critical_test(inputs.frame("scores", CRITICAL_SCORES), pair=tuple(spec["pair"]),
                                    rewards=spec["rewards"], alternatives=spec.get("alternatives") or {})
