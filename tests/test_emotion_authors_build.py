"""E6 classification items built the authors' way, against loopback OpenRouter image and chat servers."""

from __future__ import annotations

import base64
import copy

import numpy as np
import pytest
from PIL import Image

from widespectrum.contracts import OK
from widespectrum.experiments import EXPERIMENTS
from widespectrum.llm import MissingAPIKeyError
from widespectrum.runconfig import load_run, validate_run

from .fixtures.chat_server import PROXY_VARIABLES, chat_server
from .fixtures.provider_servers import ProviderServer, drawn_image

KEY = "sentinel-key-not-a-secret"
# The notebook's wording, written out here rather than imported from the code under test.
HAPPY = "generate an image of a person very happy, face close to camera but the image shows not only face"
EDIT = "keep most of the image unchanged, but make the emotion look very {}"


@pytest.fixture
def servers(monkeypatch):
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    with ProviderServer("openrouter") as images, chat_server() as chat:
        yield images, chat


def _config(images, chat, tmp_path, n_items=2):
    raw = copy.deepcopy(load_run("config/config.yaml"))
    raw["experiments"]["emotion"] = {
        "source": "authors_build", "rewards": ["hpsv3"],
        "authors_build": {
            "n_items": n_items, "generator": "nano-banana",
            "generator_options": {"model": "google/gemini-2.5-flash-image", "base_url": images.base_url,
                                  "cache_dir": str(tmp_path / "api_cache"), "backoff_s": 0.001, "max_retries": 1},
            "captioner": {"model": "qwen/qwen3-vl-235b-a22b-instruct", "base_url": chat.base_url,
                          "api_key_env": "OPENROUTER_API_KEY", "backoff_s": 0.001, "max_retries": 1}},
    }
    return validate_run(raw)


def _build(config, tmp_path):
    image_dir = tmp_path / "run" / "item_images"
    return EXPERIMENTS["emotion"].build_items(config, image_dir, tmp_path / "run")


def _pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def test_happy_picture_then_its_three_edits_then_a_template(servers, tmp_path):
    images, chat = servers
    chat.script({"prompt": "a woman in a red scarf looks [emotion] at the camera"},
                {"prompt": "an old man on a bench, his face [emotion]"})
    items, component = _build(_config(images, chat, tmp_path), tmp_path)

    assert len(items) == 8 and (items["status"] == OK).all()
    assert sorted(items["image_emotion"].unique()) == ["angry", "fearful", "happy", "sad"]
    assert dict(items.groupby("item_id")["prompt_template"].first()) == {
        "000": "a woman in a red scarf looks [emotion] at the camera", "001": "an old man on a bench, his face [emotion]"}
    # The loopback server draws the first text part of the request into the answer image.
    for row in items.itertuples():
        text = HAPPY if row.image_emotion == "happy" else EDIT.format(row.image_emotion)
        assert (_pixels(Image.open(tmp_path / "run" / row.path)) == _pixels(drawn_image(text))).all()

    calls = [c.body for c in images.calls()]
    assert len(calls) == 8, "each item's happy picture is its own call, not one cached answer"
    assert all(c["model"] == "google/gemini-2.5-flash-image" and c["modalities"] == ["image", "text"] for c in calls)
    happy_calls = [c for c in calls if len(c["messages"][0]["content"]) == 1]
    assert [c["messages"][0]["content"][0]["text"] for c in happy_calls] == [HAPPY, HAPPY]
    for call in (c for c in calls if len(c["messages"][0]["content"]) == 2):
        text, image = call["messages"][0]["content"]
        item = "000" if calls.index(call) < 4 else "001"
        happy_png = (tmp_path / "run" / items.query("item_id == @item and image_emotion == 'happy'").path.iloc[0])
        url = image["image_url"]["url"]
        assert url.startswith("data:image/png;base64,")
        assert base64.b64decode(url.split(",", 1)[1]) == happy_png.read_bytes()
        assert text["text"] in [EDIT.format(e) for e in ("sad", "angry", "fearful")]

    assert len(chat.requests) == 2
    first = chat.requests[0]["messages"][0]["content"]
    assert first[0]["text"].startswith("Describe all these images with one prompt, and use [emotion] as placeholder")
    assert [part["type"] for part in first[1:]] == ["image_url"] * 4
    assert component["n_items"] == 2 and KEY not in repr(component)


def test_a_failed_happy_picture_fails_its_item_without_asking_for_edits(servers, tmp_path):
    images, chat = servers
    images.script("bad_request")  # the first call (item 000's happy picture) is refused for good
    chat.script({"prompt": "a child in a garden, [emotion]"})
    items, _ = _build(_config(images, chat, tmp_path), tmp_path)

    first = items[items["item_id"] == "000"].set_index("image_emotion")
    assert first.loc["happy", "status"].startswith("error: APIGenerationError")
    assert (first.drop(index="happy")["status"] == "error: no happy picture to edit").all()
    assert first["path"].isna().all()
    assert (items.loc[items["item_id"] == "001", "status"] == OK).all()
    assert len(images.calls()) == 1 + 4 and len(chat.requests) == 1


def test_a_template_without_the_slot_is_asked_again_then_recorded(servers, tmp_path):
    images, chat = servers
    chat.script({"prompt": "a happy person"}, {"prompt": "still no slot"})
    items, _ = _build(_config(images, chat, tmp_path, n_items=1), tmp_path)
    assert len(chat.requests) == 2  # max_retries 1
    assert items["status"].str.startswith("error: no template:").all()


def test_a_rerun_replays_every_picture_from_the_cache(servers, tmp_path):
    images, chat = servers
    chat.script({"prompt": "a [emotion] face"}, {"prompt": "a [emotion] face"})
    config = _config(images, chat, tmp_path, n_items=1)
    first, _ = _build(config, tmp_path)
    n_calls = len(images.calls())
    again, _ = _build(config, tmp_path / "again")
    assert len(images.calls()) == n_calls == 4
    assert list(again["sha256"]) == list(first["sha256"])


def test_missing_key_stops_before_any_call(servers, tmp_path, monkeypatch):
    images, chat = servers
    monkeypatch.delenv("OPENROUTER_API_KEY")
    with pytest.raises(MissingAPIKeyError, match="OPENROUTER_API_KEY"):
        _build(_config(images, chat, tmp_path), tmp_path)
    assert images.calls() == [] and chat.requests == []
