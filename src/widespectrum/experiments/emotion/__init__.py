"""E6 classification (tab:emotion, fig:emotion_bias): a happy picture and its sad, angry and fearful edits.

Each picture is scored under the prompt asking for the negative emotion; the
reward should prefer the picture that shows it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...tables.benchmark import BOOTSTRAP_KEYS
from ...tables.spec import TableSpec
from ..base import Experiment


def _scores(config: Mapping) -> dict[str, list[str]]:
    return {"scores": EXPERIMENT.score_files(config)}


class Emotion(Experiment):
    name = "emotion"
    has_items = True
    item_keys = (*Experiment.item_keys, "authors_build")
    tables = {
        "tab_emotion": TableSpec(
            compute="widespectrum.experiments.emotion.tables:tab_emotion", requires=_scores, experiment="emotion",
            reads=BOOTSTRAP_KEYS,
            section="E6", published="tab_emotion",
            caption="accuracy of preferring the negative-emotion picture under the negative-emotion prompt"),
        "fig_emotion_bias": TableSpec(
            compute="widespectrum.experiments.emotion.tables:fig_emotion_bias", requires=_scores,
            experiment="emotion", reads=BOOTSTRAP_KEYS, section="E6",
            caption="per reward and emotion: mean score gap negative - happy, and accuracy"),
    }

    def released_score_rewards(self, config):
        spec = self.spec(config)
        if spec is None or spec.get("source") != "released":
            return []
        return list(spec.get("released_scores") or {})

    def scored_rewards(self, config):
        released = set(self.released_score_rewards(config))
        return [r for r in self.block(config)["rewards"] if r not in released]

    def problems(self, config, registry_entries):
        spec = self.block(config)
        problems = []
        if spec.get("released_scores") and spec["source"] != "released":
            problems.append(f"{self.key()}.released_scores: needs source: released")
        unlisted = [r for r in spec.get("released_scores") or {} if r not in spec["rewards"]]
        if unlisted:
            problems.append(f"{self.key()}.released_scores: {unlisted} not in rewards (the table's rows)")
        return problems

    def item_schema(self):
        return self.module("measure").EMOTION_ITEMS

    def build_items(self, config, image_dir, run_dir):
        if self.block(config)["source"] == "authors_build":
            return self.module("authors_build").build_items(config, self.block(config), image_dir, run_dir)
        return self.module("steps").build_items(config, self.block(config), image_dir, run_dir)

    def write_released_scores(self, config, items_file, output):
        return self.module("steps").released_scores(config, self.block(config), items_file, output)

    def score(self, config, model, runtime, run_dir, *, items=None, prompts=None, manifests=None):
        measure = self.module("measure")
        return measure.score_emotion_items(model, items, run_dir), measure.EMOTION_SCORES, {}


EXPERIMENT = Emotion()
