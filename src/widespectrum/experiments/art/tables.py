"""E8 table from the art scores and the leaderboard."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...analysis import experiments as tables
from ...analysis.tables import TableResult
from ...contracts import ART_SCORES
from ...tables.inputs import TableInputs
from . import EXPERIMENT


def _leaderboard(inputs: TableInputs, spec: Mapping) -> dict[str, Any]:
    if not spec.get("leaderboard_file"):
        inputs.notes.append("no leaderboard_file configured: s, rank and model_above are undefined")
        return {"source": "none configured", "month": None, "entries": []}
    present = inputs.present("leaderboard")
    if not present:
        return {"source": spec["leaderboard_file"], "month": None, "entries": []}
    return json.loads(present[0].read_text(encoding="utf-8"))


def tab_real_arts(inputs: TableInputs, config: Mapping) -> TableResult:
    spec = EXPERIMENT.block(config)
    scores = inputs.frame("scores", ART_SCORES)
    board = _leaderboard(inputs, spec)
    return tables.tab_real_arts(scores, reward=spec["reward"], leaderboard=board["entries"],
                                leaderboard_source=board["source"], leaderboard_month=board["month"],
                                blip_reward=spec.get("blip_reward"))
