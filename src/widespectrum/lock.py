"""Revision locks: the hub commits a run resolved, so a later run loads the same ones.

Every model-running job records, in ``results/<run>/provenance/``, the revision its
registry entry asked for (``revision: main``) and the commit that resolved to
(``resolved_revision``). ``collect_revisions`` gathers those commits per hub id;
``write_lock`` stores them as a lock file::

    run: demo
    revisions:
      black-forest-labs/FLUX.1-dev: 0ef5fff789c832c5c7f4e127f94c8b54bbcced44

and ``widespectrum.registry.apply_lock`` pins a loaded registry to them.

The records name repositories under a few keys: a mapping holding ``resolved_revision``
names its repository by one of ``ID_KEYS``; a companion model of a component (a CLIP
processor) is recorded as ``<role>_id`` / ``<role>_revision`` /
``<role>_resolved_revision``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from . import layout
from .contracts import write_text

ID_KEYS = ("model_id", "repo_id", "repo", "checkpoint_repo", "dataset")
COMMIT = re.compile(r"[0-9a-f]{40}")


class LockError(ValueError):
    pass


def is_commit(revision: Any) -> bool:
    return isinstance(revision, str) and COMMIT.fullmatch(revision) is not None


def _resolved_pairs(node: Any) -> Iterator[tuple[str, str]]:
    """(hub id, resolved commit) for every repository a provenance record names."""
    if isinstance(node, Mapping):
        if node.get("resolved_revision"):
            repo = next((node[key] for key in ID_KEYS if node.get(key)), None)
            if repo is not None:
                yield repo, node["resolved_revision"]
        for key, value in node.items():
            if key.endswith("_resolved_revision") and value:
                repo = node.get(key.removesuffix("_resolved_revision") + "_id")
                if repo:
                    yield repo, value
            yield from _resolved_pairs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _resolved_pairs(value)


def collect_revisions(provenance_dir: str | Path) -> dict[str, str]:
    """Hub id -> the commit every job of the run resolved it to.

    A run whose jobs resolved one id to two commits (the hub moved mid-run) cannot be
    locked to one of them without choosing silently, so that is an error naming both.
    """
    folder = Path(provenance_dir)
    if not folder.is_dir():
        raise LockError(f"no provenance folder at {folder}")
    seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(folder.rglob("*.json")):
        record = json.loads(path.read_text())
        for repo, commit in _resolved_pairs(record.get("component", record)):
            if not is_commit(commit):
                raise LockError(f"{path}: {repo} resolved to {commit!r}, not a commit sha")
            seen[repo][commit].append(path.relative_to(folder).as_posix())
    revisions = {}
    for repo, commits in sorted(seen.items()):
        if len(commits) > 1:
            listing = "; ".join(f"{commit} in {', '.join(files)}" for commit, files in commits.items())
            raise LockError(f"{repo} resolved to {len(commits)} commits in one run: {listing}")
        revisions[repo] = next(iter(commits))
    return revisions


def write_lock(run_dir: str | Path, lock_path: str | Path) -> dict[str, Any]:
    """Write the lock of the run in ``run_dir`` to ``lock_path``; return what was written."""
    run_dir = Path(run_dir)
    revisions = collect_revisions(layout.join(run_dir, layout.PROVENANCE_DIR))
    if not revisions:
        raise LockError(f"no job of {run_dir} recorded a resolved hub revision")
    lock = {"run": run_dir.name, "revisions": revisions}
    header = (f"# Hub commits resolved by run {run_dir.name}; the registries load these instead of\n"
              f"# their branch names. Refresh with `widespectrum lock {run_dir}`.\n")
    write_text(lock_path, header + yaml.safe_dump(lock, sort_keys=False))
    return lock


def read_lock(lock_path: str | Path) -> dict[str, str]:
    """Hub id -> commit from a lock file written by ``write_lock``."""
    lock = yaml.safe_load(Path(lock_path).read_text()) or {}
    revisions = lock.get("revisions")
    if not isinstance(revisions, Mapping):
        raise LockError(f"{lock_path}: no 'revisions' mapping")
    for repo, commit in revisions.items():
        if not is_commit(commit):
            raise LockError(f"{lock_path}: {repo} is locked to {commit!r}, not a commit sha")
    return dict(revisions)
