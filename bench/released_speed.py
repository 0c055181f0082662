"""Speed of the released-data run (config/released.yaml): ingest of a 3,300-row dataset in the
released schema (scores only, small images) to the main tables (issue target: 2 minutes on 2
cores), then tab_emotion from the emotion set's released per-item scores (no model loaded), then
the rest (tab_real_arts, figures, notebooks, report).

    python bench/released_speed.py [--cores 2] [--image-size 8] [--emotion-items 100]

The datasets are synthetic (tests/fixtures/released_data.py): 11 runs x 300 pairs with the
released columns, the union struct of HPSv3's two nestings, [mu, sigma] pairs and a
duplicated run; the emotion set's items with their four score stems, one-element HPSv2 lists
and a prompt without the [emotion] slot; and LAPIS's artworks with their HPSv3 scores.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from _common import REPO_ROOT, log, setup_logging, snakemake
from tests.fixtures.released_data import released_run_config

MAIN_TABLES = ("tab_gen", "tab_reward_model", "tab_align_p")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", default="2")
    parser.add_argument("--image-size", type=int, default=8)
    parser.add_argument("--emotion-items", type=int, default=100)
    args = parser.parse_args()
    setup_logging()
    with tempfile.TemporaryDirectory(prefix="widespectrum-bench-") as tmp:
        tmp = Path(tmp)
        config = yaml.safe_load((REPO_ROOT / "config" / "released.yaml").read_text())
        config, frames = released_run_config(config, tmp, n_prompts=300, image_size=args.image_size,
                                             emotion_items=args.emotion_items)
        (tmp / "config.yaml").write_text(yaml.safe_dump(config))
        run = tmp / "results" / config["run"]
        common = ["--cores", args.cores, "--configfile", str(tmp / "config.yaml")]
        # targets first: --configfile takes every value after it
        to_tables = snakemake(*[str(run / "tables" / f"{name}.csv") for name in MAIN_TABLES], *common)
        to_emotion = snakemake(str(run / "tables" / "tab_emotion.csv"), *common)
        to_end = to_tables + to_emotion + snakemake(*common)
    log.info("released rows: %d, image size %d px, cores: %s", len(frames["benchmark"]), args.image_size, args.cores)
    log.info("ingest to %s: %6.1f s  (target 120 s)", ", ".join(MAIN_TABLES), to_tables)
    log.info("tab_emotion from released scores:   %6.1f s  (%d items: items, scores, table)", to_emotion,
             len(frames["emotion"]))
    log.info("ingest to the last figure + report: %6.1f s", to_end)


if __name__ == "__main__":
    main()
