# Config validation, the run folder, and the small input helpers rules call. Everything
# here is plain Python over the config: evaluating the Snakefile loads no pandas, scipy
# or torch (bench/dryrun_speed.py measures it).
import os
import re
import sys

from widespectrum import layout as L
from widespectrum.config import ConfigError, all_generators, chunk_count, load_registry, load_yaml
from widespectrum.experiments import registered
from widespectrum.runconfig import released_outputs, validate_run
from widespectrum.tables.catalog import configured_tables, tables_of


DEFAULT_CONFIG = "config/config.yaml"


def _load_config(given):
    # A --configfile replaces the default config instead of merging into it: merging a
    # demo config into the paper's would leave paper-only keys behind.
    raw = dict(given) if "run" in given else {**load_yaml(DEFAULT_CONFIG), **given}
    try:
        return validate_run(raw)
    except ConfigError as err:
        sys.exit(f"widespectrum: {err}")


_validated = _load_config(config)
config.clear()
config.update(_validated)
REGISTRY = load_registry(config)
RUN = f"{config['results_dir']}/{config['run']}"
PYTHON = sys.executable
N_CHUNKS = chunk_count(config["prompts"]["n"], config["generation"]["chunk_size"]) if "prompts" in config else 0
RATERS = config["judges"].get("rater", [])
PAIRWISE = config["judges"]["pairwise"]
GENERATORS = all_generators(config)
IMG2IMG = config.get("img2img", {}).get("generators", [])
# What the released benchmark provides is ingested, not computed: those rewards and
# judges get no score/judge/rate jobs.
RELEASED = released_outputs(config) if config["source"] == "released" else {"rewards": [], "pairwise": [], "rater": []}
TABLE_CATALOG = tables_of(config)
TABLES = configured_tables(config)
EXPERIMENTS = registered(config)


def run(relative):
    """A path of the run folder (``layout`` spells it)."""
    return f"{RUN}/{relative}"


def one_of(names):
    """A wildcard constraint matching exactly these names (nothing when empty)."""
    return "|".join(map(re.escape, names)) or "(?!)"


wildcard_constraints:
    generator=one_of(GENERATORS),
    reward=one_of(config["rewards"]),
    judge=one_of(PAIRWISE),
    rater=one_of(RATERS),
    chunk=r"\d+",
    table=one_of(TABLES),


def entry(kind, name):
    return REGISTRY[kind][name]


def gpus(kind, key):
    """resources: gpu=1 for entries that run a real checkpoint, 0 for CPU stand-ins."""
    return lambda wildcards: int(bool(entry(kind, getattr(wildcards, key)).get("gpu", False)))


OFFLINE_MODELS_FILE = [run(L.OFFLINE_MODELS)]


def offline_models_input(kind, key):
    """Jobs of an entry that loads a locally built model wait for the build."""

    def inputs(wildcards):
        return OFFLINE_MODELS_FILE if entry(kind, getattr(wildcards, key)).get("offline_model") else []

    return inputs


def manifest(wildcards):
    return run(L.manifest(wildcards.generator))


def image_folder(manifest_path):
    """The folder of a manifest's PNGs: the one it lies in (layout.manifest_in)."""
    return os.path.dirname(manifest_path)


def released_targets():
    """Every file the ingest writes: the DAG's view of the released benchmark."""
    images = bool(config["released"].get("images"))
    files = [L.PROMPTS, L.AUDIT]
    files += [L.scores(r, g) for r in RELEASED["rewards"] for g in config["generators"]]
    files += [L.labels(j, g) for j in RELEASED["pairwise"] for g in config["generators"]]
    files += [L.ratings(r, g) for r in RELEASED["rater"] for g in config["generators"]]
    files += [L.manifest(g) for g in config["generators"] if images]
    return [run(f) for f in files]


def computed(names, provided):
    return [n for n in names if n not in provided]


def caption_inputs(wildcards):
    spec = config["prompts"]
    files = [spec["dimensions_file"]]
    if spec["source"] == "captions_file":
        files.append(spec["captions_file"])
    return files


# A table's inputs depend only on the config: computed once per table, not once per job.
TABLE_INPUTS = {
    name: {"spec": run(L.RUN_SPEC), **{key: [run(p) for p in paths]
                                       for key, paths in TABLE_CATALOG[name].requires(config).items()}}
    for name in TABLES
}


def table_inputs(wildcards):
    return TABLE_INPUTS[wildcards.table]


def all_targets():
    return (
        [run(L.table(t)) for t in TABLES]
        + [run(L.figure(t)) for t in TABLES]
        + [run(L.notebook(t)) for t in TABLES]
        + [run(L.report("md"))]
        + [run(L.NUMBERS_JSON), run(L.NUMBERS_TEX)]
        + experiment_targets()
    )
