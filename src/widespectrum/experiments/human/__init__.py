"""Human check (human_validation): the pairwise judge's labels against human raters' pairwise answers."""

from __future__ import annotations

from ... import layout
from ...tables.spec import TableSpec
from ..reference_base import ReferenceExperiment


def _inputs(config):
    return {part: [layout.experiment_file("human", f"{part}.parquet")] for part in EXPERIMENT.reference_parts(config)}


class Human(ReferenceExperiment):
    name = "human"
    parts = {
        "answers": ("answers_file", ("pair_id", "rater_id", "answer")),
        "judge_labels": ("judge_labels_file", ("pair_id", "selected")),
    }
    tables = {
        "human_validation": TableSpec(
            compute="widespectrum.experiments.human.tables:human_validation", requires=_inputs,
            experiment="human", section="E4", published="human_validation",
            # raters is a count of its own, over every usable answer, not a measure of the pairs
            n_columns={"mae": "pairs", "quadratic_kappa": "pairs", "accuracy_tie_grouped_with_original": "pairs",
                       "accuracy_ties_removed": "n_pairs_ties_removed", "raters": None},
            caption="the pairwise judge against human raters' pairwise answers: MAE, quadratic kappa, accuracy"),
    }


EXPERIMENT = Human()
