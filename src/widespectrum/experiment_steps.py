"""The side experiments' steps (SPEC E4, E6-E8, E10), one function per rule of rules/experiments.smk.

Like ``pipeline``, each step takes the validated run config and explicit
input and output paths, so the rules' scripts stay a few lines long and every
step runs without Snakemake. The run config's optional ``experiments`` mapping
(``config/experiments_schema.yaml``) says which experiments a run does; this
module also holds the layout of their files under ``<run>/experiments/`` and
what each block asks for, so the rules, the tables and the tests agree.

Layout, relative to the run folder::

    experiments/<emotion|ava|art>/items.parquet          the experiment's items (its *_ITEMS schema)
    experiments/<emotion|ava|art>/item_images/           their pictures
    experiments/<emotion_generation|ava|critical>/prompts.parquet          PROMPTS, one prompt per row
    experiments/<emotion_generation|ava|critical>/images/<generator>/      PNGs + manifest.parquet
        (critical with source released: the released set's prompts and pictures, written in these
        same two forms by one step, so its score jobs read them as if rendered here)
    experiments/<experiment>/scores/<reward>.parquet     EMOTION_SCORES, FACE_SCORES, AVA_SCORES, ...
    experiments/art/released_scores.parquet             ART_SCORES read from the released set
    experiments/art/leaderboard.json                    the reward's leaderboard, as checked
    experiments/<validation|human>/<part>.parquet       the user's reference files, as checked
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import contracts, provenance, registry
from .config import REPO_ROOT, ConfigError, generation_settings, load_registry, load_yaml, resolve_path
from .config import run_dir as run_folder
from .config import validate_against
from .runtime import Runtime

log = logging.getLogger(__name__)

EXPERIMENTS_SCHEMA_FILE = REPO_ROOT / "config" / "experiments_schema.yaml"

ITEM_EXPERIMENTS = ("emotion", "ava", "art")
RENDER_EXPERIMENTS = ("emotion_generation", "ava", "critical")
SCORED_EXPERIMENTS = ("emotion", "emotion_generation", "ava", "art", "critical")
REFERENCE_EXPERIMENTS = ("validation", "human")

# The user's reference files: part -> (config key, the columns the tables read).
REFERENCE_FILES: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "validation": {
        "pred": ("pred_file", ("image_id", "dimension", "score")),
        "truth": ("truth_file", ("image_id", "dimension", "rating")),
    },
    "human": {
        "ratings": ("ratings_file", ("rater_id", "image_id", "dimension", "rating")),
        "judge_ratings": ("judge_ratings_file", ("image_id", "dimension", "score")),
        "labels": ("labels_file", ("pair_id", "selected")),
        "judge_labels": ("judge_labels_file", ("pair_id", "selected")),
    },
}


# ---------------------------------------------------------------- layout

def items_path(experiment: str) -> str:
    return f"experiments/{experiment}/items.parquet"


def item_images_dir(experiment: str) -> str:
    return f"experiments/{experiment}/item_images"


def prompts_path(experiment: str) -> str:
    return f"experiments/{experiment}/prompts.parquet"


def manifest_path(experiment: str, generator: str) -> str:
    return f"experiments/{experiment}/images/{generator}/manifest.parquet"


def scores_path(experiment: str, reward: str) -> str:
    return f"experiments/{experiment}/scores/{reward}.parquet"


RELEASED_ART_SCORES = "experiments/art/released_scores.parquet"
LEADERBOARD = "experiments/art/leaderboard.json"


def reference_path(experiment: str, part: str) -> str:
    return f"experiments/{experiment}/{part}.parquet"


# ---------------------------------------------------------------- what a config asks for

def experiments_of(config: Mapping) -> dict:
    return config.get("experiments") or {}


def render_generators(config: Mapping, experiment: str) -> list[str]:
    """The generators that render an experiment's prompts (none when the block is absent)."""
    spec = experiments_of(config).get(experiment)
    if spec is None:
        return []
    if experiment == "emotion_generation":
        return list(spec["generators"])
    if experiment == "ava":
        return [spec["generator"]]
    if experiment == "critical":
        return list(spec["pair"])
    return []


