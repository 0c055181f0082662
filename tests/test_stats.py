"""Statistical tests against independent computations and the paper's printed numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy
from scipy import stats as scipy_stats

from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from widespectrum.analysis.stats import (
    RESAMPLED_STATISTICS,
    bootstrap_ci,
    bootstrap_rows,
    mcnemar_test,
    resampled_accuracy,
    resampled_auroc,
    resampled_f1,
    resampled_mean,
    stars,
    wilcoxon_one_sided,
)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their positions (no scipy)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    while start < len(values):
        stop = start
        while stop + 1 < len(values) and sorted_values[stop + 1] == sorted_values[start]:
            stop += 1
        ranks[order[start:stop + 1]] = (start + stop) / 2 + 1
        start = stop + 1
    return ranks


def _textbook_z(d: np.ndarray, alternative: str) -> tuple[float, float, int]:
    """W+, the continuity-corrected, tie-corrected normal z, and n, zeros dropped."""
    d = d[d != 0]
    n = len(d)
    ranks = _average_ranks(np.abs(d))
    w_plus = ranks[d > 0].sum()
    _, counts = np.unique(np.abs(d), return_counts=True)
    variance = n * (n + 1) * (2 * n + 1) / 24 - (counts**3 - counts).sum() / 48
    excess = w_plus - n * (n + 1) / 4
    shift = {"greater": 0.5, "less": -0.5, "two-sided": 0.5 * np.sign(excess)}[alternative]
    return float(w_plus), float((excess - shift) / math.sqrt(variance)), n


def _normal_p(z: float, alternative: str) -> float:
    upper = 0.5 * math.erfc(z / math.sqrt(2))
    return {"greater": upper, "less": 1 - upper, "two-sided": 2 * min(upper, 1 - upper)}[alternative]


# Differences with zeros and tied |d| groups, leaning positive.
MESSY = np.array([1.0, 1.0, 2.0, -1.0, 0.0, 3.0, 3.0, 3.0, -2.0, 4.0, 5.0, 0.0, 6.5, -0.5, 7.0, 2.0, 8.0])


def test_twenty_pairs_all_favouring_x_give_the_published_effect_size():
    x = np.arange(1.0, 21.0) + 10.0
    y = np.full(20, 10.0) - np.linspace(0.0, 0.1, 20)
    record = wilcoxon_one_sided(x, y)
    assert record["n"] == 20 and record["W"] == 210.0
    assert round(record["r"], 4) == 0.8723  # docs/experiments.md#e10


@pytest.mark.parametrize(
    ("negative_ranks", "w_plus", "published_p", "published_r"),
    [
        ((), 210.0, "<0.0001", 0.8723),           # HPSv3: 20 of 20 favour DanceFlux
        ((8,), 202.0, 0.0002, 0.8056),            # HPSv2: 19 of 20
        ((6,), 204.0, 0.0001, 0.8223),            # HPS v1
        ((20, 19, 18, 9), 144.0, 0.0753, 0.3214),  # ImageReward
        ((20, 19, 7), 164.0, 0.0145, 0.4884),     # MPS
    ],
)
def test_critical_test_rows_follow_from_their_rank_patterns(negative_ranks, w_plus, published_p, published_r):
    # Twenty differences of magnitudes 1..20, the given ranks negative (tab:critical_test).
    # W+ = 210 minus the negative ranks, by hand; z and p from the textbook formula above.
    d = np.arange(1.0, 21.0)
    d[[rank - 1 for rank in negative_ranks]] *= -1
    record = wilcoxon_one_sided(d, np.zeros(20), alternative="greater")
    textbook_w, z, n = _textbook_z(d, "greater")
    assert record["W"] == textbook_w == w_plus and record["n"] == n == 20
    assert record["r"] == pytest.approx(z / math.sqrt(20), rel=1e-12)
    assert record["p"] == pytest.approx(_normal_p(z, "greater"), rel=1e-9)
    # The released differences are not public, only their signs and ranks: the pattern fixes
    # r to within one unit of the printed fourth decimal (MPS: 0.48835 printed as 0.4884).
    assert abs(record["r"] - published_r) <= 1e-4 + 1e-12
    if published_p == "<0.0001":
        assert record["p"] < 1e-4
    else:
        assert round(record["p"], 4) == published_p


def test_blip_row_is_signed_negative_when_the_other_model_is_higher():
    d = np.arange(1.0, 21.0)
    d[7] *= -1
    record = wilcoxon_one_sided(-d, np.zeros(20), alternative="less")
    assert round(record["r"], 4) == -0.8056  # BLIP Score row of tab:critical_test


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_z_and_p_match_the_textbook_formula_and_scipy(alternative):
    y = np.linspace(3.0, 4.0, len(MESSY))
    x = y + MESSY
    record = wilcoxon_one_sided(x, y, alternative=alternative)
    w_plus, z, n = _textbook_z(MESSY, alternative)
    assert record["n"] == n == len(MESSY) - 2
    assert record["zeros_dropped"] == 2 and record["n_total"] == len(MESSY)
    assert record["W"] == pytest.approx(w_plus)
    assert record["Z"] == pytest.approx(z, rel=1e-12)
    assert record["r"] == pytest.approx(z / math.sqrt(n), rel=1e-12)
    assert record["p"] == pytest.approx(_normal_p(z, alternative), rel=1e-9)
    direct = scipy_stats.wilcoxon(MESSY, alternative=alternative, method="asymptotic", correction=True)
    assert record["p"] == pytest.approx(float(direct.pvalue), rel=1e-12)
    assert record["Z"] > 0  # the differences lean positive, whatever the alternative


def test_ties_are_counted_as_groups_of_equal_absolute_differences():
    record = wilcoxon_one_sided(MESSY, np.zeros(len(MESSY)))
    # |d| groups of size > 1 among non-zero d: 1 (x3), 2 (x3), 3 (x3)
    assert record["ties"] == 3


def test_swapping_x_and_y_flips_z_and_keeps_p():
    x = np.linspace(0.0, 1.0, len(MESSY)) + MESSY
    y = np.linspace(0.0, 1.0, len(MESSY))
    forward = wilcoxon_one_sided(x, y, alternative="greater")
    backward = wilcoxon_one_sided(y, x, alternative="less")
    assert backward["Z"] == pytest.approx(-forward["Z"])
    assert backward["p"] == pytest.approx(forward["p"])


def test_record_is_json_ready_and_names_the_method():
    record = wilcoxon_one_sided(MESSY, np.zeros(len(MESSY)))
    assert json.loads(json.dumps(record)) == record
    assert record["method_requested"] == "approx" and record["method_used"] == "asymptotic"
    assert record["scipy_version"] == scipy.__version__


def test_missing_values_are_refused_and_all_zero_differences_give_nan():
    with pytest.raises(ValueError, match="missing or infinite"):
        wilcoxon_one_sided([1.0, np.nan], [0.0, 0.0])
    record = wilcoxon_one_sided([1.0, 2.0], [1.0, 2.0])
    assert math.isnan(record["p"]) and math.isnan(record["r"]) and record["zeros_dropped"] == 2


def _successes(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = [True] * both + [True] * only_a + [False] * only_b + [False] * neither
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    return np.array(a), np.array(b)


def _binomial_cdf(k: int, n: int) -> float:
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def test_mcnemar_counts_and_exact_two_sided_p_for_few_discordant_pairs():
    a, b = _successes(both=20, only_a=3, only_b=10, neither=7)
    record = mcnemar_test(a, b)
    assert (record["b"], record["c"], record["both_success"], record["both_failure"]) == (3, 10, 20, 7)
    assert record["n"] == 40 and record["exact"] is True
    assert record["p"] == pytest.approx(2 * _binomial_cdf(3, 13))


def test_mcnemar_uses_corrected_chi2_from_25_discordant_pairs():
    a, b = _successes(both=50, only_a=10, only_b=30, neither=10)
    record = mcnemar_test(a, b)
    statistic = (abs(10 - 30) - 1) ** 2 / 40
    assert record["exact"] is False and "continuity" in record["method"]
    assert record["statistic"] == pytest.approx(statistic)
    assert record["p"] == pytest.approx(math.erfc(math.sqrt(statistic / 2)))


def test_mcnemar_one_sided_is_the_exact_binomial_tail():
    a, b = _successes(both=20, only_a=3, only_b=10, neither=7)
    assert mcnemar_test(a, b, alternative="less")["p"] == pytest.approx(_binomial_cdf(3, 13))
    assert mcnemar_test(a, b, alternative="greater")["p"] == pytest.approx(1 - _binomial_cdf(2, 13))
    with pytest.raises(ValueError, match="exact"):
        mcnemar_test(a, b, exact=False, alternative="less")


def test_published_sd35m_pickscore_mcnemar_p_is_two_sided():
    # tab:gen: SD3.5M-PickScore succeeds on 206 of 300, SD3.5M on 212; tab:align_p prints 0.57.
    a, b = _successes(both=171, only_a=35, only_b=41, neither=53)
    assert (a.sum(), b.sum()) == (206, 212)
    two_sided = mcnemar_test(a, b)
    one_sided = mcnemar_test(a, b, alternative="less")
    assert stars(two_sided["p"]) == "0.57"
    assert one_sided["p"] < 0.5  # a one-sided "aligned lower" p can never print as 0.57 here


def test_mcnemar_without_discordant_pairs_has_p_one():
    a, b = _successes(both=5, only_a=0, only_b=0, neither=5)
    assert mcnemar_test(a, b)["p"] == 1.0


@pytest.mark.parametrize(
    ("p", "mark"),
    [(1e-11, "**"), (1e-10, "*"), (5e-6, "*"), (1e-5, "1.0e-05"), (2e-4, "2.0e-04"),
     (0.0145, "0.01"), (0.57, "0.57"), (1.0, "1.00"), (float("nan"), "n/a")],
)
def test_stars_thresholds(p, mark):
    assert stars(p) == mark


def test_bootstrap_is_seeded_and_matches_a_direct_resampling():
    values = np.random.default_rng(1).normal(size=200)
    first = bootstrap_ci(values, n_boot=500, seed=7)
    assert first == bootstrap_ci(values, n_boot=500, seed=7)
    assert first != bootstrap_ci(values, n_boot=500, seed=8)
    rng = np.random.default_rng(7)
    means = [values[rng.integers(0, 200, size=200)].mean() for _ in range(500)]
    assert first == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    assert first[0] < values.mean() < first[1]


def test_bootstrap_resamples_paired_rows_together():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=300)
    pred = np.where(rng.random(300) < 0.8, y, 1 - y)
    low, high = bootstrap_ci((y, pred), lambda t, p: float(np.mean(t == p)), n_boot=400, seed=0)
    assert low < np.mean(y == pred) < high
    # Resampling y and pred independently would put accuracy near 0.5.
    assert low > 0.7
    narrow = bootstrap_ci((y, pred), lambda t, p: float(np.mean(t == p)), n_boot=400, seed=0, level=0.5)
    assert low < narrow[0] < narrow[1] < high


def test_bootstrap_skips_resamples_where_the_statistic_is_undefined():
    y = np.array([1, 1, 1, 1, 0])

    def only_with_both_classes(labels):
        return float(labels.mean()) if 0 < labels.sum() < len(labels) else math.nan

    low, high = bootstrap_ci((y,), only_with_both_classes, n_boot=200, seed=0)
    assert 0 < low <= high < 1
    with pytest.raises(ValueError, match="differ in length"):
        bootstrap_ci((y, y[:3]), lambda a, b: 0.0)


@pytest.mark.parametrize("size", [1, 7, 200, 2701])
def test_bootstrap_rows_are_the_successive_draws_of_the_seeded_generator(size):
    rng = np.random.default_rng(11)
    one_at_a_time = np.stack([rng.integers(0, size, size=size) for _ in range(30)])
    np.testing.assert_array_equal(bootstrap_rows(size, n_boot=30, seed=11), one_at_a_time)


def _sklearn_f1(y: np.ndarray, pred: np.ndarray) -> float:
    return float(f1_score(y, pred, pos_label=1, average="binary", zero_division=0))


def _sklearn_auroc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else math.nan


def _rank_auroc(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Mann-Whitney U / (n_pos n_neg) from average ranks, one resample per row."""
    ranks = scipy_stats.rankdata(score, axis=1)
    n_pos = (y == 1).sum(axis=1)
    n_neg = y.shape[1] - n_pos
    u = np.where(y == 1, ranks, 0.0).sum(axis=1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_pos * n_neg > 0, u / (n_pos * n_neg), np.nan)


