"""Rerun one figure: the wall time of the reruns the README's "Rerun one figure" section lists,
on a small finished released-data run (12 prompts, the config/released.yaml tables).

    python bench/rerun_speed.py [--cores 2] [--prompts 12]

The workflow is copied to a temporary folder first, so that editing a notebook does not touch
the repository. Times, after one full run:

- editing a notebook's content (one notebook job);
- changing ``analysis.bootstrap.n`` (every table that bootstraps, its notebook, numbers, report);
- building one table by name after deleting its files (``snakemake --cores 1 tab_reward_model``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import yaml

from _common import REPO_ROOT, log, setup_logging, snakemake
from tests.fixtures.reduced_run import copy_workflow
from tests.fixtures.released_data import released_run_config

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", default="2")
    parser.add_argument("--prompts", type=int, default=12)
    args = parser.parse_args()
    setup_logging()
    # the copied workflow imports the repository's package and test fixtures
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT),
                                                os.environ.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory(prefix="widespectrum-bench-") as tmp:
        tmp = Path(tmp)
        workdir = copy_workflow(tmp / "workflow")
        config = yaml.safe_load((REPO_ROOT / "config" / "released.yaml").read_text())
        config, _ = released_run_config(config, tmp, n_prompts=args.prompts, image_size=8)
        config["analysis"]["bootstrap"]["n"] = 100
        config_file = tmp / "config.yaml"
        config_file.write_text(yaml.safe_dump(config))
        run = tmp / "results" / config["run"]
        common = ["--cores", args.cores, f"--configfile={config_file}"]
        full = snakemake(*common, cwd=workdir)

        notebook = workdir / "notebooks" / "tab_gen.ipynb"
        edited = json.loads(notebook.read_text())
        edited["metadata"]["edited"] = True
        notebook.write_text(json.dumps(edited))
        after_notebook = snakemake(*common, cwd=workdir)

        config["analysis"]["bootstrap"]["n"] = 50
        config_file.write_text(yaml.safe_dump(config))
        after_bootstrap = snakemake(*common, cwd=workdir)

        for suffix in ("csv", "json", "tex"):
            (run / "tables" / f"tab_reward_model.{suffix}").unlink()
        named = snakemake("--cores", "1", f"--configfile={config_file}", "tab_reward_model", cwd=workdir)
    log.info("released run, %d prompts, cores: %s; full run %.1f s", args.prompts, args.cores, full)
    log.info("edit a notebook's content:                           %6.1f s", after_notebook)
    log.info("change analysis.bootstrap.n:                         %6.1f s", after_bootstrap)
    log.info("snakemake --cores 1 tab_reward_model, table deleted: %6.1f s", named)


if __name__ == "__main__":
    main()
