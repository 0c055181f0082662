"""E11 (tab:vsf): mitigation by negative-prompt guidance (VSF, NAG) on p_a, against the plain generator.

Its block is the config's top-level ``vsf``; its generators render with the
main benchmark's prompts and are scored and rated by its rules.
"""

from __future__ import annotations

from ...tables.benchmark import pair_inputs
from ...tables.spec import TableSpec
from ..base import Experiment


def _inputs(config):
    variants = [v["generator"] for v in EXPERIMENT.block(config)["variants"]]
    roles = config["roles"]
    rewards = list(dict.fromkeys(roles[r] for r in ("hpsv3", "blip") if roles.get(r)))
    raters = [roles["rater"]] if roles.get("rater") else []
    return pair_inputs(scores=[(r, g) for r in rewards for g in variants],
                       ratings=[(r, g) for r in raters for g in variants])


class Vsf(Experiment):
    name = "vsf"
    top_level = True
    tables = {
        "tab_vsf": TableSpec(
            compute="widespectrum.experiments.vsf.tables:tab_vsf", requires=_inputs, experiment="vsf",
            section="E11", published="tab_vsf",
            caption="reward, selected-dimension J and BLIP of each mitigation variant and scale"),
    }

    def named_entries(self, config):
        return []  # its generators are checked with the run's (config.all_generators)


EXPERIMENT = Vsf()
