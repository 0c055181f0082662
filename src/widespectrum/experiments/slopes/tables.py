"""E12 table from the main benchmark's scores and ratings."""

from __future__ import annotations

from collections.abc import Mapping

from ...analysis.tables import TableResult
from ...contracts import RATINGS, SCORES
from ...tables.inputs import TableInputs
from . import analysis, regressed_rewards, why_unavailable


def fig_slopes(inputs: TableInputs, config: Mapping) -> TableResult:
    why = why_unavailable(config)
    if why:
        raise ValueError(f"fig_slopes cannot be made in this run: {why}")
    scores = inputs.frame("scores", SCORES)
    ratings = inputs.frame("ratings", RATINGS)
    rewards, blip = regressed_rewards(config)
    usable_blip = scores is not None and (scores["reward"].eq(blip) & scores["prompt_kind"].eq("o")
                                          & scores["status"].eq("ok") & scores["score"].notna()).any()
    if not usable_blip:
        # a table of NaN coefficients would read as a result; name the missing score instead
        raise ValueError(f"fig_slopes: no usable r(I, p_o) of the BLIP reward {blip!r} in "
                         f"{[str(p) for p in inputs.files.get('scores', [])][:3]}...; it regresses on it")
    return analysis.fig_slopes(scores, ratings, rewards=rewards, blip_reward=blip)
