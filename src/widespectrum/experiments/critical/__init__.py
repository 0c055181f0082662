"""E10 (tab:critical_selection, tab:critical_test): prompts that ask for critical content, rendered by a pair.

Each reward picks, per prompt, the picture of one model of the pair; the
tables count its picks and test them. With ``source: released`` the pair's
pictures come from the authors' set instead of being rendered here.
"""

from __future__ import annotations

from ...tables.spec import TableSpec
from ..base import Experiment


def _scores(config):
    return {"scores": EXPERIMENT.score_files(config)}


class Critical(Experiment):
    name = "critical"
    prompt_keys = ("prompts_file", "n_per_topic")
    released_render_keys = ("source", "released", "image_columns", "n_per_topic")
    renders_key = "pair"
    rewards_key = "rewards"
    tables = {
        "tab_critical_selection": TableSpec(
            compute="widespectrum.experiments.critical.tables:tab_critical_selection", requires=_scores,
            experiment="critical", section="E10", published="tab_critical_selection",
            caption="how often each reward prefers each model of the pair, per topic"),
        "tab_critical_test": TableSpec(
            compute="widespectrum.experiments.critical.tables:tab_critical_test", requires=_scores,
            experiment="critical", section="E10", published="tab_critical_test",
            caption="one-sided Wilcoxon tests of the pair's score differences, per reward"),
    }

    def renders_released(self, config):
        spec = self.spec(config)
        return spec is not None and spec.get("source") == "released"

    def named_entries(self, config):
        # A released pair only labels the released pictures: nothing loads it.
        named = super().named_entries(config)
        if self.renders_released(config):
            named = [entry for entry in named if not entry[0].startswith(f"{self.key()}.pair")]
        return named

    def prompt_inputs(self, config):
        return [self.block(config)["prompts_file"]]

    def problems(self, config, registry_entries):
        spec, problems = self.block(config), []
        for reward in spec.get("alternatives") or {}:
            if reward not in spec["rewards"]:
                problems.append(f"{self.key()}.alternatives: {reward!r} is not one of its rewards")
        named = sorted((spec.get("image_columns") or {}).values())
        if spec.get("source") == "released" and named != sorted(spec["pair"]):
            problems.append(f"{self.key()}.image_columns: names the generators {named}, "
                            f"not the pair {sorted(spec['pair'])}")
        return problems

    def build_prompts(self, config, inputs):
        return self.module("steps").build_prompts(self.block(config), self.renders_released(config))

    def released_renders(self, config, prompts_output, manifest_outputs, provenance_file=None):
        return self.module("steps").released_renders(config, self.block(config), prompts_output, manifest_outputs,
                                                     provenance_file)

    def score(self, config, model, runtime, run_dir, *, items=None, prompts=None, manifests=None):
        measure = self.module("measure")
        texts = prompts[["prompt_id", "topic"]].assign(prompt=prompts["prompt_original"])
        return measure.score_critical(model, manifests, texts, run_dir), measure.CRITICAL_SCORES, {}


EXPERIMENT = Critical()
