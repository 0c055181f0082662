"""Converting the released benchmark (``weathon/aas_benchmark_final``) into the
repository's stage contracts.

One released row is one (run, pair): both images of pair ``index`` made by
generator run ``model``, with the authors' reward scores, judge labels,
per-dimension ratings and BLIP logits. The conversion turns each row into
the rows of PROMPTS, SCORES, LABELS and RATINGS that our own pipeline would
have written for the same pair, so every table and figure can be rebuilt
from the released numbers with the same analysis code.

Readings of the released schema (docs/experiments.md, released sets):

- reward structs are keyed ``{rm}_{x}i{y}p``: ``x`` the image (o original,
  d distorted = I_a), ``y`` the prompt (o = p_o, d = p_a). A struct may be
  wrapped once more in a struct field (the authors' reader does
  ``s["hpsv3_reward"]["hpsv3_reward"][k]`` and falls back to
  ``s["hpsv3_reward"][k]``, eval/notebooks/p_value.ipynb). In ``hpsv3_reward``
  both nestings share one column: rows rescored later are flat, the rest
  wrapped, and Arrow merges them into one struct holding the wrapper and the
  four flat keys, null where a row has the other form. Each row is read in the
  form it has (``reward_struct``). A value is a number, ``[score]`` or
  ``[mu, sigma]`` (HPSv3).
- ``blip_score`` is 2x2: row 0 for I_o, row 1 for I_a, each the two ITM
  logits ``[no-match, match]`` of that image under p_a; ``blip_selected`` is
  the argmax of the two raw match logits. Two rewards are read from it: the
  match probability softmax(row)[1] (``blip_reward``, tab_gen's BLIP column)
  and the raw match logit row[1] (``blip_logit_reward``, what the authors
  compared in tab:reward_model). Only (I_o, p_a) and (I_a, p_a) exist.
- ``rater.{original,distorted}.scores`` holds J(I, d) for the 11 dimensions
  in alphabetical order (``DIMENSIONS``); ``preds`` (arg-max ratings) are not
  needed by any table.
- the released data does not record which image a judge saw first, so
  LABELS.first_shown is null.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from .. import layout
from ..config import ConfigError
from ..errors import SetupError
from ..contracts import (
    LABELS,
    MANIFEST,
    OK,
    PROMPTS,
    RATINGS,
    SCORES,
    write_bytes,
    write_png,
    write_table,
)
from ..prompts.dimensions import DIMENSIONS
from .loading import (
    ReleasedFormatError,
    Table,
    column_names,
    decode_image,
    encoded_bytes,
    iter_column_chunks,
    missing,
    records,
    require_columns,
    string_list,
)

logger = logging.getLogger(__name__)

RELEASED_BENCHMARK = "weathon/aas_benchmark_final"

# The released `model` values (the authors' generator keys) and our generator
# names. Both SD3.5M-PickScore runs map to one generator, so the second run is
# handled as a duplicate (see ReleasedSpec.duplicates).
DEFAULT_MODELS: dict[str, str | None] = {
    "flux_dev": "flux-dev",
    "dance_flux": "danceflux",
    "grpo_flux": "prefflux",
    "flux_krea": "flux-krea",
    "stable_diffusion_xl": "sdxl",
    "playground": "playground",
    "stable_diffusion_3.5_medium": "sd3.5m",
    "sd3_medium_grpo_geneval": "sd3.5m-geneval",
    "sd3_medium_grpo": "sd3.5m-pickscore",
    "sd3_medium_grpo_2": "sd3.5m-pickscore",
    "nano-banana": "nano-banana",
}
# The authors scored HPSv2 with hps_version="v2.1" (eval/reward_models/run_hpsv2.py).
DEFAULT_REWARDS: dict[str, str] = {
    "hpsv2_reward": "hpsv2.1",
    "hpsv3_reward": "hpsv3",
    "image_reward": "imagereward",
}
DEFAULT_JUDGES: dict[str, str] = {
    "llm_selected": "qwen3-vl-235b",
    "sec_llm_selected": "gpt-5-chat",
    "third_llm_selected": "glm-4.5v",
}

IMAGE_COLUMNS = {"o": "image_original", "a": "image_distorted"}
PROMPT_COLUMNS = {"o": "prompt_original", "a": "prompt_distorted"}
RATER_PARTS = {"o": "original", "a": "distorted"}
# released key suffix -> (image kind, prompt kind)
SCORE_KEYS: dict[str, tuple[str, str]] = {
    "oiop": ("o", "o"), "oidp": ("o", "a"), "diop": ("a", "o"), "didp": ("a", "a")}
BLIP_COLUMN = "blip_score"

STATUS_MISSING = "missing in released data"
STATUS_NONFINITE = "non-finite in released data"
STATUS_PLACEHOLDER = "placeholder image"
DROPPED_DUPLICATE = "duplicate"
DROPPED_BY_CONFIG = "excluded by config"

DUPLICATE_POLICIES = ("first", "last", "error")
PLACEHOLDER_POLICIES = ("exclude", "keep")


@dataclass(frozen=True)
class ReleasedSpec:
    """Where the released benchmark comes from and how its names map onto ours.

    ``models`` maps a released ``model`` value to a generator name (None: leave
    that run out); a value it does not list keeps its released name and is
    reported as unmapped. A config's mapping replaces the default one whole.
    ``rewards`` maps reward columns, ``judges`` label columns, to our names;
    ``blip_reward`` and ``blip_logit_reward`` name the match probability and the
    raw match logit read from ``blip_score`` (None: not read).
    ``duplicates`` keeps the "first" or "last" copy of a (generator, index)
    seen more than once, or raises ("error"). ``placeholders="exclude"`` marks
    every row of a pair with a solid-colour image; "keep" leaves them as data.
    ``images`` asks the caller to write the released PNGs (``write_images``);
    ``workers`` is the thread count for decoding and writing images.
    """

    dataset: str = RELEASED_BENCHMARK
    revision: str | None = None
    local_dir: str | None = None
    split: str = "train"
    models: Mapping[str, str | None] = field(default_factory=lambda: dict(DEFAULT_MODELS))
    rewards: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_REWARDS))
    blip_reward: str | None = "blip-l"
    blip_logit_reward: str | None = "blip-l-logit"
    judges: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_JUDGES))
    rater: str | None = "released-rater"
    duplicates: str = "first"
    # The authors never filtered the placeholders: the published numbers include them.
    placeholders: str = "keep"
    images: bool = False
    # Rewards the release carries that the run recomputes from the released images instead of
    # reading them. None: with images, the BLIP probability (the release has it under p_a only,
    # and E12 regresses on BLIP(I, p_o), docs/experiments.md#e12); without images, none.
    rescore: Sequence[str] | None = None
    workers: int = 2

    def __post_init__(self) -> None:
        if self.blip_reward is not None and self.blip_reward == self.blip_logit_reward:
            raise ConfigError(f"released.blip_reward and released.blip_logit_reward are both {self.blip_reward!r}: "
                              "the probability and the logit need two reward names")
        if self.duplicates not in DUPLICATE_POLICIES:
            raise ConfigError(f"released.duplicates: {self.duplicates!r} is not one of {list(DUPLICATE_POLICIES)}")
        if self.placeholders not in PLACEHOLDER_POLICIES:
            raise ConfigError(
                f"released.placeholders: {self.placeholders!r} is not one of {list(PLACEHOLDER_POLICIES)}")
        if self.local_dir is None and self.revision is None:
            raise ConfigError("released.revision: a pinned revision is needed unless local_dir is given")
        if self.rescore is None:
            object.__setattr__(self, "rescore", (self.blip_reward,) if self.images and self.blip_reward else ())
        object.__setattr__(self, "rescore", tuple(self.rescore))
        if self.rescore and not self.images:
            raise ConfigError(f"released.rescore: {list(self.rescore)} needs released.images: true "
                              "(they are recomputed from the released images)")
        unknown = sorted(set(self.rescore) - {*self.rewards.values(), *self._blip_readings()})
        if unknown:
            raise ConfigError(f"released.rescore: {unknown} are not read from the release; it provides "
                              f"{sorted({*self.rewards.values(), *self._blip_readings()})}")
        if self.workers < 1:
            raise ConfigError(f"released.workers: must be at least 1, got {self.workers}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ReleasedSpec:
        """Build from a config mapping (the ``released`` section of a run config);
        keys left out take the defaults above."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(f"released: unknown key(s) {unknown}; known: {sorted(known)}")
        values = dict(config)
        if "rescore" in values and values["rescore"] is not None and not isinstance(values["rescore"], list):
            raise ConfigError(f"released.rescore: expected a list of reward names, got {values['rescore']!r}")
        for key in ("models", "rewards", "judges"):
            if key in values:
                if not isinstance(values[key], Mapping):
                    raise ConfigError(f"released.{key}: expected a mapping, got {type(values[key]).__name__}")
                values[key] = dict(values[key])
        if values.get("local_dir") is not None:
            values["local_dir"] = os.fspath(values["local_dir"])
        return cls(**values)

    def generator_for(self, model: str) -> str | None:
        """Our generator name for a released model; None when the config excludes it."""
        return self.models.get(model, model)

    def is_mapped(self, model: str) -> bool:
        return model in self.models

    def _blip_readings(self) -> dict[str, str]:
        readings = {self.blip_reward: "probability", self.blip_logit_reward: "logit"}
        return {reward: reading for reward, reading in readings.items() if reward is not None}

    @property
    def blip_rewards(self) -> dict[str, str]:
        """Reward name -> reading of ``blip_score`` ("probability" or "logit"), for the readings read."""
        return {r: reading for r, reading in self._blip_readings().items() if r not in self.rescore}

    @property
    def read_rewards(self) -> dict[str, str]:
        """Released reward column -> reward name, for the rewards read (not rescored)."""
        return {column: reward for column, reward in self.rewards.items() if reward not in self.rescore}

    @property
    def provided_rewards(self) -> list[str]:
        """Every reward this spec reads from the released columns (the rescored ones are computed)."""
        return list(dict.fromkeys([*self.read_rewards.values(), *self.blip_rewards]))

    def required_columns(self, with_images: bool) -> list[str]:
        columns = ["index", "model", *PROMPT_COLUMNS.values(), "selected_dims", *self.read_rewards, *self.judges]
        if self.blip_rewards:
            columns.append(BLIP_COLUMN)
        if self.rater is not None:
            columns.append("rater")
        if with_images:
            columns.extend(IMAGE_COLUMNS.values())
        return columns


