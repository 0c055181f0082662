"""An audit of the released benchmark's conversion: what was read, dropped,
flagged or left unmapped, per released model, so no row disappears silently.

Written under the run folder at ``layout.audit(suffix)``: audit.csv (the per-model
table), audit.json (table, summary and notes) and audit.md (the same for reading).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import layout
from ..contracts import OK, write_json, write_text
from .benchmark import (
    BLIP_COLUMN,
    DROPPED_BY_CONFIG,
    DROPPED_DUPLICATE,
    STATUS_MISSING,
    STATUS_NONFINITE,
    STATUS_PLACEHOLDER,
    ReleasedBenchmark,
    ReleasedSpec,
)
from .loading import Table, column_names, records, resolved_dataset_revision

logger = logging.getLogger(__name__)

LABEL_NAMES = {0: "original", 1: "anti", -1: "tie"}


@dataclass
class Audit:
    per_model: pd.DataFrame
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def audit_benchmark(table: Table, converted: ReleasedBenchmark, spec: ReleasedSpec,
                    cache_dir: str | os.PathLike | None = None) -> Audit:
    """The audit of ``converted``; ``cache_dir`` is the hub cache the table was read through, where a
    hub read's resolved commit is looked up (None: the default cache)."""
    rows = converted.rows
    kept = rows[rows["kept"]]
    owner = {(g, p): m for g, p, m in zip(kept["generator"], kept["prompt_id"], kept["model"])}

    per_model = rows.groupby("model", sort=True).agg(
        rows=("row", "size"),
        kept_rows=("kept", "sum"),
        duplicated_rows_dropped=("dropped", lambda s: int((s == DROPPED_DUPLICATE).sum())),
        excluded_rows=("dropped", lambda s: int((s == DROPPED_BY_CONFIG).sum())),
    )
    per_model.insert(0, "generator", [spec.generator_for(m) for m in per_model.index])
    per_model.insert(1, "mapped", [spec.is_mapped(m) for m in per_model.index])
    for kind, name in (("o", "placeholder_original"), ("a", "placeholder_distorted")):
        flags = kept[f"placeholder_{kind}"]
        per_model[name] = (_count_by_model(kept.loc[flags.eq(True), "model"], per_model.index)
                           if flags.notna().any() else np.nan)

    checks = converted.image_checks
    if checks is not None and len(checks):
        failed = checks[checks["error"].notna()]
        per_model["image_decode_errors"] = _count_by_model(
            rows.set_index("row").loc[failed["row"], "model"], per_model.index)

    scores = _with_model(converted.scores, owner)
    for reward in spec.provided_rewards:
        part = scores[scores["reward"] == reward]
        per_model[f"missing_scores_{reward}"] = _count_status(part, STATUS_MISSING, per_model.index)
        per_model[f"nonfinite_scores_{reward}"] = _count_status(part, STATUS_NONFINITE, per_model.index)
    per_model["placeholder_score_rows"] = _count_status(scores, STATUS_PLACEHOLDER, per_model.index)
    for judge, labels in converted.labels.items():
        labels = _with_model(labels, owner)
        ok = labels[labels["status"] == OK]
        for value, name in LABEL_NAMES.items():
            per_model[f"{judge}_{name}"] = _count_by_model(ok.loc[ok["selected"] == value, "model"], per_model.index)
        per_model[f"{judge}_missing"] = _count_status(labels, STATUS_MISSING, per_model.index)
    if converted.rater is not None:
        ratings = _with_model(converted.ratings, owner)
        per_model["missing_ratings"] = _count_status(ratings, STATUS_MISSING, per_model.index)
        per_model["nonfinite_ratings"] = _count_status(ratings, STATUS_NONFINITE, per_model.index)
    agreement = _blip_agreement(table, kept)
    if agreement is not None:
        per_model["blip_selected_agreement"] = agreement.reindex(per_model.index)
    per_model = per_model.reset_index()

    summary = _summary(table, converted, spec, cache_dir)
    notes = _notes(converted, spec, per_model, agreement)
    for note in notes:
        logger.info("audit: %s", note)
    return Audit(per_model=per_model, summary=summary, notes=notes)


def _with_model(frame: pd.DataFrame, owner: dict) -> pd.DataFrame:
    return frame.assign(model=[owner[(g, p)] for g, p in zip(frame["generator"], frame["prompt_id"])])


def _count_by_model(models: pd.Series, index: pd.Index) -> pd.Series:
    return models.value_counts().reindex(index, fill_value=0).astype(int)


def _count_status(frame: pd.DataFrame, status: str, index: pd.Index) -> pd.Series:
    return _count_by_model(frame.loc[frame["status"] == status, "model"], index)


def _blip_agreement(table: Table, kept: pd.DataFrame) -> pd.Series | None:
    """Per model, how often ``blip_selected`` names the image with the larger raw match
    logit under our reading of ``blip_score`` (rows I_o, I_a; [no-match, match]).
    Near 1 supports the reading; near 0 would mean the rows are the other way round."""
    if not {"blip_selected", BLIP_COLUMN} <= set(column_names(table)):
        return None
    data = records(table, ["blip_selected", BLIP_COLUMN])
    agree: dict[str, list[bool]] = {}
    for position, model in zip(kept["row"], kept["model"]):
        record = data[position]
        logits, selected = record[BLIP_COLUMN], record["blip_selected"]
        if selected not in (0, 1) or not _finite_2x2(logits):
            continue
        match = [row[1] for row in logits]
        if match[0] == match[1]:
            continue
        agree.setdefault(model, []).append(int(match[1] > match[0]) == selected)
    return pd.Series({model: float(np.mean(hits)) for model, hits in agree.items()}, dtype=float)


