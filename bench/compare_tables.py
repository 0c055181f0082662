"""Are two run folders' tables byte-identical? (A restructure must not change a number.)

    python bench/compare_tables.py RUN_A RUN_B      e.g. results/demo /path/to/another/results/demo

Compares every CSV and Parquet file under ``tables/`` of both folders byte for
byte and names the files that differ or exist on one side only (a Parquet file
that differs is also compared as a frame, to say which columns changed). Exits
with status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import log, setup_logging

SUFFIXES = (".csv", ".parquet")


def table_files(run_dir: Path) -> dict[str, Path]:
    folder = run_dir / "tables"
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.suffix in SUFFIXES}


def describe_difference(a: Path, b: Path) -> str:
    import pandas as pd

    read = pd.read_parquet if a.suffix == ".parquet" else pd.read_csv
    left, right = read(a), read(b)
    if list(left.columns) != list(right.columns):
        return f"columns {list(left.columns)} vs {list(right.columns)}"
    if left.shape != right.shape:
        return f"shape {left.shape} vs {right.shape}"
    changed = [c for c in left.columns if not left[c].equals(right[c])]
    return f"values differ in columns {changed}" if changed else "same values, different bytes"


def compare(run_a: Path, run_b: Path) -> list[str]:
    """One line per table file that is not byte-identical in both folders."""
    files_a, files_b = table_files(run_a), table_files(run_b)
    problems = [f"only in {run_a}: {name}" for name in sorted(set(files_a) - set(files_b))]
    problems += [f"only in {run_b}: {name}" for name in sorted(set(files_b) - set(files_a))]
    for name in sorted(set(files_a) & set(files_b)):
        if files_a[name].read_bytes() != files_b[name].read_bytes():
            problems.append(f"{name}: {describe_difference(files_a[name], files_b[name])}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    args = parser.parse_args()
    setup_logging()
    compared = sorted(set(table_files(args.run_a)) | set(table_files(args.run_b)))
    if not compared:
        log.info("no tables under %s/tables or %s/tables", args.run_a, args.run_b)
        return 1
    problems = compare(args.run_a, args.run_b)
    for line in problems:
        log.info("DIFFERS %s", line)
    log.info("%d table files compared, %d differ", len(compared), len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
