"""The paper's main tables (E5, docs/experiments.md) as pure functions of data frames.

Each function takes frames that follow ``widespectrum.contracts`` plus plain
parameters, and returns a ``TableResult``: the table, notes on what was missing
or left out, and JSON-ready records (test details, exclusion counts). Nothing
here reads files or config, so the CLI and the Snakemake rules share it.

Rows whose status is not 'ok' (or whose value is null) are left out and
counted; a table reports how many pairs each of its numbers rests on. An input
or a reward that is absent gives NaN in the columns it feeds and a note, never
an error, so a partial run still yields its partial tables.

Score columns are keyed by image kind then prompt kind, as the authors' data
is: ``ao`` is r(I_a, p_o) (their ``diop``), ``aa`` is r(I_a, p_a), and so on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from scipy.special import softmax
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from ..contracts import LABELS, OK, RATINGS, SCORES, Schema
from ..prompts.dimensions import DIMENSIONS, check_dimensions
from .stats import bootstrap_ci, mcnemar_test, stars, wilcoxon_one_sided

logger = logging.getLogger(__name__)

ROLES = ("hpsv2", "hpsv3", "imagereward", "blip")
# The run config's roles also name the judges; tables take them as arguments of their own.
NON_REWARD_ROLES = ("judge", "rater")
J_DIMENSION_CHOICES = ("all", "selected")
PAIR_KEY = ["generator", "prompt_id"]
SCORE_KINDS = ["oo", "oa", "ao", "aa"]  # image kind, then prompt kind


@dataclass
class TableResult:
    """A table, what it could not compute and why, and the details behind its numbers."""

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    records: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- inputs

def _split_usable(
    frame: pd.DataFrame | None, schema: Schema, value_column: str, where: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validated rows fit for use, and the rows left out (status not ok, no value, or a non-finite one).

    The rows left out carry ``excluded_because`` (one of ``EXCLUSION_REASONS``),
    so a table's records say how many were dropped and why.
    """
    if frame is None:
        empty = schema.empty()
        return empty, empty.assign(excluded_because=pd.Series(dtype="object"))
    frame = schema.validate(frame, where=where)
    values = frame[value_column]
    not_ok = ~frame["status"].eq(OK)
    missing = ~not_ok & values.isna()
    # An inf or NaN that a scorer returned with status ok is no measurement either:
    # it would make a mean infinite or make a statistics routine raise.
    numeric = pd.to_numeric(values, errors="coerce").astype("float64")
    non_finite = ~not_ok & ~missing & ~np.isfinite(numeric.to_numpy())
    keep = ~(not_ok | missing | non_finite)
    reason = np.select([not_ok, missing, non_finite], list(EXCLUSION_REASONS), default="")
    rejected = frame.assign(excluded_because=reason).loc[~keep]
    for why, n in rejected.groupby("excluded_because").size().items():
        logger.info("%s: %d row(s) left out, %s", where, n, why)
    return frame.loc[keep].reset_index(drop=True), rejected.reset_index(drop=True)


EXCLUSION_REASONS = ("status not ok", "no value", "non-finite value")


def exclusion_reasons(rejected: pd.DataFrame) -> dict[str, dict[str, int]]:
    """How many rows ``_split_usable`` left out: ``{category: {status: n}}``.

    The category (one of ``EXCLUSION_REASONS``) says which test a row failed, the
    status says why: ``{"status not ok": {"error: HTTP 429 after 4 tries": 3},
    "no value": {"ok": 2}}``. A row without a value or with a non-finite one has
    status ``ok`` (its runner saw nothing wrong), which the nesting keeps visible.
    """
    if "excluded_because" not in rejected.columns or rejected.empty:
        return {}
    counts: dict[str, dict[str, int]] = {}
    for (category, status), n in rejected.groupby(["excluded_because", "status"]).size().items():
        counts.setdefault(str(category), {})[str(status)] = int(n)
    return {c: counts[c] for c in EXCLUSION_REASONS if c in counts}


def _count_by_generator(rejected: pd.DataFrame) -> dict[str, int]:
    return {str(g): int(n) for g, n in rejected.groupby("generator").size().items()}


def _check_unique(frame: pd.DataFrame, key: list[str], what: str) -> None:
    duplicated = frame.duplicated(subset=key, keep=False)
    if duplicated.any():
        first = frame.loc[duplicated, key].iloc[0].to_dict()
        raise ValueError(f"{what}: {int(duplicated.sum())} rows share a key, e.g. {first}; "
                         "each key must occur once")


