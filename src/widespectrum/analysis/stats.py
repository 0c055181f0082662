"""Statistical tests and resampling used by the paper's tables (E5, E10, docs/experiments.md).

Every test returns a JSON-ready record (plain ``int``/``float``/``str``) that
names the library version and the method actually used, so a number in a
table can be traced to the exact computation behind it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy
import statsmodels
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar as statsmodels_mcnemar

logger = logging.getLogger(__name__)

ALTERNATIVES = ("two-sided", "greater", "less")
# Below this many discordant pairs the chi-square approximation of McNemar's
# test is poor; statsmodels' documentation and common practice use 25.
MCNEMAR_EXACT_BELOW = 25


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {list(ALTERNATIVES)}, got {alternative!r}")


def _paired_differences(x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of equal length, got shapes {x.shape} and {y.shape}")
    d = x - y
    if not np.isfinite(d).all():
        raise ValueError(
            f"{int((~np.isfinite(d)).sum())} pair(s) have a missing or infinite value: "
            "drop incomplete pairs before testing"
        )
    return d


def tied_groups(values: np.ndarray) -> int:
    """Number of distinct values that occur more than once."""
    _, counts = np.unique(values, return_counts=True)
    return int((counts > 1).sum())


def wilcoxon_one_sided(
    x: Sequence[float],
    y: Sequence[float],
    alternative: str = "greater",
    zero_method: str = "wilcox",
    correction: bool = True,
) -> dict[str, Any]:
    """Paired Wilcoxon signed-rank test of ``x - y`` with its normal-approximation Z.

    Runs ``scipy.stats.wilcoxon(..., method="approx")``; scipy maps "approx" to
    "asymptotic", whose result carries ``zstatistic``:
    ``(W+ - n(n+1)/4 - s * 0.5) / sigma`` with ``W+`` the rank sum of the
    positive differences, ``sigma**2 = n(n+1)(2n+1)/24 - sum(t**3 - t)/48``
    over tied groups of size t, and the continuity correction ``s * 0.5``
    moving ``W+`` towards its mean (s = +1 for "greater", -1 for "less").
    For "two-sided" scipy reports ``-|z|``; the sign is restored here so that
    Z > 0 always means x tends to exceed y.

    Effect size ``r = Z / sqrt(n)`` with n the pairs that entered the ranks
    (zeros dropped under ``zero_method="wilcox"``). Twenty pairs all favouring
    x give r = 0.8723, the value E10 quotes (docs/experiments.md). The paper prints r of
    tab:align_p negative when the aligned model is higher (its test ran as
    base vs aligned); that sign is the table function's business, not this one's.

    Returns a record with keys test, scipy_version, method_requested,
    method_used, alternative, zero_method, correction, n, n_total,
    zeros_dropped, ties (tied groups of non-zero |d|), W (= W+, for every
    alternative), Z, p, r.
    """
    _check_alternative(alternative)
    d = _paired_differences(x, y)
    zeros = int((d == 0).sum())
    drops_zeros = zero_method == "wilcox"
    n = int(d.size - zeros) if drops_zeros else int(d.size)
    record: dict[str, Any] = {
        "test": "wilcoxon_signed_rank",
        "scipy_version": scipy.__version__,
        "method_requested": "approx",
        "method_used": "asymptotic",
        "alternative": alternative,
        "zero_method": zero_method,
        "correction": bool(correction),
        "n": n,
        "n_total": int(d.size),
        "zeros_dropped": zeros if drops_zeros else 0,
        "ties": tied_groups(np.abs(d[d != 0])),
    }
    if not np.any(d):
        # No non-zero difference: the test has nothing to rank.
        logger.info("Wilcoxon test on %d pair(s) without a non-zero difference", d.size)
        return record | {"W": math.nan, "Z": math.nan, "p": math.nan, "r": math.nan}

    result = scipy_stats.wilcoxon(
        d, zero_method=zero_method, correction=correction, alternative=alternative, method="approx"
    )
    z = float(result.zstatistic)
    if alternative == "two-sided":
        z = math.copysign(abs(z), _positive_rank_excess(d, zero_method))
    w = float(result.statistic)
    if alternative == "two-sided":
        w = _positive_rank_sum(d, zero_method)  # scipy reports min(W+, W-) here
    return record | {"W": w, "Z": z, "p": float(result.pvalue), "r": z / math.sqrt(n)}


def _positive_rank_sum(d: np.ndarray, zero_method: str) -> float:
    ranked = d[d != 0] if zero_method == "wilcox" else d
    ranks = scipy_stats.rankdata(np.abs(ranked))
    total = ranks[ranked > 0].sum()
    if zero_method == "zsplit":
        total += ranks[ranked == 0].sum() / 2
    return float(total)


def _positive_rank_excess(d: np.ndarray, zero_method: str) -> float:
    """W+ minus W-: its sign says which side the ranks lean to."""
    ranked = d[d != 0] if zero_method == "wilcox" else d
    ranks = scipy_stats.rankdata(np.abs(ranked))
    return float(ranks[ranked > 0].sum() - ranks[ranked < 0].sum())


def mcnemar_test(
    a_success: Sequence[bool],
    b_success: Sequence[bool],
    exact: bool | None = None,
    alternative: str = "two-sided",
    correction: bool = True,
) -> dict[str, Any]:
    """McNemar's test of paired successes of a and b.

    ``b`` counts pairs where only a succeeded, ``c`` pairs where only b did.
    Two-sided (default): statsmodels' ``mcnemar``; ``exact=None`` picks the
    exact binomial test when ``b + c < 25`` and otherwise the chi-square test
    with continuity correction. One-sided: the exact binomial test of ``b`` in
    ``b + c`` trials at 1/2; ``alternative="less"`` means a's success rate is
    below b's (p = P(X <= b)), "greater" the reverse.

    tab:align_p prints 0.57 for SD3.5M-PickScore vs SD3.5M while tab:gen gives
    the aligned model the lower success rate (0.687 vs 0.707). A one-sided
    "less" p is below 1/2 whenever c > b, so the published value can only be
    two-sided: that is the default here.
    """
    _check_alternative(alternative)
    a = np.asarray(a_success, dtype=bool)
    b_arr = np.asarray(b_success, dtype=bool)
    if a.shape != b_arr.shape or a.ndim != 1:
        raise ValueError(f"success arrays must be 1-D and of equal length, got {a.shape} and {b_arr.shape}")
    only_a = int((a & ~b_arr).sum())
    only_b = int((~a & b_arr).sum())
    discordant = only_a + only_b
    if exact is None:
        exact = alternative != "two-sided" or discordant < MCNEMAR_EXACT_BELOW
    if alternative != "two-sided" and not exact:
        raise ValueError("the one-sided McNemar test is implemented as the exact binomial test only")
    record: dict[str, Any] = {
        "test": "mcnemar",
        "statsmodels_version": statsmodels.__version__,
        "scipy_version": scipy.__version__,
        "alternative": alternative,
        "exact": bool(exact),
        "n": int(a.size),
        "b": only_a,
        "c": only_b,
        "both_success": int((a & b_arr).sum()),
        "both_failure": int((~a & ~b_arr).sum()),
        "success_rate_a": float(a.mean()) if a.size else math.nan,
        "success_rate_b": float(b_arr.mean()) if a.size else math.nan,
    }
    if discordant == 0:
        # No pair tells a from b: nothing against the null hypothesis.
        return record | {"method": "no discordant pairs", "statistic": math.nan, "p": 1.0}
    if alternative == "two-sided":
        table = np.array([[record["both_success"], only_a], [only_b, record["both_failure"]]])
        result = statsmodels_mcnemar(table, exact=exact, correction=correction)
        method = (
            "exact binomial, two-sided (statsmodels)"
            if exact
            else f"chi2{' with continuity correction' if correction else ''} (statsmodels)"
        )
        return record | {"method": method, "statistic": float(result.statistic), "p": float(result.pvalue)}
    result = scipy_stats.binomtest(only_a, discordant, 0.5, alternative=alternative)
    return record | {
        "method": f"exact binomial, one-sided {alternative} (scipy.stats.binomtest)",
        "statistic": float(only_a),
        "p": float(result.pvalue),
    }


def stars(p: float, digits: int = 2) -> str:
    """The paper's significance mark: "**" for p < 1e-10, "*" for p < 1e-5, else p itself.

    p is printed with ``digits`` decimals, or in scientific notation where that
    would round it to zero.
    """
    if p is None or math.isnan(p):
        return "n/a"
    if p < 1e-10:
        return "**"
    if p < 1e-5:
        return "*"
    if p >= 10.0 ** -digits:
        return f"{p:.{digits}f}"
    return f"{p:.1e}"


# ---------------------------------------------------------------- bootstrap

def bootstrap_rows(size: int, *, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Row indices of ``n_boot`` resamples of ``size`` rows, shape (n_boot, size).

    Drawn in one call from ``numpy.random.default_rng(seed)``; numpy's stream
    does not depend on how draws are batched, so row i is what the i-th of
    ``n_boot`` successive ``rng.integers(0, size, size=size)`` calls gives.
    """
    return np.random.default_rng(seed).integers(0, size, size=(n_boot, size))


