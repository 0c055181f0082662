"""E8 table from the art scores and the leaderboard (docs/experiments.md#e8)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ...analysis.tables import TableResult
from ...contracts import ART_SCORES
from ...tables.benchmark import bootstrap
from ...tables.inputs import TableInputs
from . import EXPERIMENT, analysis


def _leaderboard(inputs: TableInputs, spec: Mapping) -> dict[str, Any]:
    if not spec.get("leaderboard_file"):
        inputs.notes.append("no leaderboard_file configured: s, rank and model_above are undefined")
        return {"source_text": "none configured", "month": None, "entries": []}
    present = inputs.present("leaderboard")
    if not present:
        return {"source_text": spec["leaderboard_file"], "month": None, "entries": []}
    return json.loads(present[0].read_text(encoding="utf-8"))


def place_artworks(scores: pd.DataFrame | None, *, reward: str, leaderboard: Sequence[Mapping[str, Any]],
                   leaderboard_source: str, leaderboard_month: str | None, blip_reward: str | None,
                   n_boot: int, seed: int) -> TableResult:
    """tab_real_arts: r with its bootstrap interval (artworks resampled), placed on ``leaderboard``.

    ``leaderboard`` entries are {model, score, display?}: ``model_above`` is
    printed as the entry's ``display`` name (its first alias in the file).
    """
    entries = [{"model": e["model"], "score": e["score"]} for e in leaderboard]
    result = analysis.tab_real_arts(scores, reward=reward, leaderboard=entries, leaderboard_source=leaderboard_source,
                                    leaderboard_month=leaderboard_month, blip_reward=blip_reward,
                                    n_boot=n_boot, seed=seed)
    frame = result.frame
    display = {e["model"]: e.get("display") or e["model"] for e in leaderboard}
    above = frame.loc[0, "model_above"]
    records = {**result.records, "model_above_on_leaderboard": above}
    if above is not None:
        frame.loc[0, "model_above"] = display[above]
    records["leaderboard"] = [dict(e) for e in leaderboard]
    return TableResult(frame, result.notes, records)


def tab_real_arts(inputs: TableInputs, config: Mapping) -> TableResult:
    spec = EXPERIMENT.block(config)
    scores = inputs.frame("scores", ART_SCORES)
    board = _leaderboard(inputs, spec)
    result = place_artworks(scores, reward=spec["reward"], leaderboard=board["entries"],
                            leaderboard_source=board.get("source_text", str(board.get("source"))),
                            leaderboard_month=board["month"], blip_reward=spec.get("blip_reward"),
                            **bootstrap(config))
    result.records["leaderboard_file"] = board.get("file")
    return result
