"""The run folder's layout: the one place a path under ``<results_dir>/<run>/`` is spelled.

Every function returns a path relative to the run folder, as a POSIX string,
so the same call serves a rule (joined to ``RUN``, a wildcard such as
``"{generator}"`` passed for a name), a script and package code (joined to
``run_dir``). results/README.md documents these files; their columns are the
contracts of ``widespectrum.contracts``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

RUN_SPEC = "run.yaml"
PROMPTS = "prompts/prompts.parquet"
OFFLINE_MODELS = "models/offline_models.json"
AUDIT = "audit/audit.md"
REPRODUCTION_REPORT = "reproduction_report"  # .md and .csv
NUMBERS_JSON = "numbers.json"
NUMBERS_TEX = "numbers.tex"


def join(run_dir: str | os.PathLike, relative: str) -> Path:
    return Path(run_dir) / relative


# The registries' and run config's name pattern (config/registry_schema.yaml, config/schema.yaml):
# one path component that cannot be '..', hidden or absolute. A rule passes a wildcard
# ("{generator}") instead, the documentation a placeholder ("<generator>").
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_WILDCARD = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}|<[A-Za-z_][A-Za-z0-9_]*>")


def check_name(kind: str, name: object) -> str:
    """``name`` if it is safe as one folder or file name of the run folder; ``ValueError`` naming it if not."""
    text = str(name)
    if not (_NAME.fullmatch(text) or _WILDCARD.fullmatch(text)):
        raise ValueError(f"{kind} name {text!r} cannot name a path under the run folder: use letters, digits, "
                         f"'_', '.' and '-', starting with a letter or digit (no '/', no '..')")
    return text


# ---------------------------------------------------------------- the main benchmark

def chunk_dir(generator: str, chunk: str | int) -> str:
    check_name("generator", generator)
    return f"images/{generator}/chunk-{chunk}"


def manifest(generator: str) -> str:
    check_name("generator", generator)
    return f"images/{generator}/manifest.parquet"


def scores(reward: str, generator: str) -> str:
    check_name("reward", reward), check_name("generator", generator)
    return f"scores/{reward}/{generator}.parquet"


def labels(judge: str, generator: str) -> str:
    check_name("judge", judge), check_name("generator", generator)
    return f"judgements/{judge}/{generator}.parquet"


def ratings(rater: str, generator: str) -> str:
    check_name("rater", rater), check_name("generator", generator)
    return f"ratings/{rater}/{generator}.parquet"


def stage_of(relative: str) -> str:
    """The stage folder a run path lies in ('scores', 'judgements', ...): names the contract it holds."""
    return relative.split("/", 1)[0]


def owner_of(relative: str) -> str:
    """The reward, judge or rater of a ``scores``, ``judgements`` or ``ratings`` path."""
    return relative.split("/")[1]


# ---------------------------------------------------------------- tables, figures, notebooks

def table(name: str, suffix: str = "csv") -> str:
    check_name("table", name)
    return f"tables/{name}.{suffix}"


def figure(name: str, suffix: str = "pdf") -> str:
    check_name("figure", name)
    return f"figures/{name}.{suffix}"


def notebook(name: str) -> str:
    check_name("notebook", name)
    return f"notebooks/{name}.ipynb"


def report(suffix: str = "md") -> str:
    return f"{REPRODUCTION_REPORT}.{suffix}"


def explain_listing(key: str) -> str:
    """The rows behind one number of ``numbers.json``, listed by ``widespectrum explain``."""
    return f"explain/{key}.jsonl"


# ---------------------------------------------------------------- side experiments

def experiment_dir(experiment: str) -> str:
    check_name("experiment", experiment)
    return f"experiments/{experiment}"


def experiment_items(experiment: str) -> str:
    check_name("experiment", experiment)
    return f"experiments/{experiment}/items.parquet"


def experiment_item_images(experiment: str) -> str:
    check_name("experiment", experiment)
    return f"experiments/{experiment}/item_images"


def experiment_prompts(experiment: str) -> str:
    check_name("experiment", experiment)
    return f"experiments/{experiment}/prompts.parquet"


def experiment_manifest(experiment: str, generator: str) -> str:
    check_name("experiment", experiment), check_name("generator", generator)
    return f"experiments/{experiment}/images/{generator}/manifest.parquet"


def experiment_scores(experiment: str, reward: str) -> str:
    check_name("experiment", experiment), check_name("reward", reward)
    return f"experiments/{experiment}/scores/{reward}.parquet"


def experiment_file(experiment: str, name: str) -> str:
    """Another file of an experiment, named with its suffix (``leaderboard.json``, ``pred.parquet``)."""
    check_name("experiment", experiment), check_name("experiment file", name)
    return f"experiments/{experiment}/{name}"


# ---------------------------------------------------------------- what every job leaves beside its outputs

def log(step: str) -> str:
    return f"logs/{step}.log"


def benchmark(step: str) -> str:
    return f"benchmarks/{step}.tsv"


def provenance(step: str) -> str:
    return f"provenance/{step}.json"