def _reward_scores(scores_ok: pd.DataFrame, reward: str) -> pd.DataFrame:
    """r(I, p) of one reward: one row per (generator, prompt_id), columns oo, oa, ao, aa."""
    rows = scores_ok.loc[scores_ok["reward"] == reward]
    _check_unique(rows, [*PAIR_KEY, "image_kind", "prompt_kind"], f"scores of reward {reward!r}")
    rows = rows.assign(kind=rows["image_kind"] + rows["prompt_kind"])
    wide = rows.pivot(index=PAIR_KEY, columns="kind", values="score")
    return wide.reindex(columns=SCORE_KINDS).astype("float64")


def _needed_dimensions(
    prompt_ids: pd.Index, prompts: pd.DataFrame | None, j_dimensions: str
) -> np.ndarray:
    """Boolean matrix (rows x DIMENSIONS): which ratings a row's sum needs.

    A prompt unknown to ``prompts`` needs every dimension, so that its sum is
    NaN unless all are present rather than an empty sum of zero.
    """
    if j_dimensions == "all":
        return np.ones((len(prompt_ids), len(DIMENSIONS)), dtype=bool)
    selected = {
        str(pid): set(check_dimensions(dims))
        for pid, dims in zip(prompts["prompt_id"], prompts["dimensions"], strict=True)
    }
    every = set(DIMENSIONS)
    return np.array(
        [[d in selected.get(str(pid), every) for d in DIMENSIONS] for pid in prompt_ids], dtype=bool
    ).reshape(len(prompt_ids), len(DIMENSIONS))


def _judge_sums(
    ratings_ok: pd.DataFrame, prompts: pd.DataFrame | None, j_dimensions: str
) -> pd.DataFrame:
    """sum_d J(I, d) per (generator, prompt_id), columns 'o' and 'a'.

    A sum is NaN when any rating it needs is missing: a partial sum would be
    biased low, not merely noisier.
    """
    _check_unique(ratings_ok, [*PAIR_KEY, "image_kind", "dimension"], "ratings")
    wide = ratings_ok.pivot(
        index=[*PAIR_KEY, "image_kind"], columns="dimension", values="score"
    ).reindex(columns=list(DIMENSIONS)).astype("float64")
    values = wide.to_numpy()
    needed = _needed_dimensions(wide.index.get_level_values("prompt_id"), prompts, j_dimensions)
    sums = np.where(needed, np.nan_to_num(values), 0.0).sum(axis=1)
    sums[(np.isnan(values) & needed).any(axis=1)] = np.nan
    per_image = pd.Series(sums, index=wide.index, dtype="float64")
    return per_image.unstack("image_kind").reindex(columns=["o", "a"])


def _check_prompts(prompts: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("prompt_id", "dimensions") if c not in prompts.columns]
    if missing:
        raise ValueError(f"prompts table: missing column(s) {missing}")
    return prompts.assign(prompt_id=prompts["prompt_id"].astype(str))


def _generators_in(frames: Iterable[pd.DataFrame]) -> list[str]:
    """Generators in order of first appearance across ``frames``."""
    seen: dict[str, None] = {}
    for frame in frames:
        for name in frame["generator"]:
            seen.setdefault(str(name), None)
    return list(seen)


def _rows_of(wide: pd.DataFrame, generator: str) -> pd.DataFrame:
    """The rows of a (generator, prompt_id)-indexed frame for one generator, by prompt_id."""
    if generator not in wide.index.get_level_values("generator"):
        return wide.iloc[0:0].droplevel("generator")
    return wide.xs(generator, level="generator")


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else math.nan


