"""VLM captioning (E7 recaptions, E8 art captions) against a real loopback chat-completions server.

The real ``openai`` SDK, our request building, validation, retries and cache run as
they would against a remote endpoint; every expected value below is what the
scripted server sent, or a count written out by hand.
"""

from __future__ import annotations

import base64
import io
import json
import logging

import numpy as np
import pytest
from PIL import Image

from widespectrum.captioning import (
    ART_CAPTIONS,
    NOT_ANTI_AESTHETIC,
    RECAPTIONS,
    OpenAICompatibleArtCaptioner,
    OpenAICompatibleRecaptioner,
    caption_artworks,
    load_taxonomy,
    read_recaption_folder,
    recaption_images,
)
from widespectrum.llm import MissingAPIKeyError

from .conftest import REPO_ROOT
from .fixtures.chat_server import Delayed, loopback_chat_server

KEY_ENV = "WIDESPECTRUM_TEST_CAPTION_KEY"
SECRET = "sk-caption-sentinel-91d7e3"
MODEL = "qwen/qwen3-vl-30b-a3b-instruct"

GOOD = {
    "thinking": "Scan lines and tracking noise over a street; the content is a street with cars.",
    "anti_aesthetic_elements": ["clarity_and_focus.analog_degradation", "lighting_and_exposure.exposure_extremes"],
    "clean_caption": "a street with cars",
    "anti_aesthetic_caption": "A car on a street seen through VHS scan lines, its highlights blown out.",
}
NORMAL = {"thinking": "An ordinary portrait.", "anti_aesthetic_elements": [], "clean_caption": None,
          "anti_aesthetic_caption": None}


@pytest.fixture
def server(monkeypatch):
    with loopback_chat_server(monkeypatch) as state:
        yield state


@pytest.fixture
def api_key(monkeypatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET)
    return SECRET


def _image(seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (6, 5, 3), dtype=np.uint8))


def _recaptioner(server, **options) -> OpenAICompatibleRecaptioner:
    options = {"max_retries": 2, "timeout": 10.0, "backoff_s": 0.0, **options}
    return OpenAICompatibleRecaptioner(model=MODEL, base_url=server.base_url, api_key_env=KEY_ENV, **options)


def _art_captioner(server, **options) -> OpenAICompatibleArtCaptioner:
    options = {"max_retries": 2, "timeout": 10.0, "backoff_s": 0.0, **options}
    return OpenAICompatibleArtCaptioner(model=MODEL, base_url=server.base_url, api_key_env=KEY_ENV, **options)


def _image_urls(body: dict) -> list[str]:
    return [part["image_url"]["url"] for message in body["messages"] if isinstance(message["content"], list)
            for part in message["content"] if part["type"] == "image_url"]


# ------------------------------------------------------------------ taxonomy

def test_taxonomy_file_has_the_five_groups_and_the_elements_the_paper_names():
    taxonomy = load_taxonomy(REPO_ROOT / "config" / "ava_taxonomy.yaml")
    assert list(taxonomy.groups) == ["clarity_and_focus", "color_and_tone", "lighting_and_exposure",
                                     "composition_and_structure", "emotion_and_subject"]
    for key in ("clarity_and_focus.analog_degradation", "clarity_and_focus.intentional_blur",
                "lighting_and_exposure.exposure_extremes"):
        assert key in taxonomy.keys
    # classes_new.json of the authors' repository: 6 + 5 + 5 + 5 + 7 elements
    assert [len(e) for e in taxonomy.groups.values()] == [6, 5, 5, 5, 7]
    assert all("\n" not in text and text for e in taxonomy.groups.values() for text in e.values())
    # fig:diff's rows, as the paper names them
    assert [taxonomy.label(k) for k in ("clarity_and_focus.analog_degradation", "clarity_and_focus.intentional_blur",
                                        "lighting_and_exposure.exposure_extremes")] == \
        ["analog degradation", "intentional blur", "exposure extremes"]


# -------------------------------------------------------------- E7 recaption

