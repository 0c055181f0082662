"""Published vs reproduced: every number of ``config/published_values.yaml`` beside this run's.

Published numbers keep the text they were printed with, because the printed precision
is the tolerance: 0.560 agrees with anything that rounds to it (within 0.0005). A number
computed from the authors' released scores must agree at that precision and nothing
else: the data are the paper's, so any gap is a difference of computation. Only for
regenerated data (images and scores made by this run), where the reproduced table
carries a bootstrap interval for a number, does a published value inside that interval
also agree. The ``basis`` column says which rule applies to each row. Stars, "<0.0001"
and ranks are compared as the paper states them. A number this run cannot produce is
listed as missing, with the reason.

A table of ``published_values.yaml`` may carry ``aliases`` (published row -> the
registry entry that produced it: the paper's "HPSv2" rows of tab_emotion and the
critical tables were scored with v2.1) and ``column_aliases`` (published column ->
the reproduced table's column).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import contracts, layout
from .analysis.stats import stars as stars_of
from .config import load_registry
from .config import run_dir as run_folder
from .experiments import registered
from .registry import display_name
from .tables.catalog import TABLES, configured_tables, tables_of, unavailable_tables
from .tables.spec import TableSpec

REPORT_COLUMNS = ["table", "row", "column", "published", "reproduced", "difference", "tolerance", "within",
                  "basis", "status", "why"]
RELEASED = "released scores"
REGENERATED = "regenerated"
ALIAS_KEYS = ("aliases", "column_aliases")


@dataclass(frozen=True)
class Printed:
    """A published number and the text it was printed as."""

    value: float
    text: str

    @property
    def rounding(self) -> float:
        decimals = len(self.text.split(".")[1]) if "." in self.text else 0
        return 0.5 * 10.0 ** -decimals


class _PrintedLoader(yaml.SafeLoader):
    pass


def _printed(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Printed:
    return Printed(float(node.value), node.value)


_PrintedLoader.add_constructor("tag:yaml.org,2002:float", _printed)
_PrintedLoader.add_constructor("tag:yaml.org,2002:int", _printed)


def load_published(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_PrintedLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass(frozen=True)
class Entry:
    table: str
    row: str
    column: str
    published: Printed | str


def flatten_published(published: dict) -> list[Entry]:
    """Every published number as (table, row, column, value)."""
    entries: list[Entry] = []

    def grid(table: str, block: dict) -> None:
        columns = block["columns"]
        rows = block["rows"]
        if isinstance(rows, dict):
            for row, values in rows.items():
                entries.extend(Entry(table, row, c, v) for c, v in zip(columns, values) if v is not None)
        else:  # a list of rows whose leading columns are keys (tab_vsf: model, method, scale)
            keys = [c for c in columns if c in ("model", "method", "scale")]
            for values in rows:
                row = "|".join(_text(values[columns.index(k)]) for k in keys)
                entries.extend(Entry(table, row, c, v) for c, v in zip(columns, values)
                               if c not in keys and v is not None)

    for table, block in published.items():
        if isinstance(block, dict) and "columns" in block:
            grid(table, block)
            if "post_paper" in block:
                post = {"columns": block["post_paper"].get("columns", ["d_hpsv3", "hpsv3_aa"]),
                        "rows": {k: v for k, v in block["post_paper"].items() if isinstance(v, list)
                                 and k != "pending"}}
                grid(table, post)
            extras = {k: v for k, v in block.items() if k not in ("columns", "rows", "post_paper", *ALIAS_KEYS)}
            first_row = next(iter(block["rows"])) if isinstance(block["rows"], dict) else "all"
            entries.extend(Entry(table, first_row, k, v) for k, v in extras.items())
        elif isinstance(block, dict):
            if table == "fig_diff":
                entries.extend(Entry(table, "overall" if k == "n_images" else k, "n" if k == "n_images" else "gap", v)
                               for k, v in block.items())
            else:
                entries.extend(Entry(table, "all", k, v) for k, v in block.items() if k not in ALIAS_KEYS)
    return entries


def published_aliases(published: dict) -> dict[str, dict[str, dict[str, str]]]:
    """table -> {"aliases": {published row: entry}, "column_aliases": {published column: column}}."""
    return {table: {key: {str(k): str(v) for k, v in (block.get(key) or {}).items()} for key in ALIAS_KEYS}
            for table, block in published.items() if isinstance(block, dict)}


def _text(value: Any) -> str:
    return value.text if isinstance(value, Printed) else str(value)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", str(name).lower())


def display_names(registry: dict) -> dict[str, set[str]]:
    """Our row name -> the normalised names the paper may print for it."""
    names: dict[str, set[str]] = {}
    for kind in ("generators", "rewards", "judges"):
        for name, entry in registry.get(kind, {}).items():
            names.setdefault(name, set()).update(
                _norm(n) for n in [name, display_name(registry, kind, name), *entry.get("aliases", [])])
    return names


def _find_row(frame: pd.DataFrame, published_row: str, names: dict[str, set[str]],
              aliases: Mapping[str, str] | None = None) -> pd.Series | None:
    if frame.empty:
        return None
    if aliases and published_row in aliases:
        # the entry that produced the published row, named exactly: no other entry's alias may match
        matches = frame.loc[frame[frame.columns[0]].astype(str) == aliases[published_row]]
        return matches.iloc[0] if len(matches) else None
    if published_row == "all":
        return frame.iloc[0]
    key_columns = [c for c in ("model", "method", "scale") if c in frame.columns]
    if "|" in published_row and len(key_columns) == 3:
        wanted = published_row.split("|")
        for _, row in frame.iterrows():
            model_names = names.get(str(row["model"]), {_norm(row["model"])})
            if (_norm(wanted[0]) in model_names and _norm(wanted[1]) == _norm(row["method"])
                    and math.isclose(float(wanted[2]), float(row["scale"]))):
                return row
        return None
    first = frame.columns[0]
    target = _norm(published_row)
    for _, row in frame.iterrows():
        if target in names.get(str(row[first]), {_norm(row[first])}):
            return row
    return None


def _compare(entry: Entry, row: pd.Series, column: str | None = None, released: bool = False) -> dict:
    published = entry.published
    column = column or entry.column
    out = {"published": _text(published), "basis": RELEASED if released else REGENERATED}
    if isinstance(published, str) and published in ("*", "**"):
        p = row.get(column)
        if p is None or pd.isna(p):
            return {**out, "status": "missing", "why": f"column {column} is empty"}
        got = stars_of(float(p))
        return {**out, "reproduced": got, "tolerance": "stars: ** p<1e-10, * p<1e-5",
                "within": got == published, "status": "compared"}
    if isinstance(published, str) and published.startswith("<"):
        p = row.get(column)
        if p is None or pd.isna(p):
            return {**out, "status": "missing", "why": f"column {column} is empty"}
        bound = float(published[1:])
        return {**out, "reproduced": f"{float(p):.3g}", "tolerance": f"p {published}",
                "within": float(p) < bound, "status": "compared"}
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return {**out, "status": "missing", "why": f"column {column} is empty in the reproduced table"}
    if isinstance(published, str):
        return {**out, "reproduced": str(value), "tolerance": "exact", "within": str(value) == published,
                "status": "compared"}
    reproduced = float(value)
    difference = reproduced - published.value
    within = abs(difference) <= published.rounding + 1e-12
    tolerance = f"±{published.rounding:g} (printed precision)"
    low, high = row.get(f"{column}_lo"), row.get(f"{column}_hi")
    if not released and low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
        tolerance += f" or 95% CI [{float(low):.4g}, {float(high):.4g}]"
        within = within or float(low) <= published.value <= float(high)
    return {**out, "reproduced": f"{reproduced:.6g}", "difference": difference, "tolerance": tolerance,
            "within": bool(within), "status": "compared"}


def computed_from_released(spec: TableSpec, config: Mapping | None, row_name: str) -> bool:
    """Whether a table row's numbers come from the authors' released scores, not from this run's models."""
    if config is None:
        return False
    if spec.experiment is None:
        return config.get("source") == "released"
    experiment = registered(config).get(spec.experiment)
    if experiment is None or experiment.spec(config) is None:
        return False
    return row_name in experiment.released_score_rewards(config)


