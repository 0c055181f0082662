"""The anti-aesthetic taxonomy of docs/experiments.md#e7: five groups of elements, keyed as the authors keyed them.

``config/ava_taxonomy.yaml`` maps group -> element -> description. A photograph's
classes are the fully qualified keys ``"<group>.<element>"``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import REPO_ROOT, load_yaml

TAXONOMY_FILE = REPO_ROOT / "config" / "ava_taxonomy.yaml"


@dataclass(frozen=True)
class Taxonomy:
    """Groups in file order, each with its elements and their descriptions."""

    groups: Mapping[str, Mapping[str, str]]

    @property
    def keys(self) -> tuple[str, ...]:
        """Every fully qualified element key, ``group.element``, in file order."""
        return tuple(f"{group}.{element}" for group, elements in self.groups.items() for element in elements)

    @staticmethod
    def label(key: str) -> str:
        """The short name of an element as the paper prints it: ``clarity_and_focus.analog_degradation``
        -> ``analog degradation``."""
        return key.rsplit(".", 1)[-1].replace("_", " ")

    def describe(self) -> str:
        """The taxonomy as text for an instruction: one ``group.element: description`` line each."""
        return "\n".join(
            f"- {group}.{element}: {text}"
            for group, elements in self.groups.items()
            for element, text in elements.items()
        )


def load_taxonomy(path: str | os.PathLike = TAXONOMY_FILE) -> Taxonomy:
    path = Path(path)
    data = load_yaml(path)
    if not isinstance(data, Mapping) or not data:
        raise ValueError(f"{path}: expected a mapping of group -> element -> description")
    groups: dict[str, dict[str, str]] = {}
    for group, elements in data.items():
        if not isinstance(elements, Mapping) or not elements:
            raise ValueError(f"{path}: group {group!r} must map element keys to descriptions")
        for element, text in elements.items():
            if "." in str(group) or "." in str(element):
                raise ValueError(f"{path}: key {group}.{element} must not contain '.' within a part")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{path}: {group}.{element} needs a one-line description")
        groups[str(group)] = {str(e): str(t).strip() for e, t in elements.items()}
    return Taxonomy(groups)