def renders_released(config: Mapping, experiment: str) -> bool:
    """The experiment's 'renders' are a released set's pictures (critical with source released), not generated."""
    spec = experiments_of(config).get(experiment)
    return experiment == "critical" and spec is not None and spec.get("source") == "released"


def released_score_rewards(config: Mapping) -> list[str]:
    """Rewards whose art scores come from the released set rather than from a model."""
    spec = experiments_of(config).get("art")
    if spec is None or spec.get("source") != "released":
        return []
    return list(spec.get("released_scores") or {})


def scored_rewards(config: Mapping, experiment: str) -> list[str]:
    """The rewards an experiment's score jobs run (rewards read from released data excluded)."""
    spec = experiments_of(config).get(experiment)
    if spec is None:
        return []
    if experiment in ("emotion", "critical"):
        return list(spec["rewards"])
    if experiment in ("emotion_generation", "ava"):
        return [spec["reward"]]
    if experiment == "art":
        released = set(released_score_rewards(config))
        wanted = [spec["reward"], *([spec["blip_reward"]] if spec.get("blip_reward") else [])]
        return [r for r in dict.fromkeys(wanted) if r not in released]
    return []


def reference_parts(config: Mapping, experiment: str) -> list[str]:
    """The reference files a validation or human block names."""
    spec = experiments_of(config).get(experiment)
    if spec is None:
        return []
    return [part for part, (key, _) in REFERENCE_FILES[experiment].items() if spec.get(key)]


def experiment_outputs(config: Mapping) -> list[str]:
    """Every data file the configured experiments produce, relative to the run folder."""
    files = []
    for experiment in SCORED_EXPERIMENTS:
        files += [scores_path(experiment, r) for r in scored_rewards(config, experiment)]
    if released_score_rewards(config):
        files.append(RELEASED_ART_SCORES)
    if (experiments_of(config).get("art") or {}).get("leaderboard_file"):
        files.append(LEADERBOARD)
    for experiment in REFERENCE_EXPERIMENTS:
        files += [reference_path(experiment, p) for p in reference_parts(config, experiment)]
    return files


# ---------------------------------------------------------------- config checks

def validate_experiments(config: dict) -> dict:
    """Check ``config["experiments"]`` against the schema and fill its defaults, in place.

    Errors name the key from the config's top, e.g. ``experiments.emotion.n_items``.
    """
    if config.get("experiments") is None:
        return config
    # An embedded "$schema" would make the validator switch to the plain draft class,
    # which does not fill defaults; the schema's "$id" keeps its "$defs" resolvable.
    schema = {k: v for k, v in load_yaml(EXPERIMENTS_SCHEMA_FILE).items() if k != "$schema"}
    validate_against({"experiments": config["experiments"]},
                     {"type": "object", "properties": {"experiments": schema}}, "config")
    return config


