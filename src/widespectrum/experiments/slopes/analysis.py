"""E12 figure data (fig:slopes, docs/experiments.md#e12) as a pure function of the main benchmark's scores and ratings.

Conventions as in ``widespectrum.experiments.emotion.analysis``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.api as sm

from ...analysis.tables import PAIR_KEY, TableResult, _check_unique, _split_usable, exclusion_reasons
from ...contracts import RATINGS, SCORES
from ...prompts.dimensions import DIMENSIONS
from ..table_helpers import exclusions


def fig_slopes(
    scores: pd.DataFrame | None,
    ratings: pd.DataFrame | None,
    *,
    rewards: Sequence[str],
    blip_reward: str,
    alpha: float = 0.05,
) -> TableResult:
    """What does each reward respond to? (fig:slopes)

    Per reward: ordinary least squares (statsmodels, with an intercept) of
    r(I, p_o) on the 11 J(I, d) and the BLIP score r_blip(I, p_o), over both
    images of every pair of every generator (an image needs all 13 values).
    When the reward is the BLIP reward itself the blip term is left out.

    Long frame: reward, term (intercept, the dimension keys, blip), coef, se,
    t, p, significant (p < ``alpha``), n (images), r2.
    """
    notes: list[str] = []
    scores_ok, scores_rejected = _split_usable(scores, SCORES, "score", "given to fig_slopes")
    ratings_ok, ratings_rejected = _split_usable(ratings, RATINGS, "score", "given to fig_slopes")
    for name, frame in (("scores", scores), ("ratings", ratings)):
        if frame is None:
            notes.append(f"no {name} given: every coefficient is NaN")
    judge = _ratings_per_image(ratings_ok)
    blip = _scores_under_original(scores_ok, blip_reward)
    if scores is not None and blip.empty:
        notes.append(f"BLIP reward {blip_reward!r} has no usable r(I,p_o): every coefficient is NaN")
    rows = []
    score_counts, score_reasons = exclusions(scores_rejected, "reward")
    records: dict[str, Any] = {"statsmodels_version": statsmodels.__version__, "alpha": alpha,
                               "blip_reward": blip_reward, "models": {},
                               "excluded": {"scores": score_counts, "ratings": int(len(ratings_rejected))},
                               "excluded_because": {"scores": score_reasons,
                                                    "ratings": exclusion_reasons(ratings_rejected)}}
    with_blip = judge.join(blip.rename("blip"), how="inner")
    for reward in rewards:
        design = with_blip
        if reward == blip_reward:
            design = with_blip.drop(columns="blip")
            notes.append(f"reward {reward!r} is the BLIP reward: its regression has no blip term")
        response = _scores_under_original(scores_ok, reward).rename("response")
        data = design.join(response, how="inner").dropna()
        fit_rows, record = _fit_ols(reward, data, alpha, notes)
        rows += fit_rows
        records["models"][reward] = record
    frame = pd.DataFrame(rows, columns=["reward", "term", "coef", "se", "t", "p", "significant", "n", "r2"])
    return TableResult(frame.astype({"n": "int64", "significant": "bool"}), notes, records)


def _ratings_per_image(ratings_ok: pd.DataFrame) -> pd.DataFrame:
    _check_unique(ratings_ok, [*PAIR_KEY, "image_kind", "dimension"], "ratings")
    wide = ratings_ok.pivot(index=[*PAIR_KEY, "image_kind"], columns="dimension", values="score")
    return wide.reindex(columns=list(DIMENSIONS)).astype("float64")


def _scores_under_original(scores_ok: pd.DataFrame, reward: str) -> pd.Series:
    """r(I, p_o) of ``reward`` per (generator, prompt_id, image_kind)."""
    rows = scores_ok.loc[(scores_ok["reward"] == reward) & (scores_ok["prompt_kind"] == "o")]
    _check_unique(rows, [*PAIR_KEY, "image_kind"], f"r(I,p_o) of reward {reward!r}")
    index = pd.MultiIndex.from_frame(rows[[*PAIR_KEY, "image_kind"]])
    return pd.Series(rows["score"].to_numpy(dtype=np.float64), index=index, dtype="float64")


def _fit_ols(
    reward: str, data: pd.DataFrame, alpha: float, notes: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    regressors = [c for c in data.columns if c != "response"]
    terms = ["intercept", *regressors]
    n = len(data)
    if n <= len(terms):
        notes.append(f"reward {reward!r}: {n} complete image(s), too few for {len(terms)} coefficients: NaN")
        nan_rows = [{"reward": reward, "term": t, "coef": math.nan, "se": math.nan, "t": math.nan, "p": math.nan,
                     "significant": False, "n": n, "r2": math.nan} for t in terms]
        return nan_rows, {"n": n, "fitted": False}
    exog = sm.add_constant(data[regressors].to_numpy(dtype=np.float64), has_constant="add")
    fit = sm.OLS(data["response"].to_numpy(dtype=np.float64), exog).fit()
    rows = [{"reward": reward, "term": term, "coef": float(coef), "se": float(se), "t": float(t), "p": float(p),
             "significant": bool(p < alpha), "n": n, "r2": float(fit.rsquared)}
            for term, coef, se, t, p in zip(terms, fit.params, fit.bse, fit.tvalues, fit.pvalues, strict=True)]
    record = {"n": n, "fitted": True, "r2": float(fit.rsquared), "df_resid": float(fit.df_resid),
              "condition_number": float(fit.condition_number), "terms": terms}
    return rows, record
