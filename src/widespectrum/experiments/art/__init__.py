"""E8 (tab:real_arts): how high does a reward model score real artworks on its own leaderboard?

Artworks (LAPIS in the paper) are scored under their captions (the released ones,
or a VLM's with ``captions: captioner``); their mean r is placed among the
reward's published leaderboard entries (docs/experiments.md#e8). A BLIP reward
scores them under true and deranged captions, the check that the captions fit.
"""

from __future__ import annotations

from ... import layout
from ...tables.benchmark import BOOTSTRAP_KEYS
from ...tables.spec import TableSpec
from ..base import Experiment

LEADERBOARD = "leaderboard.json"


def _inputs(config):
    board = [layout.experiment_file("art", LEADERBOARD)] if EXPERIMENT.external_files(config) else []
    return {"scores": EXPERIMENT.score_files(config), "leaderboard": board}


class Art(Experiment):
    name = "art"
    has_items = True
    item_keys = ("source", "n_items", "size", "released", "captions", "captioner")
    tables = {
        "tab_real_arts": TableSpec(
            compute="widespectrum.experiments.art.tables:tab_real_arts", requires=_inputs, experiment="art",
            reads=BOOTSTRAP_KEYS,
            n_columns={"blip_true_captions": "n_blip_true", "blip_shuffled_captions": "n_blip_shuffled"},
            section="E8", published="tab_real_arts",
            caption="mean reward of real artworks under their captions, placed on the reward's leaderboard; BLIP caption check"),
    }

    def released_score_rewards(self, config):
        spec = self.spec(config)
        if spec is None or spec.get("source") != "released":
            return []
        return list(spec.get("released_scores") or {})

    def scored_rewards(self, config):
        spec = self.block(config)
        released = set(self.released_score_rewards(config))
        wanted = [spec["reward"], *([spec["blip_reward"]] if spec.get("blip_reward") else [])]
        return [r for r in dict.fromkeys(wanted) if r not in released]

    def external_files(self, config):
        board = self.block(config).get("leaderboard_file")
        return {LEADERBOARD: board} if board else {}

    def problems(self, config, registry_entries):
        spec = self.block(config)
        if spec.get("released_scores") and spec["source"] != "released":
            return [f"{self.key()}.released_scores: needs source: released"]
        if spec.get("captions") == "captioner" and spec.get("released_scores"):
            # the released scores were computed under the released captions, not the captioner's
            return [f"{self.key()}.released_scores: must be empty with captions: captioner "
                    "(the reward scores the artworks under the new captions)"]
        return []

    def item_schema(self):
        return self.module("measure").ART_ITEMS

    def build_items(self, config, image_dir, run_dir):
        return self.module("steps").build_items(config, self.block(config), image_dir, run_dir)

    def score(self, config, model, runtime, run_dir, *, items=None, prompts=None, manifests=None):
        measure = self.module("measure")
        return measure.score_art(model, items, run_dir, config["seed"]), measure.ART_SCORES, {}

    def ingest_external(self, config, name, source, output):
        self.module("steps").write_leaderboard(source, self.block(config)["leaderboard_file"], output)

    def write_released_scores(self, config, items_file, output):
        return self.module("steps").released_scores(self.block(config), items_file, output)


EXPERIMENT = Art()