@dataclass
class ReleasedBenchmark:
    """The released benchmark in our contracts.

    ``rows`` has one row per released row: its position, released model,
    generator, index, prompt_id, whether it was kept and why not, and the
    placeholder flags of both images (null where not checked). ``image_checks``
    is the placeholder scan it used (row, image_kind, placeholder, colour, error).
    """

    prompts: pd.DataFrame
    scores: pd.DataFrame
    labels: dict[str, pd.DataFrame]
    ratings: pd.DataFrame
    rater: str | None
    rows: pd.DataFrame
    unmapped_models: list[str]
    image_checks: pd.DataFrame | None = None

    @property
    def generators(self) -> list[str]:
        return sorted(self.rows.loc[self.rows["kept"], "generator"].unique())

    @property
    def placeholders(self) -> pd.DataFrame:
        """(generator, prompt_id, image_kind, model) of every kept placeholder image."""
        kept = self.rows[self.rows["kept"]]
        parts = []
        for kind in IMAGE_COLUMNS:
            hit = kept[kept[f"placeholder_{kind}"].eq(True)]
            parts.append(hit.assign(image_kind=kind)[["generator", "prompt_id", "image_kind", "model"]])
        return pd.concat(parts, ignore_index=True).sort_values(["generator", "prompt_id", "image_kind"],
                                                               ignore_index=True)


