"""Pipeline steps that need no model: prompt building from each source."""

import pandas as pd
import pytest
import yaml

from widespectrum import contracts, pipeline
from widespectrum.runconfig import validate_run


@pytest.fixture()
def demo(repo_root, tmp_path):
    config = yaml.safe_load((repo_root / "config" / "demo.yaml").read_text())
    config["results_dir"] = str(tmp_path / "results")
    return config


def test_prompts_from_the_demo_captions(demo, tmp_path):
    frame = pipeline.build_prompts(validate_run(demo), tmp_path / "prompts.parquet")
    assert len(frame) == demo["prompts"]["n"] and frame["prompt_id"].is_unique
    again = pipeline.build_prompts(validate_run(demo), tmp_path / "again.parquet")
    pd.testing.assert_frame_equal(frame, again)  # seeded
    assert (frame["rewriter"] == "template").all() and frame["negative_prompt"].notna().all()


def test_prompts_from_the_released_pairs(demo, tmp_path):
    folder = tmp_path / "released" / "data"
    folder.mkdir(parents=True)
    pd.DataFrame({
        "original_prompt": ["a cat on a sofa", "a red bus", "two dogs"],
        "disorted_long_prompt": ["a blurry dark cat", "a washed-out bus", "an empty frame"],
        "selected": [["clarity", "color brightness"], ["color_aesthetic"], ["richness"]],
        "desc": ["x", "y", "z"],
        "negative_prompt": ["sharp", "vivid", ""],
    }).to_parquet(folder / "train-00000-of-00001.parquet")
    demo["prompts"] = {"source": "released", "n": 2,
                       "released": {"revision": None, "local_dir": str(tmp_path / "released")}}
    frame = pipeline.build_prompts(validate_run(demo), tmp_path / "prompts.parquet")
    back = contracts.read_table(tmp_path / "prompts.parquet", contracts.PROMPTS)
    assert list(back["prompt_id"]) == ["0000", "0001"]
    assert back.loc[0, "dimensions"] == ["clarity", "color_brightness"]
    assert list(back["negative_prompt"]) == ["sharp", "vivid"] and (frame["rewriter"] == "released").all()