def experiment_reference_problems(config: Mapping, registry_entries: Mapping) -> list[str]:
    """Names in ``experiments`` that the registries lack, cannot run, or the run cannot build.

    A generator or reward needs a loader; one that loads an offline model
    needs it in ``offline_models``. A table in ``analysis.tables`` needs its block.
    """
    from .analysis.build_experiments import TABLE_BLOCKS

    problems: list[str] = []
    offline = config.get("offline_models") or {}
    specs = experiments_of(config)

    def runnable(key: str, name: str, kind: str) -> None:
        entry = registry_entries[kind].get(name)
        if entry is None:
            problems.append(f"{key}: {name!r} is not in the {kind} registry; known: {sorted(registry_entries[kind])}")
        elif entry.get("loader") is None:
            problems.append(f"{key}: {name!r} has no loader yet (known only from released data)")
        elif entry.get("offline_model") is not None and entry["offline_model"] not in offline:
            problems.append(f"{key}: {name!r} loads the offline model {entry['offline_model']!r}, "
                            "which offline_models does not define")

    released = set(released_score_rewards(config))
    for key, name, kind in _named_entries(specs):
        if not (kind == "rewards" and name in released):
            runnable(key, name, kind)
    if "emotion_generation" in specs:
        loader = specs["emotion_generation"]["cropper"]["loader"]
        if loader not in registry.LOADERS.get("croppers", {}) and ":" not in loader:
            problems.append(f"experiments.emotion_generation.cropper.loader: unknown cropper {loader!r}; use one of "
                            f"{sorted(registry.LOADERS.get('croppers', {}))} or 'package.module:Class'")
    if "slopes" in specs:
        slopes = specs["slopes"]
        for reward in slopes.get("rewards") or []:
            if reward not in config["rewards"]:
                problems.append(f"experiments.slopes.rewards: {reward!r} is not one of the run's rewards")
        blip = slopes.get("blip_reward")
        if blip is not None and blip not in config["rewards"]:
            problems.append(f"experiments.slopes.blip_reward: {blip!r} is not one of the run's rewards")
    if "critical" in specs:
        critical = specs["critical"]
        for reward in critical.get("alternatives") or {}:
            if reward not in critical["rewards"]:
                problems.append(f"experiments.critical.alternatives: {reward!r} is not one of its rewards")
        named = sorted((critical.get("image_columns") or {}).values())
        if critical.get("source") == "released" and named != sorted(critical["pair"]):
            problems.append(f"experiments.critical.image_columns: names the generators {named}, "
                            f"not the pair {sorted(critical['pair'])}")
    if "art" in specs and specs["art"].get("released_scores") and specs["art"]["source"] != "released":
        problems.append("experiments.art.released_scores: needs source: released")
    for name in (config.get("analysis") or {}).get("tables", []):
        block = TABLE_BLOCKS.get(name)
        if block is not None and block not in specs:
            problems.append(f"analysis.tables: {name} needs experiments.{block} in the config")
    return problems


def _named_entries(specs: Mapping) -> list[tuple[str, str, str]]:
    """(config key, registry name, registry kind) of every generator and reward the blocks name."""
    keys = {"generators": "generators", "generator": "generators", "pair": "generators",
            "rewards": "rewards", "reward": "rewards", "blip_reward": "rewards"}
    named = []
    for experiment in (*RENDER_EXPERIMENTS, *SCORED_EXPERIMENTS):
        spec = specs.get(experiment) or {}
        for key, kind in keys.items():
            # A released critical pair only labels the released pictures: nothing loads it.
            if experiment == "critical" and key == "pair" and spec.get("source") == "released":
                continue
            value = spec.get(key)
            if isinstance(value, str):
                named.append((f"experiments.{experiment}.{key}", value, kind))
            elif isinstance(value, list):
                named += [(f"experiments.{experiment}.{key}[{i}]", v, kind) for i, v in enumerate(value)]
    return list(dict.fromkeys(named))


# ---------------------------------------------------------------- shared pieces

def _spec(config: Mapping, experiment: str) -> dict:
    spec = experiments_of(config).get(experiment)
    if spec is None:
        raise ConfigError(f"experiments.{experiment} is not in the config")
    return spec


def _runtime(config: Mapping, threads: int | None) -> Runtime:
    return Runtime.from_config(dict(config), threads=threads)


def _released_table(config: Mapping, released: Mapping):
    """The released set of a block's ``released`` mapping, cut to its first ``n_rows``."""
    from .released.loading import load_released_table

    local_dir = resolve_path(released["local_dir"]) if released.get("local_dir") else None
    table = load_released_table(released["dataset"], released.get("revision"), released.get("split", "train"),
                                local_dir, cache_dir=_runtime(config, None).cache_dir)
    if released.get("n_rows"):
        table = table.slice(0, released["n_rows"])
    log.info("%s: %d rows", released["dataset"], len(table))
    return table


def _save_released_image(value: Any, run_dir: Path, relpath: str) -> dict[str, Any]:
    """An encoded released image as a PNG item picture; an undecodable one becomes a status."""
    from .experiments import save_item_image
    from .released.loading import decode_image

    try:
        image = decode_image(value).convert("RGB")
    except Exception as err:  # one broken picture must not lose the set
        log.warning("cannot decode the image for %s: %s", relpath, err)
        return {"path": None, "sha256": None, "status": f"error: undecodable image: {type(err).__name__}: {err}"}
    return {**save_item_image(image, run_dir, relpath), "status": contracts.OK}


def _write_provenance(config: Mapping, path: str | Path, component: dict[str, Any], **extra: Any) -> None:
    contracts.write_json(path, provenance.record(dict(config), component, **extra))


