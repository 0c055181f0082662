"""The interface every generator implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ..runtime import Runtime


@dataclass(frozen=True)
class GenerationRequest:
    prompt_id: str
    image_kind: str  # 'o' (from p_o) or 'a' (from p_a)
    prompt: str
    seed: int | None
    settings: dict = field(default_factory=dict)  # steps, guidance, size, ...
    negative_prompt: str | None = None
    reference_image: str | None = None  # a source picture, for procedural and img2img generators
    dimensions: tuple[str, ...] = ()  # requested anti-aesthetic dimensions (procedural stand-ins read them)


# What a record says of the seed of a service that takes none, so a null seed is not read as lost data.
NO_SEED = "none (the service takes no seed)"


class Generator(ABC):
    """Makes one image per request.

    Subclasses load their model in ``__init__`` (once per job) and must be
    deterministic given ``request.seed`` where the backend allows it.
    """

    takes_seed: bool = True  # False for services that accept no seed

    def __init__(self, name: str, runtime: Runtime) -> None:
        self.name = name
        self.runtime = runtime

    @abstractmethod
    def generate(self, request: GenerationRequest):
        """Return a PIL image for ``request``; raise on failure (the runner records it)."""

    def provenance(self) -> dict[str, Any]:
        """Model ids and resolved revisions, for the run's provenance record."""
        return {}