def build_report(run_dir: str | Path, published: dict, registry: dict, tables_run: list[str],
                 catalog: Mapping[str, TableSpec] = TABLES, config: Mapping | None = None,
                 unavailable: Mapping[str, str] | None = None) -> pd.DataFrame:
    run_dir = Path(run_dir)
    names = display_names(registry)
    aliases = published_aliases(published)
    unavailable = unavailable or {}
    # published_values.yaml keys -> the catalog's tables that reproduce them
    table_of = {spec.published: name for name, spec in catalog.items() if spec.published}
    rows = []
    for entry in flatten_published(published):
        base = {"table": entry.table, "row": entry.row, "column": entry.column, "published": _text(entry.published)}
        table = table_of.get(entry.table)
        # a table of another run left in the folder is not read: only the run's own tables are inputs
        csv = layout.join(run_dir, layout.table(table)) if table in tables_run else None
        if csv is None or not csv.is_file():
            why = ("no table of the catalog reproduces it" if table is None
                   else f"this run cannot make the table: {unavailable[table]}" if table in unavailable
                   else "table not in this run's analysis.tables" if table not in tables_run
                   else "table was not produced")
            rows.append({**base, "status": "missing", "why": why})
            continue
        frame = pd.read_csv(csv)
        own = aliases.get(entry.table, {})
        row = _find_row(frame, entry.row, names, own.get("aliases"))
        if row is None:
            rows.append({**base, "status": "missing",
                         "why": f"no row for {entry.row!r}: this run has no entry the paper prints under that name"})
            continue
        column = own.get("column_aliases", {}).get(entry.column, entry.column)
        if column not in frame.columns:
            rows.append({**base, "status": "missing", "why": f"the reproduced table has no column {column!r}"})
            continue
        released = computed_from_released(catalog[table], config, str(row[frame.columns[0]]))
        rows.append({**base, **_compare(entry, row, column, released)})
    frame = pd.DataFrame(rows)
    return frame.reindex(columns=REPORT_COLUMNS)