# ------------------------------------------------------------ conversion

def convert_benchmark(table: Table, spec: ReleasedSpec,
                      placeholders: pd.DataFrame | None = None) -> ReleasedBenchmark:
    """Convert released rows into PROMPTS, SCORES, LABELS and RATINGS frames.

    ``placeholders`` (from ``scan_placeholders``) skips the pixel scan, for
    example when it ran batch by batch over a folder too large to load. Without
    it the image columns are scanned when present; ``placeholders="exclude"``
    then requires them.
    """
    present = set(column_names(table))
    have_images = all(c in present for c in IMAGE_COLUMNS.values())
    need_images = spec.placeholders == "exclude" and placeholders is None
    require_columns(table, spec.required_columns(with_images=need_images), f"released benchmark {spec.dataset}")
    base_columns = spec.required_columns(with_images=False)
    data = records(table, base_columns)
    logger.info("converting %d released rows", len(data))

    rows = _select_rows(data, spec)
    if placeholders is None and have_images:
        placeholders = scan_placeholders(table, rows=rows.loc[rows["kept"], "row"].tolist(), workers=spec.workers)
    rows = _attach_placeholders(rows, placeholders)
    # Table order, so an error names the first bad row as it stands in the file.
    kept = rows[rows["kept"]]

    prompts = _prompts(data, rows)
    exclude = spec.placeholders == "exclude"
    scores, labels, ratings = [], {judge: [] for judge in spec.judges.values()}, []
    for pair in kept.itertuples(index=False):
        record = data[pair.row]
        where = _where(pair.row, record)
        placeholder = exclude and bool(pair.placeholder_o or pair.placeholder_a)
        key = (pair.generator, pair.prompt_id)
        for column, reward in spec.read_rewards.items():
            scores.extend(_reward_rows(record[column], column, reward, key, placeholder, where))
        for reward, reading in spec.blip_rewards.items():
            scores.extend(_blip_rows(record[BLIP_COLUMN], reward, reading, key, placeholder, where))
        for column, judge in spec.judges.items():
            labels[judge].append(_label_row(record[column], column, key, placeholder, where))
        if spec.rater is not None:
            ratings.extend(_rating_rows(record["rater"], key, placeholder, where))

    unmapped = sorted({m for m in rows["model"] if not spec.is_mapped(m)})
    for model in unmapped:
        logger.warning("released model %r has no generator mapping; kept under its released name", model)
    return ReleasedBenchmark(
        prompts=PROMPTS.validate(prompts, where="from released data"),
        scores=_frame(scores, SCORES),
        labels={judge: _frame(frame, LABELS) for judge, frame in labels.items()},
        ratings=_frame(ratings, RATINGS),
        rater=spec.rater,
        rows=rows,
        unmapped_models=unmapped,
        image_checks=placeholders,
    )


