"""A run's config validated whole: the core keys (``config``), the experiments' blocks and the table list.

``config`` knows the keys of the main benchmark; the experiments know their
own blocks (``Experiment.schema``, ``Experiment.problems``) and the catalog
knows the tables, so the checks that need them live here, above all three.
The Snakefile, the CLI and the tests load configs through ``validate_run``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .config import ConfigError, load_yaml, validate_against, validate_config
from .experiments import experiments_schema, registered
from .tables.catalog import tables_of


class ExperimentChecks:
    """The ``experiments`` blocks against their experiments' schemas, and what they name against the registries."""

    def fill(self, config: dict) -> None:
        if config.get("experiments") is None:
            return
        schema = experiments_schema(registered(config))
        validate_against({"experiments": config["experiments"]},
                         {"type": "object", "properties": {"experiments": schema}}, "config")

    def problems(self, config: Mapping, registry: Mapping) -> list[str]:
        problems: list[str] = []
        offline = config.get("offline_models") or {}
        experiments = registered(config)
        for experiment in experiments.values():
            if experiment.spec(config) is None:
                continue
            released = set(experiment.released_score_rewards(config))
            for key, name, kind in dict.fromkeys(experiment.named_entries(config)):
                if kind == "rewards" and name in released:
                    continue
                entry = registry[kind].get(name)
                if entry is None:
                    problems.append(f"{key}: {name!r} is not in the {kind} registry; known: {sorted(registry[kind])}")
                elif entry.get("loader") is None:
                    problems.append(f"{key}: {name!r} has no loader yet (known only from released data)")
                elif entry.get("offline_model") is not None and entry["offline_model"] not in offline:
                    problems.append(f"{key}: {name!r} loads the offline model {entry['offline_model']!r}, "
                                    "which offline_models does not define")
            problems += experiment.problems(config, registry)
        return problems


class TableChecks:
    """Every table of ``analysis.tables`` is in the catalog, and its experiment's block is in the config."""

    def fill(self, config: dict) -> None:
        pass

    def problems(self, config: Mapping, registry: Mapping) -> list[str]:
        catalog, experiments = tables_of(config), registered(config)
        problems = []
        for name in config["analysis"]["tables"]:
            spec = catalog.get(name)
            if spec is None:
                problems.append(f"analysis.tables: unknown table {name!r}; the catalog has {sorted(catalog)}")
            elif spec.experiment is not None and experiments[spec.experiment].spec(config) is None:
                problems.append(f"analysis.tables: {name} needs {experiments[spec.experiment].key()} in the config")
        return problems


class ReleasedChecks:
    """A released run asks only for what the released benchmark provides (or computes it from its images)."""

    def fill(self, config: dict) -> None:
        pass

    def problems(self, config: Mapping, registry: Mapping) -> list[str]:
        if config.get("source") != "released":
            return []
        try:
            provided = released_outputs(config)
        except ConfigError as err:
            return [str(err)]
        if provided["images"]:
            return []
        problems = []
        for kind, selected in (("rewards", config["rewards"]), ("pairwise", config["judges"]["pairwise"]),
                               ("rater", config["judges"].get("rater", []))):
            for name in selected:
                if name not in provided[kind]:
                    problems.append(f"{'judges.' + kind if kind != 'rewards' else 'rewards'}: {name!r} is not in "
                                    "the released data; set released.images: true to compute it from the released "
                                    "images")
        return problems


def released_outputs(config: Mapping) -> dict[str, list]:
    """What the released benchmark provides for this run: rewards, pairwise judges, raters."""
    # pandas loads only for a released run
    from .released.benchmark import ReleasedSpec

    spec = ReleasedSpec.from_config(config["released"])
    provided_rewards = set(spec.provided_rewards)
    return {
        "rewards": [r for r in config["rewards"] if r in provided_rewards],
        "pairwise": [j for j in config["judges"]["pairwise"] if j in set(spec.judges.values())],
        "rater": [r for r in config["judges"].get("rater", []) if r == spec.rater],
        "images": [True] if spec.images else [],
    }


CHECKS = (ExperimentChecks(), TableChecks(), ReleasedChecks())


def validate_run(raw: Mapping) -> dict:
    """A validated copy of a run config, defaults filled in; ``ConfigError`` names every problem."""
    return validate_config(raw, CHECKS)


def load_run(path: str | os.PathLike) -> dict:
    return validate_run(load_yaml(path))