def _finite_2x2(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(r, list) and len(r) == 2 for r in value)
            and all(isinstance(v, (int, float)) and np.isfinite(v) for r in value for v in r))


def _summary(table: Table, converted: ReleasedBenchmark, spec: ReleasedSpec,
             cache_dir: str | os.PathLike | None) -> dict[str, Any]:
    rows = converted.rows
    return {
        "dataset": spec.dataset,
        "revision": spec.revision,
        "resolved_revision": resolved_dataset_revision(spec.dataset, spec.revision, spec.local_dir, cache_dir),
        "released_rows": int(len(table)),
        "kept_rows": int(rows["kept"].sum()),
        "duplicated_rows_dropped": int((rows["dropped"] == DROPPED_DUPLICATE).sum()),
        "excluded_rows": int((rows["dropped"] == DROPPED_BY_CONFIG).sum()),
        "prompts": int(len(converted.prompts)),
        "generators": converted.generators,
        "unmapped_models": list(converted.unmapped_models),
        "placeholder_images": int(len(converted.placeholders)),
        "placeholders_checked": bool(rows["placeholder_o"].notna().any()),
        "policies": {"duplicates": spec.duplicates, "placeholders": spec.placeholders},
        "rewards": dict(spec.read_rewards), "blip_reward": spec.blip_reward,
        "blip_logit_reward": spec.blip_logit_reward, "rescored_from_images": list(spec.rescore),
        "judges": dict(spec.judges), "rater": spec.rater,
        "score_rows": int(len(converted.scores)),
        "score_rows_not_ok": int((converted.scores["status"] != OK).sum()),
    }


def _notes(converted: ReleasedBenchmark, spec: ReleasedSpec, per_model: pd.DataFrame,
           agreement: pd.Series | None) -> list[str]:
    notes = []
    for model in converted.unmapped_models:
        notes.append(f"released model {model!r} has no generator mapping; kept under its released name")
    for row in per_model.itertuples(index=False):
        if row.duplicated_rows_dropped:
            notes.append(f"{row.duplicated_rows_dropped} duplicated row(s) of model {row.model!r} "
                         f"(generator {row.generator!r}) dropped, policy {spec.duplicates!r}")
        if row.excluded_rows:
            notes.append(f"{row.excluded_rows} row(s) of model {row.model!r} excluded by the config mapping")
    placeholders = converted.placeholders
    if len(placeholders):
        effect = ("their pairs' score, label and rating rows have status 'placeholder image' and no value"
                  if spec.placeholders == "exclude" else "kept as ordinary images (placeholders: keep)")
        notes.append(f"{len(placeholders)} placeholder image(s) (one solid colour): {effect}")
    elif not converted.rows["placeholder_o"].notna().any():
        notes.append("images were not scanned for placeholders")
    if "image_decode_errors" in per_model and per_model["image_decode_errors"].sum():
        notes.append(f"{int(per_model['image_decode_errors'].sum())} released image(s) could not be decoded "
                     "(their scores are kept; see image_decode_errors)")
    coverage = converted.rows[converted.rows["kept"]].groupby("generator")["index"].nunique()
    if len(coverage) and coverage.nunique() > 1:
        notes.append(f"generators cover different numbers of pairs: {coverage.to_dict()}")
    notes.append("LABELS.first_shown is null: the released data does not record which image a judge saw first")
    if agreement is not None and len(agreement):
        notes.append(f"blip_score read as rows [I_o, I_a] of ITM logits [no-match, match] under p_a; "
                     f"blip_selected agrees with that reading on {agreement.mean():.1%} of pairs (mean over models)")
    return notes


def write_audit(audit: Audit, run_dir: str | os.PathLike) -> list[Path]:
    """The audit's three files in ``run_dir``, where the run layout puts them."""
    table = audit.per_model
    payload = {"summary": audit.summary, "notes": audit.notes,
               "per_model": [{k: _json_value(v) for k, v in r.items()} for r in table.to_dict("records")]}
    written = [
        write_text(layout.join(run_dir, layout.audit("csv")), table.to_csv(index=False)),
        write_json(layout.join(run_dir, layout.audit("json")), payload),
        write_text(layout.join(run_dir, layout.audit("md")), _markdown(audit)),
    ]
    logger.info("wrote the released-data audit to %s", layout.join(run_dir, layout.AUDIT_DIR))
    return written


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_value(value.item())
    return value


def _markdown(audit: Audit) -> str:
    summary = audit.summary
    lines = [f"# Audit of {summary['dataset']} (revision {summary['revision']})", "", "## Summary", ""]
    lines += [f"- {key}: {value}" for key, value in summary.items() if key not in ("dataset", "revision")]
    lines += ["", "## Notes", ""] + [f"- {note}" for note in audit.notes]
    lines += ["", "## Per released model", "", audit.per_model.to_markdown(index=False), ""]
    return "\n".join(lines)
