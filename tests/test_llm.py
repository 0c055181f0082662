"""The OpenAI-compatible client, judge and rewriter against a real local HTTP server.

The server listens on 127.0.0.1 only, speaks the chat-completions protocol and
answers from a per-test script, so the real ``openai`` SDK, our request building,
validation, retries and cache all run as they would against a remote endpoint.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

import pandas as pd
import yaml

from widespectrum import contracts, registry
from widespectrum.errors import SetupError
from widespectrum.judging.base import PairRequest
from widespectrum.judging.llm import OpenAICompatiblePairwiseJudge
from widespectrum.judging.runner import judge_pairs
from widespectrum.llm import (
    ChatClient,
    LLMResponseError,
    MissingAPIKeyError,
    RefusedAPIKeyError,
    image_to_data_url,
)
from widespectrum.prompts.rewriters import REWRITE_FIELD, OpenAICompatibleRewriter
from widespectrum.runtime import Runtime

from .conftest import REPO_ROOT
from .fixtures.chat_server import ChatServer, RateLimited, loopback_chat_server

KEY_ENV = "WIDESPECTRUM_TEST_LLM_KEY"
SECRET = "sk-test-6f1d0c2a9b-secret"
MODEL = "qwen/qwen3-vl-235b-a22b-instruct"
# eval/rater_training/llm_select.py of github.com/weathon/icml2026_position
AUTHORS_SYSTEM_TEXT = "You are an image preference judge. Reply with a JSON object that matches the provided schema."


@pytest.fixture
def endpoint(monkeypatch) -> Iterator[ChatServer]:
    with loopback_chat_server(monkeypatch) as state:
        yield state


@pytest.fixture
def api_key(monkeypatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET)
    return SECRET


def _judge(endpoint: ChatServer, **options) -> OpenAICompatiblePairwiseJudge:
    options = {"max_retries": 2, "timeout": 10.0, "backoff_s": 0.0, **options}
    return OpenAICompatiblePairwiseJudge(
        name="qwen-judge", runtime=Runtime(device="cpu"), model=MODEL,
        base_url=endpoint.base_url, api_key_env=KEY_ENV, **options,
    )


def _pair(prompt_anti: str = "make everything blurry, grainy and warped. Subject: a cat") -> PairRequest:
    first = Image.fromarray(np.full((8, 8, 3), (200, 30, 30), dtype=np.uint8))
    second = Image.fromarray(np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3))
    return PairRequest(prompt_id="0001", prompt_anti=prompt_anti, dimensions=("clarity",),
                       first=first, second=second)


def _decoded_images(body: dict) -> list[np.ndarray]:
    urls = [part["image_url"]["url"] for message in body["messages"] if isinstance(message["content"], list)
            for part in message["content"] if part["type"] == "image_url"]
    images = []
    for url in urls:
        assert url.startswith("data:image/png;base64,")
        images.append(np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))))
    return images


def _all_text(body: dict) -> str:
    texts = []
    for message in body["messages"]:
        if isinstance(message["content"], str):
            texts.append(message["content"])
        else:
            texts += [part["text"] for part in message["content"] if part["type"] == "text"]
    return "\n".join(texts)


# --------------------------------------------------------------------- judge

def test_judge_sends_both_images_and_p_a_and_parses_the_selection(endpoint, api_key):
    endpoint.script({"selection": 1})
    request = _pair()
    assert _judge(endpoint).judge(request) == 1

    assert len(endpoint.requests) == 1
    body = endpoint.requests[0]
    assert body["model"] == MODEL
    assert body["temperature"] == 0.3  # the authors' setting is the default
    assert request.prompt_anti in _all_text(body)
    first, second = _decoded_images(body)
    np.testing.assert_array_equal(first, np.asarray(request.first))
    np.testing.assert_array_equal(second, np.asarray(request.second))
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    schema = response_format["json_schema"]["schema"]
    assert schema["required"] == ["selection"]
    assert sorted(schema["properties"]["selection"]["enum"]) == [-1, 0, 1]
    assert endpoint.headers[0]["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize("selection", [0, -1])
def test_judge_returns_first_and_tie(endpoint, api_key, selection):
    endpoint.script({"selection": selection})
    assert _judge(endpoint).judge(_pair()) == selection


def test_judge_retries_malformed_and_invalid_answers(endpoint, api_key, caplog):
    endpoint.script("this is not json", {"selection": 5}, "```json\n{\"selection\": 0}\n```")
    with caplog.at_level(logging.WARNING):
        assert _judge(endpoint).judge(_pair()) == 0
    assert len(endpoint.requests) == 3
    assert "not JSON" in caplog.text and "schema" in caplog.text


def test_judge_gives_up_after_bounded_attempts(endpoint, api_key):
    endpoint.script({"selection": 2}, {"choice": 1}, {"selection": "1"}, {"selection": 1})
    with pytest.raises(LLMResponseError, match="no valid answer in 3 attempt"):
        _judge(endpoint, max_retries=2).judge(_pair())
    assert len(endpoint.requests) == 3  # the fourth, valid reply was never asked for


def test_server_errors_are_retried_client_errors_are_not(endpoint, api_key):
    endpoint.script(500, 429, {"selection": 1})
    assert _judge(endpoint).judge(_pair()) == 1
    assert len(endpoint.requests) == 3

    endpoint.script(401, {"selection": 1})
    with pytest.raises(RefusedAPIKeyError):
        _judge(endpoint).judge(_pair("another prompt"))
    assert len(endpoint.requests) == 4


def test_a_rate_limit_waits_the_retry_after_the_server_asks_for(endpoint, api_key, monkeypatch):
    waits = []
    monkeypatch.setattr("widespectrum.llm.time.sleep", waits.append)
    endpoint.script(RateLimited("7"), 500, {"selection": 1})
    assert _judge(endpoint, backoff_s=0.5).judge(_pair()) == 1
    # the 429's Retry-After, then the client's own backoff for the 500 (0.5 s doubled on the second retry)
    assert waits == [7.0, 1.0]
    assert len(endpoint.requests) == 3


def test_cache_hit_makes_no_request_and_holds_no_secret(endpoint, api_key, tmp_path, monkeypatch, caplog):
    cache = tmp_path / "llm-cache"
    endpoint.script({"selection": 1}, {"selection": 0})
    with caplog.at_level(logging.DEBUG):
        assert _judge(endpoint, cache_dir=cache).judge(_pair()) == 1
    assert len(endpoint.requests) == 1

    # A fresh judge with the same settings replays the answer, whatever the key is: the key is no part of it.
    monkeypatch.setenv(KEY_ENV, "another-key-value")
    assert _judge(endpoint, cache_dir=cache).judge(_pair()) == 1
    assert len(endpoint.requests) == 1

    # Any change to the request (here p_a) is a different cache entry.
    monkeypatch.setenv(KEY_ENV, SECRET)
    assert _judge(endpoint, cache_dir=cache).judge(_pair("a different p_a")) == 0
    assert len(endpoint.requests) == 2

    files = sorted(cache.rglob("*.json"))
    assert len(files) == 2
    for path in files:
        text = path.read_text()
        assert SECRET not in text and KEY_ENV not in text
        record = json.loads(text)
        assert record["request"]["model"] == MODEL
        assert "base64" not in text  # images are stored as digests, not pixels
    assert SECRET not in caplog.text


def test_cache_key_covers_images_and_temperature(endpoint, api_key, tmp_path):
    cache = tmp_path / "cache"
    endpoint.script({"selection": 1}, {"selection": 0}, {"selection": -1})
    request = _pair()
    assert _judge(endpoint, cache_dir=cache).judge(request) == 1
    swapped = PairRequest(request.prompt_id, request.prompt_anti, request.dimensions,
                          first=request.second, second=request.first)
    assert _judge(endpoint, cache_dir=cache).judge(swapped) == 0
    assert _judge(endpoint, cache_dir=cache, temperature=0.5).judge(request) == -1
    assert len(endpoint.requests) == 3


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_stops_the_judging_job_naming_the_variable_not_the_key(endpoint, api_key, tmp_path, status):
    manifest, prompts = _two_pairs(tmp_path)
    endpoint.script(status, {"selection": 1}, {"selection": 0})
    with pytest.raises(RefusedAPIKeyError) as caught:
        judge_pairs(_judge(endpoint), manifest, prompts, tmp_path, seed=0)
    assert str(caught.value) == (f"{endpoint.base_url} refused the key in WIDESPECTRUM_TEST_LLM_KEY (HTTP {status}) "
                                 "for model qwen/qwen3-vl-235b-a22b-instruct")
    assert isinstance(caught.value, SetupError) and caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # the SDK's error, which may quote the key, is not shown
    assert len(endpoint.requests) == 1  # neither retried nor tried on the second pair


def test_a_fully_cached_rerun_needs_neither_the_key_nor_the_server(monkeypatch, tmp_path):
    cache = tmp_path / "llm-cache"
    monkeypatch.setenv(KEY_ENV, SECRET)
    with loopback_chat_server(monkeypatch) as server:
        server.script({"selection": 1}, {"selection": -1})
        assert _judge(server, cache_dir=cache).judge(_pair()) == 1
        assert _judge(server, cache_dir=cache).judge(_pair("a dark, grainy street")) == -1
    monkeypatch.delenv(KEY_ENV)
    # the server is gone and the key unset: the same requests are answered from the cache
    rerun = _judge(server, cache_dir=cache)
    assert rerun.judge(_pair()) == 1 and rerun.judge(_pair("a dark, grainy street")) == -1
    assert len(server.requests) == 2
    # a request the cache lacks still needs the key, and says which variable
    with pytest.raises(MissingAPIKeyError, match=f"environment variable {KEY_ENV} is not set"):
        rerun.judge(_pair("a request never asked"))


def test_missing_api_key_is_a_clear_error(endpoint, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    endpoint.script({"selection": 1})
    with pytest.raises(MissingAPIKeyError, match=KEY_ENV):
        _judge(endpoint).judge(_pair())
    assert endpoint.requests == []


def test_judge_builds_from_the_registry(endpoint, api_key):
    judges = {"judges": {"qwen3-vl": {"loader": "openai_pairwise", "options": {
        "model": MODEL, "base_url": endpoint.base_url, "api_key_env": KEY_ENV,
        "temperature": 0.0, "backoff_s": 0.0,
    }}}}
    judge = registry.build(judges, "judges", "qwen3-vl", Runtime(device="cpu"))
    assert isinstance(judge, OpenAICompatiblePairwiseJudge)
    assert judge.provenance() == {"model": MODEL, "base_url": endpoint.base_url, "temperature": 0.0,
                                  "wording": "authors", "system_text": AUTHORS_SYSTEM_TEXT}
    endpoint.script({"selection": -1})
    assert judge.judge(_pair()) == -1


def test_the_paper_judge_sends_the_authors_neutral_request_at_temperature_0_3(endpoint, api_key):
    """config/judges.yaml's paper judge, pointed at the loopback server: the authors' wording."""
    entries = yaml.safe_load((REPO_ROOT / "config" / "judges.yaml").read_text(encoding="utf-8"))
    options = {**entries["qwen3-vl-235b"]["options"], "base_url": endpoint.base_url, "api_key_env": KEY_ENV,
               "cache_dir": None, "backoff_s": 0.0}
    judge = registry.build({"judges": {"qwen3-vl-235b": {**entries["qwen3-vl-235b"], "options": options}}},
                           "judges", "qwen3-vl-235b", Runtime(device="cpu"))
    endpoint.script({"selection": 0})
    request = _pair("a dim, murky kitchen with clashing colors")
    assert judge.judge(request) == 0

    body = endpoint.requests[0]
    assert body["model"] == "qwen/qwen3-vl-235b-a22b-instruct"
    assert body["temperature"] == 0.3
    system, user = body["messages"]
    assert system == {"role": "system", "content": AUTHORS_SYSTEM_TEXT}
    # one text part (instruction, then the prompt), then the first and the second image
    assert [part["type"] for part in user["content"]] == ["text", "image_url", "image_url"]
    text = user["content"][0]["text"]
    assert text.startswith("You will see two images and a prompt. Decide which image better matches the prompt.")
    assert text.endswith("Prompt:\na dim, murky kitchen with clashing colors")
    assert "beauty" not in text and "beauty" not in system["content"]
    first, second = _decoded_images(body)
    np.testing.assert_array_equal(first, np.asarray(request.first))
    np.testing.assert_array_equal(second, np.asarray(request.second))
    assert judge.provenance()["wording"] == "authors"


def test_the_anti_aesthetic_wording_remains_an_option(endpoint, api_key):
    judge = _judge(endpoint, wording="anti_aesthetic")
    endpoint.script({"selection": 1})
    assert judge.judge(_pair()) == 1
    body = endpoint.requests[0]
    assert "Do not reward beauty for its own sake." in body["messages"][0]["content"]
    assert judge.provenance()["wording"] == "anti_aesthetic"
    with pytest.raises(ValueError, match="wording"):
        _judge(endpoint, wording="friendly")


def _two_pairs(run_dir) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A manifest and prompts of pairs 0001 and 0002, their images in run_dir."""
    rows = []
    for prompt_id in ("0001", "0002"):
        for i, kind in enumerate(("o", "a")):
            image = _pair().first if kind == "o" else _pair().second
            path = f"{prompt_id}-{kind}.png"
            image.save(run_dir / path)
            rows.append({"generator": "g", "prompt_id": prompt_id, "image_kind": kind, "prompt": "p", "path": path,
                         "sha256": contracts.sha256_file(run_dir / path), "seed": i, "settings": "{}",
                         "status": contracts.OK})
    prompts = pd.DataFrame({"prompt_id": ["0001", "0002"], "prompt_anti": ["blurry", "dark"],
                            "dimensions": [["clarity"], ["color_brightness"]]})
    return contracts.records_to_frame(rows, contracts.MANIFEST), prompts


