"""Errors that stop a job instead of being recorded per item, and errors that name a bad file."""

from __future__ import annotations

import os


class SetupError(RuntimeError):
    """The environment or configuration is wrong in a way that fails every item alike
    (an unset API key, for example). Runners record per-item failures as rows with a
    status, but re-raise this: 300 identical error rows would hide the cause."""


class OutputWriteError(OSError, SetupError):
    """An output could not be written (disk full, no permission, read-only file system).

    It is an ``OSError`` carrying the cause's errno, and a ``SetupError``: the next
    item would fail the same way, so runners stop the job rather than record rows.
    Nothing was written at ``filename``; a file already there is unchanged.
    """

    def __init__(self, path: str | os.PathLike, cause: BaseException):
        errno = getattr(cause, "errno", None)
        strerror = getattr(cause, "strerror", None) or str(cause)
        super().__init__(errno, strerror, os.fspath(path))
        self.cause = cause

    def __str__(self) -> str:
        code = f"[Errno {self.errno}] " if self.errno is not None else ""
        return (f"cannot write {self.filename}: {code}{self.strerror}; "
                "nothing was written there and any earlier version is unchanged")


class BadImageError(ValueError):
    """An image file that cannot be used as an RGB picture: empty, truncated, corrupt,
    too large, or in a pixel format without a defined conversion to 8-bit RGB.

    Per item: runners record it as the row's status and go on with the next image.
    """

    def __init__(self, source: str | os.PathLike, problem: str):
        self.source = os.fspath(source) if isinstance(source, (str, os.PathLike)) else str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class ImageIntegrityError(BadImageError):
    """A PNG on disk no longer matches the sha256 its manifest recorded."""