def render_markdown(report: pd.DataFrame, run: str, demo: bool, notes: dict[str, list[str]],
                    unavailable: Mapping[str, str] | None = None) -> str:
    compared = report[report["status"] == "compared"]
    lines = [f"# Reproduction report: run `{run}`", ""]
    if demo:
        lines += ["**Demo run: tiny random-weight models and procedural stand-ins. Its numbers mean nothing; "
                  "this report shows that every table is wired to the published values.**", ""]
    lines += [f"{len(report)} published numbers: {len(compared)} compared, "
              f"{int(compared['within'].astype(bool).sum())} within tolerance, "
              f"{int((report['status'] == 'missing').sum())} missing.", "",
              f"Tolerance: a row whose basis is '{RELEASED}' is computed from the authors' released scores and "
              "must equal the published figure at its printed precision; a '{REGENERATED}' row also agrees when "
              "the published figure lies in its 95% bootstrap interval.".replace("{REGENERATED}", REGENERATED), ""]
    if unavailable:
        lines += ["## Tables this run cannot make", ""]
        lines += [f"- {name}: {why}" for name, why in unavailable.items()]
        lines.append("")
    for table, block in report.groupby("table", sort=False):
        lines += [f"## {table}", ""]
        for note in notes.get(table, []):
            lines.append(f"- note: {note}")
        if notes.get(table):
            lines.append("")
        shown = block.drop(columns="table").fillna("")
        shown["within"] = shown["within"].map({True: "yes", False: "NO", "": ""})
        lines += [shown.to_markdown(index=False), ""]
    return "\n".join(lines)


def write_report(config: Mapping, published_file: str | Path, markdown: str | Path, csv: str | Path,
                 records: Iterable[str | Path]) -> pd.DataFrame:
    """The report of the run ``config`` describes, written to ``markdown`` and ``csv``.

    It compares the run's own tables (``configured_tables``) and lists the notes of the
    tables' JSON ``records``: the files the rule declares.
    """
    catalog = tables_of(config)
    unavailable = unavailable_tables(config)
    report = build_report(run_folder(config), load_published(published_file), load_registry(config),
                          configured_tables(config), catalog, config=config, unavailable=unavailable)
    notes = {}
    for path in records:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        notes[record["table"]] = record.get("notes", [])
    contracts.write_text(csv, report.to_csv(index=False))
    contracts.write_text(markdown, render_markdown(report, config["run"], bool(config.get("demo")), notes, unavailable))
    return report
