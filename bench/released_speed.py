"""Speed of the released-data run: ingest of a 3,300-row dataset in the released schema
(scores only, small images) to the last table (issue target: 2 minutes on 2 cores), and
tab_emotion from the emotion set's released per-item scores (no model loaded).

    python bench/released_speed.py [--cores 2] [--image-size 8] [--emotion-items 100]

The datasets are synthetic (tests/fixtures/released_data.py): 11 runs x 300 pairs with the
released columns, the union struct of HPSv3's two nestings, [mu, sigma] pairs and a
duplicated run; and the emotion set's 100 items with their four score stems.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from _common import REPO_ROOT, log, setup_logging, snakemake
from tests.fixtures.released_data import (
    emotion_bias_schema,
    make_benchmark_table,
    make_emotion_bias_table,
    write_benchmark_parquet,
    write_parquet_folder,
)

# The four published rows of tab:emotion, read from the set's score stems.
EMOTION_RELEASED_SCORES = {"blip-l-logit": "blip", "hpsv2.1": "hpsv2", "hpsv3": "hpsv3", "imagereward": "img_reward"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", default="2")
    parser.add_argument("--image-size", type=int, default=8)
    parser.add_argument("--emotion-items", type=int, default=100)
    args = parser.parse_args()
    setup_logging()
    with tempfile.TemporaryDirectory(prefix="widespectrum-bench-") as tmp:
        tmp = Path(tmp)
        frame = make_benchmark_table(image_size=args.image_size)
        write_benchmark_parquet(frame, tmp / "released")
        config = yaml.safe_load((REPO_ROOT / "config" / "released.yaml").read_text())
        config["released"]["local_dir"] = str(tmp / "released")
        config["results_dir"] = str(tmp / "results")
        emotion = make_emotion_bias_table(n_items=args.emotion_items, image_size=args.image_size)
        write_parquet_folder(emotion, tmp / "emotion", emotion_bias_schema(emotion))
        config["experiments"]["emotion"] = {
            "source": "released", "released": {"dataset": "weathon/emotion_bias_dataset", "revision": "synthetic",
                                               "local_dir": str(tmp / "emotion")},
            "rewards": list(EMOTION_RELEASED_SCORES), "released_scores": EMOTION_RELEASED_SCORES}
        (tmp / "config.yaml").write_text(yaml.safe_dump(config))
        run = tmp / "results" / config["run"]
        tables = [str(run / "tables" / f"{name}.csv") for name in config["analysis"]["tables"]]
        common = ["--cores", args.cores, "--configfile", str(tmp / "config.yaml")]
        to_tables = snakemake(*tables, *common)  # targets first: --configfile takes every value after it
        to_emotion = snakemake(str(run / "tables" / "tab_emotion.csv"), *common)
        to_end = to_tables + to_emotion + snakemake(*common)
    log.info("released rows: %d, image size %d px, cores: %s", len(frame), args.image_size, args.cores)
    log.info("ingest to the last table:           %6.1f s  (target 120 s)", to_tables)
    log.info("tab_emotion from released scores:   %6.1f s  (%d items: items, scores, table)", to_emotion,
             len(emotion))
    log.info("ingest to the last figure + report: %6.1f s", to_end)


if __name__ == "__main__":
    main()
