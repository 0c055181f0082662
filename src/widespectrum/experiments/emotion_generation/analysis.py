"""E6 generation table (tab:emotion_gen, docs/experiments.md#e6) as a pure function of the face-crop scores.

Conventions as in ``widespectrum.experiments.emotion.analysis``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ...analysis.tables import TableResult, _check_unique, _ci_columns, _mean_and_ci, _split_usable
from ...contracts import EMOTIONS, FACE_SCORES
from ..table_helpers import exclusions, in_order, int_columns


def tab_emotion_gen(
    face_scores: pd.DataFrame | None,
    *,
    generators: Sequence[str] | None = None,
    reward: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> TableResult:
    """Can the generator draw the emotion it is asked for? (tab:emotion_gen)

    Mean score of "The face shows [emotion] expression" on the face crop, per
    generator and requested emotion. ``reward`` picks the scorer when the frame
    holds several (the paper: BLIP); with one present it may be left out.
    Columns: generator, angry, fearful, happy, sad, their percentile bootstrap
    CIs (``<emotion>_lo``, ``_hi``, prompts resampled ``n_boot`` times with
    ``seed``; ``n_boot=0``: NaN), n_<emotion>, n_excluded.
    """
    notes: list[str] = []
    usable, rejected = _split_usable(face_scores, FACE_SCORES, "score", "of the emotion generation")
    if face_scores is None:
        notes.append("no face scores given: every value is NaN")
    present = in_order(usable["reward"])
    if reward is None and len(present) > 1:
        raise ValueError(f"face scores hold several rewards {present}: name one with reward=")
    if reward is not None:
        usable = usable.loc[usable["reward"] == reward]
        rejected = rejected.loc[rejected["reward"] == reward]
        if usable.empty and face_scores is not None:
            notes.append(f"reward {reward!r} has no usable face scores: every value is NaN")
    _check_unique(usable, ["generator", "prompt_id", "reward"], "face scores")
    excluded, excluded_because = exclusions(rejected, "generator")
    if generators is None:
        generators = in_order(usable["generator"])
    rows = []
    for generator in generators:
        # By prompt, so the seeded interval does not depend on row order.
        mine = usable.loc[usable["generator"] == generator].sort_values("prompt_id", kind="stable")
        if mine.empty and face_scores is not None:
            notes.append(f"generator {generator!r} has no usable face scores: its row is NaN")
        row: dict[str, Any] = {"generator": generator}
        for emotion in EMOTIONS_IN_TABLE:
            values = mine.loc[mine["emotion"] == emotion, "score"]
            row.update(_mean_and_ci(emotion, values, n_boot, seed, level))
            row[f"n_{emotion}"] = len(values)
        row["n_excluded"] = excluded.get(generator, 0)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=TAB_EMOTION_GEN_COLUMNS)
    records = {"reward": reward if reward is not None else (present[0] if present else None),
               "excluded": excluded, "excluded_because": excluded_because,
               "bootstrap": {"n_boot": n_boot, "seed": seed, "level": level}}
    return TableResult(int_columns(frame), notes, records)


EMOTIONS_IN_TABLE = tuple(sorted(EMOTIONS))  # the paper's column order: angry, fearful, happy, sad
TAB_EMOTION_GEN_COLUMNS = ["generator", *EMOTIONS_IN_TABLE, *_ci_columns(EMOTIONS_IN_TABLE),
                           *[f"n_{e}" for e in EMOTIONS_IN_TABLE], "n_excluded"]