def test_valid_recaption_row_holds_what_the_server_sent(server, api_key, tmp_path):
    photo = _image(1)
    jpeg = tmp_path / "ava_000123.jpg"
    _image(2).save(jpeg, format="JPEG")
    server.script(GOOD, {**GOOD, "anti_aesthetic_elements": ["color_and_tone.muted_faded"],
                         "clean_caption": "a flower", "anti_aesthetic_caption": "A grey, faded flower."})
    frame = recaption_images(_recaptioner(server), [("ava_000042.jpg", photo), ("ava_000123.jpg", jpeg)],
                             progress=False)

    assert list(frame.columns) == RECAPTIONS.names
    assert frame["file_name"].tolist() == ["ava_000042.jpg", "ava_000123.jpg"]
    assert frame["anti_aesthetic_elements"].tolist() == [GOOD["anti_aesthetic_elements"],
                                                         ["color_and_tone.muted_faded"]]
    assert frame["clean_caption"].tolist() == ["a street with cars", "a flower"]
    assert frame["anti_aesthetic_caption"].tolist() == [GOOD["anti_aesthetic_caption"], "A grey, faded flower."]
    assert frame["status"].tolist() == ["ok", "ok"]
    assert frame["captioner"].tolist() == [f"openai:{MODEL}"] * 2

    first, second = server.requests
    # the PIL image travels as a PNG data URL of the same pixels, the file as its own JPEG bytes
    (url,) = _image_urls(first)
    assert url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    np.testing.assert_array_equal(np.asarray(decoded), np.asarray(photo))
    assert _image_urls(second) == ["data:image/jpeg;base64," + base64.b64encode(jpeg.read_bytes()).decode()]

    assert first["model"] == MODEL and first["temperature"] == 0.0
    response_format = first["response_format"]
    assert response_format["type"] == "json_schema"
    schema = response_format["json_schema"]["schema"]
    assert schema["required"] == ["thinking", "anti_aesthetic_elements", "clean_caption", "anti_aesthetic_caption"]
    assert schema["properties"]["anti_aesthetic_elements"]["items"]["enum"] == list(load_taxonomy().keys)
    assert schema["properties"]["clean_caption"]["type"] == ["string", "null"]
    assert "clarity_and_focus.analog_degradation" in first["messages"][0]["content"]
    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"


def test_an_image_file_of_another_format_travels_as_png(server, api_key, tmp_path):
    bmp = tmp_path / "scan.bmp"
    _image(4).save(bmp)
    server.script(GOOD)
    recaption_images(_recaptioner(server), [("scan.bmp", bmp)], progress=False)
    (url,) = _image_urls(server.requests[0])
    assert url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    np.testing.assert_array_equal(np.asarray(decoded), np.asarray(_image(4)))


def test_unknown_key_and_nine_word_clean_caption_are_retried_then_a_status_row(server, api_key):
    unknown = {**GOOD, "anti_aesthetic_elements": ["clarity_and_focus.motion_smear"]}
    nine_words = {**GOOD, "clean_caption": "a red car parked on the side of street"}
    assert len(nine_words["clean_caption"].split()) == 9
    server.script(unknown, nine_words, unknown, GOOD)
    frame = recaption_images(_recaptioner(server, max_retries=2), [("a.jpg", _image(1)), ("b.jpg", _image(2))],
                             progress=False)

    assert len(server.requests) == 4  # three attempts for a.jpg, one for b.jpg
    failed, ok = frame.iloc[0], frame.iloc[1]
    assert failed["status"].startswith("error: LLMResponseError")
    assert "no valid answer in 3 attempt" in failed["status"]
    assert "motion_smear" in failed["status"] and "clean_caption has 9 words" in failed["status"]
    assert failed["anti_aesthetic_elements"] is None and failed["clean_caption"] is None
    assert ok["status"] == "ok" and ok["clean_caption"] == GOOD["clean_caption"]


def test_not_anti_aesthetic_answers_are_status_rows_to_count(server, api_key):
    inconsistent = {**NORMAL, "clean_caption": "a woman"}  # captions must be null without elements
    server.script(NORMAL, inconsistent, GOOD, NORMAL)
    images = [(f"{i}.jpg", _image(i)) for i in range(3)]
    frame = recaption_images(_recaptioner(server), images, progress=False)

    assert frame["status"].tolist() == [NOT_ANTI_AESTHETIC, "ok", NOT_ANTI_AESTHETIC]
    assert int((frame["status"] == NOT_ANTI_AESTHETIC).sum()) == 2
    assert frame["anti_aesthetic_elements"].tolist()[0] == []
    assert frame["clean_caption"].tolist() == [None, "a street with cars", None]
    assert len(server.requests) == 4  # the inconsistent answer was asked again


