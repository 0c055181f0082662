"""Shared helpers of the bench scripts: time a call, run Snakemake from the repository root and time it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the bench scripts reuse the test fixtures
log = logging.getLogger("bench")


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest wall time of ``repeats`` calls of ``run`` (the machine's noise only ever adds
    time), and what the last call returned."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - started)
    return min(timings), result


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
