"""Each experiment table says how many rows it left out and why: ``excluded`` and ``excluded_because``.

The inputs come from the builders of ``tests/test_experiments.py``; a few rows are then
spoiled by hand: a rate-limited call, a null or an infinite score with status ok, and
the builders' own failed score. Every expected record below is counted off those rows.
"""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest

from tests.test_experiments import (
    FAILED,
    LEADERBOARD,
    PAIR,
    art_frame,
    ava_frame,
    critical_frame,
    emotion_frame,
    prompts_frame,
    ratings_frame,
    scores_frame,
)
from widespectrum import contracts, numbers
from widespectrum.cli import main
from widespectrum.contracts import CRITICAL_SCORES, FACE_SCORES
from widespectrum.experiments.art.analysis import tab_real_arts
from widespectrum.experiments.ava.analysis import fig_diff
from widespectrum.experiments.critical.analysis import tab_critical_selection, tab_critical_test
from widespectrum.experiments.emotion.analysis import tab_emotion
from widespectrum.experiments.emotion_generation.analysis import tab_emotion_gen
from widespectrum.experiments.human.analysis import human_agreement
from widespectrum.experiments.img2img.analysis import tab_img2img
from widespectrum.experiments.img2img.selection import select_img2img_inputs
from widespectrum.experiments.slopes.analysis import fig_slopes
from widespectrum.experiments.vsf.analysis import tab_vsf
from widespectrum.prompts.dimensions import DIMENSIONS
from widespectrum.tables.discover import discover_config

RATE_LIMITED = "error: HTTP 429 after 4 tries"
NAN, INF = math.nan, math.inf
# One row of each kind: rate limited, a null with status ok, an inf with status ok.
THREE_KINDS = {"status not ok": {RATE_LIMITED: 1}, "no value": {"ok": 1}, "non-finite value": {"ok": 1}}


def rate_limit(frame: pd.DataFrame, schema: contracts.Schema, **where) -> pd.DataFrame:
    """The one row matching ``where`` turned into a call that failed on HTTP 429 (no score)."""
    mask = np.logical_and.reduce([frame[c] == v for c, v in where.items()])
    assert mask.sum() == 1, where
    frame = frame.copy()
    frame.loc[mask, "status"] = RATE_LIMITED
    frame.loc[mask, "score"] = np.nan
    return schema.validate(frame)


def test_tab_emotion_counts_each_reason_per_reward():
    # (reward, emotion, item) -> (r(I_e,p_e), r(I_happy,p_e)); None: the builder's failed score
    values = {("R1", "angry", "i0"): (2.0, 1.0), ("R1", "angry", "i1"): (None, 1.0),
              ("R1", "angry", "i2"): (NAN, 0.0), ("R1", "sad", "i0"): (INF, 1.0), ("R2", "sad", "i0"): (1.0, None)}
    frame = rate_limit(emotion_frame(values), contracts.EMOTION_SCORES, reward="R1", item_id="i1", emotion="angry",
                       image_emotion="angry")
    # R2 is named: with no whole item it would have no row by default
    result = tab_emotion(frame, rewards=["R1", "R2"], n_boot=0)
    assert result.records["excluded"] == {"R1": 3, "R2": 1}
    assert result.records["excluded_because"] == {"R1": THREE_KINDS, "R2": {"status not ok": {FAILED: 1}}}
    table = result.frame.set_index("reward")
    assert table["n_excluded"].to_dict() == {"R1": 3, "R2": 1}
    assert table.loc["R1", "n_anger"] == 1 and table.loc["R1", "n_sadness"] == 0  # i0 angry alone is whole


