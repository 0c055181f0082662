"""The paper's measurements beyond the main benchmark, one folder each: ``EXPERIMENTS`` names them all.

``EXPERIMENTS`` is the only place an experiment is looked up by name. A run
can add experiments of its own with ``experiment_plugins: [module, ...]``:
each module defines ``EXPERIMENT``, an ``Experiment`` (see ``base``), and is
imported from the Python path. The README's "Adding an experiment" shows one.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

from ..config import load_yaml
from .art import EXPERIMENT as ART
from .ava import EXPERIMENT as AVA
from .base import Experiment
from .critical import EXPERIMENT as CRITICAL
from .emotion import EXPERIMENT as EMOTION
from .emotion_generation import EXPERIMENT as EMOTION_GENERATION
from .human import EXPERIMENT as HUMAN
from .img2img import EXPERIMENT as IMG2IMG
from .slopes import EXPERIMENT as SLOPES
from .validation import EXPERIMENT as VALIDATION
from .vsf import EXPERIMENT as VSF

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    EMOTION, EMOTION_GENERATION, AVA, ART, CRITICAL, IMG2IMG, VSF, SLOPES, VALIDATION, HUMAN)}

SCHEMA_DEFS_FILE = Path(__file__).with_name("schema_defs.yaml")
# Gives the assembled schema an identity, so the fragments' "#/$defs/..." references resolve
# when it is embedded under a run config's `experiments` key.
SCHEMA_ID = "https://widespectrum.invalid/experiments"


def registered(config: Mapping) -> dict[str, Experiment]:
    """``EXPERIMENTS`` and the experiments of the run's ``experiment_plugins`` modules."""
    plugins = config.get("experiment_plugins") or []
    if not plugins:
        return EXPERIMENTS
    found = dict(EXPERIMENTS)
    for module_name in plugins:
        experiment = importlib.import_module(module_name).EXPERIMENT
        if not isinstance(experiment, Experiment):
            raise TypeError(f"{module_name}.EXPERIMENT is a {type(experiment).__name__}, not an Experiment")
        if experiment.name in found:
            raise ValueError(f"experiment_plugins: {module_name} defines {experiment.name!r}, which exists already")
        found[experiment.name] = experiment
    return found


def experiments_schema(experiments: Mapping[str, Experiment]) -> dict:
    """The schema of a config's ``experiments`` mapping, assembled from the experiments' fragments."""
    defs = load_yaml(SCHEMA_DEFS_FILE)
    blocks = {name: e.schema for name, e in experiments.items() if not e.top_level and e.schema is not None}
    return {"$id": SCHEMA_ID, "type": "object", "additionalProperties": False,
            "description": "the side experiments a run does; an absent block is one it does not do",
            "properties": blocks, "$defs": defs}


__all__ = ["EXPERIMENTS", "Experiment", "experiments_schema", "registered"]