def test_rate_limit_then_success(server, api_key):
    server.script(429, GOOD)
    frame = recaption_images(_recaptioner(server), [("a.jpg", _image(1))], progress=False)
    assert frame["status"].tolist() == ["ok"]
    assert len(server.requests) == 2


def test_a_timed_out_request_is_retried(server, api_key):
    server.script(Delayed(1.5, GOOD), GOOD)
    frame = recaption_images(_recaptioner(server, timeout=0.5), [("a.jpg", _image(1))], progress=False)
    assert frame["status"].tolist() == ["ok"]
    assert len(server.requests) == 2


def test_a_rejected_key_stops_the_run_instead_of_writing_error_rows(server, api_key):
    import openai

    server.script(401, GOOD)
    with pytest.raises(openai.AuthenticationError):
        recaption_images(_recaptioner(server), [("a.jpg", _image(1)), ("b.jpg", _image(2))], progress=False)
    assert len(server.requests) == 1


def test_server_error_forever_is_bounded_then_status_rows(server, api_key):
    # the script is empty, so every request is answered 500
    frame = recaption_images(_recaptioner(server, max_retries=3), [("a.jpg", _image(1)), ("b.jpg", _image(2))],
                             progress=False)
    assert len(server.requests) == 8  # 1 + 3 retries per image
    assert all(s.startswith("error: LLMResponseError") and "4 attempt" in s for s in frame["status"])


def test_second_run_replays_the_cache_with_zero_requests(server, api_key, tmp_path):
    cache = tmp_path / "cache"
    images = [("a.jpg", _image(1)), ("b.jpg", _image(2))]
    server.script(GOOD, NORMAL)
    first = recaption_images(_recaptioner(server, cache_dir=cache), images, progress=False)
    assert len(server.requests) == 2

    again = recaption_images(_recaptioner(server, cache_dir=cache), images, progress=False)
    assert len(server.requests) == 2
    assert again.equals(first)

    # another image is another request
    server.script(GOOD)
    recaption_images(_recaptioner(server, cache_dir=cache), [("c.jpg", _image(3))], progress=False)
    assert len(server.requests) == 3
    for path in cache.rglob("*.json"):
        assert SECRET not in path.read_text() and "base64" not in path.read_text()