def _frame(rows: list[tuple], schema) -> pd.DataFrame:
    if not rows:
        return schema.empty()
    frame = pd.DataFrame.from_records(rows, columns=schema.names)
    frame = frame.sort_values(["generator", "prompt_id"], kind="stable", ignore_index=True)
    return schema.validate(frame, where="from released data")


def _where(position: int, record: Mapping[str, Any]) -> str:
    return f"row {position} (index {record.get('index')!r}, model {record.get('model')!r})"


def _select_rows(data: list[dict], spec: ReleasedSpec) -> pd.DataFrame:
    """One row per released row: generator, prompt_id, kept or why dropped."""
    out = []
    for position, record in enumerate(data):
        model = record["model"]
        if not isinstance(model, str) or not model:
            raise ReleasedFormatError(f"column 'model': not a name at {_where(position, record)}")
        index = record["index"]
        if isinstance(index, float) and index.is_integer():
            index = int(index)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ReleasedFormatError(f"column 'index': {index!r} is not a pair index at {_where(position, record)}")
        generator = spec.generator_for(model)
        out.append({"row": position, "model": model, "generator": generator, "index": index,
                    "prompt_id": f"{index:04d}", "kept": generator is not None,
                    "dropped": None if generator is not None else DROPPED_BY_CONFIG})
    rows = pd.DataFrame(out, columns=["row", "model", "generator", "index", "prompt_id", "kept", "dropped"])
    if rows.empty:
        return rows
    candidates = rows[rows["kept"]]
    pair = ["generator", "index"]
    if spec.duplicates == "error":
        copies = candidates[candidates.duplicated(pair, keep=False)]
        if len(copies):
            generator, index = copies.iloc[0][pair]
            same = copies[(copies["generator"] == generator) & (copies["index"] == index)]
            listed = ", ".join(f"row {r} (model {m!r})" for r, m in zip(same["row"], same["model"]))
            raise ReleasedFormatError(f"index {index} of generator {generator!r} appears {len(same)} times: {listed}")
    else:
        dropped = candidates.index[candidates.duplicated(pair, keep=spec.duplicates)]
        rows.loc[dropped, "kept"] = False
        rows.loc[dropped, "dropped"] = DROPPED_DUPLICATE
    n_dropped = int((rows["dropped"] == DROPPED_DUPLICATE).sum())
    if n_dropped:
        logger.info("dropped %d duplicated released rows (policy %r)", n_dropped, spec.duplicates)
    return rows


def _attach_placeholders(rows: pd.DataFrame, placeholders: pd.DataFrame | None) -> pd.DataFrame:
    rows = rows.copy()
    for kind in IMAGE_COLUMNS:
        rows[f"placeholder_{kind}"] = pd.Series([None] * len(rows), dtype="object")
    if placeholders is None or placeholders.empty:
        return rows
    position = {row: i for i, row in enumerate(rows["row"])}
    for hit in placeholders.itertuples(index=False):
        i = position.get(hit.row)
        if i is not None and hit.placeholder is not None and not pd.isna(hit.placeholder):
            rows.at[i, f"placeholder_{hit.image_kind}"] = bool(hit.placeholder)
    return rows


