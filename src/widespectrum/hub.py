"""Loading from the Hugging Face hub with errors that say which checkpoint is missing.

Offline runs only see the hub cache, and the libraries' own errors rarely name
the cache searched or what to do about it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from .runtime import Runtime


class ModelUnavailableError(FileNotFoundError):
    """A checkpoint could not be found (offline: it is not in the hub cache)."""


@contextmanager
def explaining_missing(runtime: Runtime, repo_id: str, revision: str, item: str | None = None) -> Iterator[None]:
    """Turn 'not found' errors of the hub and the loaders into one that names the repo and what to do."""
    from huggingface_hub import constants
    from huggingface_hub.errors import EntryNotFoundError

    try:
        yield
    except (OSError, EntryNotFoundError) as error:
        if isinstance(error, ModelUnavailableError):
            raise
        what = f"{item!r} of {repo_id!r}" if item else repr(repo_id)
        if runtime.offline or constants.HF_HUB_OFFLINE:
            cache = runtime.cache_dir or constants.HF_HUB_CACHE
            hint = (f"(offline, cache only): it is not in the Hugging Face cache {cache} and the hub is offline; "
                    f"download it there first (hf download {repo_id} --revision {revision})")
        else:
            hint = "(online): check the repo id, the revision and access to the hub"
        raise ModelUnavailableError(f"cannot load {what} at revision {revision!r} {hint}. Cause: {error}") from error


def load_from_hub(load: Callable[..., Any], repo_id: str, revision: str, runtime: Runtime, item: str | None = None,
                  **kwargs: Any) -> Any:
    """Call ``load(repo_id, revision=..., **kwargs, **hub kwargs)``: a ``from_pretrained`` or ``hf_hub_download``."""
    with explaining_missing(runtime, repo_id, revision, item):
        return load(repo_id, revision=revision, **kwargs, **runtime.hub_kwargs())


def hub_file(runtime: Runtime, repo_id: str, revision: str, filename: str) -> str:
    """Local path of ``filename`` of ``repo_id`` at ``revision`` (downloaded unless cached), errors naming it."""
    from huggingface_hub import hf_hub_download

    return load_from_hub(partial(hf_hub_download, filename=filename), repo_id, revision, runtime, item=filename)


def _repo_folder(cache_dir: str | os.PathLike, repo_id: str, repo_type: str = "model") -> Path:
    return Path(cache_dir) / f"{repo_type}s--{repo_id.replace('/', '--')}"


def resolved_revision(cache_dir: str | os.PathLike | None, repo_id: str, ref: str = "main") -> str | None:
    """The commit a ref resolves to in a cache, for provenance; None if not cached."""
    from huggingface_hub.constants import HF_HUB_CACHE

    ref_file = _repo_folder(cache_dir or HF_HUB_CACHE, repo_id) / "refs" / ref
    if ref_file.is_file():
        return ref_file.read_text().strip()
    if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref):
        return ref
    return None