# ---------------------------------------------------------------- items (E6, E7, E8)

def item_schema(experiment: str) -> contracts.Schema:
    from .experiments.art import ART_ITEMS
    from .experiments.ava import AVA_ITEMS
    from .experiments.emotion import EMOTION_ITEMS

    return {"emotion": EMOTION_ITEMS, "ava": AVA_ITEMS, "art": ART_ITEMS}[experiment]


def build_items(config: dict, experiment: str, output: str | Path, image_dir: str | Path,
                provenance_file: str | Path | None = None) -> pd.DataFrame:
    """The experiment's items (stand-ins or the released set), pictures under ``image_dir``."""
    from .experiments import relative_folder
    from .demo import standins

    spec = _spec(config, experiment)
    run_dir = run_folder(config)
    Path(image_dir).mkdir(parents=True, exist_ok=True)
    if spec["source"] == "standin":
        make = {"emotion": standins.emotion_items, "ava": standins.ava_items, "art": standins.lapis_items}[experiment]
        items = make(image_dir, run_dir, n_items=spec["n_items"], seed=config["seed"], size=spec["size"])
        component = {"kind": "stand-in items", "function": f"demo.standins.{make.__name__}",
                     "n_items": spec["n_items"], "size": spec["size"], "seed": config["seed"]}
    else:
        folder = relative_folder(image_dir, run_dir)
        table = _released_table(config, spec["released"])
        convert = {"emotion": _released_emotion_items, "ava": _released_ava_items, "art": _released_art_items}
        items = convert[experiment](table, run_dir, folder, spec)
        component = {"kind": "released items", **spec["released"]}
    contracts.write_table(items, output, item_schema(experiment))
    failed = int((items["status"] != contracts.OK).sum())
    if failed:
        log.warning("%s: %d of %d items have no usable picture", experiment, failed, len(items))
    if provenance_file is not None:
        _write_provenance(config, provenance_file, component, experiment=experiment, items=len(items), failed=failed)
    return items


def _released_emotion_items(table, run_dir: Path, folder: str, spec: Mapping) -> pd.DataFrame:
    from tqdm.auto import tqdm

    from .released.experiments import emotion_bias_items

    rows = []
    for item in tqdm(emotion_bias_items(table).itertuples(index=False), desc="emotion items", unit="item"):
        for emotion, value in item.images.items():
            saved = _save_released_image(value, run_dir, f"{folder}/{item.item_id}_{emotion}.png")
            rows.append({"item_id": item.item_id, "image_emotion": emotion,
                         "prompt_template": item.prompt_template, **saved})
    return item_schema("emotion").validate(pd.DataFrame(rows, columns=item_schema("emotion").names))


def _released_ava_items(table, run_dir: Path, folder: str, spec: Mapping) -> pd.DataFrame:
    from tqdm.auto import tqdm

    from .released.experiments import ava_items

    rows = []
    for item in tqdm(ava_items(table).itertuples(index=False), desc="AVA items", unit="item"):
        saved = _save_released_image(item.image, run_dir, f"{folder}/{item.item_id}.png")
        rows.append({"item_id": item.item_id, "classes": list(item.class_keys),
                     "caption_anti": item.anti_aesthetic_caption, "caption_clean": item.clean_caption,
                     "reference_image": None, "file_name": item.file_name, **saved})
    return item_schema("ava").validate(pd.DataFrame(rows, columns=[*item_schema("ava").names, "file_name"]))


def _released_art_items(table, run_dir: Path, folder: str, spec: Mapping) -> pd.DataFrame:
    """Artworks with their pictures where the set has them, and its score columns kept as extras."""
    from tqdm.auto import tqdm

    from .released.experiments import lapis_items

    frame = lapis_items(table)
    score_columns = [c for c in frame.columns if c.startswith("score_")]
    missing = [c for c in (spec.get("released_scores") or {}).values() if f"score_{c}" not in score_columns]
    if missing:
        raise ConfigError(f"experiments.art.released_scores: column(s) {missing} not in "
                          f"{spec['released']['dataset']}; it has {[c[6:] for c in score_columns]}")
    rows = []
    for item in tqdm(frame.to_dict("records"), desc="art items", unit="item"):
        if item["image"] is None:
            saved = {"path": None, "sha256": None, "status": f"no image in {spec['released']['dataset']}"}
        else:
            saved = _save_released_image(item["image"], run_dir, f"{folder}/{item['item_id']}.png")
        rows.append({"item_id": item["item_id"], "caption": item["caption"], **saved,
                     **{c: item[c] for c in score_columns}})
    return item_schema("art").validate(pd.DataFrame(rows, columns=[*item_schema("art").names, *score_columns]))


