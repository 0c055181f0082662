"""The released E1 prompt set (``weathon/anti_aesthetics_dataset``) as PROMPTS."""

from __future__ import annotations

import logging

import pandas as pd
import pyarrow as pa

from ..contracts import PROMPTS
from .benchmark import parse_dimensions
from .columns import text_value
from .loading import ReleasedFormatError, Table, column_names, records

logger = logging.getLogger(__name__)


def anti_aesthetics_prompts(table: Table, n: int = 300) -> pd.DataFrame:
    """``weathon/anti_aesthetics_dataset``: the first ``n`` rows (the benchmark
    used ``train[:300]``) as a PROMPTS frame with rewriter "released". Prompt ids
    are the row positions, matching the released benchmark's ``index``."""
    dataset = "weathon/anti_aesthetics_dataset"
    required = ["original_prompt", "disorted_long_prompt", "selected"]
    present = column_names(table)
    missing = [c for c in required if c not in present]
    if missing:
        raise ReleasedFormatError(f"{dataset}: missing column(s) {missing}; present: {present}")
    if len(table) < n:
        raise ReleasedFormatError(f"{dataset}: {len(table)} rows, fewer than the {n} asked for")
    negative_column = "negative_prompt" if "negative_prompt" in present else None
    if negative_column is None:
        logger.warning("%s has no negative_prompt column; negative prompts are left null", dataset)
    head = table.slice(0, n) if isinstance(table, pa.Table) else table.iloc[:n]
    rows = []
    for row, record in enumerate(records(head, [*required, *([negative_column] if negative_column else [])])):
        where = f"row {row}"
        negative = record[negative_column] if negative_column else None
        rows.append({
            "prompt_id": f"{row:04d}",
            "caption_id": f"released:{row}",
            "prompt_original": text_value(record["original_prompt"], "original_prompt", row, dataset),
            "prompt_anti": text_value(record["disorted_long_prompt"], "disorted_long_prompt", row, dataset),
            "dimensions": parse_dimensions(record["selected"], "selected", where),
            "negative_prompt": negative if isinstance(negative, str) and negative.strip() else None,
            "reference_image": None,
            "rewriter": "released",
        })
    return PROMPTS.validate(pd.DataFrame(rows, columns=PROMPTS.names), where=f"from {dataset}")
