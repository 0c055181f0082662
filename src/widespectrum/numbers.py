"""Every number a table reports, with where it came from: ``numbers.json``, ``numbers.tex``, ``explain``.

A number is one cell of a table's CSV, keyed ``<table>.<row>.<column>``: the row
is named by the table's leading label columns (``reward``, ``generator``, ...),
as many as make it unique, slugged lowercase. Its record chains the value to the
table's compute function, the files it read (with sha256), the config keys the
table depends on, the code and packages, the models upstream with the hub
commits they resolved to (from ``provenance/``), the seeds, and the n and the
exclusions of the table's JSON record. ``explain`` reads these files alone and
goes down to the prompt pairs and image sha256s of the rows behind a number.

Only ``table_params`` runs while Snakemake builds the DAG, so this module loads
no pandas at import. Nothing here prints an environment variable: configs name them, and any value
of a secret-looking variable that still turns up in a string is redacted.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from . import layout
from .experiments import registered

LISTING_LIMIT = 20  # more contributing rows than this go to a file under explain/
SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
REDACTED = "<redacted>"


# ---------------------------------------------------------------- keys and macros

def slug(text: Any) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", str(text).strip().lower()).strip("-") or "none"


def macro_name(key: str) -> str:
    """A LaTeX command name (letters only) for ``key``: words capitalised, digits spelled out.

    ``tab_reward_model.hpsv3.accuracy`` -> ``TabRewardModelHpsvThreeAccuracy``; two keys that
    differ only in punctuation would collide, which ``write_numbers`` refuses.
    """
    digits = "Zero One Two Three Four Five Six Seven Eight Nine".split()
    words = re.findall(r"[A-Za-z]+|[0-9]", key)
    return "".join(digits[int(w)] if w.isdigit() else w.capitalize() for w in words)


# ---------------------------------------------------------------- secrets

def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look secret (8 characters or more)."""
    environ = os.environ if environ is None else environ
    return sorted((v for k, v in environ.items() if SECRET_NAME.search(k) and len(v) >= 8), key=len, reverse=True)


