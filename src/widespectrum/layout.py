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
AUDIT_DIR = "audit"
# the manifest of one generator's images, beside them
MANIFEST_FILE = "manifest.parquet"
PROVENANCE_DIR = "provenance"
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


def _spell(template: str, **names: object) -> str:
    """``template`` filled with ``names``, each checked as one path component; its keyword names its kind."""
    return template.format(**{kind: check_name(kind.replace("_", " "), name) for kind, name in names.items()})


# ---------------------------------------------------------------- the main benchmark

def chunk_dir(generator: str, chunk: str | int) -> str:
    return _spell("images/{generator}/chunk-{chunk}", generator=generator, chunk=chunk)


def manifest_in(image_dir: str | os.PathLike) -> Path:
    """The manifest a generation job writes beside its chunk's (or its img2img run's) PNGs."""
    return Path(image_dir) / MANIFEST_FILE


def manifest(generator: str) -> str:
    return _spell("images/{generator}/" + MANIFEST_FILE, generator=generator)


def released_image(generator: str, prompt_id: str, image_kind: str) -> str:
    """A released benchmark image, written as a PNG of the run."""
    return _spell("images/{generator}/released/{prompt_id}_{image_kind}.png", generator=generator,
                  prompt_id=prompt_id, image_kind=image_kind)


def scores(reward: str, generator: str) -> str:
    return _spell("scores/{reward}/{generator}.parquet", reward=reward, generator=generator)


def labels(judge: str, generator: str) -> str:
    return _spell("judgements/{judge}/{generator}.parquet", judge=judge, generator=generator)


def ratings(rater: str, generator: str) -> str:
    return _spell("ratings/{rater}/{generator}.parquet", rater=rater, generator=generator)


def stage_of(relative: str) -> str:
    """The stage folder a run path lies in ('scores', 'judgements', ...): names the contract it holds."""
    return relative.split("/", 1)[0]


def owner_of(relative: str) -> str:
    """The reward, judge or rater of a ``scores``, ``judgements`` or ``ratings`` path."""
    return relative.split("/")[1]


def audit(suffix: str = "md") -> str:
    """The released-data audit (``.md``, ``.csv``, ``.json``)."""
    return _spell(AUDIT_DIR + "/audit.{suffix}", suffix=suffix)


AUDIT = audit("md")  # the audit file the DAG asks for


# ---------------------------------------------------------------- tables, figures, notebooks

def table(name: str, suffix: str = "csv") -> str:
    return _spell("tables/{table}.{suffix}", table=name, suffix=suffix)


def figure(name: str, suffix: str = "pdf") -> str:
    return _spell("figures/{figure}.{suffix}", figure=name, suffix=suffix)


def notebook(name: str) -> str:
    return _spell("notebooks/{notebook}.ipynb", notebook=name)


def report(suffix: str = "md") -> str:
    return f"{REPRODUCTION_REPORT}.{suffix}"


def explain_listing(key: str) -> str:
    """The rows behind one number of ``numbers.json``, listed by ``widespectrum explain``."""
    return f"explain/{key}.jsonl"


# ---------------------------------------------------------------- side experiments

def experiment_dir(experiment: str) -> str:
    return _spell("experiments/{experiment}", experiment=experiment)


def experiment_items(experiment: str) -> str:
    return _spell("experiments/{experiment}/items.parquet", experiment=experiment)


def experiment_item_images(experiment: str) -> str:
    return _spell("experiments/{experiment}/item_images", experiment=experiment)


def experiment_prompts(experiment: str) -> str:
    return _spell("experiments/{experiment}/prompts.parquet", experiment=experiment)


def experiment_manifest(experiment: str, generator: str) -> str:
    return _spell("experiments/{experiment}/images/{generator}/" + MANIFEST_FILE, experiment=experiment,
                  generator=generator)


def experiment_scores(experiment: str, reward: str) -> str:
    return _spell("experiments/{experiment}/scores/{reward}.parquet", experiment=experiment, reward=reward)


def experiment_released_scores(experiment: str) -> str:
    """The scores a released set carries for an experiment's items, written without a model."""
    return _spell("experiments/{experiment}/released_scores.parquet", experiment=experiment)


def experiment_file(experiment: str, name: str) -> str:
    """Another file of an experiment, named with its suffix (``leaderboard.json``, ``pred.parquet``)."""
    return _spell("experiments/{experiment}/{experiment_file}", experiment=experiment, experiment_file=name)


def experiment_step(experiment: str, step: str) -> str:
    """The name of one of an experiment's jobs (``items``, ``score-{reward}``), for its ``log``, ``benchmark``
    and ``provenance``; ``step`` may hold a rule's wildcards inside it, so only the experiment is checked."""
    return f"{experiment_dir(experiment)}/{step}"


# ---------------------------------------------------------------- what every job leaves beside its outputs

def log(step: str) -> str:
    return f"logs/{step}.log"


def benchmark(step: str) -> str:
    return f"benchmarks/{step}.tsv"


def provenance(step: str) -> str:
    return f"{PROVENANCE_DIR}/{step}.json"