def test_tab_emotion_gen_counts_each_reason_per_generator():
    rows = [("G1", "p0", "happy", "blip", 0.6), ("G1", "p1", "happy", "blip", None),
            ("G1", "p2", "angry", "blip", NAN), ("G1", "p3", "sad", "blip", INF),
            ("G2", "p4", "fearful", "blip", 0.9), ("G2", "p5", "angry", "blip", None),
            ("G2", "p6", "angry", "clip", None)]  # another reward's failure: not this table's
    faces = FACE_SCORES.validate(pd.DataFrame(
        [{"generator": g, "prompt_id": p, "emotion": e, "reward": r, "score": s,
          "status": "ok" if s is not None else FAILED} for g, p, e, r, s in rows]))
    faces = rate_limit(faces, FACE_SCORES, prompt_id="p1")
    result = tab_emotion_gen(faces, reward="blip", n_boot=0)
    assert result.records["excluded"] == {"G1": 3, "G2": 1}
    assert result.records["excluded_because"] == {"G1": THREE_KINDS, "G2": {"status not ok": {FAILED: 1}}}
    table = result.frame.set_index("generator")
    assert table["n_excluded"].to_dict() == {"G1": 3, "G2": 1}
    # G1 had four rows: three left out, one happy score used
    assert table.loc["G1", ["n_angry", "n_fearful", "n_happy", "n_sad"]].tolist() == [0, 0, 1, 0]


def test_tab_real_arts_counts_each_reason_per_reward():
    arts = art_frame([5.0, 6.0, None, None, NAN, INF], blip_true=[1.0, NAN], blip_shuffled=[0.1])
    arts = rate_limit(arts, contracts.ART_SCORES, reward="hps3", item_id="w3")
    result = tab_real_arts(arts, reward="hps3", leaderboard=LEADERBOARD, leaderboard_source="x", blip_reward="blip")
    assert result.records["excluded"] == {"hps3": 4, "blip": 1}
    assert result.records["excluded_because"] == {
        "hps3": {"status not ok": {FAILED: 1, RATE_LIMITED: 1}, "no value": {"ok": 1}, "non-finite value": {"ok": 1}},
        "blip": {"no value": {"ok": 1}}}
    row = result.frame.iloc[0]
    assert row["n"] == 6 - 4 and row["r"] == pytest.approx(5.5)  # w0 and w1
    assert row["n_blip_true"] == 1 and row["n_blip_shuffled"] == 1


def test_fig_diff_counts_each_reason_of_its_reward_only():
    ava = ava_frame()  # a5's render already failed (FAILED)
    ava = rate_limit(ava, contracts.AVA_SCORES, reward="hps3", item_id="a2", source="photo")
    ava = rate_limit(ava, contracts.AVA_SCORES, reward="other", item_id="a0", source="photo")  # not this table's
    of_hps3 = ava["reward"].eq("hps3")
    ava.loc[of_hps3 & ava["item_id"].eq("a3") & ava["source"].eq("generated"), "score"] = np.nan  # status ok
    ava.loc[of_hps3 & ava["item_id"].eq("a4") & ava["source"].eq("photo"), "score"] = np.inf  # status ok
    result = fig_diff(contracts.AVA_SCORES.validate(ava), reward="hps3", n_boot=0)
    assert result.records["excluded"] == {"hps3": 4}
    assert result.records["excluded_because"] == {
        "hps3": {"status not ok": {FAILED: 1, RATE_LIMITED: 1}, "no value": {"ok": 1}, "non-finite value": {"ok": 1}}}
    # 12 rows of hps3: 4 left out, each unpairing one item; a0 and a1 remain whole
    overall = result.frame.set_index("class").loc["overall"]
    assert overall["n"] == 2 and result.records["unpaired_items"] == 4
    assert 2 * overall["n"] + result.records["unpaired_items"] + 4 == 12


