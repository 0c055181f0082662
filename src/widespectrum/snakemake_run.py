"""``widespectrum run``: Snakemake in a working directory, first clearing the locks a killed run left.

Snakemake locks its working directory (``.snakemake/locks/``) while it runs and removes the
locks when it ends; a run killed with SIGKILL, or lost with its machine, leaves them, and the
next run refuses to start until ``snakemake --unlock``. Here the locks count as stale when no
live Snakemake process has this working directory, and are then cleared with a warning
naming them; when one does, the run stops, since two Snakemakes in one directory would
write the same outputs.

Single host: a live process is looked for in this machine's ``/proc`` (its ``cwd`` and its
command line). A Snakemake running on another host in a shared working directory is not
seen; start runs of one working directory from one host.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

PROC = Path("/proc")


class WorkdirInUse(RuntimeError):
    """A live Snakemake process owns the working directory."""


def lock_files(workdir: str | os.PathLike) -> list[Path]:
    """The lock files Snakemake holds in ``workdir``, by name."""
    folder = Path(workdir) / ".snakemake" / "locks"
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def _is_snakemake(argv: Sequence[str]) -> bool:
    """Whether a command line runs Snakemake or one of its jobs' scripts.

    Snakemake itself: ``snakemake ...``, ``python .../snakemake ...``, ``python -m snakemake``.
    A job's script (``.snakemake/scripts/``) counts too: one that outlived its Snakemake
    may still be writing an output.
    """
    if any(Path(word).name == "snakemake" for word in argv[:2]):
        return True
    if any(".snakemake/scripts/" in word for word in argv[:3]):
        return True
    return any(argv[i] == "-m" and argv[i + 1] == "snakemake" for i in range(min(len(argv) - 1, 3)))


def snakemake_processes(workdir: str | os.PathLike) -> list[int]:
    """Ids of the live Snakemake processes on this host whose working directory is ``workdir``.

    Processes of other users whose ``/proc`` entries cannot be read are not seen.
    """
    target = Path(workdir).resolve()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # ended meanwhile, or not ours to read
            continue
        words = [w.decode(errors="replace") for w in argv if w]
        if cwd == target and _is_snakemake(words):
            found.append(int(entry.name))
    return sorted(found)


def _workdir(args: Sequence[str]) -> Path:
    """The working directory Snakemake will lock: ``--directory`` / ``-d`` when given, else this one."""
    parser = argparse.ArgumentParser(add_help=False)  # abbreviations allowed, as Snakemake's parser allows them
    parser.add_argument("-d", "--directory")
    known, _ = parser.parse_known_args(list(args))
    return Path(known.directory) if known.directory else Path.cwd()


def _snakemake(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "snakemake", *args]


def clear_stale_locks(args: Sequence[str]) -> list[Path]:
    """Unlock the working directory of ``snakemake args`` when its locks are stale; the locks cleared.

    Raises ``WorkdirInUse`` when a live Snakemake has that directory, and
    ``CalledProcessError`` when ``snakemake --unlock`` fails.
    """
    workdir = _workdir(args)
    locks = lock_files(workdir)
    if not locks:
        return []
    owners = snakemake_processes(workdir)
    if owners:
        raise WorkdirInUse(f"{workdir.resolve()} is locked by a running Snakemake (process {', '.join(map(str, owners))})"
                           "; wait for it to end, or stop it, before starting another run there")
    log.warning("stale Snakemake lock(s) of a run that ended without cleaning up, no Snakemake runs in %s: %s; "
                "unlocking", workdir.resolve(), ", ".join(str(p.relative_to(workdir)) for p in locks))
    # The same arguments, so that --unlock reads the same Snakefile, config and directory.
    subprocess.run(_snakemake(["--unlock", *args]), check=True)
    return locks


def run(args: Sequence[str]) -> int:
    """``snakemake args`` after clearing stale locks; Snakemake's exit status, or 1 when the directory is in use."""
    try:
        clear_stale_locks(args)
    except WorkdirInUse as err:
        log.error("%s", err)
        return 1
    except subprocess.CalledProcessError as err:
        log.error("snakemake --unlock failed (exit status %d); see its output above", err.returncode)
        return err.returncode
    return subprocess.run(_snakemake(args)).returncode
