"""Saving figures: PDF + PNG, written atomically, marked when they come from a demo run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from . import layout
from .contracts import write_bytes

DEMO_MARK = "DEMO: random-weight stand-ins, numbers mean nothing"


def load_table(results_dir: str | Path, name: str) -> tuple[pd.DataFrame, dict]:
    """A table's CSV and its JSON record (notes, n, test records, demo flag)."""
    record = json.loads(layout.join(results_dir, layout.table(name, "json")).read_text(encoding="utf-8"))
    return pd.read_csv(layout.join(results_dir, layout.table(name, "csv"))), record


def save_figure(fig, results_dir: str | Path, name: str, demo: bool) -> list[Path]:
    if demo:
        fig.text(0.5, 0.5, DEMO_MARK, ha="center", va="center", rotation=20, fontsize=14,
                 color="red", alpha=0.35, transform=fig.transFigure)
    out = []
    for fmt in ("pdf", "png"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=150, bbox_inches="tight")
        out.append(write_bytes(layout.join(results_dir, layout.figure(name, fmt)), buffer.getvalue()))
    return out