def test_both_critical_tables_count_each_reason_of_the_pair_per_reward():
    data = critical_frame({"HPSv3": [1.0, None, 2.0, NAN, INF, -1.0], "MPS": [1.0, None]})
    data = rate_limit(data, CRITICAL_SCORES, reward="HPSv3", prompt_id="c02", generator=PAIR[0])
    stranger = data.iloc[[0]].assign(generator="someone-else", score=np.nan, status=FAILED)
    data = CRITICAL_SCORES.validate(pd.concat([data, stranger], ignore_index=True))  # outside the pair
    hpsv3 = {"status not ok": {FAILED: 1, RATE_LIMITED: 1}, "no value": {"ok": 1}, "non-finite value": {"ok": 1}}
    expected = {"excluded": {"HPSv3": 4, "MPS": 1},
                "excluded_because": {"HPSv3": hpsv3, "MPS": {"status not ok": {FAILED: 1}}}}
    selection = tab_critical_selection(data, pair=PAIR)
    test = tab_critical_test(data, pair=PAIR)
    for result in (selection, test):
        assert {k: result.records[k] for k in expected} == expected
    table = selection.frame.set_index("reward")
    assert table["n_excluded"].to_dict() == {"HPSv3": 4, "MPS": 1}
    assert table["n"].to_dict() == {"HPSv3": 6 - 4, "MPS": 2 - 1}
    assert test.frame.set_index("reward")["n_pairs"].to_dict() == {"HPSv3": 2, "MPS": 1}


def test_tab_img2img_counts_each_reason_per_input_and_generator():
    values = {("Krea i2i", "hps3", "p0", "oo"): 2.0, ("Krea i2i", "hps3", "p0", "ao"): 5.0,
              ("Krea i2i", "hps3", "p1", "oo"): 4.0, ("Krea i2i", "hps3", "p1", "ao"): None,
              ("Krea i2i", "hps3", "p2", "oo"): NAN, ("Krea i2i", "hps3", "p2", "ao"): 3.0,
              ("Krea i2i", "hps3", "p3", "oo"): 1.0, ("Krea i2i", "hps3", "p3", "ao"): INF,
              ("Dance i2i", "hps3", "p0", "oo"): 1.0, ("Dance i2i", "hps3", "p0", "ao"): None,
              ("Krea i2i", "blip", "p0", "aa"): None}  # a reward the table does not read
    scores = rate_limit(scores_frame(values), contracts.SCORES, generator="Krea i2i", reward="hps3",
                        prompt_id="p1", image_kind="a")
    ratings = {("Krea i2i", "p0", "o"): [1.0] * 11, ("Krea i2i", "p0", "a"): [2.0] * 11,
               ("Dance i2i", "p0", "o"): [1.0] * 11, ("Dance i2i", "p0", "a"): [1.0] * 9 + [None, NAN]}
    result = tab_img2img(scores, ratings_frame(ratings), generators=["Krea i2i", "Dance i2i"], reward="hps3",
                         n_boot=0)
    assert result.records["excluded"] == {"scores": {"Krea i2i": 3, "Dance i2i": 1}, "ratings": {"Dance i2i": 2}}
    assert result.records["excluded_because"] == {
        "scores": {"Krea i2i": THREE_KINDS, "Dance i2i": {"status not ok": {FAILED: 1}}},
        "ratings": {"Dance i2i": {"status not ok": {FAILED: 1}, "no value": {"ok": 1}}}}
    table = result.frame.set_index("generator")
    # Krea: 4 inputs, 3 of them lost one score; Dance's one input lost its output's score and a rating
    assert table["n_hpsv3"].to_dict() == {"Krea i2i": 1, "Dance i2i": 0}
    assert table["n_j"].to_dict() == {"Krea i2i": 1, "Dance i2i": 0}
    assert table.loc["Krea i2i", "d_hpsv3"] == pytest.approx(3.0)
    # what explain prints for a number of this table: one line per generator and status
    lines = numbers.exclusion_lines(numbers._excluded({"records": result.records}, "krea-i2i"))
    assert sorted(lines) == sorted([
        f"table_because scores Krea i2i: 1 x '{RATE_LIMITED}' (status not ok)",
        "table_because scores Krea i2i: 1 x 'ok' (no value)",
        "table_because scores Krea i2i: 1 x 'ok' (non-finite value)",
        f"table_because scores Dance i2i: 1 x '{FAILED}' (status not ok)",
        f"table_because ratings Dance i2i: 1 x '{FAILED}' (status not ok)",
        "table_because ratings Dance i2i: 1 x 'ok' (no value)",
    ])


