"""Compute adapters of the main benchmark's tables: the files ``benchmark.requires_*`` name -> ``analysis.tables``."""

from __future__ import annotations

from collections.abc import Mapping

from ..analysis import tables
from ..contracts import LABELS, PROMPTS, RATINGS, SCORES
from .benchmark import baseline_judges, bootstrap, reward_rows
from .inputs import TableInputs


def tab_gen(inputs: TableInputs, config: Mapping):
    roles, analysis = config["roles"], config["analysis"]
    scores = inputs.frame_or_empty("scores", SCORES)
    labels = inputs.by_owner("labels", LABELS).get(roles["judge"], LABELS.empty())
    ratings = inputs.frame_or_empty("ratings", RATINGS)
    return tables.tab_gen(scores, labels, ratings, inputs.optional("prompts", PROMPTS),
                          generators=config["generators"], roles=roles, j_dimensions=analysis["j_dimensions"],
                          **bootstrap(config))


def tab_reward_model(inputs: TableInputs, config: Mapping):
    scores = inputs.frame_or_empty("scores", SCORES)
    by_judge = inputs.by_owner("labels", LABELS)
    return tables.tab_reward_model(scores, by_judge, rewards=reward_rows(config), judge=config["roles"]["judge"],
                                   extra_judges=[j for j in baseline_judges(config) if j in by_judge],
                                   **bootstrap(config))


def tab_align_p(inputs: TableInputs, config: Mapping):
    roles, analysis = config["roles"], config["analysis"]
    scores = inputs.frame_or_empty("scores", SCORES)
    labels = inputs.by_owner("labels", LABELS).get(roles["judge"], LABELS.empty())
    ratings = inputs.frame_or_empty("ratings", RATINGS)
    return tables.tab_align_p(scores, labels, ratings, inputs.optional("prompts", PROMPTS),
                              pairs=[(p["aligned"], p["base"]) for p in analysis["align_pairs"]], roles=roles,
                              j_dimensions=analysis["j_dimensions"])
