"""E4 (tab:val): the per-dimension judge against ground-truth ratings (VisionReward's validation split)."""

from __future__ import annotations

from ... import layout
from ...tables.spec import TableSpec
from ..reference_base import ReferenceExperiment


def _inputs(config):
    return {part: [layout.experiment_file("validation", f"{part}.parquet")]
            for part in EXPERIMENT.reference_parts(config)}


class Validation(ReferenceExperiment):
    name = "validation"
    parts = {
        "pred": ("pred_file", ("image_id", "dimension", "score")),
        "truth": ("truth_file", ("image_id", "dimension", "label")),
    }
    tables = {
        "tab_val": TableSpec(
            compute="widespectrum.experiments.validation.tables:tab_val", requires=_inputs, experiment="validation",
            section="E4", published="tab_val", caption="the judge's per-dimension ratings against ground truth"),
    }


EXPERIMENT = Validation()
