"""E8 (tab_real_arts): the shipped leaderboard, the placement of the artworks, the captioner path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from widespectrum.contracts import ART_SCORES, OK
from widespectrum.experiments.art.measure import load_leaderboard
from widespectrum.experiments.art.tables import place_artworks

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "config" / "experiments" / "hpsv3_leaderboard.yaml"
# HPSv3 README, "Image Generation Benchmark of HPSv3", Overall: copied here from the README,
# independently of the shipped file, so a typo there fails this test
README_OVERALL = {"Kolors": 10.55, "Flux-dev": 10.43, "Playgroundv2.5": 10.27, "Infinity": 10.26, "CogView4": 9.61,
                  "PixArt-Σ": 9.37, "Gemini 2.0 Flash": 9.21, "SDXL": 8.20, "HunyuanDiT": 8.19,
                  "Stable Diffusion 3 Medium": 5.31, "SD2": -0.24}


def art_scores(true, reward="hpsv3", kind="true") -> pd.DataFrame:
    rows = [{"item_id": f"{i:03d}", "caption_kind": kind, "reward": reward, "score": v, "status": OK}
            for i, v in enumerate(true)]
    return pd.DataFrame(rows, columns=ART_SCORES.names)


def test_shipped_leaderboard_is_hpsv3_readme_table():
    board = load_leaderboard(SHIPPED)
    assert dict(zip(board.entries["model"], board.entries["score"])) == README_OVERALL
    assert board.entries["score"].is_monotonic_decreasing
    assert board.source["repository"].startswith("MizzenAI/HPSv3")
    assert board.source["table"] == "Image Generation Benchmark of HPSv3" and board.source["column"] == "Overall"
    assert board.source["read"] == "2026-12-01" and board.month == "25/08"
    display = dict(zip(board.entries["model"], board.entries["display"]))
    assert display["HunyuanDiT"] == "Hunyuan-DiT" and display["Kolors"] == "Kolors"


def test_paper_row_from_r_5_86_on_the_shipped_leaderboard():
    board = load_leaderboard(SHIPPED)
    # artworks whose mean is 5.86 exactly: 5.66, 5.86, 6.06
    scores = art_scores([5.66, 5.86, 6.06])
    result = place_artworks(scores, reward="hpsv3", leaderboard=board.entries.to_dict("records"),
                            leaderboard_source=board.source_text(), leaderboard_month=board.month,
                            blip_reward=None, n_boot=200, seed=0)
    row = result.frame.iloc[0]
    assert row["r"] == pytest.approx(5.86)
    assert f"{row['s']:.2f}" == "0.57"  # (5.86 + 0.24) / (10.55 + 0.24) = 0.5653...
    assert row["s"] == pytest.approx(6.10 / 10.79)
    assert row["rank"] == "10/12" and row["model_above"] == "Hunyuan-DiT" and row["n"] == 3
    assert result.records["model_above_on_leaderboard"] == "HunyuanDiT"
    assert row["leaderboard_month"] == "25/08"
    # percentile bootstrap of the mean, written out here from its definition
    draws = np.array([5.66, 5.86, 6.06])[np.random.default_rng(0).integers(0, 3, size=(200, 3))].mean(axis=1)
    assert row["r_lo"] == pytest.approx(np.percentile(draws, 2.5))
    assert row["r_hi"] == pytest.approx(np.percentile(draws, 97.5))
    assert row["r_lo"] < 5.86 < row["r_hi"]


def test_blip_check_columns_from_true_and_shuffled_captions():
    board = load_leaderboard(SHIPPED)
    scores = pd.concat([art_scores([9.0, 9.5]), art_scores([0.99, 1.0], reward="blip"),
                        art_scores([0.1, 0.05], reward="blip", kind="shuffled")], ignore_index=True)
    row = place_artworks(scores, reward="hpsv3", leaderboard=board.entries.to_dict("records"),
                         leaderboard_source="x", leaderboard_month="25/08", blip_reward="blip",
                         n_boot=50, seed=1).frame.iloc[0]
    assert row["blip_true_captions"] == pytest.approx(0.995) and row["blip_shuffled_captions"] == pytest.approx(0.075)
    assert row["n_blip_true"] == 2 and row["n_blip_shuffled"] == 2
    # 9.25 lies between Gemini 2.0 Flash (9.21) and PixArt-Σ (9.37)
    assert row["rank"] == "7/12" and row["model_above"] == "PixArt-Σ"


def test_leaderboard_file_of_the_same_shape_with_a_plain_source_and_bad_shapes(tmp_path):
    other = tmp_path / "board.yaml"
    other.write_text('source: "some README, table X, column Y, read 2026-01-01"\nmonth: "26/01"\n'
                     "entries:\n  - {model: A, score: 2.0}\n  - {model: B, score: 1.0, aliases: [Bee]}\n",
                     encoding="utf-8")
    board = load_leaderboard(other)
    assert board.source == {"text": "some README, table X, column Y, read 2026-01-01"}
    assert list(board.entries["display"]) == ["A", "Bee"]
    row = place_artworks(art_scores([1.5]), reward="hpsv3", leaderboard=board.entries.to_dict("records"),
                         leaderboard_source=board.source_text(), leaderboard_month=board.month, blip_reward=None,
                         n_boot=10, seed=0).frame.iloc[0]
    assert row["s"] == pytest.approx(0.5) and row["rank"] == "2/3" and row["model_above"] == "A"
    other.write_text("source: {repository: x, table: y}\nmonth: m\nentries: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"source lacks \['column', 'read'\]"):
        load_leaderboard(other)
    other.write_text("source: s\nmonth: m\nentries:\n  - {model: A, score: 1, aliases: Bee}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="aliases"):
        load_leaderboard(other)
