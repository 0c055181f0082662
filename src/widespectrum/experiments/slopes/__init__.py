"""E12 (fig:slopes): regress each reward on the judge's per-dimension ratings of the main benchmark's images.

It reads the main benchmark's scores and ratings and needs no stage of its own.
"""

from __future__ import annotations

from ...tables.benchmark import pair_inputs
from ...tables.spec import TableSpec
from ..base import Experiment


def regressed_rewards(config) -> tuple[list[str], str | None]:
    """The rewards regressed, and the BLIP reward (the block's, else roles.blip)."""
    spec = EXPERIMENT.block(config)
    return list(spec.get("rewards") or config["rewards"]), spec.get("blip_reward") or config["roles"].get("blip")


def why_unavailable(config) -> str | None:
    """Why E12 cannot be fitted in this run: it needs BLIP under the original prompt, r_blip(I, p_o)."""
    _, blip = regressed_rewards(config)
    if blip is None:
        return "no BLIP reward (experiments.slopes.blip_reward or roles.blip) to regress on"
    if not config["roles"].get("rater"):
        return "roles.rater is not set: no per-dimension ratings to regress on"
    released = config.get("released") or {}
    if config.get("source") == "released" and not released.get("images"):
        # aas_benchmark_final's blip_score is under p_a only (docs/experiments.md#e12)
        return (f"the release has no BLIP score under p_o; set released.images: true so that {blip!r} "
                "is rescored from the released images")
    return None


def _inputs(config):
    rewards, blip = regressed_rewards(config)
    regressed = list(dict.fromkeys([*rewards, *([blip] if blip else [])]))
    rater = config["roles"].get("rater")
    inputs = pair_inputs(scores=[(r, g) for r in regressed for g in config["generators"]],
                         ratings=[(rater, g) for g in config["generators"]] if rater else [])
    return {"scores": inputs["scores"], "ratings": inputs["ratings"]}


class Slopes(Experiment):
    name = "slopes"
    tables = {
        "fig_slopes": TableSpec(
            compute="widespectrum.experiments.slopes.tables:fig_slopes", requires=_inputs, experiment="slopes",
            section="E12", caption="OLS coefficients of each reward on the per-dimension ratings",
            unavailable=why_unavailable),
    }

    def named_entries(self, config):
        return []  # its rewards are the run's, checked below

    def problems(self, config, registry_entries):
        spec, problems = self.block(config), []
        for reward in spec.get("rewards") or []:
            if reward not in config["rewards"]:
                problems.append(f"{self.key()}.rewards: {reward!r} is not one of the run's rewards")
        blip = spec.get("blip_reward")
        if blip is not None and blip not in config["rewards"]:
            problems.append(f"{self.key()}.blip_reward: {blip!r} is not one of the run's rewards")
        return problems


EXPERIMENT = Slopes()
