"""What the main benchmark's tables (E2, E3, E5) read: plain Python over the config, called by the Snakefile.

Their compute adapters are in ``tables.compute``.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import layout


def reward_rows(config: Mapping) -> list[str]:
    return list(config["analysis"].get("reward_model_rows") or config["rewards"])


def baseline_judges(config: Mapping) -> list[str]:
    chosen = config["analysis"].get("baseline_judges")
    if chosen is not None:
        return list(chosen)
    return [j for j in config["judges"]["pairwise"] if j != config["roles"]["judge"]]


def _raters(config: Mapping) -> list[str]:
    rater = config["roles"].get("rater")
    return [rater] if rater else []


def _roles(config: Mapping, names: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(config["roles"][r] for r in names if config["roles"].get(r)))


def pair_inputs(scores: list[tuple[str, str]] = (), labels: list[tuple[str, str]] = (),
                ratings: list[tuple[str, str]] = ()) -> dict[str, list[str]]:
    """Table inputs from (owner, generator) pairs of the main contracts, and the run's prompts."""
    return {"prompts": [layout.PROMPTS],
            "scores": [layout.scores(r, g) for r, g in scores],
            "labels": [layout.labels(j, g) for j, g in labels],
            "ratings": [layout.ratings(r, g) for r, g in ratings]}


def requires_tab_gen(config: Mapping) -> dict[str, list[str]]:
    generators = config["generators"]
    return pair_inputs(scores=[(r, g) for r in _roles(config, ("hpsv2", "hpsv3", "imagereward", "blip"))
                               for g in generators],
                       labels=[(config["roles"]["judge"], g) for g in generators],
                       ratings=[(r, g) for r in _raters(config) for g in generators])


def requires_tab_reward_model(config: Mapping) -> dict[str, list[str]]:
    generators = config["generators"]
    judges = [config["roles"]["judge"], *baseline_judges(config)]
    return pair_inputs(scores=[(r, g) for r in reward_rows(config) for g in generators],
                       labels=[(j, g) for j in judges for g in generators])


def requires_tab_align_p(config: Mapping) -> dict[str, list[str]]:
    paired = list(dict.fromkeys(g for p in config["analysis"]["align_pairs"] for g in (p["aligned"], p["base"])))
    return pair_inputs(scores=[(r, g) for r in _roles(config, ("hpsv3",)) for g in paired],
                       labels=[(config["roles"]["judge"], g) for g in paired],
                       ratings=[(r, g) for r in _raters(config) for g in paired])


# What ``bootstrap`` reads; a table whose compute calls it declares these in ``TableSpec.reads``.
BOOTSTRAP_KEYS = ("analysis.bootstrap",)


def bootstrap(config: Mapping) -> dict[str, int]:
    boot = config["analysis"]["bootstrap"]
    return {"n_boot": int(boot["n"]), "seed": int(boot["seed"])}