def _classification_case(size: int, positive_share: float, seed: int):
    """Labels, predictions right four times in five, and scores rounded to create ties."""
    rng = np.random.default_rng(seed)
    y = (rng.random(size) < positive_share).astype(np.int64)
    pred = np.where(rng.random(size) < 0.8, y, 1 - y)
    score = np.round(y + rng.normal(size=size), 1)
    return y, pred, score


@pytest.mark.parametrize(("size", "positive_share", "seed"), [(8, 0.15, 0), (90, 0.6, 1), (400, 0.3, 2)])
def test_resampled_statistics_equal_sklearn_on_the_same_resamples(size, positive_share, seed):
    y, pred, score = _classification_case(size, positive_share, seed)
    rows = bootstrap_rows(size, n_boot=300, seed=seed)
    accuracy, f1, auroc = (resampled_accuracy(y, pred, rows), resampled_f1(y, pred, rows),
                           resampled_auroc(y, score, rows))
    expected_accuracy = [accuracy_score(y[r], pred[r]) for r in rows]
    expected_f1 = [_sklearn_f1(y[r], pred[r]) for r in rows]
    expected_auroc = [_sklearn_auroc(y[r], score[r]) for r in rows]
    np.testing.assert_array_equal(accuracy, expected_accuracy)
    np.testing.assert_array_equal(f1, expected_f1)
    np.testing.assert_allclose(auroc, expected_auroc, rtol=0, atol=1e-12)  # NaNs must coincide
    np.testing.assert_allclose(auroc, _rank_auroc(y[rows], score[rows]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(resampled_mean(score, rows), [np.mean(score[r]) for r in rows], rtol=1e-12)
    assert len(np.unique(score)) < size  # tied scores were resampled
    if size == 8:
        # The undefined cases occur: one class drawn, and no positive drawn nor predicted.
        assert np.isnan(auroc).any()
        no_positive = [not (y[r] == 1).any() and not (pred[r] == 1).any() for r in rows]
        assert any(no_positive) and (f1[no_positive] == 0).all()


@pytest.mark.parametrize(
    ("name", "function", "arrays"),
    [
        ("mean", np.mean, lambda y, pred, score: (score,)),
        ("accuracy", accuracy_score, lambda y, pred, score: (y, pred)),
        ("f1", _sklearn_f1, lambda y, pred, score: (y, pred)),
        ("auroc", _sklearn_auroc, lambda y, pred, score: (y, score)),
    ],
)
def test_named_statistic_gives_the_interval_of_the_sklearn_callable(name, function, arrays):
    data = arrays(*_classification_case(60, 0.2, 4))
    data = data if len(data) > 1 else data[0]
    fast = bootstrap_ci(data, name, n_boot=400, seed=5, level=0.9)
    slow = bootstrap_ci(data, function, n_boot=400, seed=5, level=0.9)
    assert fast == pytest.approx(slow, rel=0, abs=1e-12)
    assert fast == bootstrap_ci(data, name, n_boot=400, seed=5, level=0.9)
    assert fast[0] < fast[1]


def test_default_statistic_is_the_resampled_mean():
    values = np.random.default_rng(3).normal(size=50)
    assert bootstrap_ci(values, n_boot=200, seed=1) == bootstrap_ci(values, "mean", n_boot=200, seed=1)


def test_auroc_interval_skips_single_class_resamples_and_is_nan_without_both_classes():
    y = np.array([1, 0, 0, 0, 0, 0])
    score = np.array([0.9, 0.1, 0.2, 0.3, 0.4, 0.95])
    rows = bootstrap_rows(len(y), n_boot=200, seed=0)
    draws = resampled_auroc(y, score, rows)
    defined = draws[~np.isnan(draws)]
    assert 0 < len(defined) < len(draws)
    low, high = bootstrap_ci((y, score), "auroc", n_boot=200, seed=0)
    assert (low, high) == pytest.approx(tuple(np.percentile(defined, [2.5, 97.5])))
    only_positive = np.ones(6, dtype=np.int64)
    assert all(math.isnan(v) for v in bootstrap_ci((only_positive, score), "auroc", n_boot=50))


def test_named_statistics_refuse_what_they_cannot_compute():
    y, pred, score = _classification_case(20, 0.5, 0)
    assert set(RESAMPLED_STATISTICS) == {"mean", "accuracy", "f1", "auroc"}
    with pytest.raises(ValueError, match="unknown statistic"):
        bootstrap_ci((y, pred), "precision")
    with pytest.raises(ValueError, match="takes 2 array"):
        bootstrap_ci(y, "accuracy")
    with pytest.raises(ValueError, match="takes 1 array"):
        bootstrap_ci((y, pred), "mean")
    with pytest.raises(ValueError, match="only 0 and 1"):
        bootstrap_ci((y + 1, pred), "f1")
    with pytest.raises(ValueError, match="only 0 and 1"):
        bootstrap_ci((2 * y - 1, score), "auroc")
    with pytest.raises(ValueError, match="missing or infinite"):
        bootstrap_ci((y, np.where(y == 1, np.nan, score)), "auroc")
    assert all(math.isnan(v) for v in bootstrap_ci((np.array([]), np.array([])), "accuracy"))
