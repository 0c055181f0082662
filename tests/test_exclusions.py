"""Each table says how many rows it left out and why: per category, per individual status.

A folder of contract files whose scores hold hand-made failures of several kinds goes
through ``widespectrum tables`` and ``numbers``; the counts expected here are those
of the rows written below, counted by hand.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from widespectrum import contracts, numbers
from widespectrum.cli import main
from widespectrum.tables.discover import discover_config

GENERATOR = "flux-dev"
RATE_LIMITED = "error: HTTP 429 after 4 tries"
NOT_AN_IMAGE = "error: not an image"


def _score(prompt_id: str, kind: str, score: float | None, status: str = "ok") -> dict:
    return {"generator": GENERATOR, "prompt_id": prompt_id, "image_kind": kind[0], "prompt_kind": kind[1],
            "reward": "hpsv3", "score": score, "score_sigma": None, "status": status}


@pytest.fixture()
def folder(tmp_path):
    run = tmp_path / "faulty-run"
    rows = []
    # p0 and p1 are complete: d = r(I_a,p_o) - r(I_o,p_o) = 2 and 4.
    for prompt_id, (oo, ao) in {"p0": (1.0, 3.0), "p1": (2.0, 6.0)}.items():
        rows += [_score(prompt_id, "oo", oo), _score(prompt_id, "ao", ao)]
    # p2..p5 each lose one or both of their rows:
    rows += [_score("p2", "oo", None, RATE_LIMITED), _score("p2", "ao", None, RATE_LIMITED),
             _score("p3", "oo", None, RATE_LIMITED), _score("p3", "ao", None, NOT_AN_IMAGE),
             _score("p4", "oo", None), _score("p4", "ao", None),  # status ok and no value
             _score("p5", "oo", 1.0), _score("p5", "ao", math.inf)]  # an ok inf
    contracts.write_table(pd.DataFrame(rows), run / "scores/hpsv3/flux-dev.parquet", contracts.SCORES)
    return run


EXPECTED = {"status not ok": {RATE_LIMITED: 3, NOT_AN_IMAGE: 1}, "no value": {"ok": 2}, "non-finite value": {"ok": 1}}


def test_tab_gen_records_and_explain_give_each_status_its_count(folder, capsys):
    assert main(["tables", "--results", str(folder), "--only", "tab_gen"]) == 0
    record = json.loads((folder / "tables/tab_gen.json").read_text())["records"]
    assert record["excluded"]["score_reasons"]["hpsv3"] == EXPECTED
    assert record["excluded"]["scores"]["hpsv3"] == {GENERATOR: 7}
    table = pd.read_csv(folder / "tables/tab_gen.csv").set_index("generator")
    # p5's ok row I_o pairs with nothing: the mean rests on p0 and p1 alone
    assert table.loc[GENERATOR, "n_hpsv3"] == 2 and table.loc[GENERATOR, "d_hpsv3"] == pytest.approx(3.0)
    assert table.loc[GENERATOR, "n_excluded"] == 7

    numbers.write_numbers(folder, discover_config(folder), ["tab_gen"])
    capsys.readouterr()
    assert main(["explain", f"tab_gen.{GENERATOR}.d_hpsv3", "--results", str(folder)]) == 0
    text = capsys.readouterr().out
    assert f"table score_reasons hpsv3: 3 x '{RATE_LIMITED}' (status not ok)" in text
    assert f"table score_reasons hpsv3: 1 x '{NOT_AN_IMAGE}' (status not ok)" in text
    assert "table score_reasons hpsv3: 2 x 'ok' (no value)" in text
    assert "table score_reasons hpsv3: 1 x 'ok' (non-finite value)" in text
    assert text.count("left out, ") == 4
