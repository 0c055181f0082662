"""Human check (human_validation): the judge's ratings and labels against human raters'."""

from __future__ import annotations

from ... import layout
from ...tables.spec import TableSpec
from ..reference_base import ReferenceExperiment


def _inputs(config):
    return {part: [layout.experiment_file("human", f"{part}.parquet")] for part in EXPERIMENT.reference_parts(config)}


class Human(ReferenceExperiment):
    name = "human"
    parts = {
        "ratings": ("ratings_file", ("rater_id", "image_id", "dimension", "rating")),
        "judge_ratings": ("judge_ratings_file", ("image_id", "dimension", "score")),
        "labels": ("labels_file", ("pair_id", "selected")),
        "judge_labels": ("judge_labels_file", ("pair_id", "selected")),
    }
    tables = {
        "human_validation": TableSpec(
            compute="widespectrum.experiments.human.tables:human_validation", requires=_inputs,
            experiment="human", section="E4", published="human_validation",
            caption="agreement of the judge with human raters: MAE, kappa, label accuracy"),
    }


EXPERIMENT = Human()