def test_tab_vsf_counts_the_blip_scores_too():
    selected = {"p0": ["clarity", "emotion"], "p1": ["background", "richness"]}
    values = {("dance-vsf-2", "hps3", "p0", "ao"): 2.0, ("dance-vsf-2", "hps3", "p1", "ao"): None,
              ("dance-vsf-2", "blip", "p0", "aa"): 0.5, ("dance-vsf-2", "blip", "p1", "aa"): NAN,
              ("krea-nag-4", "hps3", "p0", "ao"): INF, ("krea-nag-4", "hps3", "p1", "ao"): 3.0,
              ("krea-nag-4", "blip", "p0", "aa"): None, ("krea-nag-4", "blip", "p1", "aa"): 0.25}
    scores = rate_limit(scores_frame(values), contracts.SCORES, generator="dance-vsf-2", reward="hps3",
                        prompt_id="p1")
    ratings = {(g, p, k): [1.0] * 11 for g in ("dance-vsf-2", "krea-nag-4") for p in ("p0", "p1") for k in "oa"}
    ratings[("krea-nag-4", "p1", "a")][DIMENSIONS.index("richness")] = None  # a selected dimension
    variants = [{"generator": "dance-vsf-2", "model": "DanceFlux", "method": "VSF", "scale": 2.0},
                {"generator": "krea-nag-4", "model": "Flux Krea", "method": "NAG", "scale": 4.0}]
    result = tab_vsf(scores, ratings_frame(ratings), prompts_frame(selected), variants=variants, reward="hps3",
                     blip_reward="blip", n_boot=0)
    assert result.records["excluded"] == {"scores": {"dance-vsf-2": 1, "krea-nag-4": 1},
                                          "blip_scores": {"dance-vsf-2": 1, "krea-nag-4": 1},
                                          "ratings": {"krea-nag-4": 1}}
    assert result.records["excluded_because"] == {
        "scores": {"dance-vsf-2": {"status not ok": {RATE_LIMITED: 1}}, "krea-nag-4": {"non-finite value": {"ok": 1}}},
        "blip_scores": {"dance-vsf-2": {"no value": {"ok": 1}}, "krea-nag-4": {"status not ok": {FAILED: 1}}},
        "ratings": {"krea-nag-4": {"status not ok": {FAILED: 1}}}}
    table = result.frame.set_index("generator")
    # two pairs per variant, each measure losing one row of one variant
    assert table[["n_hpsv3", "n_blip", "n_j"]].to_dict("index") == {
        "dance-vsf-2": {"n_hpsv3": 1, "n_blip": 1, "n_j": 2}, "krea-nag-4": {"n_hpsv3": 1, "n_blip": 1, "n_j": 1}}


def test_fig_slopes_counts_scores_per_reward_and_ratings():
    images = [("G1", p, k) for p in ("p0", "p1", "p2") for k in "oa"]
    values = {(g, r, p, k + "o"): 1.0 + i for i, (g, p, k) in enumerate(images) for r in ("hps3", "blip")}
    values[("G1", "hps3", "p0", "ao")] = NAN
    values[("G1", "blip", "p1", "oo")] = INF
    scores = rate_limit(scores_frame(values), contracts.SCORES, reward="hps3", prompt_id="p0", image_kind="o")
    judge = {image: [1.0] * 11 for image in images}
    judge[("G1", "p1", "a")] = [1.0] * 10 + [None]
    result = fig_slopes(scores, ratings_frame(judge), rewards=["hps3"], blip_reward="blip")
    assert result.records["excluded"] == {"scores": {"hps3": 2, "blip": 1}, "ratings": 1}
    assert result.records["excluded_because"] == {
        "scores": {"hps3": {"status not ok": {RATE_LIMITED: 1}, "no value": {"ok": 1}},
                   "blip": {"non-finite value": {"ok": 1}}},
        "ratings": {"status not ok": {FAILED: 1}}}
    # six images, four of them lost one value each: p2's two remain
    assert set(result.frame["n"]) == {2}


