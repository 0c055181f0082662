"""E9's inputs: which of the source generator's I_a the img2img models re-render."""

from __future__ import annotations

import pandas as pd

from ...analysis.tables import _check_unique, _split_usable
from ...contracts import SCORES


def select_img2img_inputs(
    scores: pd.DataFrame | None, *, generator: str, reward: str, threshold: float = 10.0
) -> list[str]:
    """Prompt ids whose I_a of ``generator`` scores r(I_a, p_o) < ``threshold`` (E9, docs/experiments.md), sorted."""
    usable, _ = _split_usable(scores, SCORES, "score", "for the image-to-image selection")
    chosen = usable.loc[(usable["generator"] == generator) & (usable["reward"] == reward)
                        & (usable["image_kind"] == "a") & (usable["prompt_kind"] == "o")]
    _check_unique(chosen, ["prompt_id"], f"r(I_a,p_o) of {generator!r} under {reward!r}")
    return sorted(str(p) for p in chosen.loc[chosen["score"] < threshold, "prompt_id"])
