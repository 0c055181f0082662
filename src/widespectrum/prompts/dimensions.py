"""The 11 VisionReward dimensions the prompts sample from (docs/experiments.md#e1).

Keys are in alphabetical order, the order of the per-dimension judge's outputs
in the authors' released data. The wording of each dimension's lowest-rating
description lives in ``config/dimensions.yaml`` so a run can point at other
texts (for example the authors' own).
"""

from __future__ import annotations

DIMENSIONS: tuple[str, ...] = (
    "background",
    "clarity",
    "color_aesthetic",
    "color_brightness",
    "detail_realism",
    "detail_refinement",
    "emotion",
    "lighting_distinction",
    "main_object",
    "object_pairing",
    "richness",
)


def check_dimensions(keys) -> list[str]:
    keys = list(keys)
    unknown = [k for k in keys if k not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension(s) {unknown}; known: {list(DIMENSIONS)}")
    return keys
