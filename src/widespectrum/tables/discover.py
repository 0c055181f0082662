"""A run config read off a folder of contract files, for ``widespectrum tables`` on a folder without ``run.yaml``.

The folder need only hold files at the paths of ``results/README.md``; what they
are named says what the run had:

- generators: the stems of ``scores/<reward>/<generator>.parquet``,
  ``judgements/<judge>/<generator>.parquet`` and ``ratings/<rater>/<generator>.parquet``;
- rewards, pairwise judges, per-dimension raters: the folders under ``scores/``,
  ``judgements/`` and ``ratings/``;
- experiments: ``experiments/<name>/`` for emotion (its rewards: the stems of
  ``scores/<reward>.parquet``), validation and human (their reference files
  as copied into the run), and slopes whenever ratings are present.

Roles and analysis settings follow ``DEFAULT_ROLES`` and ``DEFAULT_ANALYSIS``,
the values of ``config/config.yaml``: HPSv2 is hpsv2.1 when the folder has it
(the authors' "HPSv2"), the ground-truth judge is qwen3-vl-235b when present,
else the first judge by name. A ``run.yaml``, when present, is the run's own
config and is used instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .. import layout
from ..config import read_run_spec

# role -> the rewards that may fill it, in order of preference
DEFAULT_ROLES: dict[str, tuple[str, ...]] = {
    "hpsv2": ("hpsv2.1", "hpsv2"),
    "hpsv3": ("hpsv3",),
    "imagereward": ("imagereward",),
    "blip": ("blip-l",),
}
DEFAULT_JUDGE = "qwen3-vl-235b"
DEFAULT_ALIGN_PAIRS = (("danceflux", "flux-dev"), ("playground", "sdxl"), ("sd3.5m-pickscore", "sd3.5m"))
DEFAULT_ANALYSIS = {"j_dimensions": "all", "bootstrap": {"n": 1000, "seed": 0}}
# Reference experiments: the run file of each part and the config key naming it.
REFERENCE_FILES = {
    "validation": {"pred": "pred_file", "truth": "truth_file"},
    "human": {"answers": "answers_file", "judge_labels": "judge_labels_file"},
}


def _folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _stems(root: Path) -> list[str]:
    return sorted(p.stem for p in root.glob("*.parquet")) if root.is_dir() else []


def _owned(run_dir: Path, stage: str) -> dict[str, list[str]]:
    """owner (reward, judge, rater) -> the generators it has a file for, under ``stage/``."""
    return {owner: _stems(run_dir / stage / owner) for owner in _folders(run_dir / stage)}


def discover_config(run_dir: str | os.PathLike) -> dict:
    """A run config describing the contract files present in ``run_dir``."""
    run_dir = Path(run_dir)
    scores = _owned(run_dir, Path(layout.scores("x", "y")).parts[0])
    labels = _owned(run_dir, Path(layout.labels("x", "y")).parts[0])
    ratings = _owned(run_dir, Path(layout.ratings("x", "y")).parts[0])
    generators = sorted({g for owned in (scores, labels, ratings) for gens in owned.values() for g in gens})
    rewards = sorted(scores)
    judges = sorted(labels)
    roles: dict[str, str | None] = {
        role: next((r for r in preferred if r in scores), None) for role, preferred in DEFAULT_ROLES.items()}
    roles["judge"] = DEFAULT_JUDGE if DEFAULT_JUDGE in labels else (judges[0] if judges else None)
    roles["rater"] = sorted(ratings)[0] if ratings else None
    experiments = _experiments(run_dir, bool(ratings))
    tables = []
    if scores or labels or ratings:
        tables += ["tab_gen", "tab_reward_model"]
    pairs = [{"aligned": a, "base": b} for a, b in DEFAULT_ALIGN_PAIRS if a in generators and b in generators]
    if pairs:
        tables.append("tab_align_p")
    return {
        "run": run_dir.name, "demo": False, "source": "files", "generators": generators, "rewards": rewards,
        "judges": {"pairwise": judges, "rater": sorted(ratings)}, "roles": roles, "experiments": experiments,
        "analysis": {**DEFAULT_ANALYSIS, "tables": tables, "align_pairs": pairs,
                     "baseline_judges": [j for j in judges if j != roles["judge"]]},
    }


def _experiments(run_dir: Path, has_ratings: bool) -> dict[str, dict]:
    found: dict[str, dict] = {}
    emotion_rewards = _stems(run_dir / Path(layout.experiment_scores("emotion", "x")).parent)
    if emotion_rewards:
        found["emotion"] = {"rewards": emotion_rewards}
    for name, parts in REFERENCE_FILES.items():
        present = {key: layout.join(run_dir, layout.experiment_file(name, f"{part}.parquet"))
                   for part, key in parts.items()}
        if any(path.is_file() for path in present.values()):
            # every part is named, so an absent one is reported as a missing input of the table
            found[name] = {key: str(path) for key, path in present.items()}
    if has_ratings:
        found["slopes"] = {"rewards": None}
    return found


def run_config_or_discovered(run_dir: str | os.PathLike) -> tuple[dict, bool]:
    """The run's config (``run.yaml``) when it has one, else one discovered from its files; and which."""
    spec = read_run_spec(run_dir)
    if spec is not None:
        return spec["config"], False
    return discover_config(run_dir), True


def describe(config: Mapping) -> list[str]:
    """What a discovered config found, one line per kind."""
    return [f"generators: {config['generators']}", f"rewards: {config['rewards']}",
            f"judges: {config['judges']['pairwise']} (ground truth {config['roles']['judge']}), "
            f"raters: {config['judges']['rater']}",
            f"roles: { {k: v for k, v in config['roles'].items() if k not in ('judge', 'rater')} }",
            f"experiments: {sorted(config['experiments'])}"]


def contract_files() -> list[tuple[str, str, list[str]]]:
    """(run path, what it is, its columns) of every file a table may read, as ``results/README.md`` lists them."""
    from .. import contracts
    from ..experiments import EXPERIMENTS

    def columns(schema: contracts.Schema) -> list[str]:
        return [c.name for c in schema.columns]

    files = [
        (layout.PROMPTS, contracts.PROMPTS.name, columns(contracts.PROMPTS)),
        (layout.scores("<reward>", "<generator>"), contracts.SCORES.name, columns(contracts.SCORES)),
        (layout.labels("<judge>", "<generator>"), contracts.LABELS.name, columns(contracts.LABELS)),
        (layout.ratings("<rater>", "<generator>"), contracts.RATINGS.name, columns(contracts.RATINGS)),
    ]
    experiment_scores = {"emotion": contracts.EMOTION_SCORES, "emotion_generation": contracts.FACE_SCORES,
                         "ava": contracts.AVA_SCORES, "art": contracts.ART_SCORES,
                         "critical": contracts.CRITICAL_SCORES}
    for name, schema in experiment_scores.items():
        files.append((layout.experiment_scores(name, "<reward>"), schema.name, columns(schema)))
    for name in REFERENCE_FILES:
        for part, (_, needed) in EXPERIMENTS[name].parts.items():
            files.append((layout.experiment_file(name, f"{part}.parquet"), f"{name} reference file", list(needed)))
    return files
