"""Human-agreement table from the raters' pairwise answers and the pairwise judge's labels."""

from __future__ import annotations

from collections.abc import Mapping

from ...analysis.tables import TableResult
from ...tables.inputs import TableInputs
from . import EXPERIMENT, analysis


def human_validation(inputs: TableInputs, config: Mapping) -> TableResult:
    frames = {part: inputs.frame(part, None) if part in inputs.files else None for part in EXPERIMENT.parts}
    return analysis.human_agreement(frames["answers"], frames["judge_labels"],
                                  judge=EXPERIMENT.block(config).get("judge", "judge"))