def redact(node: Any, secrets: Iterable[str]) -> Any:
    secrets = list(secrets)
    if not secrets:
        return node
    if isinstance(node, str):
        for value in secrets:
            node = node.replace(value, REDACTED)
        return node
    if isinstance(node, Mapping):
        return {redact(k, secrets): redact(v, secrets) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [redact(v, secrets) for v in node]
    return node


# ---------------------------------------------------------------- config keys a table reads

class RecordingConfig(Mapping):
    """A read-only view of a config that records the dotted keys read through it.

    A leaf (anything not a mapping) records its own path; a mapping that is
    iterated or measured records its path too, since all of it was read.
    """

    def __init__(self, data: Mapping, path: str = "", seen: set[str] | None = None):
        self._data, self._path = data, path
        self.seen = set() if seen is None else seen

    def _child(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else str(key)

    def __getitem__(self, key):
        value = self._data[key]
        if isinstance(value, Mapping):
            return RecordingConfig(value, self._child(key), self.seen)
        self.seen.add(self._child(key))
        return value

    def get(self, key, default=None):
        if key not in self._data:
            self.seen.add(self._child(key))
            return default
        return self[key]

    def __contains__(self, key):
        return key in self._data

    def __iter__(self):
        if self._path:
            self.seen.add(self._path)
        return iter(self._data)

    def __len__(self):
        if self._path:
            self.seen.add(self._path)
        return len(self._data)


def _prune(keys: Iterable[str]) -> list[str]:
    """Drop keys inside another recorded key (``analysis`` covers ``analysis.bootstrap``)."""
    keys = sorted(set(keys))
    return [k for k in keys if not any(k.startswith(other + ".") for other in keys if other != k)]


def table_config_keys(spec, config: Mapping) -> list[str]:
    """The config keys one table depends on: those its ``requires`` reads, its analysis block, and ``spec.reads``.

    The main benchmark's tables read ``analysis`` (all but the table list, which
    says which tables exist, not how one is computed); an experiment's tables
    read their experiment's block, and what their catalog entry declares it
    reads besides (``analysis.bootstrap`` for those with confidence intervals).
    """
    recording = RecordingConfig(config)
    try:
        spec.requires(recording)
    except KeyError:  # the run lacks the table's block
        pass
    keys = set(recording.seen) | set(spec.reads)
    if spec.experiment is None:
        keys |= {f"analysis.{k}" for k in config.get("analysis", {}) if k != "tables"}
    else:
        keys.add(registered(config)[spec.experiment].key())  # img2img and vsf sit at the config's top
    return _prune(keys)


def lookup(config: Mapping, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def table_params(spec, config: Mapping) -> dict[str, Any]:
    """``{key: value}`` of the config keys a table depends on: the table rule's params.

    Only these, so that editing one analysis parameter reruns the tables that use it.
    """
    return {key: lookup(config, key) for key in table_config_keys(spec, config)}


# ---------------------------------------------------------------- reading a table

def _parse(cell: str) -> Any:
    if cell == "":
        return None
    if cell in ("True", "False"):
        return cell == "True"
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        return cell


def read_csv_rows(path: str | os.PathLike) -> tuple[list[str], list[dict[str, Any]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [{k: _parse(v) for k, v in row.items()} for row in reader]
        return list(reader.fieldnames or []), rows


def _is_label(values: list[Any]) -> bool:
    return all(isinstance(v, str) for v in values if v is not None) and any(v is not None for v in values)


def row_keys(columns: list[str], rows: list[dict]) -> tuple[list[str], list[str]]:
    """The label columns naming each row, and each row's slug.

    The leading text columns, then further columns one at a time until every row
    is named uniquely (``tab_vsf``: model, method, then scale); the row number
    when even all columns leave two rows alike.
    """
    lead = []
    for column in columns:
        if not _is_label([r[column] for r in rows]):
            break
        lead.append(column)
    chosen = list(lead)

    def names(cols):
        return ["_".join(slug(r[c]) for c in cols) if cols else "" for r in rows]

    for column in columns[len(lead):]:
        if len(set(names(chosen))) == len(rows):
            break
        chosen.append(column)
    keys = names(chosen)
    if len(set(keys)) < len(rows) or not chosen:
        keys = [f"{k}_{i}" if k else f"row{i}" for i, k in enumerate(keys)]
    return chosen, keys


def format_value(value: Any, digits: int = 3) -> str:
    """The form the LaTeX table prints: numbers to ``digits`` decimals, NaN and missing as '--'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def n_column(column: str, columns: Collection[str], n_columns: Mapping[str, str | None] | None = None) -> str | None:
    """The column holding the n behind ``column`` (None when the table states none).

    The table spec's ``n_columns`` where they name the column or its measure (the
    column less ``_lo``/``_hi``/``_p``/``_r``/``_stars``); else ``n_<column>``,
    ``n_<measure>``, ``n_<measure without d_>``, then ``n``.
    """
    n_columns = n_columns or {}
    measure = re.sub(r"_(lo|hi|p|r|stars)$", "", column)
    for declared in (column, measure):
        if declared in n_columns:
            return n_columns[declared]
    for candidate in (f"n_{column}", f"n_{measure}", f"n_{measure.removeprefix('d_')}"):
        if candidate in columns and candidate != column:
            return candidate
    return "n" if "n" in columns else None


def cell_n(column: str, row: Mapping[str, Any], n_columns: Mapping[str, str | None] | None = None) -> Any:
    """The n behind one cell, from the column ``n_column`` names."""
    name = n_column(column, row.keys(), n_columns)
    return row[name] if name is not None else None


def rows_used(csv_path: str | os.PathLike, n_columns: Mapping[str, str | None] | None = None) -> int | None:
    """How many rows a table used: the largest n behind its cells (None when it states none).

    Only the counts some cell rests on: not ``n_excluded`` (rows left out), nor a
    count of something else (tab_val's ``n_dimensions``).
    """
    columns, rows = read_csv_rows(csv_path)
    labels, _ = row_keys(columns, rows)
    used = {n_column(c, columns, n_columns) for c in columns if c not in labels} - {None}
    counts = [r[c] for r in rows for c in used if isinstance(r[c], int)]
    return max(counts) if counts else None


def rows_label(table: str, csv_path: str | os.PathLike, spec) -> dict[str, Any]:
    """The report's labels of a table (``spec``, its catalog entry) and its figure: its name and the rows it used."""
    n = rows_used(csv_path, spec.n_columns)
    return {"table": table, "rows used (n)": "not stated" if n is None else n}


def section_title(section: str) -> str:
    """'E3. Reward models': the heading of a section of docs/experiments.md, the report's category."""
    from .config import REPO_ROOT

    for line in (REPO_ROOT / "docs" / "experiments.md").read_text(encoding="utf-8").splitlines():
        match = re.match(rf"## ({re.escape(section)})\. (.+)", line)
        if match:
            return f"{section}. {match.group(2).strip()}"
    return section


# ---------------------------------------------------------------- what is upstream of a table

def _jobs_of_inputs(relative_paths: Iterable[str]) -> tuple[set[str], set[str]]:
    """Provenance names of the jobs that wrote these inputs (``score/<reward>-<generator>``), and their generators."""
    stages = {"scores": "score", "judgements": "judge", "ratings": "rate"}
    jobs, generators = set(), set()
    for rel in relative_paths:
        parts = rel.split("/")
        if parts[0] in stages and len(parts) == 3:
            generator = Path(parts[2]).stem
            jobs.add(f"{stages[parts[0]]}/{parts[1]}-{generator}")
            generators.add(generator)
    return jobs, generators


def _models_of(component: Mapping) -> list[dict[str, Any]]:
    """Hub ids a provenance component loaded, with the revision asked for and the commit it resolved to."""
    models = []
    repo = next((component[k] for k in ("model_id", "repo_id", "repo", "checkpoint_repo", "dataset")
                 if component.get(k)), None)
    if repo is not None:
        models.append({"id": repo, "revision": component.get("revision"),
                       "resolved_revision": component.get("resolved_revision")})
    for key, value in component.items():
        if key.endswith("_resolved_revision"):
            role = key.removesuffix("_resolved_revision")
            if component.get(f"{role}_id"):
                models.append({"id": component[f"{role}_id"], "role": role,
                               "revision": component.get(f"{role}_revision"), "resolved_revision": value})
    return models


def upstream_provenance(run_dir: Path, spec, input_paths: Iterable[str]) -> list[dict[str, Any]]:
    """The provenance records of the jobs whose outputs a table read, summarised."""
    folder = layout.join(run_dir, layout.PROVENANCE_DIR)
    if not folder.is_dir():
        return []
    jobs, generators = _jobs_of_inputs(input_paths)
    found = []
    for path in sorted(folder.rglob("*.json")):
        rel = path.relative_to(folder).as_posix()
        step = rel.removesuffix(".json")
        mine = (step.startswith(layout.experiment_step(spec.experiment, "")) if spec.experiment
                else step in jobs or (step.startswith("generate/") and step.removeprefix("generate/").rsplit("-", 1)[0]
                                      in generators))
        if not mine:
            continue
        record = json.loads(path.read_text())
        component = record.get("component", {})
        found.append({"record": layout.provenance(rel.removesuffix(".json")), "name": component.get("name"),
                      "kind": component.get("kind"), "models": _models_of(component),
                      "code_commit": record.get("code_commit"), "config_digest": record.get("config_digest")})
    return found


def _excluded(record: Mapping, row_name: str | None) -> dict[str, Any]:
    """The table's and the row's exclusion counts; ``*_because``: the same rows by category and status."""
    records = record.get("records", {})
    excluded = {"table": records.get("excluded", {})}
    if records.get("excluded_because"):
        excluded["table_because"] = records["excluded_because"]
    for row_key, row in (records.get("rows") or {}).items():
        if row_name is not None and slug(row_key) == row_name and isinstance(row, Mapping):
            excluded["row"] = row.get("excluded", {})
            if row.get("excluded_because"):
                excluded["row_because"] = row["excluded_because"]
    return excluded


def exclusion_lines(excluded: Mapping[str, Any]) -> list[str]:
    """One line per status of the rows left out: ``<where>: <n> x <status> (<category>)``.

    Finds every ``{category: {status: n}}`` that ``analysis.tables.exclusion_reasons``
    wrote, at any depth of a record, and names it by the keys that lead to it.
    """
    from .analysis.tables import EXCLUSION_REASONS

    lines: list[str] = []

    def is_reasons(node: Any) -> bool:
        return (isinstance(node, Mapping) and bool(node) and set(node) <= set(EXCLUSION_REASONS)
                and all(isinstance(v, Mapping) for v in node.values()))

    def walk(node: Any, where: list[str]) -> None:
        if is_reasons(node):
            for category, statuses in node.items():
                lines.extend(f"{' '.join(where)}: {n} x {status!r} ({category})" for status, n in statuses.items())
        elif isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, [*where, str(key)])

    walk(excluded, [])
    return lines


def _seeds(config: Mapping, record: Mapping) -> dict[str, Any]:
    seeds = {"seed": config.get("seed")}
    boot = record.get("records", {}).get("bootstrap")
    if isinstance(boot, Mapping) and "seed" in boot:
        seeds["bootstrap"] = boot["seed"]
    return seeds


def code_state(root: Path) -> dict[str, Any]:
    from .provenance import code_commit

    commit = code_commit(root)
    if commit is None:
        return {"commit": None, "dirty": None}
    return {"commit": commit.removesuffix("+dirty"), "dirty": commit.endswith("+dirty")}


# ---------------------------------------------------------------- numbers.json / numbers.tex

def _belongs(relative: str, mine: set[str], others: set[str]) -> bool:
    """Whether an input file feeds a row: not when its path names another row (``scores/<other reward>/``)."""
    parts = {slug(Path(p).stem) for p in relative.split("/")}
    return bool(parts & mine) or not parts & others


def table_numbers(name: str, spec, run_dir: Path, config: Mapping, common: Mapping) -> Iterator[dict]:
    """The numbers of one table, as its CSV and JSON record give them."""
    csv_path = layout.join(run_dir, layout.table(name, "csv"))
    record = json.loads(layout.join(run_dir, layout.table(name, "json")).read_text())
    columns, rows = read_csv_rows(csv_path)
    labels, keys = row_keys(columns, rows)
    from .contracts import sha256_file  # the contracts load pandas, which building the DAG need not

    requires = spec.requires(config)
    inputs = []
    for kind, paths in requires.items():
        for rel in paths:
            path = layout.join(run_dir, rel)
            inputs.append({"input": kind, "path": rel, "sha256": sha256_file(path) if path.is_file() else None})
    table_files = [{"path": layout.table(name, s), "sha256": sha256_file(layout.join(run_dir, layout.table(name, s)))}
                   for s in ("csv", "json")]
    shared = {
        "table": name, "section": spec.section, "caption": spec.caption,
        "rule": "table", "function": spec.compute, "figure": layout.figure(name),
        "notebook": spec.notebook_for(name), "table_files": table_files, "inputs": inputs,
        "config_keys": table_params(spec, config),
        "seeds": _seeds(config, record), "notes": record.get("notes", []), **common,
    }
    for row, key in zip(rows, keys):
        mine = {slug(row[c]) for c in labels}
        others = {slug(r[c]) for r in rows for c in labels} - mine
        row_inputs = [i for i in inputs if _belongs(i["path"], mine, others)]
        row_shared = {**shared, "inputs": row_inputs,
                      "upstream": upstream_provenance(run_dir, spec, [i["path"] for i in row_inputs])}
        for column in columns:
            if column in labels:
                continue
            value = row[column]
            if isinstance(value, float) and math.isnan(value):
                value = None
            yield {"key": f"{name}.{key}.{slug(column)}", "row": {c: row[c] for c in labels},
                   "column": column, "value": value, "formatted": format_value(value),
                   "n": cell_n(column, row, spec.n_columns), "excluded": _excluded(record, key), **row_shared}


def collect_numbers(run_dir: str | os.PathLike, config: Mapping, tables: Iterable[str],
                    root: Path | None = None) -> dict[str, Any]:
    from .config import REPO_ROOT
    from .provenance import package_versions
    from .tables.catalog import tables_of

    run_dir = Path(run_dir)
    catalog = tables_of(config)
    common = {"run": config["run"], "demo": bool(config.get("demo")),
              "code": code_state(root or REPO_ROOT), "packages": package_versions()}
    numbers: dict[str, dict] = {}
    for name in tables:
        for entry in table_numbers(name, catalog[name], run_dir, config, common):
            if entry["key"] in numbers:
                raise ValueError(f"two numbers share the key {entry['key']!r}")
            numbers[entry["key"]] = entry
    return {"run": config["run"], "numbers": numbers}


def _tex_escape(text: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", text).replace("~", r"\textasciitilde{}").replace("^", r"\^{}")


def numbers_tex(document: Mapping) -> str:
    lines = [f"% Numbers of run {document['run']}: one macro per key of numbers.json."]
    seen: dict[str, str] = {}
    for key, entry in document["numbers"].items():
        macro = macro_name(key)
        if macro in seen:
            raise ValueError(f"keys {seen[macro]!r} and {key!r} give the same macro \\{macro}")
        seen[macro] = key
        lines.append(f"\\newcommand{{\\{macro}}}{{{_tex_escape(entry['formatted'])}}}  % {key}")
    return "\n".join(lines) + "\n"


def write_numbers(run_dir: str | os.PathLike, config: Mapping, tables: Iterable[str],
                  json_path: str | os.PathLike | None = None, tex_path: str | os.PathLike | None = None,
                  root: Path | None = None) -> dict[str, Any]:
    from .contracts import write_json, write_text

    run_dir = Path(run_dir)
    document = redact(collect_numbers(run_dir, config, tables, root), secret_values())
    write_json(json_path or layout.join(run_dir, layout.NUMBERS_JSON), document)
    write_text(tex_path or layout.join(run_dir, layout.NUMBERS_TEX), numbers_tex(document))
    return document


# ---------------------------------------------------------------- explain

def closest_keys(key: str, keys: Iterable[str], n: int = 5) -> list[str]:
    return difflib.get_close_matches(key, list(keys), n=n, cutoff=0.3)


def contributing_rows(run_dir: Path, entry: Mapping) -> list[dict[str, Any]]:
    """The rows of the number's input tables that belong to its table row, with prompts and image sha256s.

    The number's inputs are already those of its table row; within a file, the
    rows that carry the table row's labels (its generator, reward, ...) belong to it.
    """
    import pandas as pd

    mine = {slug(v) for v in entry["row"].values()}
    prompts_path = layout.join(run_dir, layout.PROMPTS)
    prompts = pd.read_parquet(prompts_path) if prompts_path.is_file() else None
    manifests: dict[str, pd.DataFrame] = {}
    out = []
    for item in entry["inputs"]:
        path = layout.join(run_dir, item["path"])
        if item["input"] == "prompts" or not path.is_file() or path.suffix != ".parquet":
            continue
        frame = pd.read_parquet(path)
        # A file the row's labels name (scores/<its reward>/..., .../<its generator>.parquet)
        # counts whole; another is filtered on the row's label columns where it has them, and
        # one without them (the judge's labels of tab_reward_model) counts whole.
        if not {slug(Path(part).stem) for part in item["path"].split("/")} & mine:
            for column, value in entry["row"].items():
                if column in frame.columns:
                    frame = frame[frame[column].map(slug) == slug(value)]
        for record in frame.to_dict("records"):
            row = {"input": item["path"]}
            for column in ("generator", "prompt_id", "item_id", "image_kind", "prompt_kind", "reward", "status", "sha256"):
                if column in record and record[column] is not None:
                    row[column] = record[column]
            generator = record.get("generator")
            if generator and "prompt_id" in record and "sha256" not in row:
                if generator not in manifests:
                    manifest_path = layout.join(run_dir, layout.manifest(generator))
                    manifests[generator] = (pd.read_parquet(manifest_path, columns=["prompt_id", "image_kind", "sha256"])
                                            if manifest_path.is_file() else None)
                manifest = manifests[generator]
                if manifest is not None:
                    hit = manifest[manifest.prompt_id == record["prompt_id"]]
                    if "image_kind" in record:
                        hit = hit[hit.image_kind == record["image_kind"]]
                    row["image_sha256"] = ",".join(hit.sha256.dropna())
            if prompts is not None and "prompt_id" in record:
                pair = prompts[prompts.prompt_id == record["prompt_id"]]
                if len(pair):
                    row["prompt_original"] = pair.prompt_original.iloc[0]
                    row["prompt_anti"] = pair.prompt_anti.iloc[0]
            out.append(row)
    return out


def explain(key: str, run_dir: str | os.PathLike, environ: Mapping[str, str] | None = None) -> str:
    """The provenance chain of one number, as text; raises KeyError listing the closest keys."""
    run_dir = Path(run_dir)
    document = json.loads(layout.join(run_dir, layout.NUMBERS_JSON).read_text())
    numbers = document["numbers"]
    if key not in numbers:
        close = closest_keys(key, numbers)
        raise KeyError(f"no number {key!r} in {layout.join(run_dir, layout.NUMBERS_JSON)}; closest: {', '.join(close) or 'none'}")
    entry = numbers[key]
    lines = [f"{key} = {entry['formatted']}  (value {entry['value']!r}, n = {entry['n']})",
             f"  table {entry['table']} ({entry['section']}): {entry['caption']}",
             f"  computed by rule {entry['rule']} with {entry['function']}; figure {entry['figure']}",
             f"  code {entry['code']['commit']}{' (dirty tree)' if entry['code']['dirty'] else ''}",
             "  packages: " + ", ".join(f"{k} {v}" for k, v in entry["packages"].items() if v),
             "  seeds: " + ", ".join(f"{k}={v}" for k, v in entry["seeds"].items()),
             "  config keys:"]
    lines += [f"    {k} = {json.dumps(v)}" for k, v in entry["config_keys"].items()]
    lines.append(f"  excluded: {json.dumps(entry['excluded'])}")
    lines += [f"  left out, {line}" for line in exclusion_lines(entry["excluded"])]
    lines += [f"  note: {note}" for note in entry["notes"]]
    lines.append("  table files:")
    lines += [f"    {f['path']}  sha256 {f['sha256']}" for f in entry["table_files"]]
    lines.append("  inputs:")
    lines += [f"    {i['path']}  sha256 {i['sha256'] or 'MISSING'}" for i in entry["inputs"]]
    lines.append("  upstream jobs:")
    for job in entry["upstream"]:
        models = "; ".join(f"{m['id']}@{m['revision']} -> {m['resolved_revision']}" for m in job["models"])
        lines.append(f"    {job['record']}: {job['kind']} {job['name']}" + (f" [{models}]" if models else ""))
    rows = contributing_rows(run_dir, entry)
    if len(rows) <= LISTING_LIMIT:
        lines.append(f"  rows behind the number ({len(rows)}):")
        lines += ["    " + json.dumps(r, ensure_ascii=False) for r in rows]
    else:
        from .contracts import write_text

        listing = layout.join(run_dir, layout.explain_listing(key))
        rows = redact(rows, secret_values(environ))
        write_text(listing, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        lines.append(f"  rows behind the number: {len(rows)}, listed in {layout.explain_listing(key)}")
    return "\n".join(redact(lines, secret_values(environ))) + "\n"
