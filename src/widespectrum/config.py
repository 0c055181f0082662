"""Run configs: load, fill defaults, validate, and resolve the run folder.

A config is validated twice: against ``config/schema.yaml`` (types, allowed
values, defaults) and then against the registries (every generator, reward and
judge it names must exist, every role must point at something the run has).
Both raise ``ConfigError`` with the offending key and what was expected, before
any job starts. The experiments' blocks and the table list are checked on top
of this by ``runconfig``, which knows the experiments and the table catalog.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import jsonschema
import yaml

from . import layout

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO_ROOT / "config" / "schema.yaml"
REGISTRY_SCHEMA_FILE = REPO_ROOT / "config" / "registry_schema.yaml"
REGISTRY_KINDS = ("generators", "rewards", "judges")


class ConfigError(ValueError):
    """A config or registry file is invalid; the message names the key."""


def _key_path(path: Iterable) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _extend_with_defaults(validator_class):
    """A validator that also fills in schema defaults, so code reads one complete config."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, subschema in properties.items():
                if "default" in subschema and prop not in instance:
                    instance[prop] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _extend_with_defaults(jsonschema.Draft202012Validator)


def validate_against(instance: Any, schema: Mapping, what: str, fill_defaults: bool = True) -> Any:
    validator_class = _DefaultFillingValidator if fill_defaults else jsonschema.Draft202012Validator
    errors = sorted(validator_class(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{what} is invalid:"]
        for err in errors:
            expected = err.schema.get("description")
            hint = f" ({expected})" if expected and err.validator != "additionalProperties" else ""
            lines.append(f"  - {_key_path(err.absolute_path)}: {err.message}{hint}")
        raise ConfigError("\n".join(lines))
    return instance


# libyaml's safe loader parses the registries about ten times faster than the pure-Python one;
# evaluating the Snakefile reads them on every snakemake call.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: str | os.PathLike) -> Any:
    """The parsed file (``{}`` when empty); a fresh copy each call, so callers may change it."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}") from None
    return copy.deepcopy(_parsed_yaml(os.fspath(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=64)
def _parsed_yaml(path: str, mtime_ns: int, size: int) -> Any:
    # Keyed by mtime and size too, so an edited file is read again.
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=YAML_LOADER) or {}  # noqa: S506 - a safe loader
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None


def resolve_path(path: str | os.PathLike, root: Path = REPO_ROOT) -> Path:
    """Config paths are relative to the repository root, wherever the job runs."""
    path = Path(path)
    return path if path.is_absolute() else root / path


def load_registry(config: Mapping) -> dict[str, dict]:
    schema = load_yaml(REGISTRY_SCHEMA_FILE)
    registry = {}
    for kind in REGISTRY_KINDS:
        path = config["registry"][kind]
        entries = load_yaml(resolve_path(path))
        registry[kind] = validate_against(entries, schema, f"registry file {path}", fill_defaults=False)
    lock_file = config.get("lock")
    if lock_file and resolve_path(lock_file).is_file():
        # Imported here: the lock's modules load pandas, which building the DAG otherwise avoids.
        from .lock import read_lock
        from .registry import apply_lock

        registry = apply_lock(registry, read_lock(resolve_path(lock_file)))
    return registry


class ConfigExtension(Protocol):
    """Checks of a part of the config that a higher layer owns (the experiments' blocks, the released set)."""

    def fill(self, config: dict) -> None:
        """Validate the part against its schema and fill its defaults, in place."""

    def problems(self, config: Mapping, registry: Mapping) -> list[str]:
        """What the part names that the registries or the run cannot give."""


def validate_config(config: Mapping, extensions: Sequence[ConfigExtension] = ()) -> dict:
    """Return a validated copy of ``config`` with defaults filled in.

    ``extensions`` validate the parts this module does not know (see
    ``runconfig``); their problems join the registry problems in one error.
    """
    config = copy.deepcopy(dict(config))
    validate_against(config, load_yaml(SCHEMA_FILE), "config")
    for extension in extensions:
        extension.fill(config)
    registry = load_registry(config)
    problems = reference_problems(config, registry)
    for extension in extensions:
        problems += extension.problems(config, registry)
    if problems:
        raise ConfigError("config is invalid:\n" + "\n".join(f"  - {p}" for p in problems))
    if config["offline_models"] and config["hub"]["cache_dir"] is None:
        # Locally built models live inside the run folder, so a demo never touches the
        # user's real hub cache and deleting the run folder removes them too.
        config["hub"]["cache_dir"] = str(run_dir(config) / "models" / "hub")
    return config


def reference_problems(config: Mapping, registry: Mapping) -> list[str]:
    """Names the main keys use that the registries lack or the run does not have."""
    problems: list[str] = []

    def need(key: str, name: str | None, kind: str, among: Iterable[str] | None = None, what: str = "") -> None:
        if name is None:
            return
        if name not in registry[kind]:
            problems.append(f"{key}: {name!r} is not in the {kind} registry ({config['registry'][kind]}); "
                            f"known: {sorted(registry[kind])}")
        elif among is not None and name not in among:
            problems.append(f"{key}: {name!r} is not one of the run's {what}: {sorted(among)}")

    for i, name in enumerate(config["generators"]):
        need(f"generators[{i}]", name, "generators")
    for i, name in enumerate(config["rewards"]):
        need(f"rewards[{i}]", name, "rewards")
    for part in ("pairwise", "rater"):
        for i, name in enumerate(config["judges"].get(part, [])):
            need(f"judges.{part}[{i}]", name, "judges")
            kind = registry["judges"].get(name, {}).get("kind")
            if kind is not None and kind != part:
                problems.append(f"judges.{part}[{i}]: {name!r} is a {kind} judge, not {part}")
    rewards, roles = config["rewards"], config["roles"]
    for role in ("hpsv2", "hpsv3", "imagereward", "blip"):
        need(f"roles.{role}", roles.get(role), "rewards", rewards, "rewards")
    need("roles.judge", roles["judge"], "judges", config["judges"]["pairwise"], "pairwise judges")
    need("roles.rater", roles.get("rater"), "judges", config["judges"].get("rater", []), "raters")
    for i, variant in enumerate(config.get("vsf", {}).get("variants", [])):
        need(f"vsf.variants[{i}].generator", variant["generator"], "generators")
    if "img2img" in config:
        need("img2img.source", config["img2img"]["source"], "generators", config["generators"], "generators")
        for i, name in enumerate(config["img2img"]["generators"]):
            need(f"img2img.generators[{i}]", name, "generators")
    analysis = config.get("analysis", {})
    for i, pair in enumerate(analysis.get("align_pairs", [])):
        for side in ("aligned", "base"):
            need(f"analysis.align_pairs[{i}].{side}", pair[side], "generators", config["generators"], "generators")
    for i, name in enumerate(analysis.get("reward_model_rows") or []):
        need(f"analysis.reward_model_rows[{i}]", name, "rewards", rewards, "rewards")
    for i, name in enumerate(analysis.get("baseline_judges") or []):
        need(f"analysis.baseline_judges[{i}]", name, "judges", config["judges"]["pairwise"], "pairwise judges")
    offline = config.get("offline_models", {})
    for kind in ("generators", "rewards", "judges"):
        selected = all_generators(config) if kind == "generators" else config[kind] if kind == "rewards" else [
            *config["judges"]["pairwise"], *config["judges"].get("rater", [])]
        for name in selected:
            model = registry[kind].get(name, {}).get("offline_model")
            if model is not None and model not in offline:
                problems.append(f"{kind} entry {name!r} loads the offline model {model!r}, "
                                f"which offline_models does not define")
    return problems


def all_generators(config: Mapping) -> list[str]:
    """Every generator the run renders with: the main ones, then VSF/NAG and img2img runs."""
    names = list(config["generators"])
    names += [v["generator"] for v in config.get("vsf", {}).get("variants", [])]
    names += list(config.get("img2img", {}).get("generators", []))
    return list(dict.fromkeys(names))


def run_dir(config: Mapping) -> Path:
    return Path(config.get("results_dir", "results")) / config["run"]


def read_run_spec(run_folder: str | os.PathLike) -> dict | None:
    """A run folder's spec (``run.yaml``: the resolved config that produced it), or None."""
    path = layout.join(run_folder, layout.RUN_SPEC)
    return load_yaml(path) if path.is_file() else None


def chunk_count(n_pairs: int, chunk_size: int) -> int:
    """How many generate jobs render one generator's prompt pairs."""
    return max(1, math.ceil(n_pairs / chunk_size))


def config_digest(config: Mapping) -> str:
    """A short digest of the resolved config, recorded with every output's provenance."""
    canonical = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def generation_settings(registry: Mapping, generator: str, image_kind: str) -> dict:
    """The settings a generator runs with for p_o ('o') or p_a ('a')."""
    spec = registry["generators"][generator]
    settings = dict(spec.get("settings", {}))
    if image_kind == "a":
        settings.update(spec.get("settings_anti", {}))
    return settings
