"""E9 (tab:img2img): re-render a generator's low-scoring I_a with image-to-image models under p_a.

Its block is the config's top-level ``img2img``; rules/img2img.smk renders,
the main benchmark's rules score and rate.
"""

from __future__ import annotations

from ...tables.benchmark import pair_inputs
from ...tables.spec import TableSpec
from ..base import Experiment


def _inputs(config):
    runs = list(EXPERIMENT.block(config)["generators"])
    roles = config["roles"]
    hpsv3 = [roles["hpsv3"]] if roles.get("hpsv3") else []
    raters = [roles["rater"]] if roles.get("rater") else []
    return pair_inputs(scores=[(r, g) for r in hpsv3 for g in runs], ratings=[(r, g) for r in raters for g in runs])


class Img2Img(Experiment):
    name = "img2img"
    top_level = True
    tables = {
        "tab_img2img": TableSpec(
            compute="widespectrum.experiments.img2img.tables:tab_img2img", requires=_inputs, experiment="img2img",
            section="E9", published="tab_img2img",
            caption="reward and J change of each img2img re-render against its input"),
    }

    def named_entries(self, config):
        return []  # its generators are checked with the run's (config.all_generators)


EXPERIMENT = Img2Img()
