"""The side experiments' stages, one function per rule of rules/experiments.smk.

Like ``pipeline``, each step takes the validated run config and explicit input
and output paths, so the rules' scripts stay a few lines long and every step
runs without Snakemake. Each looks its experiment up in the run's experiments
(``experiments.registered``) and asks it what to do; the files go where
``layout`` puts them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from . import contracts, registry
from .config import ConfigError, generation_settings, load_registry, resolve_path
from .config import run_dir as run_folder
from .experiments import registered
from .experiments.base import Experiment
from .experiments.common import experiment_requests, manifest_generator, relative_folder, write_provenance
from .generation.runner import run_generation
from .runtime import Runtime

log = logging.getLogger(__name__)


def experiment_of(config: Mapping, name: str) -> Experiment:
    experiments = registered(config)
    if name not in experiments:
        raise KeyError(f"unknown experiment {name!r}; known: {sorted(experiments)}")
    experiment = experiments[name]
    if experiment.spec(config) is None:
        raise ConfigError(f"{experiment.key()} is not in the config")
    return experiment


def build_items(config: dict, experiment: str, output: str | Path, image_dir: str | Path,
                provenance_file: str | Path | None = None) -> pd.DataFrame:
    """The experiment's items (stand-ins or the released set), pictures under ``image_dir``."""
    exp = experiment_of(config, experiment)
    Path(image_dir).mkdir(parents=True, exist_ok=True)
    items, component = exp.build_items(config, Path(image_dir), run_folder(config))
    contracts.write_table(items, output, exp.item_schema())
    failed = int((items["status"] != contracts.OK).sum())
    if failed:
        log.warning("%s: %d of %d items have no usable picture", experiment, failed, len(items))
    if provenance_file is not None:
        write_provenance(config, provenance_file, component, experiment=experiment, items=len(items), failed=failed)
    return items


def build_prompts(config: dict, experiment: str, output: str | Path, inputs: Sequence[str | Path] = ()) -> pd.DataFrame:
    """The experiment's prompts as a PROMPTS-valid frame, one rendered image per row."""
    exp = experiment_of(config, experiment)
    # Snakemake's inputs are relative to the job's working directory, which need not be the repository
    frame = exp.build_prompts(config, [str(Path(p).absolute()) for p in inputs])
    contracts.write_table(frame, output, contracts.PROMPTS)
    log.info("%s: %d prompts to render", experiment, len(frame))
    return frame


def released_renders(config: dict, experiment: str, prompts_output: str | Path,
                     manifest_outputs: Mapping[str, str | Path], provenance_file: str | Path | None = None):
    """A released set's prompts and pictures, filed as the prompts and manifests a render would leave."""
    return experiment_of(config, experiment).released_renders(config, prompts_output, manifest_outputs,
                                                              provenance_file)


def released_scores(config: dict, experiment: str, items_file: str | Path, output: str | Path) -> pd.DataFrame:
    """The scores a released set carries for the experiment's items, in its score contract."""
    return experiment_of(config, experiment).write_released_scores(config, items_file, output)


def generate(config: dict, experiment: str, generator: str, prompts_file: str | Path, output: str | Path,
             provenance_file: str | Path, threads: int | None = None,
             image_dir: str | Path | None = None) -> pd.DataFrame:
    """Render every prompt of the experiment once with ``generator``: PNGs into ``image_dir`` (the rule's
    declared folder; by default the manifest ``output``'s own, as ``layout.manifest_in`` places it)."""
    reg = load_registry(config)
    model = registry.build(reg, "generators", generator, Runtime.from_config(config, threads=threads))
    prompts = contracts.read_table(prompts_file, contracts.PROMPTS)
    requests = experiment_requests(prompts, generation_settings(reg, generator, "o"), config["seed"],
                                   model.takes_seed)
    run_dir = run_folder(config)
    image_dir = Path(output).parent if image_dir is None else Path(image_dir)
    image_dir.mkdir(parents=True, exist_ok=True)
    manifest = run_generation(model, requests, run_dir, relative_folder(image_dir, run_dir))
    contracts.write_table(manifest, output, contracts.MANIFEST)
    write_provenance(config, provenance_file, {"kind": "generator", "name": generator, **model.provenance()},
                     experiment=experiment, images=len(manifest),
                     failed=int((manifest["status"] != contracts.OK).sum()))
    return manifest


def score(config: dict, experiment: str, reward: str, output: str | Path, provenance_file: str | Path, *,
          items_file: str | Path | None = None, prompts_file: str | Path | None = None,
          manifest_files: Sequence[str | Path] = (), threads: int | None = None) -> pd.DataFrame:
    """Score the experiment's pictures with ``reward`` into its score contract.

    The inputs are those ``Experiment.score_inputs`` names: its items, its
    prompts, one manifest per generator that rendered them.
    """
    exp = experiment_of(config, experiment)
    runtime = Runtime.from_config(config, threads=threads)
    model = registry.build(load_registry(config), "rewards", reward, runtime)
    manifests = {}
    for path in manifest_files:
        manifest = contracts.read_table(path, contracts.MANIFEST)
        manifests[manifest_generator(manifest)] = manifest
    items = contracts.read_table(items_file, exp.item_schema()) if items_file is not None else None
    prompts = contracts.read_table(prompts_file, contracts.PROMPTS) if prompts_file is not None else None
    frame, schema, extra = exp.score(config, model, runtime, run_folder(config), items=items, prompts=prompts,
                                     manifests=manifests)
    contracts.write_table(frame, output, schema)
    write_provenance(config, provenance_file, {"kind": "reward", "name": reward, **model.provenance()},
                     experiment=experiment, rows=len(frame), failed=int((frame["status"] != contracts.OK).sum()),
                     generators=sorted(manifests), **extra)
    return frame


def ingest_external(config: dict, experiment: str, name: str, output: str | Path) -> None:
    """Check one of the files from outside the run an experiment reads, and write it into the run folder."""
    exp = experiment_of(config, experiment)
    files = exp.external_files(config)
    if name not in files:
        raise ConfigError(f"{exp.key()}: no outside file {name!r} configured; configured: {sorted(files)}")
    exp.ingest_external(config, name, resolve_path(files[name]), Path(output))