def test_human_agreement_says_why_answers_and_labels_were_left_out():
    answers = pd.DataFrame({"pair_id": ["q0", "q0", "q1", "q1", "q2"], "rater_id": ["r0", "r1", "r0", "r1", "r0"],
                            "answer": pd.Series([0, 2, None, 3, 1.5], dtype="object")})
    labels = pd.DataFrame({"pair_id": ["q0", "q1", "q2", "q3"],
                           "selected": pd.Series([1, None, 5, -1], dtype="object")})
    result = human_agreement(answers, labels)
    assert result.records["excluded"] == {"answers": 3, "labels": 2}
    assert result.records["excluded_because"] == {
        "answers": {"missing answer": 1, "answer outside {0, 1, 2}": 2},
        "labels": {"missing label": 1, "label outside {-1, 0, 1}": 1}}
    assert result.frame.iloc[0]["n_excluded"] == 5 and result.frame.iloc[0]["pairs"] == 1  # q0 alone


def test_img2img_selection_warns_of_the_anti_images_it_could_not_consider(caplog):
    values = {("Nano", "hps3", "p0", "ao"): 3.0, ("Nano", "hps3", "p1", "ao"): None,
              ("Nano", "hps3", "p2", "ao"): NAN,
              ("Nano", "hps3", "p3", "oo"): None,  # an I_o: never a candidate
              ("Other", "hps3", "p4", "ao"): None}
    scores = rate_limit(scores_frame(values), contracts.SCORES, prompt_id="p1")
    with caplog.at_level(logging.WARNING, logger="widespectrum.experiments.img2img.selection"):
        assert select_img2img_inputs(scores, generator="Nano", reward="hps3") == ["p0"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["image-to-image selection: 2 I_a score(s) of 'Nano' under 'hps3' unusable, not selected: "
                        f"{{'status not ok': {{'{RATE_LIMITED}': 1}}, 'no value': {{'ok': 1}}}}"]


def test_explain_prints_an_experiment_tables_reasons(tmp_path, capsys):
    folder = tmp_path / "faulty-run"
    values = {("R1", "angry", "i0"): (2.0, 1.0), ("R1", "angry", "i1"): (None, 1.0),
              ("R1", "angry", "i2"): (NAN, 0.0), ("R1", "angry", "i3"): (INF, 1.0)}
    frame = rate_limit(emotion_frame(values), contracts.EMOTION_SCORES, item_id="i1", image_emotion="angry")
    contracts.write_table(frame, folder / "experiments/emotion/scores/R1.parquet", contracts.EMOTION_SCORES)
    assert main(["tables", "--results", str(folder), "--only", "tab_emotion"]) == 0
    record = json.loads((folder / "tables/tab_emotion.json").read_text())["records"]
    assert record["excluded_because"] == {"R1": THREE_KINDS}
    numbers.write_numbers(folder, discover_config(folder), ["tab_emotion"])
    capsys.readouterr()
    assert main(["explain", "tab_emotion.r1.anger", "--results", str(folder)]) == 0
    text = capsys.readouterr().out
    assert f"left out, table_because R1: 1 x '{RATE_LIMITED}' (status not ok)" in text
    assert "left out, table_because R1: 1 x 'ok' (no value)" in text
    assert "left out, table_because R1: 1 x 'ok' (non-finite value)" in text
    assert text.count("left out, ") == 3