def released_art_scores(config: dict, items_file: str | Path, output: str | Path) -> pd.DataFrame:
    """ART_SCORES of the rewards ``art.released_scores`` maps to columns of the released set.

    The released set scores each artwork under its own caption only, so every
    row is a 'true' caption row; an artwork without a released score is a row
    with that status.
    """
    spec = _spec(config, "art")
    items = contracts.read_table(items_file, item_schema("art"))
    rows = []
    for reward, column in (spec.get("released_scores") or {}).items():
        values = items[f"score_{column}"] if f"score_{column}" in items.columns else pd.Series([None] * len(items))
        for item_id, value in zip(items["item_id"], values):
            present = value is not None and pd.notna(value)
            rows.append({"item_id": item_id, "caption_kind": "true", "reward": reward,
                         "score": float(value) if present else None,
                         "status": contracts.OK if present else f"no {column} score in the released set"})
    frame = contracts.records_to_frame(rows, contracts.ART_SCORES)
    contracts.write_table(frame, output, contracts.ART_SCORES)
    return frame


# ---------------------------------------------------------------- prompts to render (E6, E7, E10)

def build_prompts(config: dict, experiment: str, output: str | Path,
                  items_file: str | Path | None = None) -> pd.DataFrame:
    """The experiment's prompts as a PROMPTS-valid frame, one rendered image per row."""
    spec = _spec(config, experiment)
    if experiment == "emotion_generation":
        frame = _emotion_generation_prompts(config, spec)
    elif experiment == "ava":
        from .experiments.ava import ava_generation_prompts

        if items_file is None:
            raise ValueError("the AVA prompts are the items' clean captions: give items_file")
        frame = ava_generation_prompts(contracts.read_table(items_file, item_schema("ava")))
    elif experiment == "critical":
        from .experiments.critical import critical_generation_prompts

        if renders_released(config, experiment):
            raise ConfigError("experiments.critical has source released: its prompts come with the released "
                              "pictures (released_critical_renders)")
        frame = critical_generation_prompts(critical_prompts(spec))
    else:
        raise ValueError(f"experiment {experiment!r} renders no prompts; those that do: {list(RENDER_EXPERIMENTS)}")
    contracts.write_table(frame, output, contracts.PROMPTS)
    log.info("%s: %d prompts to render", experiment, len(frame))
    return frame


