"""Compute a table from a run folder's files and write ``tables/<name>.{csv,tex,json}``.

The table rule (with the files it declares) and ``widespectrum tables`` (with
the files the catalog derives) both call ``build_table``, so a table
recomputed by hand is the table the DAG makes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import contracts, layout
from ..config import read_run_spec
from ..analysis.tables import TableResult, to_latex
from .catalog import tables_of
from .inputs import TableInputs

log = logging.getLogger(__name__)

DEMO_BANNER = "DEMO RUN: tiny random-weight models and procedural stand-ins; these numbers mean nothing."


def run_config(run_dir: str | os.PathLike) -> dict:
    spec = read_run_spec(run_dir)
    if spec is None:
        raise FileNotFoundError(f"{layout.join(run_dir, layout.RUN_SPEC)} not found: is {run_dir} a run folder?")
    return spec["config"]


def compute_table(name: str, run_dir: str | os.PathLike, config: Mapping,
                  files: Mapping[str, Sequence[str | os.PathLike]] | None = None) -> TableResult:
    """Table ``name`` from ``files`` (input name -> paths), by default the ones the catalog requires."""
    catalog = tables_of(config)
    if name not in catalog:
        raise KeyError(f"unknown table {name!r}; known: {sorted(catalog)}")
    spec = catalog[name]
    if files is None:
        inputs = TableInputs.of_run(run_dir, spec.requires(config))
    else:
        inputs = TableInputs(run_dir, files)
    result = spec.function()(inputs, config)
    result.notes[:0] = inputs.notes
    return result


def build_table(name: str, run_dir: str | os.PathLike, config: Mapping | None = None,
                files: Mapping[str, Sequence[str | os.PathLike]] | None = None,
                outputs: Mapping[str, str | os.PathLike] | None = None) -> TableResult:
    """Compute ``name`` and write its CSV, LaTeX and JSON record.

    ``outputs`` (``csv``, ``tex``, ``record``) are the files the table rule declares; by
    default, the run layout's places for them in ``run_dir``.
    """
    run_dir = Path(run_dir)
    config = run_config(run_dir) if config is None else config
    outputs = dict(outputs or {kind: layout.join(run_dir, layout.table(name, suffix))
                               for kind, suffix in (("csv", "csv"), ("tex", "tex"), ("record", "json"))})
    result = compute_table(name, run_dir, config, files)
    for note in result.notes:
        log.warning("%s: %s", name, note)
    demo = bool(config.get("demo"))
    contracts.write_text(outputs["csv"], result.frame.to_csv(index=False))
    caption = f"{name} ({config['run']})" + (f". {DEMO_BANNER}" if demo else "")
    latex = to_latex(result.frame, caption=caption, label=name.replace("_", ":", 1))
    contracts.write_text(outputs["tex"], (f"% {DEMO_BANNER}\n" if demo else "") + latex)
    contracts.write_json(outputs["record"], {
        "table": name, "run": config["run"], "demo": demo, "notes": result.notes,
        "records": result.records, "columns": list(result.frame.columns)})
    return result
