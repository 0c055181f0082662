"""Place a locally saved model into a Hugging Face hub cache under a repo id.

``from_pretrained(repo_id, cache_dir=..., local_files_only=True)`` then finds it
exactly as it would find a downloaded checkpoint, so the code path that loads
the paper's models is the one that runs offline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def content_sha(folder: str | os.PathLike) -> str:
    """A 40-hex id derived from the folder's files, standing in for a commit sha."""
    digest = hashlib.sha1()
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def repo_folder(cache_dir: str | os.PathLike, repo_id: str, repo_type: str = "model") -> Path:
    return Path(cache_dir) / f"{repo_type}s--{repo_id.replace('/', '--')}"


def install_snapshot(
    source: str | os.PathLike,
    cache_dir: str | os.PathLike,
    repo_id: str,
    ref: str = "main",
    repo_type: str = "model",
) -> str:
    """Copy ``source`` into the cache as ``repo_id`` at ``ref``; return the snapshot sha."""
    sha = content_sha(source)
    repo = repo_folder(cache_dir, repo_id, repo_type)
    snapshot = repo / "snapshots" / sha
    if snapshot.exists():
        shutil.rmtree(snapshot)
    shutil.copytree(source, snapshot)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(sha)
    return sha
