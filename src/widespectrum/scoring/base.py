"""The interface every reward model implements."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..batching import batches
from ..runtime import Runtime


@dataclass
class RewardOutput:
    scores: np.ndarray  # shape (n,), float64
    sigmas: np.ndarray | None = None  # shape (n,), for models that give an uncertainty
    truncated: np.ndarray | None = None  # shape (n,), bool: the prompt was cut to the model's text limit


class RewardModel(ABC):
    """Scores image-prompt pairs. A pair's score must not depend on the batch it is in."""

    def __init__(self, name: str, runtime: Runtime, batch_size: int = 16) -> None:
        self.name = name
        self.runtime = runtime
        self.batch_size = int(batch_size)

    @abstractmethod
    def score(self, images: Sequence, prompts: Sequence[str]) -> RewardOutput:
        """Score ``images[i]`` under ``prompts[i]`` for every i (one batch)."""

    def provenance(self) -> dict[str, Any]:
        return {}


def require_complete_load(what: str, missing: Iterable[str] = (), unexpected: Iterable[str] = (),
                          mismatched: Iterable[Any] = (), may_miss: Iterable[str] = ()) -> None:
    """Raise unless every weight found its module: ``what`` says which file did not fit which model.

    ``position_ids`` are buffers the modules rebuild; ``may_miss`` names other
    weights a checkpoint may leave out because the score never uses them.
    """
    may_miss = set(may_miss)
    missing = sorted(key for key in missing if not key.endswith("position_ids") and key not in may_miss)
    unexpected, mismatched = sorted(unexpected), list(mismatched)
    if missing or unexpected or mismatched:
        raise RuntimeError(f"{what}: missing {missing[:5]}, unexpected {unexpected[:5]}, "
                           f"mismatched {mismatched[:5]}")


def load_weights(module, state_dict: Mapping[str, Any], what: str) -> None:
    """Load ``state_dict`` into ``module``; any missing, unexpected or wrongly shaped weight raises, naming ``what``."""
    try:
        missing, unexpected = module.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # torch refuses tensors of the wrong shape even when not strict
        raise RuntimeError(f"{what}: {err}") from err
    require_complete_load(what, missing, unexpected)


def normalised_batch(images: Sequence, mean: Sequence[float], std: Sequence[float]):
    """(n, channels, h, w) float32 of equally sized PIL images: x / 255, minus ``mean``, over ``std``.

    The same float operations torchvision's ``to_tensor`` + ``normalize`` run on
    each image, so the values are identical, but one tensor op per batch
    instead of several per image.
    """
    import torch

    array = np.stack([np.asarray(image, dtype=np.uint8) for image in images])
    if array.ndim == 3:  # single-channel images
        array = array[..., None]
    pixels = torch.from_numpy(array).permute(0, 3, 1, 2).to(torch.float32).div(255)
    mean = torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return pixels.sub_(mean).div_(std)


def pil_stages_and_normalisation(transform):
    """Split a torchvision ``Compose`` that ends in ``ToTensor``, ``Normalize`` into its PIL stages
    and the normalisation's (mean, std), so the tensor tail can run once per batch (``normalised_batch``)."""
    from torchvision import transforms

    stages = list(transform.transforms)
    if (len(stages) < 2 or not isinstance(stages[-2], transforms.ToTensor)
            or not isinstance(stages[-1], transforms.Normalize)):
        raise ValueError(f"expected a transform ending in ToTensor, Normalize: {transform}")
    return transforms.Compose(stages[:-2]), tuple(stages[-1].mean), tuple(stages[-1].std)


def tokens_past_limit(tokenizer, prompts: Sequence[str], limit: int) -> np.ndarray:
    """Whether each prompt, tokenised in full (special tokens included), is longer than ``limit`` tokens:
    the prompts a reward cuts to its text limit."""
    return np.array([len(ids) > limit for ids in tokenizer(list(prompts))["input_ids"]], dtype=bool)


def autocast_context(device, name: str | None):
    """Mixed precision as the authors ran it, on CUDA only: CPU runs stay in float32."""
    import torch

    if name is None or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=getattr(torch, name))


def effective_autocast(device, name: str | None) -> str | None:
    """The autocast dtype that actually applies on ``device``, for provenance."""
    return name if name is not None and device.type == "cuda" else None


def score_in_batches(
    score_batch: Callable[[Sequence, Sequence[str]], np.ndarray], images: Sequence, prompts: Sequence[str],
    batch_size: int,
) -> RewardOutput:
    """Run ``score_batch`` over consecutive batches under ``torch.inference_mode``.

    ``score_batch`` returns the scores, or a ``RewardOutput`` when it also gives
    sigmas or truncation flags.
    """
    import torch

    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images but {len(prompts)} prompts: score pairs one to one")
    with torch.inference_mode():
        parts = [score_batch(images[part], prompts[part]) for part in batches(len(images), batch_size)]
    parts = [part if isinstance(part, RewardOutput) else RewardOutput(scores=part) for part in parts]
    if not parts:
        return RewardOutput(scores=np.zeros(0, dtype=np.float64))

    def joined(field: str) -> np.ndarray | None:
        values = [getattr(part, field) for part in parts]
        return None if any(v is None for v in values) else np.concatenate(values)

    return RewardOutput(scores=np.concatenate([p.scores for p in parts]), sigmas=joined("sigmas"),
                        truncated=joined("truncated"))
