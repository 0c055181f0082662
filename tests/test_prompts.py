"""Prompt construction (docs/experiments.md#e1): dimension sampling, caption selection, template rewrites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from widespectrum.contracts import PROMPTS
from widespectrum.prompts.dimensions import DIMENSIONS
from widespectrum.prompts.rewriters import (
    OpenAICompatibleRewriter,
    TemplateRewriter,
    build_rewriter,
    join_negative_terms,
    word_count,
)
from widespectrum.prompts.sampling import (
    build_prompt_pairs,
    load_captions,
    load_dimension_texts,
    sample_dimensions,
    select_captions,
)

CONFIG = Path(__file__).resolve().parents[1] / "config"
DIMENSIONS_FILE = CONFIG / "dimensions.yaml"
CAPTIONS_FILE = CONFIG / "captions" / "demo_captions.csv"


@pytest.fixture(scope="module")
def texts() -> dict:
    return load_dimension_texts(DIMENSIONS_FILE)


@pytest.fixture(scope="module")
def captions() -> pd.DataFrame:
    return load_captions(CAPTIONS_FILE)


# ------------------------------------------------------------ dimensions file

def test_dimension_file_covers_every_dimension(texts):
    assert list(texts) == list(DIMENSIONS)
    for key, entry in texts.items():
        assert set(entry) == {"name", "description", "effect_phrase", "negative_term"}, key
        assert all(entry.values()), key


def test_unknown_dimension_key_is_a_clear_error(tmp_path):
    raw = yaml.safe_load(DIMENSIONS_FILE.read_text())
    raw["symmetry"] = dict(raw["clarity"])
    bad = tmp_path / "dims.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=r"unknown dimension key\(s\) \['symmetry'\]"):
        load_dimension_texts(bad)


def test_missing_dimension_or_field_is_a_clear_error(tmp_path):
    raw = yaml.safe_load(DIMENSIONS_FILE.read_text())
    del raw["emotion"]
    path = tmp_path / "missing.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=r"missing key\(s\) \['emotion'\]"):
        load_dimension_texts(path)

    raw = yaml.safe_load(DIMENSIONS_FILE.read_text())
    raw["clarity"]["effect_phrase"] = "  "
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=r"'clarity' lacks .*effect_phrase"):
        load_dimension_texts(path)


# ------------------------------------------------------------------ sampling

def test_sample_dimensions_is_reproducible_and_well_formed():
    first = sample_dimensions(300, seed=7)
    assert first == sample_dimensions(300, seed=7)
    assert first != sample_dimensions(300, seed=8)
    order = {key: i for i, key in enumerate(DIMENSIONS)}
    for keys in first:
        assert len(keys) in (2, 3, 4)
        assert len(set(keys)) == len(keys)
        assert [order[k] for k in keys] == sorted(order[k] for k in keys)
    # Over 300 draws every k and every dimension shows up.
    assert {len(keys) for keys in first} == {2, 3, 4}
    assert {k for keys in first for k in keys} == set(DIMENSIONS)


def test_sample_dimensions_matches_an_independent_draw():
    rng = np.random.default_rng(3)
    expected = []
    for _ in range(20):
        k = int(rng.choice([2, 3, 4]))
        expected.append([DIMENSIONS[i] for i in sorted(rng.choice(11, size=k, replace=False))])
    assert sample_dimensions(20, seed=3) == expected


def test_sample_dimensions_rejects_impossible_k():
    with pytest.raises(ValueError, match="k_choices"):
        sample_dimensions(5, seed=0, k_choices=(2, 12))


def test_select_captions(captions):
    picked = select_captions(captions, 10, seed=1)
    assert len(picked) == 10
    assert picked["caption_id"].is_unique
    assert picked.equals(select_captions(captions, 10, seed=1))
    assert not picked["caption_id"].equals(select_captions(captions, 10, seed=2)["caption_id"])
    everything = select_captions(captions, 1000, seed=1)
    assert everything["caption_id"].tolist() == captions["caption_id"].tolist()


# ------------------------------------------------------------------ template

@pytest.mark.parametrize("keys", [["clarity", "emotion"], ["background", "color_aesthetic", "main_object", "richness"]])
def test_template_rewrite_puts_every_effect_first(texts, keys):
    caption = "A man in a dark coat looks through a camera on a tripod in a field."
    effects = [texts[k]["effect_phrase"] for k in keys]
    result = TemplateRewriter().rewrite(
        caption,
        descriptions=[texts[k]["description"] for k in keys],
        effects=effects,
        avoid=[texts[k]["negative_term"] for k in keys],
    )
    assert word_count(result.prompt_anti) < 70
    caption_at = result.prompt_anti.index(caption)
    for effect in effects:
        assert effect in result.prompt_anti
        assert result.prompt_anti.index(effect) < caption_at
    assert 1 <= word_count(result.negative_prompt) <= 5
    assert result.negative_prompt == ", ".join(texts[k]["negative_term"] for k in keys)


def test_template_truncates_the_caption_never_an_effect(texts):
    keys = ["clarity", "detail_realism", "lighting_distinction", "main_object"]
    effects = [texts[k]["effect_phrase"] for k in keys]
    caption = " ".join(f"word{i}" for i in range(100))
    result = TemplateRewriter().rewrite(caption, [], effects)
    assert word_count(result.prompt_anti) == 69
    assert all(e in result.prompt_anti for e in effects)
    assert result.prompt_anti.endswith("word" + str(69 - word_count("; ".join(effects) + ". Subject:") - 1))

    with pytest.raises(ValueError, match="shorten the effect phrases"):
        TemplateRewriter(max_words=10).rewrite("a cat", [], effects)


def test_negative_terms_keep_whole_terms_within_five_words():
    assert join_negative_terms(["sharp", "dramatic lighting", "bright"]) == "sharp, dramatic lighting, bright"
    assert join_negative_terms(["scenic", "sharp", "dramatic lighting", "balanced", "bright"]) == (
        "scenic, sharp, dramatic lighting, balanced"
    )
    assert join_negative_terms([]) is None
    assert TemplateRewriter(negative_prompt=False).rewrite("a cat", [], ["blur it"], ["sharp"]).negative_prompt is None


def test_build_rewriter():
    assert isinstance(build_rewriter({"backend": "template"}), TemplateRewriter)
    llm = build_rewriter({
        "backend": "openai",
        "model": "qwen/qwen3-vl-235b-a22b-instruct",
        "base_url": "https://openrouter.ai/api/v1",
        "api_key_env": "OPENROUTER_API_KEY",
        "temperature": 0.1,
    })
    assert isinstance(llm, OpenAICompatibleRewriter)
    assert llm.client.temperature == 0.1
    assert llm.name == "openai:qwen/qwen3-vl-235b-a22b-instruct"
    with pytest.raises(ValueError, match="unknown rewriter backend 'gpt'"):
        build_rewriter({"backend": "gpt"})
    with pytest.raises(ValueError, match="bad options"):
        build_rewriter({"backend": "template", "colour": "red"})


# --------------------------------------------------------------- prompt pairs

def test_build_prompt_pairs_is_a_valid_prompts_table(captions, texts):
    frame = build_prompt_pairs(captions, texts, TemplateRewriter(), n=12, seed=5)
    PROMPTS.validate(frame)
    assert frame["prompt_id"].tolist() == [f"{i:04d}" for i in range(12)]
    assert frame["caption_id"].is_unique
    assert set(frame["rewriter"]) == {"template"}
    assert frame["dimensions"].tolist() == sample_dimensions(12, seed=5)
    for row in frame.itertuples():
        source = captions.set_index("caption_id").loc[row.caption_id]
        assert row.prompt_original == source["caption"]
        assert row.reference_image == source["reference_image"]
        assert row.prompt_original in row.prompt_anti
        for key in row.dimensions:
            assert texts[key]["effect_phrase"] in row.prompt_anti
        assert word_count(row.negative_prompt) <= 5
    again = build_prompt_pairs(captions, texts, TemplateRewriter(), n=12, seed=5)
    pd.testing.assert_frame_equal(frame, again)


def test_captions_without_reference_column(tmp_path, texts):
    path = tmp_path / "captions.csv"
    path.write_text("caption_id,caption\nc1,A dog on a beach.\nc2,NA\n")
    frame = load_captions(path)
    assert frame["caption"].tolist() == ["A dog on a beach.", "NA"]
    pairs = build_prompt_pairs(frame, texts, TemplateRewriter(), n=5, seed=0)
    assert pairs["reference_image"].isna().all()

    path.write_text("caption_id,caption\nc1,A dog.\nc1,A cat.\n")
    with pytest.raises(ValueError, match="'c1' appears more than once"):
        load_captions(path)


# ------------------------------------------------------------ demo captions

def test_demo_captions_have_loadable_reference_images(captions):
    import skimage.data

    assert len(captions) >= 20
    assert captions["caption_id"].is_unique
    for caption in captions["caption"]:
        assert 5 <= word_count(caption) < 25
    for name in sorted(set(captions["reference_image"])):
        image = np.asarray(getattr(skimage.data, name)())
        assert image.ndim in (2, 3) and min(image.shape[:2]) >= 64, name
