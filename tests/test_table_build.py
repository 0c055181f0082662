"""build_table writes where the table rule's declared outputs say, from the files it is given."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from widespectrum import contracts
from widespectrum.tables.build import build_table
from widespectrum.tables.discover import discover_config


def test_outputs_go_to_the_declared_paths_from_the_declared_inputs(tmp_path):
    run = tmp_path / "run"
    # the negative picture wins on 2 of 3 angry items; the second is a tie, which counts as wrong
    rows = [{"item_id": f"i{k}", "emotion": "angry", "image_emotion": side, "reward": "blip-l-logit",
             "score": score, "status": "ok"}
            for k, (negative, happy) in enumerate([(3.0, 1.0), (2.0, 2.0), (5.0, -1.0)])
            for side, score in (("angry", negative), ("happy", happy))]
    scores = tmp_path / "elsewhere" / "emotion-scores.parquet"  # not where the run layout would look
    contracts.write_table(pd.DataFrame(rows), scores, contracts.EMOTION_SCORES)
    # the layout's copy says the happy picture always wins: reading it would give anger 0
    layout_copy = pd.DataFrame(rows).assign(score=lambda f: (f["image_emotion"] == "happy").astype(float))
    contracts.write_table(layout_copy, run / "experiments/emotion/scores/blip-l-logit.parquet",
                          contracts.EMOTION_SCORES)
    config = discover_config(run)
    declared = {"csv": tmp_path / "out" / "t.csv", "tex": tmp_path / "out" / "t.tex",
                "record": tmp_path / "out" / "t.json"}

    build_table("tab_emotion", run, config=config, files={"scores": [str(scores)]}, outputs=declared)

    table = pd.read_csv(declared["csv"]).set_index("reward")
    assert table.loc["blip-l-logit", "anger"] == pytest.approx(2 / 3)
    assert table.loc["blip-l-logit", "n_anger"] == 3
    assert json.loads(declared["record"].read_text())["table"] == "tab_emotion"
    assert "tabular" in declared["tex"].read_text()
    assert not (run / "tables").exists()
