"""E8 (tab_real_arts): the shipped leaderboard, the placement of the artworks, the captioner path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

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


def test_interval_resamples_the_scores_behind_r_and_leaves_a_non_finite_one_out():
    board = load_leaderboard(SHIPPED)
    result = place_artworks(art_scores([5.0, 6.0, np.inf]), reward="hpsv3",
                            leaderboard=board.entries.to_dict("records"), leaderboard_source="x",
                            leaderboard_month=None, blip_reward=None, n_boot=200, seed=0)
    row = result.frame.iloc[0]
    assert row["r"] == pytest.approx(5.5) and row["n"] == 2
    assert np.isfinite(row["r_lo"]) and np.isfinite(row["r_hi"])
    assert 5.0 <= row["r_lo"] < 5.5 < row["r_hi"] <= 6.0
    # the percentile bootstrap of the mean of 5 and 6, written out from its definition
    draws = np.array([5.0, 6.0])[np.random.default_rng(0).integers(0, 2, size=(200, 2))].mean(axis=1)
    assert (row["r_lo"], row["r_hi"]) == pytest.approx(tuple(np.percentile(draws, [2.5, 97.5])))
    assert result.records["bootstrap"] == {"n_boot": 200, "seed": 0, "level": 0.95}


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


# ---------------------------------------------------------------- regenerating run: captioner, then the score rule

KEY_ENV = "WIDESPECTRUM_TEST_ART_KEY"
CAPTIONS = ["An oil painting of a harbour at dusk with three fishing boats and a red lighthouse.",
            "A watercolour of a woman in a blue dress reading a letter beside an open window."]


@pytest.fixture
def server(monkeypatch):
    from .fixtures.chat_server import loopback_chat_server

    monkeypatch.setenv(KEY_ENV, "test-key-not-a-secret")
    with loopback_chat_server(monkeypatch) as state:
        yield state


def _art_config(captioner: dict) -> dict:
    from widespectrum.runconfig import load_run, validate_run

    config = load_run(ROOT / "config" / "demo.yaml")
    config["experiments"]["art"].update(n_items=3, size=32, captions="captioner", captioner=captioner)
    return validate_run(config)


def test_regenerating_run_captions_then_scores_under_the_new_captions(server, tmp_path):
    from widespectrum import layout
    from widespectrum.experiments.art import EXPERIMENT

    from .test_experiments_data import HandReward, hand_score, pixels

    # two valid captions, then nothing: the exhausted script answers 500, so the third artwork fails
    server.script({"caption": CAPTIONS[0]}, {"caption": "Boats."}, {"caption": CAPTIONS[1]})
    config = _art_config({"backend": "openai", "model": "test-vlm", "base_url": server.base_url,
                          "api_key_env": KEY_ENV, "max_retries": 1, "backoff_s": 0.0, "timeout": 10})
    run_dir = tmp_path / "run"
    image_dir = run_dir / layout.experiment_item_images("art")
    items, provenance = EXPERIMENT.build_items(config, image_dir, run_dir)
    items = items.sort_values("item_id").reset_index(drop=True)
    # "Boats." has 1 word (8 to 40 allowed): rejected and asked again, so the second artwork gets CAPTIONS[1]
    assert items["caption"].tolist()[:2] == CAPTIONS
    assert items["status"].tolist()[:2] == [OK, OK] and items["status"][2].startswith("caption error: ")
    assert len(server.requests) == 5  # 1 + 2 + (1 + max_retries): bounded
    assert {r["model"] for r in server.requests} == {"test-vlm"}
    assert provenance["captioner"]["captioned"] == 2 and provenance["captioner"]["failed"] == 1
    assert "test-key-not-a-secret" not in repr(provenance)

    scores, _, _ = EXPERIMENT.score(config, HandReward(), None, run_dir, items=items)
    ok = scores.loc[scores["status"] == OK]
    true = ok.loc[ok["caption_kind"] == "true"].set_index("item_id")["score"]
    for item_id, caption, path in zip(items["item_id"][:2], CAPTIONS, items["path"][:2]):
        assert true[item_id] == pytest.approx(hand_score(pixels(run_dir, path), caption))
    assert (scores.loc[scores["item_id"] == items["item_id"][2], "status"] != OK).all()

    # answers are cached by request: building again asks the endpoint only for the failed artwork
    before = len(server.requests)
    server.script({"caption": CAPTIONS[0]})
    again, _ = EXPERIMENT.build_items(config, image_dir, run_dir)
    assert len(server.requests) == before + 1
    assert (again.sort_values("item_id")["status"] == OK).all()


def test_demo_captioner_is_deterministic_and_fits_the_caption_bounds(tmp_path):
    from widespectrum.captioning import caption_artworks
    from widespectrum.captioning.art import MAX_WORDS, MIN_WORDS
    from widespectrum.demo.art_captioner import PaletteCaptioner
    from widespectrum.demo.standins import lapis_items

    items = lapis_items(tmp_path / "items", tmp_path, n_items=4, seed=3, size=32)
    artworks = [(row.item_id, tmp_path / row.path) for row in items.itertuples()]
    first = caption_artworks(PaletteCaptioner(), artworks, progress=False)
    second = caption_artworks(PaletteCaptioner(), artworks, progress=False)
    assert first.equals(second) and (first["status"] == OK).all()
    assert first["n_words"].between(MIN_WORDS, MAX_WORDS).all()
    # HSV value is the largest channel: 200/255 is bright, 60/255 dark; one flat colour has no spread
    red = Image.new("RGB", (16, 16), (200, 10, 10))
    assert PaletteCaptioner().caption(red) == ("An abstract painting dominated by red tones, bright overall, "
                                               "made of broad, even fields of colour on a flat canvas.")
    navy = Image.new("RGB", (16, 16), (10, 10, 60))
    assert PaletteCaptioner().caption(navy).startswith("An abstract painting dominated by blue tones, dark overall")
