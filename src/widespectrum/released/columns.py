"""Column look-ups the readers of the released sets share: several schemas are only partly published."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from .loading import ReleasedFormatError, Table, column_names, column_values, is_image_value


def find_column(table: Table, candidates: Sequence[str], what: str, dataset: str, required: bool = True) -> str | None:
    present = column_names(table)
    for name in candidates:
        if name in present:
            return name
    if required:
        raise ReleasedFormatError(
            f"{dataset}: no column for {what}; looked for {list(candidates)}, present: {present}")
    return None


def text_value(value: Any, column: str, row: int, dataset: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ReleasedFormatError(f"{dataset}: column {column!r} is empty or not text at row {row}")
    return value


def holds_images(table: Table, column: str) -> bool:
    if isinstance(table, pa.Table):
        kind = table.schema.field(column).type
        return pa.types.is_struct(kind) and kind.get_field_index("bytes") >= 0
    first = next((v for v in column_values(table, column) if v is not None), None)
    # Raw bytes could be any binary column; an image column holds structs (or PIL images).
    return is_image_value(first) and not isinstance(first, (bytes, bytearray))


def keyed_by(table: Table, column: str, models: Sequence[str]) -> bool:
    if isinstance(table, pa.Table):
        kind = table.schema.field(column).type
        return (pa.types.is_struct(kind) and kind.num_fields > 0
                and {kind.field(i).name for i in range(kind.num_fields)} <= set(models))
    first = next((v for v in column_values(table, column) if v is not None), None)
    return isinstance(first, dict) and bool(first) and set(first) <= set(models)


def scalar_score(value: Any, column: str, row: int, dataset: str) -> float | None:
    """A released score: a number, or the first of a [score, sigma] pair; None when absent."""
    if isinstance(value, list) and len(value) in (1, 2):
        value = value[0]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReleasedFormatError(f"{dataset}: column {column!r} is not a score at row {row}: {value!r}")
    return float(value)
