"""How long does Snakemake take to decide there is nothing to do? Ours against a bare Snakefile.

    python bench/dryrun_speed.py [--results results] [--repeat 3]

Needs a finished demo run in ``<results>/demo`` (``snakemake --cores 2 --configfile
config/demo.yaml``). Times, side by side, the best of ``--repeat``:

- the no-op dry run of the demo (every job finished);
- the no-op dry run of a bare Snakefile, built in a temporary folder, with as many
  finished jobs as the demo's DAG has (one ``touch`` rule, run once for real first);
- the dry run of the paper's DAG (config/config.yaml) with nothing done yet.

Targets (issue 6): demo / bare <= 1.5, paper DAG <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO_ROOT, log, setup_logging

BARE_SNAKEFILE = """\
N = {n}

rule all:
    input:
        expand("out/{{i}}.txt", i=range(N)),

rule make:
    output:
        "out/{{i}}.txt",
    shell:
        "touch {{output}}"
"""


def _run(args: list[str], cwd: Path) -> tuple[float, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True,
                            text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"snakemake {' '.join(args)} failed in {cwd}")
    return elapsed, result.stdout + result.stderr


def best(args: list[str], cwd: Path, repeat: int) -> tuple[float, str]:
    runs = [_run(args, cwd) for _ in range(repeat)]
    return min(t for t, _ in runs), runs[-1][1]


def job_count(output: str) -> int:
    match = re.search(r"^total\s+(\d+)", output, flags=re.MULTILINE)
    if match is None:
        raise SystemExit("the dry run printed no job count")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results_dir of the finished demo run (the demo config's own, by default)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    setup_logging()
    demo_args = ["-n", "--cores", "1", "--configfile", "config/demo.yaml"]
    if args.results != Path("results"):
        demo_args += ["--config", f"results_dir={args.results.resolve()}"]
    demo, output = best(demo_args, REPO_ROOT, args.repeat)
    if "Nothing to be done" not in output:
        raise SystemExit(f"the demo in {args.results}/demo is not finished: its dry run has jobs to do")
    with tempfile.TemporaryDirectory(prefix="widespectrum-dryrun-") as scratch:
        fresh = ["-n", "--cores", "1", "--configfile", "config/demo.yaml", "--config", f"results_dir={scratch}"]
        n_jobs = job_count(_run(fresh, REPO_ROOT)[1])
        bare_dir = Path(scratch) / "bare"
        bare_dir.mkdir()
        (bare_dir / "Snakefile").write_text(BARE_SNAKEFILE.format(n=n_jobs - 1))  # rule all is a job too
        _run(["--cores", "2", "--quiet"], bare_dir)
        bare, bare_output = best(["-n", "--cores", "1"], bare_dir, args.repeat)
        if "Nothing to be done" not in bare_output:
            raise SystemExit("the bare Snakefile has jobs left after its run")
        paper, paper_output = best(["-n", "--cores", "1", "--config", f"results_dir={scratch}/paper"], REPO_ROOT,
                                   args.repeat)
        paper_jobs = job_count(paper_output)
    log.info("no-op dry run, demo (%d jobs):          %5.2f s", n_jobs, demo)
    log.info("no-op dry run, bare Snakefile (%d jobs): %5.2f s", n_jobs, bare)
    log.info("ratio demo / bare:                       %5.2f   (target <= 1.5)", demo / bare)
    log.info("dry run, paper DAG (%d jobs):           %5.2f s  (target <= 3 s)", paper_jobs, paper)


if __name__ == "__main__":
    main()