def _prompts(data: list[dict], rows: pd.DataFrame) -> pd.DataFrame:
    """One PROMPTS row per index; every run of an index must carry the same pair."""
    seen: dict[int, tuple] = {}
    models: dict[int, list[str]] = defaultdict(list)
    for row in rows[rows["dropped"] != DROPPED_BY_CONFIG].itertuples(index=False):
        record = data[row.row]
        where = _where(row.row, record)
        texts = []
        for kind, column in PROMPT_COLUMNS.items():
            text = record[column]
            if not isinstance(text, str) or not text.strip():
                raise ReleasedFormatError(f"column {column!r}: empty or not text at {where}")
            texts.append(text)
        pair = (*texts, tuple(parse_dimensions(record["selected_dims"], "selected_dims", where)))
        if row.index in seen and seen[row.index] != pair:
            differing = sorted(set(models[row.index] + [row.model]))
            raise ReleasedFormatError(
                f"index {row.index}: prompts or dimensions differ across models {differing} "
                f"(first difference at {where})")
        seen.setdefault(row.index, pair)
        models[row.index].append(row.model)
    frame = pd.DataFrame(
        [{"prompt_id": f"{index:04d}", "caption_id": f"released:{index}", "prompt_original": p_o,
          "prompt_anti": p_a, "dimensions": list(dims), "negative_prompt": None, "reference_image": None,
          "rewriter": "released"} for index, (p_o, p_a, dims) in sorted(seen.items())],
        columns=PROMPTS.names)
    return frame


def normalise_dimension(key: str) -> str:
    return key.strip().lower().replace(" ", "_").replace("-", "_")


def parse_dimensions(value: Any, column: str, where: str) -> list[str]:
    """Dimension keys from a JSON string (or list), normalised and checked."""
    keys = [normalise_dimension(k) for k in string_list(value, column, where)]
    unknown = [k for k in keys if k not in DIMENSIONS]
    if unknown:
        raise ReleasedFormatError(
            f"column {column!r}: unknown dimension(s) {unknown} at {where}; known: {list(DIMENSIONS)}")
    return keys


def _number(value: Any, column: str, where: str) -> float | None:
    """A released number as float (NaN/inf kept); None when missing."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReleasedFormatError(f"column {column!r}: {value!r} is not a number at {where}")
    return float(value)


def _score_value(value: Any, column: str, where: str) -> tuple[float | None, float | None]:
    """(score, sigma) from a number, [score] or [mu, sigma]."""
    if isinstance(value, list):
        if len(value) == 1:
            return _number(value[0], column, where), None
        if len(value) == 2:
            return _number(value[0], column, where), _number(value[1], column, where)
        raise ReleasedFormatError(
            f"column {column!r}: expected a number, [score] or [mu, sigma] at {where}, got {len(value)} values")
    return _number(value, column, where), None


def _status(score: float | None, sigma: float | None = None) -> str:
    if score is None:
        return STATUS_MISSING
    if not math.isfinite(score) or (sigma is not None and not math.isfinite(sigma)):
        return STATUS_NONFINITE
    return OK


def score_keys(struct: Mapping[str, Any], column: str, where: str) -> dict[str, str]:
    """Released key suffix (oiop, ...) -> the struct's field name for it."""
    found: dict[str, list[str]] = defaultdict(list)
    for name in struct:
        for suffix in SCORE_KEYS:
            if name == suffix or name.endswith(f"_{suffix}"):
                found[suffix].append(name)
    problems = [s for s in SCORE_KEYS if len(found[s]) != 1]
    extra = [n for n in struct if not any(n in names for names in found.values())]
    if problems or extra:
        raise ReleasedFormatError(
            f"column {column!r}: keys {sorted(struct)} at {where}; expected one key ending in each of "
            f"{['_' + s for s in SCORE_KEYS]}")
    return {suffix: names[0] for suffix, names in found.items()}


def _is_score_key(name: str) -> bool:
    return any(name == suffix or name.endswith(f"_{suffix}") for suffix in SCORE_KEYS)


