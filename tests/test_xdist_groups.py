"""The xdist groups of tests/conftest.py hold on the pinned pytest and pytest-xdist.

`make test` relies on them: tests that run Snakemake in the repository, or share one
session-scoped run, must stay on one worker. pytest-xdist applies a group by renaming the
item's node id, which pytest 9.2 no longer reads, so a version bump can silently split a
group (the demo DAG was then built twice, by two workers at once, in one `.snakemake/`).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import XDIST_GROUPS

RECORDING_TEST = textwrap.dedent("""\
    import os
    import pytest

    @pytest.mark.parametrize("i", range(4))
    def test_records_its_worker(i):
        with open(os.environ["WORKERS_FILE"], "a") as handle:
            handle.write(f"{__name__} {os.environ['PYTEST_XDIST_WORKER']}\\n")
""")


def test_each_module_and_each_group_of_modules_runs_on_one_worker(tmp_path):
    grouped = sorted(XDIST_GROUPS["repository_workdir"])[:2]
    suite = tmp_path / "suite"
    suite.mkdir()
    # the repository's own collection hook, under the module names it groups
    (suite / "conftest.py").write_text("from tests.conftest import pytest_collection_modifyitems  # noqa: F401\n")
    for module in (*grouped, "test_ungrouped_a", "test_ungrouped_b"):
        (suite / f"{module}.py").write_text(RECORDING_TEST)
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
         "--basetemp", str(tmp_path / "base"), "--rootdir", str(suite), "-c", "/dev/null", str(suite)],
        cwd=repo, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(repo), "PATH": str(Path(sys.executable).parent),
             "WORKERS_FILE": str(tmp_path / "workers.txt")})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line.split() for line in (tmp_path / "workers.txt").read_text().splitlines()]
    assert len(lines) == 16
    workers_of_group = {worker for module, worker in lines if module in grouped}
    assert len(workers_of_group) == 1, lines
    for module in ("test_ungrouped_a", "test_ungrouped_b"):
        assert len({worker for name, worker in lines if name == module}) == 1, lines
    assert len({worker for _, worker in lines}) == 2, lines  # and the work is shared
