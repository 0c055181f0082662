"""E9's inputs: which of the source generator's I_a the img2img models re-render."""

from __future__ import annotations

import logging

import pandas as pd

from ...analysis.tables import _check_unique, _split_usable, exclusion_reasons
from ...contracts import SCORES

log = logging.getLogger(__name__)


def _candidates(frame: pd.DataFrame, generator: str, reward: str) -> pd.DataFrame:
    """The r(I_a, p_o) rows of ``generator`` under ``reward``."""
    return frame.loc[(frame["generator"] == generator) & (frame["reward"] == reward)
                     & (frame["image_kind"] == "a") & (frame["prompt_kind"] == "o")]


def select_img2img_inputs(
    scores: pd.DataFrame | None, *, generator: str, reward: str, threshold: float = 10.0
) -> list[str]:
    """Prompt ids whose I_a of ``generator`` scores r(I_a, p_o) < ``threshold`` (E9, docs/experiments.md), sorted.

    An I_a whose score is unusable cannot be selected; how many and why is logged as a warning.
    """
    usable, rejected = _split_usable(scores, SCORES, "score", "for the image-to-image selection")
    lost = _candidates(rejected, generator, reward)
    if len(lost):
        # Such an image might have scored below the threshold: the run re-renders fewer inputs than it could.
        log.warning("image-to-image selection: %d I_a score(s) of %r under %r unusable, not selected: %s",
                    len(lost), generator, reward, exclusion_reasons(lost))
    chosen = _candidates(usable, generator, reward)
    _check_unique(chosen, ["prompt_id"], f"r(I_a,p_o) of {generator!r} under {reward!r}")
    return sorted(str(p) for p in chosen.loc[chosen["score"] < threshold, "prompt_id"])
