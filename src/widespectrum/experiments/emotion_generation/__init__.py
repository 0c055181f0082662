"""E6 generation (tab:emotion_gen): emotion-neutral templates x four emotions, rendered, face-cropped, scored.

A detector crops the face and a reward (BLIP in the paper) scores
"The face shows [emotion] expression" on the crop.
"""

from __future__ import annotations

import inspect

from ... import registry
from ...tables.benchmark import BOOTSTRAP_KEYS
from ...tables.spec import TableSpec
from ..base import Experiment


def _scores(config):
    return {"scores": EXPERIMENT.score_files(config)}


class EmotionGeneration(Experiment):
    name = "emotion_generation"
    prompt_keys = ("source", "templates_file", "n_templates", "released", "reference_images")
    renders_key = "generators"
    rewards_key = "reward"
    tables = {
        "tab_emotion_gen": TableSpec(
            compute="widespectrum.experiments.emotion_generation.tables:tab_emotion_gen", requires=_scores,
            experiment="emotion_generation", reads=BOOTSTRAP_KEYS, section="E6", published="tab_emotion_gen",
            caption="mean face-crop score of 'The face shows [emotion] expression' per generator and emotion"),
    }

    def prompt_inputs(self, config):
        spec = self.block(config)
        return [spec["templates_file"]] if spec["source"] == "templates_file" else []

    def score_spec(self, config):
        return {"cropper": self.block(config)["cropper"]}

    def score_needs_gpu(self, config):
        return bool(self.block(config)["cropper"].get("gpu", False))

    def problems(self, config, registry_entries):
        loader = self.block(config)["cropper"]["loader"]
        croppers = registry.LOADERS.get("croppers", {})
        if loader not in croppers and ":" not in loader:
            return [f"{self.key()}.cropper.loader: unknown cropper {loader!r}; use one of "
                    f"{sorted(croppers)} or 'package.module:Class'"]
        return []

    def build_prompts(self, config, inputs):
        return self.module("steps").build_prompts(config, self.block(config))

    def score(self, config, model, runtime, run_dir, *, items=None, prompts=None, manifests=None):
        return self.module("steps").score(self.block(config), model, runtime, run_dir, prompts, manifests)


def build_cropper(spec, runtime):
    """The face cropper a ``cropper`` block names (``registry.LOADERS['croppers']`` or module:Class)."""
    cls = registry.resolve_class("croppers", spec["loader"])
    options = dict(spec.get("options") or {})
    # The demo's centre crop loads nothing and takes no runtime; detectors do.
    if "runtime" in inspect.signature(cls).parameters:
        options["runtime"] = runtime
    return cls(**options)


EXPERIMENT = EmotionGeneration()