def test_an_answer_outside_0_1_minus_1_becomes_a_status_row(endpoint, api_key, tmp_path):
    """The runner keeps going: a judge that only ever answers 2 leaves an error row, not a crash."""
    manifest, prompts = _two_pairs(tmp_path)
    manifest, prompts = manifest[manifest["prompt_id"] == "0001"], prompts.iloc[:1]
    endpoint.script(*[{"selection": 2}] * 3)
    labels = judge_pairs(_judge(endpoint, max_retries=2), manifest, prompts, tmp_path, seed=0)
    assert len(labels) == 1 and len(endpoint.requests) == 3
    row = labels.iloc[0]
    assert pd.isna(row["selected"])
    assert row["status"].startswith("error: LLMResponseError") and "schema" in row["status"]


# ------------------------------------------------------------------ rewriter

def _rewriter(endpoint: ChatServer, **options) -> OpenAICompatibleRewriter:
    options = {"max_retries": 2, "timeout": 10.0, "backoff_s": 0.0, **options}
    return OpenAICompatibleRewriter(model=MODEL, base_url=endpoint.base_url, api_key_env=KEY_ENV, **options)


def test_rewriter_validates_word_count_and_retries(endpoint, api_key):
    long_answer = " ".join(["blurry"] * 70)
    good = "A blurry, grainy and warped picture of a cat on a sofa, in an eerie mood."
    endpoint.script({REWRITE_FIELD: long_answer}, {REWRITE_FIELD: "   "}, {REWRITE_FIELD: good},
                    {"negative_prompt": "sharp clean bright cheerful polished look"},
                    {"negative_prompt": "sharp, cheerful"})
    result = _rewriter(endpoint).rewrite(
        "A cat on a sofa.",
        descriptions=["The image is out of focus and smeared.", "The mood is eerie."],
        effects=["make everything blurry", "give it an eerie mood"],
    )
    assert result.prompt_anti == good
    assert result.negative_prompt == "sharp, cheerful"
    assert len(endpoint.requests) == 5

    rewrite_body = endpoint.requests[0]
    assert rewrite_body["temperature"] == 0.1
    schema = rewrite_body["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == [REWRITE_FIELD] and schema["required"] == [REWRITE_FIELD]
    text = _all_text(rewrite_body)
    assert "A cat on a sofa." in text and "The mood is eerie." in text and "70 words" in text
    negative_schema = endpoint.requests[3]["response_format"]["json_schema"]["schema"]
    assert negative_schema["required"] == ["negative_prompt"]


def test_rewriter_without_negative_prompt_and_exhausted_retries(endpoint, api_key):
    endpoint.script({REWRITE_FIELD: "A murky picture of a dog."})
    result = _rewriter(endpoint, negative_prompt=False).rewrite("A dog.", ["Dim and murky."], ["make it dim"])
    assert result.negative_prompt is None
    assert len(endpoint.requests) == 1

    endpoint.script(*[{REWRITE_FIELD: " ".join(["word"] * 80)}] * 3)
    with pytest.raises(LLMResponseError, match="80 words"):
        _rewriter(endpoint, negative_prompt=False).rewrite("A dog.", ["Dim."], ["make it dim"])
    assert len(endpoint.requests) == 4


# ------------------------------------------------------------------- helpers

def test_image_to_data_url_round_trips():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8))
    url = image_to_data_url(image)
    decoded = Image.open(io.BytesIO(base64.b64decode(url.removeprefix("data:image/png;base64,"))))
    np.testing.assert_array_equal(np.asarray(decoded), np.asarray(image))
    float_image = Image.fromarray(np.zeros((3, 3), dtype=np.float32))  # mode F: not storable as PNG
    assert image_to_data_url(float_image).startswith("data:image/png;base64,")


def test_chat_client_rejects_negative_retries():
    with pytest.raises(ValueError, match="max_retries"):
        ChatClient(model=MODEL, base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV, max_retries=-1)
