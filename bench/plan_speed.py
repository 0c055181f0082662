"""Dry-run the paper's config at full size: how many jobs, and how long planning takes.

Builds the DAG of every job of a full run of config/config.yaml (as if no output
existed) twice: once through ``widespectrum plan`` (Snakemake's Python API) and once as
``snakemake -n --forceall``, and logs the job counts per rule, the two wall times and their ratio.

    python bench/plan_speed.py [--config config/config.yaml]
"""

from __future__ import annotations

import argparse
import logging
import time

from _common import REPO_ROOT, setup_logging, snakemake

from widespectrum.plan import format_plan, plan

log = logging.getLogger("plan_speed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    args = parser.parse_args()
    setup_logging()
    started = time.perf_counter()
    result = plan(REPO_ROOT / args.config)
    planned = time.perf_counter() - started
    log.info("%s", format_plan(result))
    dry_run = snakemake("-n", "--forceall", "--quiet", "rules", "--configfile", args.config)
    # both timed in this one run, so their ratio compares the two ways to plan whatever the machine
    log.info("%s: %d jobs (%d on a GPU); widespectrum plan %.1f s, snakemake -n --forceall %.1f s, "
             "ratio plan / dry run %.2f", args.config, len(result.jobs), len(result.gpu_jobs), planned, dry_run,
             planned / dry_run)


if __name__ == "__main__":
    main()
