"""Metrics, statistical tests and the paper's tables, as pure functions of data frames."""

from .stats import bootstrap_ci, mcnemar_test, stars, wilcoxon_one_sided
from .tables import TableResult, tab_align_p, tab_gen, tab_reward_model, to_latex

__all__ = [
    "TableResult",
    "bootstrap_ci",
    "mcnemar_test",
    "stars",
    "tab_align_p",
    "tab_gen",
    "tab_reward_model",
    "to_latex",
    "wilcoxon_one_sided",
]