def released_critical_renders(config: dict, prompts_output: str | Path, manifest_outputs: Mapping[str, str | Path],
                              provenance_file: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The released critical set as the prompts and per-generator manifests a render would leave.

    Each ``image_columns`` column becomes its generator's manifest (PNGs beside
    it, image kind 'o'), so the score jobs score the released pictures with the
    config's rewards. The set's own score columns are not read: the reward
    versions that made them are not published.
    """
    from .experiments import relative_folder
    from .experiments.critical import critical_generation_prompts
    from .released.experiments import critical_items
    from .released.loading import column_names

    spec = _spec(config, "critical")
    image_columns: dict[str, str] = dict(spec["image_columns"])
    if sorted(manifest_outputs) != sorted(image_columns.values()):
        raise ValueError(f"manifest outputs for {sorted(manifest_outputs)}, but experiments.critical.image_columns "
                         f"names {sorted(image_columns.values())}")
    table = _released_table(config, spec["released"])
    missing = [c for c in image_columns if c not in column_names(table)]
    if missing:
        raise ConfigError(f"experiments.critical.image_columns: column(s) {missing} not in "
                          f"{spec['released']['dataset']}; it has {column_names(table)}")
    items = critical_items(table)
    unreadable = [c for c in image_columns if c not in items["images"].iloc[0]] if len(items) else []
    if unreadable:
        raise ConfigError(f"experiments.critical.image_columns: column(s) {unreadable} of "
                          f"{spec['released']['dataset']} hold no images")
    if spec.get("n_per_topic"):
        items = items.groupby("topic", sort=False).head(spec["n_per_topic"]).reset_index(drop=True)
    items = items.assign(prompt_id=[_critical_prompt_id(r.topic, r.item_id) for r in items.itertuples()])
    prompts = critical_generation_prompts(items[["prompt_id", "topic", "prompt"]])
    labels = dict(zip(items["prompt_id"], _label_text(items["label"])))
    prompts = prompts.assign(label=[labels[p] for p in prompts["prompt_id"]])
    contracts.write_table(prompts, prompts_output, contracts.PROMPTS)
    run_dir = run_folder(config)
    manifests = {}
    for column, generator in image_columns.items():
        folder = relative_folder(Path(manifest_outputs[generator]).parent, run_dir)
        manifests[generator] = _released_manifest(items, column, generator, run_dir, folder, spec["released"])
        contracts.write_table(manifests[generator], manifest_outputs[generator], contracts.MANIFEST)
    failed = {g: int((m["status"] != contracts.OK).sum()) for g, m in manifests.items()}
    log.info("critical: %d released prompts, pictures of %s (%s failed)", len(prompts), sorted(manifests), failed)
    if provenance_file is not None:
        _write_provenance(config, provenance_file, {"kind": "released renders", **spec["released"]},
                          experiment="critical", image_columns=image_columns, prompts=len(prompts), failed=failed)
    return manifests


def _critical_prompt_id(topic: str, item_id: str) -> str:
    """'<topic slug>-<item id>', the id zero-padded when numeric so ids sort in the set's order."""
    slug = re.sub(r"[^a-z0-9]+", "_", topic.lower()).strip("_") or "topic"
    return f"{slug}-{int(item_id):03d}" if item_id.isdigit() else f"{slug}-{item_id}"


def _label_text(labels: pd.Series) -> list[str | None]:
    """The set's label (undocumented, of unknown type) as text, kept for reading only."""
    def text(value: Any) -> str | None:
        if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
            return None
        # integer labels with a null among them arrive as floats
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)

    return [text(value) for value in labels]


def _released_manifest(items: pd.DataFrame, column: str, generator: str, run_dir: Path, folder: str,
                       released: Mapping) -> pd.DataFrame:
    from tqdm.auto import tqdm

    settings = json.dumps({"source": "released", "dataset": released["dataset"],
                           "revision": released.get("revision"), "column": column}, sort_keys=True)
    rows = []
    for item in tqdm(items.itertuples(index=False), total=len(items), desc=f"critical {generator}", unit="img"):
        value = item.images.get(column)
        if value is None:
            saved = {"path": None, "sha256": None, "status": f"no image in {released['dataset']} column {column!r}"}
        else:
            saved = _save_released_image(value, run_dir, f"{folder}/{item.prompt_id}.png")
        rows.append({"generator": generator, "prompt_id": item.prompt_id, "image_kind": "o", "prompt": item.prompt,
                     "seed": None, "settings": settings, **saved})
    return contracts.records_to_frame(rows, contracts.MANIFEST)


def critical_prompts(spec: Mapping) -> pd.DataFrame:
    """The prompts file's first ``n_per_topic`` prompts of each topic: prompt_id, topic, prompt."""
    from .experiments.critical import load_critical_prompts

    frame = load_critical_prompts(resolve_path(spec["prompts_file"]))
    if spec.get("n_per_topic"):
        frame = frame.groupby("topic", sort=False).head(spec["n_per_topic"]).reset_index(drop=True)
    return frame


