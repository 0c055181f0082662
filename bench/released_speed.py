"""Speed of the released-data run: ingest of a 3,300-row dataset in the released schema
(scores only, small images) to the last table (issue target: 2 minutes on 2 cores).

    python bench/released_speed.py [--cores 2] [--image-size 8]

The dataset is synthetic (tests/fixtures/released_data.py): 11 runs x 300 pairs with the
released columns, nested score structs, [mu, sigma] pairs and a duplicated run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from _common import REPO_ROOT, log, setup_logging, snakemake
from tests.fixtures.released_data import make_benchmark_table, write_benchmark_parquet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", default="2")
    parser.add_argument("--image-size", type=int, default=8)
    args = parser.parse_args()
    setup_logging()
    with tempfile.TemporaryDirectory(prefix="widespectrum-bench-") as tmp:
        tmp = Path(tmp)
        frame = make_benchmark_table(image_size=args.image_size)
        write_benchmark_parquet(frame, tmp / "released")
        config = yaml.safe_load((REPO_ROOT / "config" / "released.yaml").read_text())
        config["released"]["local_dir"] = str(tmp / "released")
        config["results_dir"] = str(tmp / "results")
        (tmp / "config.yaml").write_text(yaml.safe_dump(config))
        run = tmp / "results" / config["run"]
        tables = [str(run / "tables" / f"{name}.csv") for name in config["analysis"]["tables"]]
        common = ["--cores", args.cores, "--configfile", str(tmp / "config.yaml")]
        to_tables = snakemake(*tables, *common)  # targets first: --configfile takes every value after it
        to_end = to_tables + snakemake(*common)
    log.info("released rows: %d, image size %d px, cores: %s", len(frame), args.image_size, args.cores)
    log.info("ingest to the last table:           %6.1f s  (target 120 s)", to_tables)
    log.info("ingest to the last figure + report: %6.1f s", to_end)


if __name__ == "__main__":
    main()