def reward_struct(value: Any, column: str, where: str) -> dict[str, Any] | None:
    """The flat ``{rm}_oiop ...`` struct of one row of a reward column; None when the row has none.

    A row is flat (score keys at the top), wrapped (one struct field holding the
    flat struct), or the union of both that Arrow makes of a column mixing
    them: the wrapper field and the flat keys side by side, exactly one of the
    two forms non-null in each row.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ReleasedFormatError(f"column {column!r}: expected a struct at {where}, got {type(value).__name__}")
    # A field that is not a score key but holds a value stays with the flat keys, so
    # score_keys names the keys it expected.
    wrappers = {k: v for k, v in value.items() if not _is_score_key(k) and (v is None or isinstance(v, dict))}
    flat = {k: v for k, v in value.items() if k not in wrappers}
    nested = {k: v for k, v in wrappers.items() if v is not None}
    has_flat = any(v is not None for v in flat.values())
    if len(nested) > 1 or (nested and has_flat):
        forms = sorted(nested) + (["flat score keys"] if has_flat else [])
        raise ReleasedFormatError(
            f"column {column!r}: more than one nesting holds values at {where}: {forms}")
    if nested:
        name, inner = next(iter(nested.items()))
        return reward_struct(inner, f"{column}.{name}", where)
    if has_flat or (flat and not wrappers):
        return flat
    return None


def _reward_rows(value: Any, column: str, reward: str, key: tuple[str, str],
                 placeholder: bool, where: str) -> list[tuple]:
    generator, prompt_id = key
    value = reward_struct(value, column, where)
    names = score_keys(value, column, where) if value is not None else {}
    out = []
    for suffix, (image_kind, prompt_kind) in SCORE_KEYS.items():
        score = sigma = None
        if placeholder:
            status = STATUS_PLACEHOLDER
        elif value is None:
            status = STATUS_MISSING
        else:
            score, sigma = _score_value(value[names[suffix]], f"{column}.{names[suffix]}", where)
            status = _status(score, sigma)
            if status != OK:
                score = sigma = None
        out.append((generator, prompt_id, image_kind, prompt_kind, reward, score, sigma, status))
    return out


def _blip_rows(value: Any, reward: str, reading: str, key: tuple[str, str], placeholder: bool,
               where: str) -> list[tuple]:
    """SCORES rows (I_o, p_a) and (I_a, p_a) of one reading of ``blip_score``: "probability"
    softmax([no-match, match])[1] or "logit", the raw match logit."""
    generator, prompt_id = key
    logits = None
    if value is not None:
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(row, list) and len(row) == 2 for row in value)):
            raise ReleasedFormatError(
                f"column {BLIP_COLUMN!r}: expected 2x2 ITM logits [[I_o no-match, match], "
                f"[I_a no-match, match]] at {where}, got {value!r}")
        logits = [[_number(v, BLIP_COLUMN, where) for v in row] for row in value]
    out = []
    for i, image_kind in enumerate(IMAGE_COLUMNS):
        score = None
        if placeholder:
            status = STATUS_PLACEHOLDER
        elif logits is None or any(v is None for v in logits[i]):
            status = STATUS_MISSING
        elif not all(math.isfinite(v) for v in logits[i]):
            status = STATUS_NONFINITE
        else:
            status = OK
            score = itm_match_probability(*logits[i]) if reading == "probability" else logits[i][1]
        out.append((generator, prompt_id, image_kind, "a", reward, score, None, status))
    return out


def itm_match_probability(no_match: float, match: float) -> float:
    """softmax([no_match, match])[1], computed without overflow."""
    d = match - no_match
    if d >= 0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


def _label_row(value: Any, column: str, key: tuple[str, str], placeholder: bool, where: str) -> tuple:
    generator, prompt_id = key
    if placeholder:
        return (generator, prompt_id, None, None, STATUS_PLACEHOLDER)
    if missing(value):
        return (generator, prompt_id, None, None, STATUS_MISSING)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or value not in (0, 1, -1):
        raise ReleasedFormatError(f"column {column!r}: label {value!r} not in (0, 1, -1) at {where}")
    return (generator, prompt_id, int(value), None, OK)


def _rating_rows(value: Any, key: tuple[str, str], placeholder: bool, where: str) -> list[tuple]:
    generator, prompt_id = key
    if value is not None and not isinstance(value, dict):
        raise ReleasedFormatError(f"column 'rater': expected a struct at {where}, got {type(value).__name__}")
    out = []
    for image_kind, part in RATER_PARTS.items():
        column = f"rater.{part}.scores"
        scores = None
        if value is not None:
            inner = value.get(part)
            if inner is not None and not isinstance(inner, dict):
                raise ReleasedFormatError(f"column 'rater.{part}': expected a struct at {where}")
            scores = inner.get("scores") if inner is not None else None
        if scores is not None and (not isinstance(scores, list) or len(scores) != len(DIMENSIONS)):
            size = len(scores) if isinstance(scores, list) else type(scores).__name__
            raise ReleasedFormatError(
                f"column {column!r}: expected {len(DIMENSIONS)} ratings at {where}, got {size}")
        for d, dimension in enumerate(DIMENSIONS):
            score = None
            if placeholder:
                status = STATUS_PLACEHOLDER
            elif scores is None:
                status = STATUS_MISSING
            else:
                score = _number(scores[d], column, where)
                status = _status(score)
                if status != OK:
                    score = None
            out.append((generator, prompt_id, image_kind, dimension, score, status))
    return out


# ------------------------------------------------------------ placeholders

def placeholder_colour(image) -> tuple[int, ...] | None:
    """The colour of a solid single-colour image, or None when it has two or more."""
    extrema = image.getextrema()
    if not isinstance(extrema[0], tuple):  # one band: a single (min, max)
        extrema = (extrema,)
    if all(low == high for low, high in extrema):
        return tuple(int(low) for low, _ in extrema)
    return None


def _check_image(value: Any) -> tuple[bool | None, str | None, str | None]:
    """(is placeholder, colour, decode error) of one released image."""
    if value is None:
        return None, None, "no image"
    try:
        image = decode_image(value)
    except Exception as err:  # a broken image is reported, not fatal: its scores exist regardless
        return None, None, f"{type(err).__name__}: {err}"
    colour = placeholder_colour(image)
    return colour is not None, None if colour is None else str(colour), None


def scan_placeholders(source: Table | Iterable, rows: Sequence[int] | None = None,
                      workers: int = 2, chunk_size: int = 64) -> pd.DataFrame:
    """Find placeholder images (one solid colour: the authors' API code returned a
    solid blue image on failure) by decoding each image once.

    ``source`` is a table, or an iterable of record batches / tables that together
    hold the released rows in order (``iter_released_batches`` over the two image
    columns). ``rows`` limits the scan to those row positions. Returns columns
    row, image_kind, placeholder (null where the image could not be decoded),
    colour and error.
    """
    chunks = [source] if _is_table(source) else source
    wanted = None if rows is None else set(rows)
    total = len(wanted) if wanted is not None else None
    out: list[dict] = []
    offset = 0
    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(
            total=total, desc="placeholder scan", unit="pair", disable=None) as progress:
        for chunk in chunks:
            chunk = _as_table(chunk)
            positions = [i for i in range(len(chunk)) if wanted is None or offset + i in wanted]
            require_columns(chunk, list(IMAGE_COLUMNS.values()), "placeholder scan")
            for kind, column in IMAGE_COLUMNS.items():
                pending = []
                for local, value in iter_column_chunks(chunk, column, positions, chunk_size):
                    pending.append((local, pool.submit(_check_image, value)))
                    if len(pending) >= chunk_size:
                        _collect(pending, kind, offset, out)
                _collect(pending, kind, offset, out)
            progress.update(len(positions))
            offset += len(chunk)
    frame = pd.DataFrame(out, columns=["row", "image_kind", "placeholder", "colour", "error"])
    found = int(frame["placeholder"].eq(True).sum())
    logger.info("placeholder scan: %d image(s) of one solid colour among %d", found, len(frame))
    return frame.sort_values(["row", "image_kind"], ignore_index=True)


def _collect(pending: list, kind: str, offset: int, out: list[dict]) -> None:
    for local, future in pending:
        placeholder, colour, error = future.result()
        out.append({"row": offset + local, "image_kind": kind, "placeholder": placeholder,
                    "colour": colour, "error": error})
    pending.clear()


def _is_table(value: Any) -> bool:
    return isinstance(value, (pa.Table, pd.DataFrame))


def _as_table(chunk: Any) -> Table:
    if isinstance(chunk, pa.RecordBatch):
        return pa.Table.from_batches([chunk])
    return chunk


# ------------------------------------------------------------ writing

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _write_image(value: Any, run_dir: Path, relative: str) -> tuple[str | None, str | None, str]:
    """Write one released image; return (path, sha256, status).

    A PNG is written byte for byte as released (same pixels, same hash as the
    authors' file); any other encoding is decoded and written as PNG. A write
    that fails for the disk (SetupError) stops the ingest: it is no image's fault.
    """
    try:
        data = encoded_bytes(value)
        if data is not None and data.startswith(_PNG_SIGNATURE):
            decode_image(data)
            write_bytes(run_dir / relative, data)
            return relative, hashlib.sha256(data).hexdigest(), OK
        image = decode_image(value)
        return relative, write_png(run_dir / relative, image), OK
    except SetupError:
        raise
    except Exception as err:  # recorded as the manifest row's status
        return None, None, f"image decode failed: {type(err).__name__}: {err}"


def write_images(table: Table, spec: ReleasedSpec, run_dir: str | os.PathLike,
                 converted: ReleasedBenchmark | None = None) -> dict[str, pd.DataFrame]:
    """Write the kept released images as PNGs under ``images/<generator>/released/``
    and return one MANIFEST frame per generator (not yet written to disk).

    Placeholder images are manifest rows with status "placeholder image" and no
    file under ``placeholders="exclude"``; failed decodes are rows with an error
    status. ``converted`` reuses its row selection and placeholder scan.
    """
    run_dir = Path(run_dir)
    require_columns(table, ["index", "model", *PROMPT_COLUMNS.values(), *IMAGE_COLUMNS.values()],
                    "released images")
    data = records(table, ["index", "model", *PROMPT_COLUMNS.values()])
    if converted is not None:
        rows = converted.rows
    else:
        rows = _select_rows(data, spec)
        if spec.placeholders == "exclude":
            found = scan_placeholders(table, rows=rows.loc[rows["kept"], "row"].tolist(), workers=spec.workers)
            rows = _attach_placeholders(rows, found)
        else:
            rows = _attach_placeholders(rows, None)
    kept = rows[rows["kept"]].sort_values(["generator", "index"])
    exclude = spec.placeholders == "exclude"

    entries: dict[str, list[dict]] = defaultdict(list)
    window: deque = deque()
    # A bounded window of pending writes keeps only a few encoded images in memory.
    limit = 8 * spec.workers
    with ThreadPoolExecutor(max_workers=spec.workers) as pool, tqdm(
            total=len(IMAGE_COLUMNS) * len(kept), desc="released images", unit="image", disable=None) as progress:

        def drain(keep: int) -> None:
            while len(window) > keep:
                pair, kind, job = window.popleft()
                path, sha, status = job.result() if job is not None else (None, None, STATUS_PLACEHOLDER)
                entries[pair.generator].append(_manifest_entry(spec, data[pair.row], pair, kind, path, sha, status))
                progress.update(1)

        for kind, column in IMAGE_COLUMNS.items():
            values = iter_column_chunks(table, column, kept["row"].tolist())
            for (_, value), pair in zip(values, kept.itertuples(index=False)):
                if exclude and getattr(pair, f"placeholder_{kind}"):
                    window.append((pair, kind, None))
                else:
                    relative = layout.released_image(pair.generator, pair.prompt_id, kind)
                    window.append((pair, kind, pool.submit(_write_image, value, run_dir, relative)))
                drain(limit)
        drain(0)
    return {generator: MANIFEST.validate(
                pd.DataFrame(generator_entries, columns=MANIFEST.names).sort_values(["prompt_id", "image_kind"],
                                                                          ignore_index=True),
                where=f"of released images of {generator}")
            for generator, generator_entries in sorted(entries.items())}


def _manifest_entry(spec: ReleasedSpec, record: Mapping[str, Any], pair: Any, kind: str,
                    path: str | None, sha: str | None, status: str) -> dict:
    return {
        "generator": pair.generator, "prompt_id": pair.prompt_id, "image_kind": kind,
        "prompt": record[PROMPT_COLUMNS[kind]], "path": path, "sha256": sha, "seed": None,
        "settings": json.dumps({"source": spec.dataset, "revision": spec.revision,
                                "released_model": pair.model, "released_row": int(pair.row)}, sort_keys=True),
        "status": status}


def write_converted(converted: ReleasedBenchmark, run_dir: str | os.PathLike,
                    manifests: Mapping[str, pd.DataFrame] | None = None) -> list[Path]:
    """Write the converted frames in the run-folder layout of ``contracts``."""
    run_dir = Path(run_dir)
    written = [write_table(converted.prompts, layout.join(run_dir, layout.PROMPTS), PROMPTS)]
    for (reward, generator), frame in converted.scores.groupby(["reward", "generator"], sort=True):
        written.append(write_table(frame, layout.join(run_dir, layout.scores(reward, generator)), SCORES))
    for judge, labels in converted.labels.items():
        for generator, frame in labels.groupby("generator", sort=True):
            written.append(write_table(frame, layout.join(run_dir, layout.labels(judge, generator)), LABELS))
    if converted.rater is not None:
        for generator, frame in converted.ratings.groupby("generator", sort=True):
            written.append(write_table(frame, layout.join(run_dir, layout.ratings(converted.rater, generator)),
                                       RATINGS))
    for generator, frame in (manifests or {}).items():
        written.append(write_table(frame, layout.join(run_dir, layout.manifest(generator)), MANIFEST))
    logger.info("wrote %d released tables under %s", len(written), run_dir)
    return written
