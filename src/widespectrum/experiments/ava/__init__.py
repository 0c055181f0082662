"""E7 (fig:diff): deliberately anti-aesthetic photographs against a generator's render of their clean caption.

Both are scored under the anti-aesthetic caption; a reward that honoured the
caption would prefer the photograph.
"""

from __future__ import annotations

from ... import layout
from ...tables.benchmark import BOOTSTRAP_KEYS
from ...tables.spec import TableSpec
from ..base import Experiment


def _scores(config):
    return {"scores": EXPERIMENT.score_files(config)}


class Ava(Experiment):
    name = "ava"
    has_items = True
    renders_key = "generator"
    rewards_key = "reward"
    # where the release's captions come from: a new recaption source rebuilds the items
    item_keys = (*Experiment.item_keys, "recaptions")
    tables = {
        "fig_diff": TableSpec(
            compute="widespectrum.experiments.ava.tables:fig_diff", requires=_scores, experiment="ava",
            reads=BOOTSTRAP_KEYS,
            section="E7", published="fig_diff",
            caption="mean r(clean render) - r(anti-aesthetic photo) under the anti-aesthetic caption, per class"),
    }

    def prompt_run_inputs(self, config):
        return [layout.experiment_items(self.name)]

    def item_schema(self):
        return self.module("measure").AVA_ITEMS

    def build_items(self, config, image_dir, run_dir):
        return self.module("steps").build_items(config, self.block(config), image_dir, run_dir)

    def build_prompts(self, config, inputs):
        return self.module("steps").build_prompts(inputs[0])

    def score(self, config, model, runtime, run_dir, *, items=None, prompts=None, manifests=None):
        measure = self.module("measure")
        if len(manifests) != 1:
            raise ValueError(f"AVA scores one generator's renders, got manifests of {sorted(manifests)}")
        return measure.score_ava(model, items, next(iter(manifests.values())), run_dir), measure.AVA_SCORES, {}


EXPERIMENT = Ava()