def test_missing_key_fails_before_any_work_naming_the_variable(server, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    server.script(GOOD)
    with pytest.raises(MissingAPIKeyError, match=KEY_ENV):
        recaption_images(_recaptioner(server), [("a.jpg", _image(1))], progress=False)
    with pytest.raises(MissingAPIKeyError, match=KEY_ENV):
        caption_artworks(_art_captioner(server), [("7", _image(1))], progress=False)
    assert server.requests == []


def test_without_structured_output_the_answer_is_still_validated(server, api_key):
    server.script({**GOOD, "anti_aesthetic_elements": ["not_a_group.blur"]}, GOOD)
    extra = {"chat_template_kwargs": {"enable_thinking": True}}
    frame = recaption_images(_recaptioner(server, structured_output=False, extra_body=extra),
                             [("a.jpg", _image(1))], progress=False)
    assert frame["status"].tolist() == ["ok"]
    assert len(server.requests) == 2
    assert "response_format" not in server.requests[0]
    assert server.requests[0]["chat_template_kwargs"] == {"enable_thinking": True}


def test_the_key_never_reaches_outputs_or_logs(server, api_key, tmp_path, caplog):
    server.script(GOOD, 500, 500, 500, "not json", {"caption": "An oil painting of a harbour with boats at dusk."})
    with caplog.at_level(logging.DEBUG):
        recaptions = recaption_images(_recaptioner(server, cache_dir=tmp_path), [("a.jpg", _image(1)),
                                                                                ("b.jpg", _image(2))],
                                      progress=False)
        captions = caption_artworks(_art_captioner(server, cache_dir=tmp_path), [("7", _image(3))], progress=False)
    assert recaptions["status"].str.startswith("error").tolist() == [False, True]
    assert captions["status"].tolist() == ["ok"]
    for text in (caplog.text, recaptions.to_json(), captions.to_json(),
                 *(p.read_text() for p in tmp_path.rglob("*.json"))):
        assert SECRET not in text


# ------------------------------------------------------------- folder reader

def test_folder_reader_reads_the_authors_files(tmp_path):
    folder = tmp_path / "captions"
    folder.mkdir()
    (folder / "ava_1.json").write_text(json.dumps(GOOD, indent=4))
    (folder / "ava_2.json").write_text(json.dumps(NORMAL))
    (folder / "ava_3.json").write_text(json.dumps({**GOOD, "anti_aesthetic_elements": ["clarity.blur"]}))
    (folder / "ava_4.json").write_text('{"anti_aesthetic_elements": [')
    five_words = {**GOOD, "clean_caption": "a car on the road"}
    (folder / "ava_5.json").write_text(json.dumps(five_words))

    names = ["ava_1.jpg", "ava_2.jpg", "ava_3.jpg", "ava_4.jpg", "ava_5.jpg", "ava_6.jpg"]
    frame = read_recaption_folder(folder, names)
    assert list(frame.columns) == RECAPTIONS.names
    assert frame["file_name"].tolist() == names
    status = frame["status"].tolist()
    assert status[:2] == ["ok", NOT_ANTI_AESTHETIC]
    assert status[2].startswith("error: ValueError") and "clarity.blur" in status[2]
    assert status[3].startswith("error: JSONDecodeError")
    assert status[4] == "ok"  # the authors' files count as written ...
    assert status[5] == "error: FileNotFoundError: no recaption file ava_6.json"
    assert frame["anti_aesthetic_elements"][0] == GOOD["anti_aesthetic_elements"]
    assert frame["anti_aesthetic_caption"][0] == GOOD["anti_aesthetic_caption"]
    assert frame["clean_caption"].tolist()[:2] == ["a street with cars", None]
    assert frame["captioner"].unique().tolist() == ["folder:captions"]

    # ... unless a limit is asked for
    strict = read_recaption_folder(folder, ["ava_5.jpg"], clean_max_words=4)
    assert "clean_caption has 5 words" in strict["status"][0]

    # without names: every file, named by its stem
    listed = read_recaption_folder(folder)
    assert listed["file_name"].tolist() == ["ava_1", "ava_2", "ava_3", "ava_4", "ava_5"]
    assert listed["status"].tolist()[:2] == ["ok", NOT_ANTI_AESTHETIC]


# -------------------------------------------------------------- E8 artworks

def test_art_caption_is_validated_and_the_row_holds_what_the_server_sent(server, api_key):
    caption = "An oil painting of a harbour at dusk, with fishing boats, orange sky and dark water."
    too_long = " ".join(["boat"] * 41)
    server.script({"caption": "   "}, {"caption": too_long}, {"caption": caption},
                  {"caption": "A harbour."}, {"caption": "Boats."}, {"caption": "Sea."})
    painting = _image(5)
    frame = caption_artworks(_art_captioner(server), [("101", painting), ("102", _image(6))], progress=False)

    assert list(frame.columns) == ART_CAPTIONS.names
    assert frame["item_id"].tolist() == ["101", "102"]
    assert frame["caption"].tolist() == [caption, None]
    assert frame["n_words"].tolist()[0] == 16
    assert frame["status"][0] == "ok"
    assert frame["status"][1].startswith("error: LLMResponseError") and "2 words; 8 to 40 allowed" in frame["status"][1]
    assert len(server.requests) == 6

    body = server.requests[0]
    assert body["model"] == MODEL
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["caption"] and list(schema["properties"]) == ["caption"]
    (url,) = _image_urls(body)
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    np.testing.assert_array_equal(np.asarray(decoded), np.asarray(painting))
    assert "between 8 and 40 words" in body["messages"][0]["content"]


def test_art_caption_word_bounds_are_options(server, api_key):
    server.script({"caption": "A harbour with boats."})
    frame = caption_artworks(_art_captioner(server, min_words=2, max_words=4, temperature=0.7),
                             [("1", _image(1))], progress=False)
    assert frame["caption"].tolist() == ["A harbour with boats."] and frame["n_words"].tolist() == [4]
    assert server.requests[0]["temperature"] == 0.7
    with pytest.raises(ValueError, match="min_words"):
        _art_captioner(server, min_words=10, max_words=5)