def _emotion_generation_prompts(config: Mapping, spec: Mapping) -> pd.DataFrame:
    from .experiments import render_prompts
    from .experiments.emotion import emotion_generation_prompts, load_emotion_templates

    if spec["source"] == "templates_file":
        templates = load_emotion_templates(resolve_path(spec["templates_file"]))
        frame = emotion_generation_prompts(templates[:spec["n_templates"]] if spec.get("n_templates") else templates)
    else:
        from .released.experiments import emotion_generation_prompts as released_prompts

        released = released_prompts(_released_table(config, spec["released"]))
        keep = list(dict.fromkeys(released["template_id"]))[:spec.get("n_templates") or None]
        rows = [{"prompt_id": f"t{row.template_id}-{row.emotion}", "caption_id": f"t{row.template_id}",
                 "prompt": row.prompt, "seed_key": f"t{row.template_id}", "template_id": f"t{row.template_id}",
                 "emotion": row.emotion, "prompt_template": row.prompt_template}
                for row in released.itertuples(index=False) if row.template_id in keep]
        frame = render_prompts(rows, rewriter=f"released:{spec['released']['dataset']}")
    return _with_reference_images(frame, spec.get("reference_images"))


def _with_reference_images(frame: pd.DataFrame, references: Sequence[str] | None) -> pd.DataFrame:
    """Template i gets references[i mod n], so a template's four emotions start from one picture."""
    if not references:
        return frame
    resolved = [str(resolve_path(r)) if resolve_path(r).is_file() else r for r in references]
    order = {template: i for i, template in enumerate(dict.fromkeys(frame["caption_id"]))}
    return frame.assign(reference_image=[resolved[order[t] % len(resolved)] for t in frame["caption_id"]])


# ---------------------------------------------------------------- rendering

def generate(config: dict, experiment: str, generator: str, prompts_file: str | Path, output: str | Path,
             provenance_file: str | Path, threads: int | None = None) -> pd.DataFrame:
    """Render every prompt of the experiment once with ``generator``; PNGs beside the manifest ``output``."""
    from .experiments import experiment_requests, relative_folder
    from .generation.runner import run_generation

    reg = load_registry(config)
    model = registry.build(reg, "generators", generator, _runtime(config, threads))
    prompts = contracts.read_table(prompts_file, contracts.PROMPTS)
    requests = experiment_requests(prompts, generation_settings(reg, generator, "o"), config["seed"],
                                   model.takes_seed)
    run_dir = run_folder(config)
    image_dir = Path(output).parent
    image_dir.mkdir(parents=True, exist_ok=True)
    manifest = run_generation(model, requests, run_dir, relative_folder(image_dir, run_dir))
    contracts.write_table(manifest, output, contracts.MANIFEST)
    _write_provenance(config, provenance_file, {"kind": "generator", "name": generator, **model.provenance()},
                      experiment=experiment, images=len(manifest),
                      failed=int((manifest["status"] != contracts.OK).sum()))
    return manifest


# ---------------------------------------------------------------- scoring

def build_cropper(spec: Mapping, runtime: Runtime):
    """The face cropper a ``cropper`` block names (``registry.LOADERS['croppers']`` or module:Class)."""
    cls = registry.resolve_class("croppers", spec["loader"])
    options = dict(spec.get("options") or {})
    # The demo's centre crop loads nothing and takes no runtime; detectors do.
    if "runtime" in inspect.signature(cls).parameters:
        options["runtime"] = runtime
    return cls(**options)


