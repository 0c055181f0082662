"""E10 tables (tab:critical_selection, tab:critical_test, docs/experiments.md#e10) as pure functions of the scores.

Conventions as in ``widespectrum.experiments.emotion.analysis``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ...analysis.stats import wilcoxon_one_sided
from ...analysis.tables import TableResult, _check_unique, _split_usable
from ...contracts import CRITICAL_SCORES
from ..table_helpers import exclusions, in_order, int_columns, snake_key


def _critical_pairs(
    critical_scores: pd.DataFrame | None,
    pair: tuple[str, str],
    rewards: Sequence[str] | None,
    notes: list[str],
) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    """Scores keyed (reward, prompt_id) with columns a and b (the two generators); prompts lacking one dropped.

    Also the rewards and the records of the pair's rows left out, ``excluded`` and ``excluded_because``.
    """
    a, b = pair
    usable, rejected = _split_usable(critical_scores, CRITICAL_SCORES, "score", "of the critical prompts")
    if critical_scores is None:
        notes.append("no critical-prompt scores given: every value is NaN")
    usable = usable.loc[usable["generator"].isin([a, b])]
    _check_unique(usable, ["reward", "prompt_id", "generator"], "critical-prompt scores")
    wide = usable.pivot(index=["reward", "prompt_id"], columns="generator", values="score")
    wide = wide.reindex(columns=[a, b]).astype("float64")
    unpaired = wide.loc[wide.isna().any(axis=1)].reset_index()
    if len(unpaired):
        notes.append(f"{len(unpaired)} (reward, prompt) combination(s) lack one generator's score "
                     "and are left out")
    if rewards is None:
        rewards = in_order(usable["reward"])
    for reward in rewards:
        if critical_scores is not None and not (usable["reward"] == reward).any():
            notes.append(f"reward {reward!r} has no usable critical-prompt scores: its row is NaN")
    counts, reasons = exclusions(rejected.loc[rejected["generator"].isin([a, b])], "reward")
    excluded = {"excluded": counts, "excluded_because": reasons}
    return wide.dropna().set_axis(["a", "b"], axis=1), list(rewards), excluded


def _of_reward(wide: pd.DataFrame, reward: str) -> pd.DataFrame:
    if reward not in wide.index.get_level_values("reward"):
        return wide.iloc[0:0].droplevel("reward")
    return wide.xs(reward, level="reward")


def tab_critical_selection(
    critical_scores: pd.DataFrame | None,
    *,
    pair: tuple[str, str],
    rewards: Sequence[str] | None = None,
    columns: tuple[str, str] | None = None,
) -> TableResult:
    """Which generator's image does each reward prefer on critical prompts? (tab:critical_selection)

    Per reward, over the prompts both generators of ``pair`` have: how often the
    first generator's image scores higher, how often the second's, and ties.
    ``columns`` names the two count columns (the paper:
    ``("danceflux_selected", "krea_selected")``); by default they are
    ``<generator>_selected`` in snake_case. Columns: reward, the two counts,
    ties, n, n_excluded.
    """
    notes: list[str] = []
    names = columns or tuple(f"{snake_key(g)}_selected" for g in pair)
    if len(names) != 2 or len(set(names)) != 2:
        raise ValueError(f"columns must be two distinct names, got {names}")
    wide, rewards, excluded = _critical_pairs(critical_scores, pair, rewards, notes)
    rows = []
    for reward in rewards:
        mine = _of_reward(wide, reward)
        rows.append({"reward": reward, names[0]: int((mine["a"] > mine["b"]).sum()),
                     names[1]: int((mine["b"] > mine["a"]).sum()), "ties": int((mine["a"] == mine["b"]).sum()),
                     "n": len(mine), "n_excluded": excluded["excluded"].get(reward, 0)})
    frame = pd.DataFrame(rows, columns=["reward", *names, "ties", "n", "n_excluded"])
    return TableResult(int_columns(frame), notes, {"pair": list(pair), **excluded})


def tab_critical_test(
    critical_scores: pd.DataFrame | None,
    *,
    pair: tuple[str, str],
    rewards: Sequence[str] | None = None,
    alternatives: Mapping[str, str] | None = None,
) -> TableResult:
    """Is the preference significant? (tab:critical_test)

    Per reward, a one-sided Wilcoxon signed-rank test of score(a) - score(b)
    over the prompts both generators of ``pair`` have: alternative "greater"
    (a higher) unless ``alternatives`` says "less" for that reward (the paper:
    BLIP, where Flux Krea is higher). effect_r = Z/sqrt(n) keeps the sign of
    the direction a - b, as printed: 20 prompts all favouring a give 0.8723,
    and BLIP's -0.8056 says b is higher. p_display prints p as the paper
    does ("<0.0001" below 1e-4, else four decimals).

    Columns: reward, p, effect_r, alternative, p_display, n (prompts ranked,
    zero differences dropped), n_pairs (prompts compared).
    ``records["tests"][reward]`` holds the full test record.
    """
    notes: list[str] = []
    alternatives = dict(alternatives or {})
    wide, rewards, excluded = _critical_pairs(critical_scores, pair, rewards, notes)
    rows = []
    records: dict[str, Any] = {"pair": list(pair), **excluded, "tests": {}}
    for reward in rewards:
        alternative = alternatives.get(reward, "greater")
        if alternative not in ("greater", "less"):
            raise ValueError(f"alternative for {reward!r} must be 'greater' or 'less', got {alternative!r}")
        mine = _of_reward(wide, reward)
        test = wilcoxon_one_sided(mine["a"], mine["b"], alternative=alternative)
        records["tests"][reward] = test
        rows.append({"reward": reward, "p": test["p"], "effect_r": test["r"], "alternative": alternative,
                     "p_display": p_display(test["p"]), "n": test["n"], "n_pairs": test["n_total"]})
    frame = pd.DataFrame(rows, columns=["reward", "p", "effect_r", "alternative", "p_display", "n", "n_pairs"])
    return TableResult(int_columns(frame), notes, records)


def p_display(p: float) -> str:
    """The critical test's p as printed: "<0.0001" or four decimals."""
    if p is None or math.isnan(p):
        return "n/a"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"
