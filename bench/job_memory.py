"""Peak memory of every job of a finished run, from the benchmark TSVs Snakemake writes beside each job.

    python bench/job_memory.py [RUN_DIR] [--limit-gb 4] [--run]

RUN_DIR defaults to results/demo; --run first runs the offline demo (config/demo.yaml).
Each job's peak is Snakemake's ``max_rss`` (MB) of the job's process tree, the highest over
its repeats. Prints one line per job, highest first, and exits with status 1 when a job
exceeded the limit or a job has no measurement.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from _common import REPO_ROOT, log, setup_logging, snakemake

MB_PER_GB = 1024


def peak_rss_mb(tsv: Path) -> float:
    """The highest max_rss of a benchmark file's repeats; NaN when Snakemake recorded none ('-')."""
    with tsv.open(newline="") as handle:
        values = [row["max_rss"] for row in csv.DictReader(handle, delimiter="\t")]
    numbers = [float(v) for v in values if v not in ("", "-", "NA")]
    return max(numbers) if numbers else math.nan


def job_peaks(run_dir: Path) -> dict[str, float]:
    folder = run_dir / "benchmarks"
    if not folder.is_dir():
        raise SystemExit(f"{folder} does not exist: run the demo first (make demo, or pass --run)")
    return {tsv.relative_to(folder).with_suffix("").as_posix(): peak_rss_mb(tsv) for tsv in sorted(folder.rglob("*.tsv"))}


def main() -> int:
    setup_logging()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path, default=REPO_ROOT / "results" / "demo")
    parser.add_argument("--limit-gb", type=float, default=4.0)
    parser.add_argument("--run", action="store_true", help="run the offline demo first")
    args = parser.parse_args()
    if args.run:
        snakemake("--cores", "2", "--configfile", "config/demo.yaml")

    peaks = job_peaks(args.run_dir)
    limit_mb = args.limit_gb * MB_PER_GB
    over = [job for job, mb in peaks.items() if mb > limit_mb]
    unmeasured = [job for job, mb in peaks.items() if math.isnan(mb)]
    width = max(map(len, peaks), default=3)
    log.info("%-*s  %10s", width, "job", "peak RSS")
    for job, mb in sorted(peaks.items(), key=lambda item: (-item[1] if not math.isnan(item[1]) else 1, item[0])):
        flag = "  OVER LIMIT" if job in over else ("  no measurement" if job in unmeasured else "")
        log.info("%-*s  %7.0f MB%s", width, job, mb, flag)
    log.info("%d jobs; highest %.0f MB; limit %.1f GB; %d over, %d unmeasured", len(peaks),
             max((mb for mb in peaks.values() if not math.isnan(mb)), default=0.0), args.limit_gb, len(over),
             len(unmeasured))
    return 1 if over or unmeasured else 0


if __name__ == "__main__":
    raise SystemExit(main())
