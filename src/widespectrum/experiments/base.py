"""What an experiment is, as the DAG, the config checks and the tables see it.

An experiment is one folder under ``widespectrum/experiments/``: its
``__init__.py`` defines a subclass of ``Experiment`` and names one instance
``EXPERIMENT``; ``schema.yaml`` beside it is the JSON-schema fragment of its
config block; heavier modules beside it (items, scoring, tables) are imported
only by the steps that run them, so evaluating the Snakefile stays cheap.

The declaration answers questions about a validated run config with plain
Python (no pandas): which generators render its prompts, which rewards score
it, which files it writes, which tables it makes. The generic rules of
``rules/experiments.smk`` ask these; nothing else dispatches on an
experiment's name.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import layout
from ..config import load_yaml
from ..tables.benchmark import pair_inputs
from ..tables.spec import TableSpec

# A block's keys that name registry entries, and the registry kind they name.
ENTRY_KEYS = {"generators": "generators", "generator": "generators", "pair": "generators",
              "rewards": "rewards", "reward": "rewards", "blip_reward": "rewards"}


def _names(value: str | list[str]) -> list[str]:
    """A block key's registry names: one name or a list."""
    return [value] if isinstance(value, str) else list(value)


class Experiment:
    """One measurement: its config block, the files it makes and the tables it reads them into.

    Subclasses set ``name`` and ``tables`` and override what their experiment
    does; the defaults describe an experiment that does nothing of that kind.
    """

    name: str
    # Where the block lives: under ``experiments:`` (most) or at the config's top (vsf, img2img),
    # for experiments whose generators are runs of the main benchmark (``benchmark_runs``).
    top_level: bool = False
    # The block keys naming the generators that render its prompts and the rewards that score
    # its pictures (one name or a list), when that is all ``render_generators`` and
    # ``scored_rewards`` say; None: it renders nothing, or nothing is scored by its own jobs.
    renders_key: str | None = None
    rewards_key: str | None = None
    # The roles whose rewards score its ``benchmark_runs``.
    run_reward_roles: tuple[str, ...] = ()
    tables: Mapping[str, TableSpec] = {}
    # The block's keys whose change must rebuild its items and prompts (Snakemake params).
    item_keys: tuple[str, ...] = ("source", "n_items", "size", "released")
    prompt_keys: tuple[str, ...] = ()
    has_items: bool = False

    # ------------------------------------------------------------ the config block

    def spec(self, config: Mapping) -> dict | None:
        """This experiment's block of a validated config, or None when the run does not do it."""
        if self.top_level:
            return config.get(self.name)
        return (config.get("experiments") or {}).get(self.name)

    def block(self, config: Mapping) -> dict:
        spec = self.spec(config)
        if spec is None:
            raise KeyError(f"{self.key()} is not in the config")
        return spec

    def key(self) -> str:
        return self.name if self.top_level else f"experiments.{self.name}"

    @cached_property
    def schema(self) -> dict | None:
        """The JSON-schema fragment of the block (``schema.yaml`` beside the module), None when validated elsewhere."""
        path = Path(inspect.getfile(type(self))).with_name("schema.yaml")
        if not path.is_file():
            return None
        return load_yaml(path)

    def problems(self, config: Mapping, registry: Mapping) -> list[str]:
        """What the block asks that the registries or the run cannot give (beyond the schema)."""
        return []

    def named_entries(self, config: Mapping) -> list[tuple[str, str, str]]:
        """(config key, registry name, registry kind) of every generator and reward the block runs."""
        if self.top_level:
            return []  # its generators are the run's, checked with them (config.all_generators)
        spec = self.spec(config) or {}
        named = []
        for key, kind in ENTRY_KEYS.items():
            value = spec.get(key)
            if isinstance(value, str):
                named.append((f"{self.key()}.{key}", value, kind))
            elif isinstance(value, list):
                named += [(f"{self.key()}.{key}[{i}]", v, kind) for i, v in enumerate(value)]
        return named

    # ------------------------------------------------------------ what it makes (run-relative paths)

    def render_generators(self, config: Mapping) -> list[str]:
        """Generators that render its prompts (or whose pictures a released set provides)."""
        spec = self.spec(config) if self.renders_key else None
        return _names(spec[self.renders_key]) if spec else []

    def renders_released(self, config: Mapping) -> bool:
        """Its 'renders' are a released set's pictures, filed as renders, not generated here."""
        return False

    def prompt_inputs(self, config: Mapping) -> list[str]:
        """Repository files its prompts are built from (config paths)."""
        return []

    def prompt_run_inputs(self, config: Mapping) -> list[str]:
        """Files of the run its prompts are built from (``layout`` paths), after ``prompt_inputs``."""
        return []

    def scored_rewards(self, config: Mapping) -> list[str]:
        """Rewards its score jobs run."""
        return _names(self.block(config)[self.rewards_key]) if self.rewards_key else []

    def benchmark_runs(self, config: Mapping) -> list[str]:
        """Generators of its own that the main benchmark's rules render, score and rate (vsf, img2img)."""
        return []

    def benchmark_run_files(self, config: Mapping) -> dict[str, list[str]]:
        """The main contracts' files of its ``benchmark_runs``: the scores of each ``run_reward_roles``
        reward, the rater's ratings and the prompts (a table's ``requires``)."""
        runs = self.benchmark_runs(config)
        roles = config["roles"]
        rewards = list(dict.fromkeys(roles[r] for r in self.run_reward_roles if roles.get(r)))
        raters = [roles["rater"]] if roles.get("rater") else []
        return pair_inputs(scores=[(r, g) for r in rewards for g in runs],
                           ratings=[(r, g) for r in raters for g in runs])

    def score_inputs(self, config: Mapping) -> dict[str, Any]:
        """Run paths a score job reads: ``item_table``, ``prompts``, ``manifests`` (a list)."""
        inputs: dict[str, Any] = {}
        if self.has_items:
            inputs["item_table"] = layout.experiment_items(self.name)
        if self.render_generators(config):
            inputs["prompts"] = layout.experiment_prompts(self.name)
        inputs["manifests"] = [layout.experiment_manifest(self.name, g) for g in self.render_generators(config)]
        return inputs

    def score_spec(self, config: Mapping) -> dict[str, Any]:
        """Block settings a score job runs with besides the reward (a rerun trigger)."""
        return {}

    def score_needs_gpu(self, config: Mapping) -> bool:
        """A score job needs a GPU for the experiment's own model (a face detector), whatever the reward."""
        return False

    def external_files(self, config: Mapping) -> dict[str, str]:
        """Files from outside the run it reads, checked and copied in: run file name -> config path."""
        return {}

    def released_score_rewards(self, config: Mapping) -> list[str]:
        """Rewards whose scores a released set carries, written without a model."""
        return []

    def score_files(self, config: Mapping) -> list[str]:
        """Its score tables: one per scored reward, then the released scores when a released set carries some."""
        files = [layout.experiment_scores(self.name, r) for r in self.scored_rewards(config)]
        if self.released_score_rewards(config):
            files.append(layout.experiment_released_scores(self.name))
        return files

    def outputs(self, config: Mapping) -> list[str]:
        """Every data file it produces that a table reads."""
        if self.spec(config) is None:
            return []
        return self.score_files(config) + [layout.experiment_file(self.name, f) for f in self.external_files(config)]

    # ------------------------------------------------------------ steps (run in jobs; heavy modules load here)

    def module(self, name: str) -> ModuleType:
        """A module of the experiment's folder; pandas and models load only in the jobs that need them."""
        return importlib.import_module(f"{type(self).__module__}.{name}")

    def item_schema(self):
        raise NotImplementedError(f"{self.name} has no items")

    def build_items(self, config: Mapping, image_dir: Path, run_dir: Path):
        """(items frame in ``item_schema``, provenance component)."""
        raise NotImplementedError(f"{self.name} has no items")

    def build_prompts(self, config: Mapping, inputs: list[str]):
        """A PROMPTS frame, one rendered picture per row, from ``prompt_inputs`` then ``prompt_run_inputs``."""
        raise NotImplementedError(f"{self.name} renders no prompts")

    def score(self, config: Mapping, model, runtime, run_dir: Path, *, items=None, prompts=None,
              manifests: Mapping | None = None):
        """(score frame, its schema, extra provenance) of ``model`` over the experiment's pictures."""
        raise NotImplementedError(f"{self.name} is not scored")

    def released_renders(self, config: Mapping, prompts_output, manifest_outputs: Mapping, provenance_file=None):
        """Write a released set's prompts and pictures as ``prompts_output`` and per-generator manifests."""
        raise NotImplementedError(f"{self.name} has no released renders")

    def write_released_scores(self, config: Mapping, items_file, output):
        """Write the scores a released set carries for the items (``released_score_rewards``)."""
        raise NotImplementedError(f"{self.name} has no released scores")

    def ingest_external(self, config: Mapping, name: str, source: Path, output: Path) -> None:
        """Check one of ``external_files`` and write it into the run folder."""
        raise NotImplementedError(f"{self.name} reads no outside files")

    def __repr__(self) -> str:
        return f"<experiment {self.name}: tables {list(self.tables)}>"