def _mean_ci(values: Sequence[float] | np.ndarray | pd.Series, n_boot: int, seed: int,
             level: float) -> tuple[float, float]:
    """Seeded percentile bootstrap CI of the mean of ``values``.

    NaN without values, and with ``n_boot=0``, which is how a caller asks for
    no intervals (a quick look at a large run need not pay for them).
    """
    if n_boot < 0:
        raise ValueError(f"n_boot must be 0 (no intervals) or more, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    values = np.asarray(values, dtype=np.float64)
    if n_boot == 0 or values.size == 0:
        return math.nan, math.nan
    return bootstrap_ci(values, "mean", n_boot=n_boot, seed=seed, level=level)


def _mean_and_ci(column: str, values: pd.Series, n_boot: int, seed: int, level: float) -> dict[str, float]:
    """``column``, ``column_lo`` and ``column_hi``: the mean of ``values`` and its bootstrap CI."""
    low, high = _mean_ci(values, n_boot, seed, level)
    return {column: _mean(values), f"{column}_lo": low, f"{column}_hi": high}


def _ci_columns(columns: Iterable[str]) -> list[str]:
    return [f"{c}_{end}" for c in columns for end in ("lo", "hi")]


# ---------------------------------------------------------------- tab:gen

def tab_gen(
    scores: pd.DataFrame | None,
    labels: pd.DataFrame | None,
    ratings: pd.DataFrame | None,
    prompts: pd.DataFrame | None = None,
    *,
    generators: Sequence[str] | None = None,
    roles: Mapping[str, str | None],
    j_dimensions: str = "all",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> TableResult:
    """Per-generator reversed-alignment table (tab:gen).

    ``roles`` maps each of hpsv2, hpsv3, imagereward, blip to the reward name
    used in ``scores`` (the config's judge and rater keys are ignored). Columns:

    - d_hpsv2, d_hpsv3, d_imagereward: mean over pairs of r(I_a,p_o) - r(I_o,p_o);
    - hpsv3_aa: mean r_hpsv3(I_a,p_o) over the pairs of d_hpsv3;
    - d_j: mean over pairs of sum_d [J(I_a,d) - J(I_o,d)], j_aa: mean sum_d J(I_a,d)
      over the same pairs; d ranges over all 11 dimensions (``j_dimensions="all"``,
      the authors' code) or the pair's sampled ones (``"selected"``, the caption;
      needs ``prompts``);
    - blip: mean r_blip(I_a,p_a);
    - success: P(y = 1) over every labelled pair, ties counting as failures;
    - <column>_lo, <column>_hi for each of the eight above: percentile bootstrap
      CI at ``level``, the column's pairs resampled ``n_boot`` times with
      ``seed`` (``n_boot=0``: no intervals, NaN);
    - n_<role>, n_j, n_labels: pairs (labels) each number rests on; n_excluded:
      rows of this generator left out for a non-ok status or a missing value.

    ``labels`` is the ground-truth pairwise judge's LABELS frame, ``ratings`` the
    per-dimension judge's RATINGS frame.
    """
    unknown = sorted(set(roles) - set(ROLES) - set(NON_REWARD_ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; roles are {list(ROLES)}")
    if j_dimensions not in J_DIMENSION_CHOICES:
        raise ValueError(f"j_dimensions must be one of {list(J_DIMENSION_CHOICES)}, got {j_dimensions!r}")

    notes: list[str] = []
    excluded: dict[str, dict[str, Any]] = {}
    reward_frames = _role_scores(
        scores, {role: roles.get(role) for role in ROLES}, notes, excluded, "given to tab_gen"
    )
    label_ok, label_rejected = _split_usable(labels, LABELS, "selected", "given to tab_gen")
    if labels is None:
        notes.append("no labels given: success is NaN")
    excluded["labels"] = _count_by_generator(label_rejected)
    excluded["label_reasons"] = exclusion_reasons(label_rejected)
    judge_sums, ratings_ok = _role_judge_sums(ratings, prompts, j_dimensions, notes, excluded)

    if generators is None:
        present = [f.reset_index() for f in reward_frames.values() if f is not None]
        generators = _generators_in([*present, label_ok, ratings_ok])

    rows = []
    for generator in generators:
        row = _tab_gen_row(generator, reward_frames, judge_sums, label_ok, n_boot, seed, level)
        row["n_excluded"] = sum(_excluded_of(excluded, generator))
        rows.append(row)
        for role in ("hpsv2", "hpsv3", "imagereward", "blip"):
            if reward_frames.get(role) is not None and row[f"n_{role}"] == 0:
                notes.append(f"{generator}: no usable pairs for {role} (reward {roles[role]!r})")
    frame = pd.DataFrame(rows, columns=TAB_GEN_COLUMNS)
    for column in TAB_GEN_COLUMNS:
        if column.startswith("n_"):
            frame[column] = frame[column].astype("int64")
    records = {
        "roles": {role: roles.get(role) for role in ROLES},
        "j_dimensions": j_dimensions,
        "excluded": excluded,
        "bootstrap": {"n_boot": n_boot, "seed": seed, "level": level},
    }
    return TableResult(frame, notes, records)


TAB_GEN_MEANS = ["d_hpsv2", "d_hpsv3", "hpsv3_aa", "d_imagereward", "d_j", "j_aa", "blip", "success"]
TAB_GEN_COLUMNS = [
    "generator", *TAB_GEN_MEANS, *_ci_columns(TAB_GEN_MEANS),
    "n_hpsv2", "n_hpsv3", "n_imagereward", "n_j", "n_blip", "n_labels", "n_excluded",
]


def _role_scores(
    scores: pd.DataFrame | None,
    roles: Mapping[str, str | None],
    notes: list[str],
    excluded: dict[str, dict[str, Any]],
    where: str,
) -> dict[str, pd.DataFrame | None]:
    """Each role's wide score frame, or None (with a note) where it cannot be had."""
    scores_ok, scores_rejected = _split_usable(scores, SCORES, "score", where)
    excluded["scores"] = {}
    frames: dict[str, pd.DataFrame | None] = {}
    for role, reward in roles.items():
        frames[role] = None
        if reward is None:
            notes.append(f"no reward assigned to role {role!r}: its columns are NaN")
            continue
        excluded["scores"][reward] = _count_by_generator(
            scores_rejected.loc[scores_rejected["reward"] == reward]
        )
        excluded.setdefault("score_reasons", {})[reward] = exclusion_reasons(
            scores_rejected.loc[scores_rejected["reward"] == reward]
        )
        if not (scores_ok["reward"] == reward).any():
            notes.append(f"reward {reward!r} (role {role!r}) has no usable scores: its columns are NaN")
            continue
        frames[role] = _reward_scores(scores_ok, reward)
    return frames


def _role_judge_sums(
    ratings: pd.DataFrame | None,
    prompts: pd.DataFrame | None,
    j_dimensions: str,
    notes: list[str],
    excluded: dict[str, dict[str, Any]],
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    ratings_ok, ratings_rejected = _split_usable(ratings, RATINGS, "score", "given to a table")
    excluded["ratings"] = _count_by_generator(ratings_rejected)
    excluded["rating_reasons"] = exclusion_reasons(ratings_rejected)
    if ratings is None:
        notes.append("no ratings given: d_j, j_aa NaN")
        return None, ratings_ok
    if j_dimensions == "selected" and prompts is None:
        notes.append("j_dimensions='selected' needs the prompts table, none given: d_j, j_aa NaN")
        return None, ratings_ok
    if ratings_ok.empty:
        notes.append("ratings hold no usable rows: d_j, j_aa NaN")
        return None, ratings_ok
    checked = _check_prompts(prompts) if prompts is not None else None
    return _judge_sums(ratings_ok, checked, j_dimensions), ratings_ok


def _excluded_of(excluded: Mapping[str, Any], generator: str) -> list[int]:
    counts = [excluded.get("labels", {}).get(generator, 0), excluded.get("ratings", {}).get(generator, 0)]
    counts += [per_gen.get(generator, 0) for per_gen in excluded.get("scores", {}).values()]
    return counts


def _tab_gen_row(
    generator: str,
    reward_frames: Mapping[str, pd.DataFrame | None],
    judge_sums: pd.DataFrame | None,
    label_ok: pd.DataFrame,
    n_boot: int,
    seed: int,
    level: float,
) -> dict[str, Any]:
    samples, counts = _tab_gen_samples(generator, reward_frames, judge_sums, label_ok)
    row: dict[str, Any] = {"generator": generator, **counts}
    for column in TAB_GEN_MEANS:
        row.update(_mean_and_ci(column, samples[column], n_boot, seed, level))
    return row


def _tab_gen_samples(
    generator: str,
    reward_frames: Mapping[str, pd.DataFrame | None],
    judge_sums: pd.DataFrame | None,
    label_ok: pd.DataFrame,
) -> tuple[dict[str, pd.Series], dict[str, int]]:
    """Per column of TAB_GEN_MEANS, the per-pair values its mean is over (empty when the input is
    absent); and the n_ counts."""
    nothing = pd.Series([], dtype="float64")
    samples: dict[str, pd.Series] = {}
    counts: dict[str, int] = {}
    for role in ("hpsv2", "hpsv3", "imagereward"):
        wide = reward_frames.get(role)
        pairs = _rows_of(wide, generator)[["oo", "ao"]].dropna() if wide is not None else None
        samples[f"d_{role}"] = pairs["ao"] - pairs["oo"] if pairs is not None else nothing
        counts[f"n_{role}"] = len(pairs) if pairs is not None else 0
        if role == "hpsv3":
            samples["hpsv3_aa"] = pairs["ao"] if pairs is not None else nothing

    sums = _rows_of(judge_sums, generator).dropna() if judge_sums is not None else None
    samples["d_j"] = sums["a"] - sums["o"] if sums is not None else nothing
    samples["j_aa"] = sums["a"] if sums is not None else nothing
    counts["n_j"] = len(sums) if sums is not None else 0

    blip = reward_frames.get("blip")
    samples["blip"] = _rows_of(blip, generator)["aa"].dropna() if blip is not None else nothing
    counts["n_blip"] = len(samples["blip"])

    # By prompt, as the pivoted scores are, so the seeded interval does not depend on row order.
    mine = label_ok.loc[label_ok["generator"] == generator].sort_values("prompt_id", kind="stable")
    selected = mine["selected"]
    samples["success"] = selected.eq(1).astype("float64")
    counts["n_labels"] = len(selected)
    return samples, counts


# ---------------------------------------------------------------- tab:reward_model

def tab_reward_model(
    scores: pd.DataFrame | None,
    labels: Mapping[str, pd.DataFrame],
    *,
    rewards: Sequence[str],
    judge: str,
    extra_judges: Sequence[str] = (),
    judge_tie_as: int | None = None,
    generators: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> TableResult:
    """How often each reward model (and baseline judge) agrees with the judge (tab:reward_model).

    ``labels`` maps judge name -> LABELS frame; ``judge`` names the ground truth.
    Pairs of all ``generators`` (default: every generator the judge labelled)
    are pooled. Ground-truth ties are removed (``judge_tie_as=None``, the
    paper) or read as that label (0 groups them with I_o).

    Per reward: prediction 1[r(I_a,p_a) > r(I_o,p_a)] (equal scores predict
    I_o); accuracy; F1 with I_a as the positive class; AUROC of y against
    softmax([r(I_o,p_a), r(I_a,p_a)])[1]. That probability ranks as the
    difference r(I_a,p_a) - r(I_o,p_a) does until float64 saturates at
    differences beyond about 36, where it creates ties; a note says when the two
    AUROCs differ. Per extra judge: its label is the prediction, a tie counted
    as I_o (E4, docs/experiments.md); it has no score, so no AUROC.

    Columns: reward (the reward or judge name), accuracy, f1, auroc, their
    percentile bootstrap CIs (``<metric>_lo``, ``<metric>_hi``, pairs resampled
    with ``seed``), and n, the pairs used.
    """
    if judge_tie_as not in (None, 0, 1):
        raise ValueError(f"judge_tie_as must be None, 0 or 1, got {judge_tie_as!r}")
    notes: list[str] = []
    truth, truth_record = _ground_truth(labels, judge, judge_tie_as, generators, notes)
    scores_ok, scores_rejected = _split_usable(scores, SCORES, "score", "given to tab_reward_model")
    records: dict[str, Any] = {"judge": judge, "judge_tie_as": judge_tie_as, "ground_truth": truth_record,
                               "rows": {}, "bootstrap": {"n_boot": n_boot, "seed": seed, "level": level}}
    rows = []
    for reward in rewards:
        rejected = scores_rejected.loc[scores_rejected["reward"] == reward]
        if not (scores_ok["reward"] == reward).any():
            notes.append(f"reward {reward!r} has no usable scores: its row is NaN")
            y = pred = prob = np.array([])
        else:
            y, pred, prob, difference = _reward_predictions(scores_ok, reward, truth)
            _note_softmax_ties(reward, y, prob, difference, notes)
        row, record = _agreement_row(reward, y, pred, prob, n_boot, seed, level)
        record |= {"kind": "reward", "excluded": _count_by_generator(rejected),
                   "excluded_because": exclusion_reasons(rejected)}
        rows.append(row)
        records["rows"][reward] = record
    for extra in extra_judges:
        y, pred, record_extra = _judge_predictions(labels, extra, truth, notes)
        row, record = _agreement_row(extra, y, pred, None, n_boot, seed, level)
        rows.append(row)
        records["rows"][extra] = record | record_extra
    frame = pd.DataFrame(rows, columns=TAB_REWARD_MODEL_COLUMNS).astype({"n": "int64"})
    return TableResult(frame, notes, records)


METRICS = ("accuracy", "f1", "auroc")
TAB_REWARD_MODEL_COLUMNS = [
    "reward", *METRICS, *[f"{m}_{end}" for m in METRICS for end in ("lo", "hi")], "n",
]


def _ground_truth(
    labels: Mapping[str, pd.DataFrame],
    judge: str,
    tie_as: int | None,
    generators: Sequence[str] | None,
    notes: list[str],
) -> tuple[pd.Series, dict[str, Any]]:
    """y per (generator, prompt_id) under the ground-truth judge, ties handled."""
    if judge not in labels:
        notes.append(f"no labels of the ground-truth judge {judge!r} (have {sorted(labels)}): every row NaN")
        return pd.Series([], dtype="int64", index=pd.MultiIndex.from_tuples([], names=PAIR_KEY)), {}
    usable, rejected = _split_usable(labels[judge], LABELS, "selected", f"of judge {judge!r}")
    if generators is not None:
        usable = usable.loc[usable["generator"].isin(list(generators))]
        rejected = rejected.loc[rejected["generator"].isin(list(generators))]
    _check_unique(usable, PAIR_KEY, f"labels of judge {judge!r}")
    ties = usable["selected"].eq(-1)
    if tie_as is None:
        usable = usable.loc[~ties]
    else:
        usable = usable.assign(selected=usable["selected"].mask(ties, tie_as))
    y = usable.set_index(PAIR_KEY)["selected"].astype("int64")
    record = {"n": int(len(y)), "ties": int(ties.sum()), "ties_removed": tie_as is None,
              "excluded": _count_by_generator(rejected), "excluded_because": exclusion_reasons(rejected),
              "generators": sorted(set(usable["generator"]))}
    return y, record


def _reward_predictions(
    scores_ok: pd.DataFrame, reward: str, truth: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """y, the prediction, the softmax probability of I_a and the raw difference r(I_a,p_a) - r(I_o,p_a)."""
    wide = _reward_scores(scores_ok, reward)[["oa", "aa"]].dropna()
    joined = wide.join(truth.rename("y"), how="inner")
    y = joined["y"].to_numpy(dtype=np.int64)
    pred = (joined["aa"] > joined["oa"]).to_numpy(dtype=np.int64)
    prob = softmax(joined[["oa", "aa"]].to_numpy(dtype=np.float64), axis=1)[:, 1]
    difference = (joined["aa"] - joined["oa"]).to_numpy(dtype=np.float64)
    return y, pred, prob, difference


def _note_softmax_ties(reward: str, y: np.ndarray, prob: np.ndarray, difference: np.ndarray,
                       notes: list[str]) -> None:
    """Say when float64 softmax saturates (tying pairs the score difference tells apart), and when the
    AUROC of the probability, the table's, differs from that of the raw difference."""
    saturated = int(((prob == 0) | (prob == 1)).sum())
    if saturated:
        notes.append(
            f"reward {reward!r}: softmax saturates on {saturated} pair(s); "
            "AUROC is computed from the saturated probabilities, as the paper does"
        )
    of_prob, of_difference = auroc(y, prob), auroc(y, difference)
    # the same ranking can give areas a rounding apart; NaN (one class) on both sides is agreement
    if not (math.isclose(of_prob, of_difference, rel_tol=0, abs_tol=1e-12)
            or (math.isnan(of_prob) and math.isnan(of_difference))):
        notes.append(f"reward {reward!r}: AUROC {of_prob:.6f} of the softmax probability differs from "
                     f"{of_difference:.6f} of the raw score difference")


def _judge_predictions(
    labels: Mapping[str, pd.DataFrame], name: str, truth: pd.Series, notes: list[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    if name not in labels:
        notes.append(f"no labels of judge {name!r}: its row is NaN")
        return np.array([]), np.array([]), {"kind": "judge"}
    usable, rejected = _split_usable(labels[name], LABELS, "selected", f"of judge {name!r}")
    _check_unique(usable, PAIR_KEY, f"labels of judge {name!r}")
    joined = usable.set_index(PAIR_KEY)[["selected"]].join(truth.rename("y"), how="inner")
    pred = joined["selected"].eq(1).to_numpy(dtype=np.int64)  # a tie counts as I_o
    record = {"kind": "judge", "ties_as_original": int(joined["selected"].eq(-1).sum()),
              "excluded": _count_by_generator(rejected), "excluded_because": exclusion_reasons(rejected)}
    return joined["y"].to_numpy(dtype=np.int64), pred, record


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(accuracy_score(y, pred)) if len(y) else math.nan


def f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Binary F1 with I_a (label 1) as the positive class; 0 when it is undefined."""
    return float(f1_score(y, pred, pos_label=1, average="binary", zero_division=0)) if len(y) else math.nan


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    if len(np.unique(y)) < 2:
        return math.nan
    return float(roc_auc_score(y, score))


def _agreement_row(
    name: str,
    y: np.ndarray,
    pred: np.ndarray,
    prob: np.ndarray | None,
    n_boot: int,
    seed: int,
    level: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    # Each metric's point estimate comes from sklearn; its CI from the statistic
    # of the same name in stats.RESAMPLED_STATISTICS, computed on all resamples at once.
    metrics: dict[str, tuple[Callable[..., float], tuple[np.ndarray, ...]] | None] = {
        "accuracy": (accuracy, (y, pred)),
        "f1": (f1, (y, pred)),
        "auroc": (auroc, (y, prob)) if prob is not None else None,
    }
    row: dict[str, Any] = {"reward": name, "n": len(y)}
    for metric, spec in metrics.items():
        if spec is None or len(y) == 0:
            row.update({metric: math.nan, f"{metric}_lo": math.nan, f"{metric}_hi": math.nan})
            continue
        function, arrays = spec
        low, high = bootstrap_ci(arrays, metric, n_boot=n_boot, seed=seed, level=level)
        row.update({metric: function(*arrays), f"{metric}_lo": low, f"{metric}_hi": high})
    record = {"n": len(y), "n_positive": int(np.sum(y == 1)), "n_predicted_positive": int(np.sum(pred == 1))}
    return row, record


# ---------------------------------------------------------------- tab:align_p

def tab_align_p(
    scores: pd.DataFrame | None,
    labels: pd.DataFrame | None,
    ratings: pd.DataFrame | None,
    prompts: pd.DataFrame | None = None,
    *,
    pairs: Sequence[tuple[str, str]],
    roles: Mapping[str, str | None],
    j_dimensions: str = "all",
    mcnemar_exact: bool | None = None,
    mcnemar_alternative: str = "two-sided",
) -> TableResult:
    """Does alignment significantly raise beauty and lower success? (tab:align_p)

    For each (aligned, base) in ``pairs``, paired by prompt_id:

    - one-sided Wilcoxon signed-rank tests, alternative "aligned higher", of
      r_hpsv3(I_a,p_o) (reward ``roles["hpsv3"]``) and of sum_d J(I_a,d)
      (dimensions as in ``tab_gen``); r = Z/sqrt(n) is printed negative when the
      aligned model is higher, as the paper prints it;
    - McNemar's test on success (y = 1, ties failing) under ``labels``, the
      ground-truth judge; two-sided by default, which is what reproduces the
      published 0.57 (see ``stats.mcnemar_test``).

    Columns: generator (aligned), base, hpsv3_p, hpsv3_r, hpsv3_stars, j_p, j_r,
    j_stars, mcnemar_p, mcnemar_stars, and n_hpsv3, n_j, n_mcnemar, the prompts
    both models have. ``records["tests"][aligned][test]`` holds the full
    record of each test (test: hpsv3, j, mcnemar).
    """
    if j_dimensions not in J_DIMENSION_CHOICES:
        raise ValueError(f"j_dimensions must be one of {list(J_DIMENSION_CHOICES)}, got {j_dimensions!r}")
    notes: list[str] = []
    excluded: dict[str, dict[str, Any]] = {}
    hpsv3 = _role_scores(
        scores, {"hpsv3": roles.get("hpsv3")}, notes, excluded, "given to tab_align_p"
    )["hpsv3"]
    judge_sums, _ = _role_judge_sums(ratings, prompts, j_dimensions, notes, excluded)
    label_ok, label_rejected = _split_usable(labels, LABELS, "selected", "given to tab_align_p")
    excluded["labels"] = _count_by_generator(label_rejected)
    excluded["label_reasons"] = exclusion_reasons(label_rejected)
    if labels is None:
        notes.append("no labels given: mcnemar columns NaN")
    else:
        _check_unique(label_ok, PAIR_KEY, "labels")
    success = label_ok.assign(success=label_ok["selected"].eq(1)).set_index(PAIR_KEY)[["success"]]

    rows = []
    records: dict[str, Any] = {"excluded": excluded, "tests": {}}
    for aligned, base in pairs:
        hpsv3_record = _higher_test(hpsv3, "ao", aligned, base, f"{aligned} vs {base}, hpsv3", notes)
        j_record = _higher_test(judge_sums, "a", aligned, base, f"{aligned} vs {base}, J", notes)
        mcnemar_record = _success_test(success, aligned, base, mcnemar_exact, mcnemar_alternative,
                                       f"{aligned} vs {base}, McNemar", notes)
        rows.append({
            "generator": aligned, "base": base,
            "hpsv3_p": hpsv3_record["p"], "hpsv3_r": -hpsv3_record["r"],
            "hpsv3_stars": stars(hpsv3_record["p"]),
            "j_p": j_record["p"], "j_r": -j_record["r"], "j_stars": stars(j_record["p"]),
            "mcnemar_p": mcnemar_record["p"], "mcnemar_stars": stars(mcnemar_record["p"]),
            "n_hpsv3": hpsv3_record["n_total"], "n_j": j_record["n_total"],
            "n_mcnemar": mcnemar_record["n"],
        })
        records["tests"][aligned] = {"base": base, "hpsv3": hpsv3_record, "j": j_record, "mcnemar": mcnemar_record}
    frame = pd.DataFrame(rows, columns=TAB_ALIGN_P_COLUMNS)
    frame = frame.astype({"n_hpsv3": "int64", "n_j": "int64", "n_mcnemar": "int64"})
    return TableResult(frame, notes, records)


TAB_ALIGN_P_COLUMNS = [
    "generator", "base", "hpsv3_p", "hpsv3_r", "hpsv3_stars", "j_p", "j_r", "j_stars",
    "mcnemar_p", "mcnemar_stars", "n_hpsv3", "n_j", "n_mcnemar",
]


def _matched(wide: pd.DataFrame | None, column: str, aligned: str, base: str) -> pd.DataFrame:
    """Values of ``column`` for both generators on the prompts both have."""
    if wide is None:
        return pd.DataFrame({"aligned": [], "base": []}, dtype="float64")
    both = pd.concat(
        {"aligned": _rows_of(wide, aligned)[column], "base": _rows_of(wide, base)[column]}, axis=1
    )
    return both.dropna()


def _higher_test(
    wide: pd.DataFrame | None, column: str, aligned: str, base: str, what: str, notes: list[str]
) -> dict[str, Any]:
    both = _matched(wide, column, aligned, base)
    if wide is not None and both.empty:
        notes.append(f"{what}: no prompt has both models' values")
    return wilcoxon_one_sided(both["aligned"], both["base"], alternative="greater")


def _success_test(
    success: pd.DataFrame,
    aligned: str,
    base: str,
    exact: bool | None,
    alternative: str,
    what: str,
    notes: list[str],
) -> dict[str, Any]:
    both = _matched(success.astype("float64"), "success", aligned, base)
    if both.empty:
        notes.append(f"{what}: no prompt has both models' labels")
        return {"test": "mcnemar", "n": 0, "p": math.nan}
    return mcnemar_test(both["aligned"].astype(bool), both["base"].astype(bool),
                        exact=exact, alternative=alternative)


# ---------------------------------------------------------------- LaTeX

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_cell(value: Any, digits: int) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "--"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}f}"
    return _escape(str(value))


def to_latex(frame: pd.DataFrame, caption: str, label: str, digits: int = 3) -> str:
    """A booktabs ``table`` environment: numbers to ``digits`` decimals, NaN as "--"."""
    align = "".join(
        "r" if is_numeric_dtype(frame[c]) and not is_bool_dtype(frame[c]) else "l" for c in frame.columns
    )
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{align}}}",
        r"\toprule",
        " & ".join(_escape(str(c)) for c in frame.columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(_latex_cell(v, digits) for v in row) + r" \\"
              for row in frame.itertuples(index=False, name=None)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
