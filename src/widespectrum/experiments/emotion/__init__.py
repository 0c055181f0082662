"""E6 classification (tab:emotion, fig:emotion_bias): a happy picture and its sad, angry and fearful edits.

Each picture is scored under the prompt asking for the negative emotion; the
reward should prefer the picture that shows it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ... import layout
from ...tables.spec import TableSpec
from ..base import Experiment


def _scores(config: Mapping) -> dict[str, list[str]]:
    return {"scores": [layout.experiment_scores("emotion", r) for r in EXPERIMENT.scored_rewards(config)]}


class Emotion(Experiment):
    name = "emotion"
    has_items = True
    item_keys = (*Experiment.item_keys, "authors_build")
    tables = {
        "tab_emotion": TableSpec(
            compute="widespectrum.experiments.emotion.tables:tab_emotion", requires=_scores, experiment="emotion",
            section="E6", published="tab_emotion",
            caption="accuracy of preferring the negative-emotion picture under the negative-emotion prompt"),
        "fig_emotion_bias": TableSpec(
            compute="widespectrum.experiments.emotion.tables:fig_emotion_bias", requires=_scores,
            experiment="emotion", section="E6",
            caption="per reward and emotion: mean score gap negative - happy, and accuracy"),
    }

    def scored_rewards(self, config):
        return list(self.block(config)["rewards"])

    def item_schema(self):
        return self.module("measure").EMOTION_ITEMS

    def build_items(self, config, image_dir, run_dir):
        if self.block(config)["source"] == "authors_build":
            return self.module("authors_build").build_items(config, self.block(config), image_dir, run_dir)
        return self.module("steps").build_items(config, self.block(config), image_dir, run_dir)

    def score(self, config, model, runtime, run_dir, *, items=None, prompts=None, manifests=None):
        measure = self.module("measure")
        return measure.score_emotion_items(model, items, run_dir), measure.EMOTION_SCORES, {}


EXPERIMENT = Emotion()
