"""E9 (tab:img2img): re-render a generator's low-scoring I_a with image-to-image models under p_a.

Its block is the config's top-level ``img2img``; rules/img2img.smk renders,
the main benchmark's rules score and rate.
"""

from __future__ import annotations

from ...tables.benchmark import BOOTSTRAP_KEYS
from ...tables.spec import TableSpec
from ..base import Experiment


def _inputs(config):
    return EXPERIMENT.benchmark_run_files(config)


class Img2Img(Experiment):
    name = "img2img"
    top_level = True
    run_reward_roles = ("hpsv3",)
    tables = {
        "tab_img2img": TableSpec(
            compute="widespectrum.experiments.img2img.tables:tab_img2img", requires=_inputs, experiment="img2img",
            reads=BOOTSTRAP_KEYS,
            section="E9", published="tab_img2img",
            caption="reward and J change of each img2img re-render against its input"),
    }

    def benchmark_runs(self, config):
        return list(self.block(config)["generators"])


EXPERIMENT = Img2Img()
