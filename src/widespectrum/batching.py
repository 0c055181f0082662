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


def first_rows(index) -> list[int]:
    """For each distinct item of ``distinct``'s ``index``, the row of its first copy."""
    order = index.tolist()
    return [order.index(k) for k in range(max(order) + 1)]


def shared_prefix_lengths(input_ids, group_of, stop):
    """For each group of rows (``group_of[i]`` is row i's group), how many leading tokens all its rows
    share, and at most ``stop[i]`` of any row i of it: one row per group, (n_groups,) LongTensor.

    HPSv3 gives each image's pairs one text up to the prompt (system turn, image, instruction), so the
    language model can run that prefix once per image and only each pair's rest on top of it.
    """
    import torch

    firsts = first_rows(group_of)
    differs = input_ids != input_ids[firsts][group_of]
    # each row's first token unlike its group's first row (its whole length where there is none)
    common = torch.where(differs.any(dim=1), differs.int().argmax(dim=1), input_ids.shape[1])
    lengths = torch.full((len(firsts),), input_ids.shape[1], dtype=torch.long, device=input_ids.device)
    return lengths.scatter_reduce(0, group_of, torch.minimum(common, stop), reduce="amin")


def per_item(encode: Callable[[list], Any], items: Sequence, key: Callable[[Any], Any] | None = None):
    """``encode`` run once on the distinct items of ``items`` (``distinct``), its output's rows (of each
    tensor, when it returns a tuple) repeated to one row per item, in the items' order."""
    firsts, index = distinct(items, key)
    encoded = encode(firsts)
    if isinstance(encoded, tuple):
        return tuple(rows[index.to(rows.device)] for rows in encoded)
    return encoded[index.to(encoded.device)]


def qwen_vl_image_features(model, pixel_values, grid_thw, image_of):
    """The vision outputs of a Qwen-VL batch, each distinct image through the vision tower once, as
    ``mm_encoder_outputs["image"]`` of the model's forward (transformers' Qwen2-VL, Qwen3-VL).

    ``pixel_values`` and ``grid_thw`` are the processor's for every image of the batch (its
    patches in turn, ``prod(grid_thw[i])`` rows each); ``image_of`` maps each image to its distinct
    copy (``distinct``). Qwen3-VL's deepstack features are repeated the same way.
    """
    import torch

    order, first_of = image_of.tolist(), first_rows(image_of)
    ends = grid_thw.prod(dim=-1).cumsum(dim=0).tolist()
    starts = [0, *ends[:-1]]
    pixels = torch.cat([pixel_values[starts[i]:ends[i]] for i in first_of])
    encoded = model.get_image_features(pixels, grid_thw[first_of], return_dict=True)
    encoded.pooler_output = tuple(encoded.pooler_output[k] for k in order)
    if getattr(encoded, "deepstack_features", None) is not None:
        encoded.deepstack_features = [tuple(layer[k] for k in order) for layer in encoded.deepstack_features]
    return encoded
