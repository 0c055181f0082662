"""``widespectrum run`` tells a live Snakemake from locks a killed one left, with real processes.

The run-after-SIGKILL case itself is in tests/test_faults_dag.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from widespectrum import snakemake_run
from widespectrum.cli import main

SLEEPER = "import time\ntime.sleep(60)\n"


def _start(argv: list[str], cwd: Path) -> subprocess.Popen:
    process = subprocess.Popen(argv, cwd=cwd)
    deadline = time.monotonic() + 10
    # /proc shows the child's own command line once it has exec'd the interpreter
    while Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")[:len(argv)] != [a.encode() for a in argv]:
        assert time.monotonic() < deadline, "the child process did not start"
        time.sleep(0.01)
    return process


@pytest.fixture()
def workdir(tmp_path):
    folder = tmp_path / "wf"
    (folder / ".snakemake" / "locks").mkdir(parents=True)
    (folder / ".snakemake" / "locks" / "0.input.lock").write_text("results/x\n")
    return folder


@pytest.fixture()
def fake_snakemake(tmp_path):
    """A script named snakemake that sleeps: a Snakemake process as /proc shows one."""
    script = tmp_path / "bin" / "snakemake"
    script.parent.mkdir()
    script.write_text(SLEEPER)
    return script


def test_a_sleeping_snakemake_in_the_folder_owns_it_and_nothing_else_does(workdir, tmp_path, fake_snakemake):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    owner = _start([sys.executable, str(fake_snakemake)], workdir)
    bystanders = [_start([sys.executable, "-c", SLEEPER], workdir),  # not snakemake, same folder
                  _start([sys.executable, str(fake_snakemake)], elsewhere)]  # snakemake, other folder
    try:
        assert snakemake_run.snakemake_processes(workdir) == [owner.pid]
        assert snakemake_run.snakemake_processes(elsewhere) == [bystanders[1].pid]
        with pytest.raises(snakemake_run.WorkdirInUse, match=rf"process {owner.pid}\b"):
            snakemake_run.clear_stale_locks(["--directory", str(workdir), "--cores", "1"])
        assert main(["run", "--directory", str(workdir), "--cores", "1"]) == 1
        assert [p.name for p in snakemake_run.lock_files(workdir)] == ["0.input.lock"]  # a live run's lock stays
    finally:
        for process in [owner, *bystanders]:
            process.kill()
            process.wait()
    assert snakemake_run.snakemake_processes(workdir) == []


@pytest.mark.parametrize("argv, expected", [
    (["snakemake", "--cores", "2"], True),
    (["/venv/bin/python", "/venv/bin/snakemake", "-n"], True),
    (["/venv/bin/python", "-m", "snakemake", "--unlock"], True),
    (["/venv/bin/python", "-m", "pytest", "tests/test_snakemake_run.py"], False),
    (["/venv/bin/python", "/wf/.snakemake/scripts/tmpx1y2.prompts.py"], True),
    (["/bin/bash", "-c", "echo snakemake"], False),
])
def test_command_lines_of_snakemake(argv, expected):
    assert snakemake_run._is_snakemake(argv) is expected


def test_other_commands_still_refuse_unknown_arguments():
    with pytest.raises(SystemExit):
        main(["contracts", "--cores", "2"])
