"""E11 (tab:vsf): mitigation by negative-prompt guidance (VSF, NAG) on p_a, against the plain generator.

Its block is the config's top-level ``vsf``; its generators render with the
main benchmark's prompts and are scored and rated by its rules.
"""

from __future__ import annotations

from ...tables.benchmark import BOOTSTRAP_KEYS
from ...tables.spec import TableSpec
from ..base import Experiment


def _inputs(config):
    return EXPERIMENT.benchmark_run_files(config)


class Vsf(Experiment):
    name = "vsf"
    top_level = True
    run_reward_roles = ("hpsv3", "blip")
    tables = {
        "tab_vsf": TableSpec(
            compute="widespectrum.experiments.vsf.tables:tab_vsf", requires=_inputs, experiment="vsf",
            reads=BOOTSTRAP_KEYS,
            # scale and generator name the variant; they measure nothing
            n_columns={"j_s": "n_j", "scale": None, "generator": None},
            section="E11", published="tab_vsf",
            caption="reward, selected-dimension J and BLIP of each mitigation variant and scale"),
    }

    def benchmark_runs(self, config):
        return [v["generator"] for v in self.block(config)["variants"]]


EXPERIMENT = Vsf()
