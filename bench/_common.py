"""Shared helpers of the bench scripts: run Snakemake from the repository root and time it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the bench scripts reuse the test fixtures
log = logging.getLogger("bench")


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)


def snakemake(*args: str, cwd: Path = REPO_ROOT) -> float:
    """Run Snakemake in ``cwd`` with this interpreter's environment; return the wall time in seconds."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env,
                            capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"snakemake {' '.join(args)} failed")
    return elapsed
