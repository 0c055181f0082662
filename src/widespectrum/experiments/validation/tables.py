"""E4 table from the user's prediction and ground-truth files."""

from __future__ import annotations

from collections.abc import Mapping

from ...analysis.tables import TableResult
from ...tables.inputs import TableInputs
from . import EXPERIMENT, analysis


def tab_val(inputs: TableInputs, config: Mapping) -> TableResult:
    frames = {part: inputs.frame(part, None) if part in inputs.files else None for part in EXPERIMENT.parts}
    return analysis.judge_validation(frames["pred"], frames["truth"], judge=EXPERIMENT.block(config).get("judge", "judge"))
