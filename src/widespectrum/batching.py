"""How the model runners cut their work into batches, shared by the rewards and the judges."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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


@dataclass
class QwenVLInputs:
    """A Qwen-VL batch as its processor would give it, with each distinct image held once.

    ``text`` is the language model's inputs, a row per text: ``input_ids``, ``attention_mask``,
    ``mm_token_type_ids`` and ``image_grid_thw`` (each text's image, which M-RoPE positions need).
    ``pixel_values`` holds each distinct image's patches in turn and ``image_grid_thw`` a row per
    distinct image, for ``qwen_vl_image_features``; ``image_of`` maps each text to its image.
    """

    text: dict[str, Any]
    pixel_values: Any
    image_grid_thw: Any
    image_of: Any

    def to(self, device) -> QwenVLInputs:
        return QwenVLInputs({key: value.to(device) for key, value in self.text.items()}, self.pixel_values.to(device),
                            self.image_grid_thw.to(device), self.image_of.to(device))


def qwen_vl_inputs(processor, texts: Sequence[str], images: Sequence, image_of, **image_options) -> QwenVLInputs:
    """What ``processor(text=texts, images=[images[k] for k in image_of], padding=True, return_tensors="pt")``
    gives a Qwen-VL model (transformers' Qwen2-VL, Qwen3-VL), with each distinct image prepared once
    and each distinct text tokenised once.

    Each text holds one image placeholder, for image ``images[image_of[i]]`` (``distinct``'s output).
    The processor itself prepares an image once per placeholder: twice per image for HPSv3's two
    prompts, 11 times for J's questions. ``image_options`` go to the image processor.
    """
    import torch

    token = processor.image_token
    if any(text.count(token) != 1 for text in texts):
        raise ValueError(f"each text needs exactly one {token}, found {[text.count(token) for text in texts]}")
    vision = processor.image_processor(images=list(images), return_tensors="pt", **image_options)
    placeholders = [processor.replace_image_token(vision, k) for k in range(len(images))]
    expanded = [text.replace(token, placeholders[k]) for text, k in zip(texts, image_of.tolist())]
    unique_texts, text_of = distinct(expanded)
    tokens = processor.tokenizer(unique_texts, padding=True, return_tensors="pt")
    # nothing is truncated, and the model checks that its image tokens match the features
    input_ids, attention_mask = tokens["input_ids"][text_of], tokens["attention_mask"][text_of]
    # as the processor's create_mm_token_type_ids, for the whole batch at once
    mm_token_type_ids = torch.zeros_like(input_ids)
    for value, ids in enumerate((processor.image_token_ids, processor.video_token_ids, processor.audio_token_ids), 1):
        ids = [i for i in ids if i is not None]
        if ids:
            mm_token_type_ids[torch.isin(input_ids, torch.tensor(ids))] = value
    grid = vision["image_grid_thw"]
    return QwenVLInputs(text={"input_ids": input_ids, "attention_mask": attention_mask,
                              "mm_token_type_ids": mm_token_type_ids, "image_grid_thw": grid[image_of]},
                        pixel_values=vision["pixel_values"], image_grid_thw=grid, image_of=image_of)


def qwen_vl_image_features(model, pixel_values, grid_thw, image_of):
    """The vision outputs of a Qwen-VL batch as ``mm_encoder_outputs["image"]`` of the model's forward
    (transformers' Qwen2-VL, Qwen3-VL), each distinct image through the vision tower once.

    ``pixel_values`` and ``grid_thw`` are each distinct image's (``QwenVLInputs``); the outputs hold
    one entry per row of ``image_of``, in its order. Qwen3-VL's deepstack features follow the same order.
    """
    encoded = model.get_image_features(pixel_values, grid_thw, return_dict=True)
    order = image_of.tolist()
    encoded.pooler_output = tuple(encoded.pooler_output[k] for k in order)
    if getattr(encoded, "deepstack_features", None) is not None:
        encoded.deepstack_features = [tuple(layer[k] for k in order) for layer in encoded.deepstack_features]
    return encoded
