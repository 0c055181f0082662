"""How the model runners cut their work into batches, shared by the rewards and the judges."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any


def batches(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` items covering ``range(n)``."""
    size = max(1, size)
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def distinct(items: Sequence, key: Callable[[Any], Any] | None = None) -> tuple[list, Any]:
    """The distinct items of ``items`` in first-seen order, and for each item the index of its copy
    among them, as a LongTensor that gathers per-item rows from per-distinct-item rows.

    A scoring job scores every image under its two prompts and every prompt with its two images
    (scoring/runner.py's COMBINATIONS), and J asks 11 questions about each image, so models that
    encode images and prompts apart encode each once per batch. Images compare by identity
    (``key=id``): the runners pass one object per image file.
    """
    import torch

    key = key or (lambda item: item)
    position: dict[Any, int] = {}
    firsts, index = [], []
    for item in items:
        k = key(item)
        if k not in position:
            position[k] = len(firsts)
            firsts.append(item)
        index.append(position[k])
    return firsts, torch.tensor(index, dtype=torch.long)