def _binary(values: np.ndarray, what: str) -> np.ndarray:
    """``values == 1`` after checking that every value is 0 or 1."""
    if not np.isin(values, (0, 1)).all():
        raise ValueError(f"{what} must hold only 0 and 1, got {np.unique(values).tolist()}")
    return values == 1


def resampled_mean(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mean of ``values`` on each resample (one per row of ``rows``)."""
    return np.asarray(values, dtype=np.float64)[rows].mean(axis=1)


def resampled_accuracy(y_true: np.ndarray, y_pred: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Share of rows with ``y_true == y_pred`` on each resample."""
    return (np.asarray(y_true) == np.asarray(y_pred))[rows].mean(axis=1)


def resampled_f1(y_true: np.ndarray, y_pred: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Binary F1 = 2TP / (2TP + FP + FN) of class 1 on each resample.

    A resample with neither a true nor a predicted positive gets 0, as
    sklearn's ``f1_score(..., zero_division=0)`` gives it.
    """
    truth = _binary(np.asarray(y_true), "y_true")
    predicted = _binary(np.asarray(y_pred), "y_pred")
    twice_tp = 2 * (truth & predicted)[rows].sum(axis=1)
    # 2TP + FP + FN = (TP + FN) + (TP + FP): the true plus the predicted positives.
    denominator = truth[rows].sum(axis=1) + predicted[rows].sum(axis=1)
    return np.divide(twice_tp, denominator, out=np.zeros(len(rows)), where=denominator > 0)


def resampled_auroc(y_true: np.ndarray, score: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """AUROC of ``score`` for class 1 on each resample; NaN where one class is missing.

    The Mann-Whitney U with average ranks for ties, U / (n_pos * n_neg), where
    U = R_pos - n_pos (n_pos + 1) / 2 over average ranks. U equals the number
    of resampled positive-negative pairs in which the positive scores higher,
    plus half those in which they tie; that count needs only how often each
    resample draws each distinct score from each class, so no resample is
    sorted (ranking every row of a 1,000 x 2,700 resample matrix takes about
    ten times as long), and 2U is an exact integer.
    """
    positive = _binary(np.asarray(y_true), "y_true")
    score = np.asarray(score, dtype=np.float64)
    if not np.isfinite(score).all():
        raise ValueError("score has a missing or infinite value")
    positives, negatives = _draws_per_score(rows, score, positive)
    negatives_below = np.cumsum(negatives, axis=1) - negatives
    twice_u = (positives * (2 * negatives_below + negatives)).sum(axis=1)
    pairs = positives.sum(axis=1) * negatives.sum(axis=1)
    return np.divide(twice_u, 2 * pairs, out=np.full(len(rows), np.nan), where=pairs > 0)


def _draws_per_score(rows: np.ndarray, score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How often each resample draws a positive and a negative row of each distinct score.

    Two (n_resamples, n_distinct_scores) count matrices, scores ascending.
    """
    distinct, level = np.unique(score, return_inverse=True)
    # One bincount for both classes: cell (resample, level, class) of a flat array.
    cell = 2 * level + positive
    offsets = np.arange(len(rows))[:, None] * (2 * len(distinct))
    counts = np.bincount((offsets + cell[rows]).ravel(), minlength=len(rows) * 2 * len(distinct))
    counts = counts.reshape(len(rows), len(distinct), 2)
    return counts[:, :, 1], counts[:, :, 0]


# Statistics computed on all resamples at once: name -> (arity, function of (*arrays, rows)).
RESAMPLED_STATISTICS: dict[str, tuple[int, Callable[..., np.ndarray]]] = {
    "mean": (1, resampled_mean),
    "accuracy": (2, resampled_accuracy),
    "f1": (2, resampled_f1),
    "auroc": (2, resampled_auroc),
}


def bootstrap_ci(
    data: Sequence[float] | np.ndarray | tuple[np.ndarray, ...],
    statistic: str | Callable[..., float] | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Seeded percentile bootstrap confidence interval.

    ``data`` is one array (default statistic: its mean) or a tuple of equal-length
    arrays, e.g. ``(y_true, y_pred)``; rows are resampled jointly so paired
    metrics keep their pairing. ``statistic`` names one of
    ``RESAMPLED_STATISTICS`` ("mean", "accuracy", "f1", "auroc"), computed on
    all resamples at once, or is any callable, evaluated as
    ``statistic(*resampled)`` on each resample in turn. Both use the resamples
    of ``bootstrap_rows(n, n_boot=n_boot, seed=seed)``, so a named statistic and
    a callable computing the same thing give the same interval. Resamples where
    the statistic is undefined (NaN, e.g. AUROC with a single class drawn) are
    left out of the percentiles.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    arrays = tuple(np.asarray(a) for a in data) if isinstance(data, tuple) else (np.asarray(data),)
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"paired arrays differ in length: {sorted(lengths)}")
    size = lengths.pop()
    if statistic is None:
        if len(arrays) != 1:
            raise ValueError("give a statistic for paired arrays")
        statistic = "mean"
    if isinstance(statistic, str):
        _check_resampled_statistic(statistic, len(arrays))
    if size == 0:
        return math.nan, math.nan
    rows = bootstrap_rows(size, n_boot=n_boot, seed=seed)
    if isinstance(statistic, str):
        draws = RESAMPLED_STATISTICS[statistic][1](*arrays, rows)
    else:
        draws = np.array([statistic(*(a[resample] for a in arrays)) for resample in rows], dtype=np.float64)
    return _percentile_interval(draws, level)


def _check_resampled_statistic(name: str, n_arrays: int) -> None:
    if name not in RESAMPLED_STATISTICS:
        raise ValueError(f"unknown statistic {name!r}; named ones: {sorted(RESAMPLED_STATISTICS)}")
    arity = RESAMPLED_STATISTICS[name][0]
    if n_arrays != arity:
        raise ValueError(f"statistic {name!r} takes {arity} array(s), got {n_arrays}")


def _percentile_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    valid = draws[~np.isnan(draws)]
    if valid.size == 0:
        return math.nan, math.nan
    if valid.size < draws.size:
        logger.info("bootstrap: statistic undefined on %d of %d resamples", draws.size - valid.size, draws.size)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(valid, [tail, 100 - tail])
    return float(low), float(high)