def score(config: dict, experiment: str, reward: str, output: str | Path, provenance_file: str | Path, *,
          items_file: str | Path | None = None, prompts_file: str | Path | None = None,
          manifest_files: Sequence[str | Path] = (), threads: int | None = None) -> pd.DataFrame:
    """Score the experiment's pictures with ``reward`` into its score contract.

    Inputs by experiment: emotion and art read ``items_file``; ava reads
    ``items_file`` and the render's manifest; emotion_generation and critical
    read ``prompts_file`` and one manifest per generator.
    """
    from .experiments import manifest_generator

    runtime = _runtime(config, threads)
    model = registry.build(load_registry(config), "rewards", reward, runtime)
    run_dir = run_folder(config)
    manifests = {}
    for path in manifest_files:
        manifest = contracts.read_table(path, contracts.MANIFEST)
        manifests[manifest_generator(manifest)] = manifest
    extra: dict[str, Any] = {}
    if experiment == "emotion":
        from .experiments.emotion import score_emotion_items

        frame, schema = score_emotion_items(model, _items(items_file, experiment), run_dir), contracts.EMOTION_SCORES
    elif experiment == "emotion_generation":
        from .experiments.emotion import score_faces

        cropper = build_cropper(_spec(config, experiment)["cropper"], runtime)
        prompts = _prompts(prompts_file)
        schema = contracts.FACE_SCORES
        frame = contracts.concat_validated(
            [score_faces(model, cropper, manifests[g], prompts, run_dir) for g in sorted(manifests)], schema)
        extra["cropper"] = {"name": cropper.name, **cropper.provenance()}
    elif experiment == "ava":
        from .experiments.ava import score_ava

        if len(manifests) != 1:
            raise ValueError(f"AVA scores one generator's renders, got manifests of {sorted(manifests)}")
        frame = score_ava(model, _items(items_file, experiment), next(iter(manifests.values())), run_dir)
        schema = contracts.AVA_SCORES
    elif experiment == "art":
        from .experiments.art import score_art

        frame, schema = score_art(model, _items(items_file, experiment), run_dir, config["seed"]), contracts.ART_SCORES
    elif experiment == "critical":
        from .experiments.critical import score_critical

        prompts = _prompts(prompts_file)
        texts = prompts[["prompt_id", "topic"]].assign(prompt=prompts["prompt_original"])
        frame, schema = score_critical(model, manifests, texts, run_dir), contracts.CRITICAL_SCORES
    else:
        raise ValueError(f"experiment {experiment!r} is not scored; those that are: {list(SCORED_EXPERIMENTS)}")
    contracts.write_table(frame, output, schema)
    _write_provenance(config, provenance_file, {"kind": "reward", "name": reward, **model.provenance()},
                      experiment=experiment, rows=len(frame), failed=int((frame["status"] != contracts.OK).sum()),
                      generators=sorted(manifests), **extra)
    return frame


def _items(items_file: str | Path | None, experiment: str) -> pd.DataFrame:
    if items_file is None:
        raise ValueError(f"scoring {experiment} needs its items_file")
    return contracts.read_table(items_file, item_schema(experiment))


def _prompts(prompts_file: str | Path | None) -> pd.DataFrame:
    if prompts_file is None:
        raise ValueError("scoring rendered prompts needs their prompts_file")
    return contracts.read_table(prompts_file, contracts.PROMPTS)


# ---------------------------------------------------------------- files from outside the run

def write_leaderboard(config: dict, output: str | Path) -> dict[str, Any]:
    """The art block's leaderboard file, checked, as JSON in the run folder (the table reads it there)."""
    from .experiments.art import load_leaderboard

    spec = _spec(config, "art")
    if not spec.get("leaderboard_file"):
        raise ConfigError("experiments.art.leaderboard_file is not set")
    board = load_leaderboard(resolve_path(spec["leaderboard_file"]))
    record = {"source": board.source, "month": board.month, "file": spec["leaderboard_file"],
              "entries": board.entries.to_dict("records")}
    contracts.write_json(output, record)
    return record


def read_reference_file(path: str | Path, columns: Sequence[str], what: str) -> pd.DataFrame:
    """A user's CSV or Parquet table with at least ``columns``; only those columns (and rater_id) are kept."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix in (".csv", ".tsv"):
        frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    else:
        raise ValueError(f"{what}: {path} is neither .csv, .tsv nor .parquet")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: {path} lacks column(s) {missing}; it has {list(frame.columns)}")
    kept = [*columns, *(["rater_id"] if "rater_id" in frame.columns and "rater_id" not in columns else [])]
    frame = frame[kept].copy()
    for column in ("image_id", "dimension", "rater_id", "pair_id"):
        if column in frame.columns:
            frame[column] = frame[column].astype("string").astype(object)
    return frame


def ingest_reference(config: dict, experiment: str, part: str, output: str | Path) -> pd.DataFrame:
    """Copy one of the user's reference files (validation, human) into the run folder as Parquet."""
    key, columns = REFERENCE_FILES[experiment][part]
    source = _spec(config, experiment).get(key)
    if not source:
        raise ConfigError(f"experiments.{experiment}.{key} is not set")
    frame = read_reference_file(resolve_path(source), columns, f"experiments.{experiment}.{key}")
    contracts.write_table(frame, output)
    log.info("%s: %d rows from %s", part, len(frame), source)
    return frame

