"""Checkpoints hosted outside the Hugging Face hub (HPS v1, MPS): a path or a URL, always with a sha256.

A file is used only if its sha256 matches the one recorded in the registry, so
a run can say exactly which weights it scored with. Downloads from a URL land
in ``<hub cache>/widespectrum-files/<sha256>/<name>`` and are verified before use;
offline runs only look there and at the given path.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from ..contracts import sha256_file
from ..errors import SetupError
from ..hub import ModelUnavailableError
from ..runtime import Runtime

logger = logging.getLogger(__name__)

CHUNK = 1 << 20


def _cache_root(runtime: Runtime) -> Path:
    from huggingface_hub import constants

    return Path(runtime.cache_dir or constants.HF_HUB_CACHE) / "widespectrum-files"


def verified_file(runtime: Runtime, what: str, sha256: str | None, path: str | None = None,
                  url: str | None = None) -> Path:
    """The local file holding ``what`` with digest ``sha256``: ``path`` if given, else a cached download of ``url``."""
    if not sha256:
        raise SetupError(f"{what}: no sha256 recorded in the registry; compute it with `sha256sum FILE` on the "
                         f"file you trust and set options.sha256")
    sha256 = sha256.lower()
    if path:
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise ModelUnavailableError(f"{what}: {candidate} does not exist" + (f"; download it from {url}" if url else ""))
    elif url:
        name = Path(urlparse(url).path).name or "checkpoint"
        candidate = _cache_root(runtime) / sha256 / name
        if not candidate.is_file():
            if runtime.offline:
                raise ModelUnavailableError(f"{what}: not in {candidate.parent} and the run is offline; download "
                                            f"{url} there or set options.path")
            _download(url, candidate)
    else:
        raise SetupError(f"{what}: give options.path or options.url")
    actual = sha256_file(candidate)
    if actual != sha256:
        if not path:  # a bad download must not stay in the cache under the expected digest
            candidate.unlink()
        raise SetupError(f"{what}: {candidate} has sha256 {actual}, the registry records {sha256}: wrong or "
                         f"corrupted file")
    return candidate


def _download(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s", url)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (the URL is registry data)
                shutil.copyfileobj(response, tmp, CHUNK)
        except BaseException:
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, target)
