"""API generators (docs/experiments.md#e2) against loopback servers that speak each provider's protocol.

The generators are the shipped registry entries (config/generators.yaml) built through
registry.build, with only the endpoint, the cache folder and the retry timing moved to
the test; images go through generation.runner.run_generation into a real manifest.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from widespectrum import contracts, provenance, registry
from widespectrum.config import generation_settings, load_yaml
from widespectrum.errors import SetupError
from widespectrum.generation.api import UnusableAnswerError, decode_data_url, decode_image
from widespectrum.generation.runner import build_requests, run_generation
from widespectrum.llm import parse_retry_after
from widespectrum.runtime import Runtime

from .fixtures.provider_servers import NOT_AN_IMAGE, SOLID_PNG, ProviderServer, drawn_image, png_bytes

GENERATORS_FILE = Path(__file__).resolve().parents[1] / "config" / "generators.yaml"
SENTINEL_KEY = "sk-sentinel-0f9e8d7c6b5a"
# The authors' instruction around the prompt for Nano Banana (eval/benchmarks/benchmark.py).
AUTHORS_NANO_BANANA_TEXT = "Generate an image with following prompt, return the image directly: {}"

# entry name -> (protocol the server speaks, key variable the entry must name)
ENTRIES = {
    "nano-banana": ("openrouter", "OPENROUTER_API_KEY"),
    "gpt-image-1.5": ("openai", "OPENAI_API_KEY"),
    "seedream-4": ("replicate", "REPLICATE_API_TOKEN"),
    "qwen-image-replicate": ("replicate", "REPLICATE_API_TOKEN"),
}
MAX_RETRIES = 2


def _prompts(n: int = 2):
    rows = [{"prompt_id": f"{i:04d}", "caption_id": str(i), "prompt_original": f"a red bicycle by a wall {i}",
             "prompt_anti": f"a red bicycle, blurry and overexposed, crooked framing {i}",
             "dimensions": ["clarity", "exposure"], "negative_prompt": "sharp", "reference_image": None,
             "rewriter": "test"} for i in range(n)]
    return contracts.records_to_frame(rows, contracts.PROMPTS)


def _registry(name: str, server: ProviderServer, cache_dir: Path | None, **options) -> dict:
    entries = load_yaml(GENERATORS_FILE)
    spec = entries[name]
    spec["options"] = {**spec["options"], "base_url": server.base_url, "backoff_s": 0.001,
                       "max_retries": MAX_RETRIES, "timeout_s": 10,
                       "cache_dir": str(cache_dir) if cache_dir else None, **options}
    if server.protocol == "replicate":
        spec["options"].setdefault("poll_s", 0.001)
    return {"generators": {name: spec}}


def _run(name: str, reg: dict, run_dir: Path, n: int = 2):
    model = registry.build(reg, "generators", name, Runtime())
    spec = reg["generators"][name]
    requests = build_requests(_prompts(n), generation_settings(reg, name, "o"), generation_settings(reg, name, "a"),
                              base_seed=7, takes_seed=model.takes_seed, negative_prompts=spec.get("negative_prompts"))
    return model, run_generation(model, requests, run_dir, "images")


@pytest.fixture
def api_keys(monkeypatch):
    for _, variable in ENTRIES.values():
        monkeypatch.setenv(variable, SENTINEL_KEY)


@pytest.fixture(params=sorted(ENTRIES))
def entry_name(request):
    return request.param


def _server(name: str, **kwargs) -> ProviderServer:
    return ProviderServer(ENTRIES[name][0], **kwargs)


def _expected_text(name: str, prompt: str) -> str:
    return AUTHORS_NANO_BANANA_TEXT.format(prompt) if name == "nano-banana" else prompt


# ------------------------------------------------------------------ success


def test_success_writes_the_served_images_and_sends_the_authors_settings(entry_name, api_keys, tmp_path):
    with _server(entry_name) as server:
        model, manifest = _run(entry_name, _registry(entry_name, server, None), tmp_path)
    assert list(manifest["status"]) == ["ok"] * 4
    assert manifest["seed"].isna().all() and model.takes_seed is False
    for row in manifest.itertuples():
        written = np.asarray(Image.open(tmp_path / row.path).convert("RGB"))
        served = np.asarray(drawn_image(_expected_text(entry_name, row.prompt)))
        np.testing.assert_array_equal(written, served)

    calls = server.calls()
    assert len(calls) == 4
    assert all(c.headers["authorization"] == f"Bearer {SENTINEL_KEY}" for c in calls)
    by_prompt = {_prompt_of(server.protocol, c.body): c for c in calls}
    anti = by_prompt[_expected_text(entry_name, "a red bicycle, blurry and overexposed, crooked framing 0")]
    original = by_prompt[_expected_text(entry_name, "a red bicycle by a wall 0")]
    if entry_name == "nano-banana":
        assert anti.path == "/api/v1/chat/completions"
        assert anti.body["model"] == "google/gemini-2.5-flash-image-preview"
        assert anti.body["modalities"] == ["image", "text"]
        assert "instruction" not in anti.body
    elif entry_name == "gpt-image-1.5":
        assert anti.path == "/v1/images/generations"
        assert {k: anti.body[k] for k in ("model", "quality", "size")} == {
            "model": "gpt-image-1.5", "quality": "high", "size": "1024x1024"}
    elif entry_name == "seedream-4":
        assert anti.path == "/v1/models/bytedance/seedream-4/predictions"
        assert anti.headers["prefer"] == "wait=60"
        assert anti.body["input"] == {"prompt": anti.body["input"]["prompt"], "size": "1K", "width": 1024,
                                      "height": 1024, "max_images": 1, "image_input": [], "aspect_ratio": "1:1",
                                      "sequential_image_generation": "disabled"}
    else:
        assert anti.path == "/v1/models/qwen/qwen-image/predictions"
        assert {k: anti.body["input"][k] for k in ("go_fast", "guidance", "image_size", "num_inference_steps",
                                                   "enhance_prompt")} == {
            "go_fast": True, "guidance": 4, "image_size": "optimize_for_quality", "num_inference_steps": 50,
            "enhance_prompt": False}
        # The authors' negative prompt: "" with p_a, none with p_o.
        assert anti.body["input"]["negative_prompt"] == "" and "negative_prompt" not in original.body["input"]


def _prompt_of(protocol: str, body: dict) -> str:
    if protocol == "openrouter":
        return body["messages"][0]["content"][0]["text"]
    return body["prompt"] if protocol == "openai" else body["input"]["prompt"]


def test_replicate_polls_urls_get_and_downloads_the_output(api_keys, tmp_path):
    with ProviderServer("replicate", poll_rounds=3) as server:
        _, manifest = _run("seedream-4", _registry("seedream-4", server, None), tmp_path, n=1)
    assert list(manifest["status"]) == ["ok", "ok"]
    gets = [r.path for r in server.requests if r.method == "GET"]
    # per image: the POST answers "starting", three polls reach "succeeded", then one download
    polls = [p for p in gets if p.startswith("/v1/predictions/")]
    downloads = [p for p in gets if p.startswith("/files/")]
    assert len(polls) == 2 * 3 and len(downloads) == 2


def test_replicate_sends_the_token_to_the_api_host_only(api_keys, tmp_path):
    # Output files carry another host name (Replicate serves them from its delivery host).
    with ProviderServer("replicate", poll_rounds=1, delivery_host="localhost") as server:
        _, manifest = _run("seedream-4", _registry("seedream-4", server, None), tmp_path, n=1)
    assert list(manifest["status"]) == ["ok", "ok"]
    api = [r for r in server.requests if not r.path.startswith("/files/")]
    downloads = [r for r in server.requests if r.path.startswith("/files/")]
    assert len(api) == 4 and all(r.headers["authorization"] == f"Bearer {SENTINEL_KEY}" for r in api)
    assert len(downloads) == 2 and all("authorization" not in r.headers for r in downloads)


# ------------------------------------------------------------------ retries and failures


def test_rate_limit_then_success_waits_as_retry_after_says(entry_name, api_keys, tmp_path):
    with _server(entry_name, retry_after="0.3") as server:
        server.script("rate_limited")
        started = time.perf_counter()
        _, manifest = _run(entry_name, _registry(entry_name, server, None), tmp_path, n=1)
        elapsed = time.perf_counter() - started
    assert list(manifest["status"]) == ["ok", "ok"]
    assert len(server.calls()) == 3  # one refused, then one per image
    assert elapsed >= 0.3  # backoff_s is 0.001: only Retry-After explains the wait


@pytest.mark.parametrize("fault, message", [
    ("malformed", "no usable image"),
    ("not_image", "not a decodable image"),
    ("solid", "solid single colour (0, 0, 255)"),
    ("server_error", "HTTP 500"),
])
def test_a_bad_answer_every_time_becomes_failure_rows_after_bounded_attempts(entry_name, fault, message, api_keys,
                                                                             tmp_path):
    with _server(entry_name, default=fault) as server:
        _, manifest = _run(entry_name, _registry(entry_name, server, tmp_path / "cache"), tmp_path, n=1)
    assert len(server.calls()) == 2 * (MAX_RETRIES + 1)
    assert manifest["path"].isna().all() and manifest["sha256"].isna().all()
    assert all(s.startswith("error: APIGenerationError") and message in s for s in manifest["status"])
    assert f"in {MAX_RETRIES + 1} attempt(s)" in manifest["status"].iloc[0]
    assert not (tmp_path / "images").exists()  # never a placeholder image
    assert not list((tmp_path / "cache").rglob("*.image"))  # nor a cached failure


def test_replicate_failed_prediction_is_a_failure_row(api_keys, tmp_path):
    with ProviderServer("replicate", default="failed") as server:
        _, manifest = _run("qwen-image-replicate", _registry("qwen-image-replicate", server, None), tmp_path, n=1)
    assert all("failed: 'E005: flagged as sensitive'" in s for s in manifest["status"])


def test_a_client_error_is_not_retried(entry_name, api_keys, tmp_path):
    with _server(entry_name, default="bad_request") as server:
        _, manifest = _run(entry_name, _registry(entry_name, server, None), tmp_path, n=1)
    assert len(server.calls()) == 2  # one attempt per image
    assert all("HTTP 400" in s for s in manifest["status"])


@pytest.mark.parametrize("fault", ["unauthorized", "payment_required"])
def test_a_refused_key_or_account_stops_the_job(entry_name, fault, api_keys, tmp_path):
    with _server(entry_name, default=fault) as server:
        with pytest.raises(SetupError, match=ENTRIES[entry_name][1]) as raised:
            _run(entry_name, _registry(entry_name, server, None), tmp_path, n=2)
    assert len(server.calls()) == 1
    assert SENTINEL_KEY not in str(raised.value)


@pytest.mark.parametrize("name, options, per_attempt_s", [
    ("gpt-image-1.5", {}, 0.2),
    ("seedream-4", {"wait_s": 1}, 1.2),  # the read timeout starts after Prefer: wait
])
def test_a_timeout_is_retried(name, options, per_attempt_s, api_keys, tmp_path):
    # A server that accepts connections and never answers: every attempt times out.
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        base_url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        entries = load_yaml(GENERATORS_FILE)
        spec = entries[name]
        spec["options"] = {**spec["options"], "base_url": base_url, "backoff_s": 0.001, "max_retries": 1,
                           "timeout_s": 0.2, "cache_dir": None, **options}
        reg = {"generators": {name: spec}}
        model = registry.build(reg, "generators", name, Runtime())
        requests = build_requests(_prompts(1), {}, {}, base_seed=0, takes_seed=False, image_kinds=("o",))
        started = time.perf_counter()
        manifest = run_generation(model, requests, tmp_path, "images")
        elapsed = time.perf_counter() - started
    finally:
        silent.close()
    status = manifest["status"].iloc[0]
    assert "in 2 attempt(s)" in status and "timed out" in status
    assert 2 * per_attempt_s <= elapsed < 2 * per_attempt_s + 5


# ------------------------------------------------------------------ cache, keys, provenance


def test_rerun_is_served_from_the_cache_with_no_request(entry_name, api_keys, tmp_path):
    cache = tmp_path / "cache"
    with _server(entry_name) as server:
        _, first = _run(entry_name, _registry(entry_name, server, cache), tmp_path / "run1")
        n_first = len(server.requests)
        _, second = _run(entry_name, _registry(entry_name, server, cache), tmp_path / "run2")
        assert len(server.requests) == n_first
    assert list(second["status"]) == ["ok"] * 4
    assert list(second["sha256"]) == list(first["sha256"])
    records = [json.loads(p.read_text()) for p in cache.rglob("*.json")]
    assert len(records) == 4 and {r["endpoint"] for r in records} == {server.root + ENDPOINT_PATHS[entry_name]}


ENDPOINT_PATHS = {
    "nano-banana": "/api/v1/chat/completions",
    "gpt-image-1.5": "/v1/images/generations",
    "seedream-4": "/v1/models/bytedance/seedream-4/predictions",
    "qwen-image-replicate": "/v1/models/qwen/qwen-image/predictions",
}


def test_cache_key_covers_the_settings(api_keys, tmp_path):
    cache = tmp_path / "cache"
    with ProviderServer("openai") as server:
        _run("gpt-image-1.5", _registry("gpt-image-1.5", server, cache), tmp_path / "run1", n=1)
        reg = _registry("gpt-image-1.5", server, cache)
        reg["generators"]["gpt-image-1.5"]["settings"]["quality"] = "medium"
        _run("gpt-image-1.5", reg, tmp_path / "run2", n=1)
    assert len(server.calls()) == 4
    assert [c.body["quality"] for c in server.calls()] == ["high", "high", "medium", "medium"]


def test_missing_key_stops_before_any_request_and_names_the_variable(entry_name, monkeypatch, tmp_path):
    variable = ENTRIES[entry_name][1]
    monkeypatch.delenv(variable, raising=False)
    with _server(entry_name) as server:
        with pytest.raises(SetupError, match=f"environment variable {variable} is not set"):
            _run(entry_name, _registry(entry_name, server, None), tmp_path)
    assert server.requests == []


def test_the_key_never_reaches_manifest_provenance_cache_or_log(entry_name, api_keys, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    cache = tmp_path / "cache"
    with _server(entry_name) as server:
        server.script("rate_limited", "server_error", "malformed")
        model, manifest = _run(entry_name, _registry(entry_name, server, cache), tmp_path, n=2)
    # the first image exhausts its attempts on the three faults; the other three go through
    assert list(manifest["status"] == "ok") == [False, True, True, True]
    record = provenance.record({"run": "t"}, {"kind": "generator", "name": entry_name, **model.provenance()})
    assert record["component"]["seed"] == "none (the service takes no seed)"
    assert record["component"]["settings"] == {
        kind: {**generation_settings(_registry(entry_name, server, None), entry_name, kind),
               **({"negative_prompt": ""} if entry_name == "qwen-image-replicate" and kind == "a" else {})}
        for kind in ("o", "a")}
    assert record["component"]["api_key_env"] == ENTRIES[entry_name][1]
    texts = [manifest.to_json(), json.dumps(record), caplog.text, repr(model)]
    texts += [p.read_text() for p in cache.rglob("*.json")]
    assert caplog.text  # the retries were logged
    assert all(SENTINEL_KEY not in text for text in texts)


# ------------------------------------------------------------------ answer checks


def test_decode_image_accepts_pictures_and_rejects_blanks():
    picture = drawn_image("x")
    np.testing.assert_array_equal(np.asarray(decode_image(png_bytes(picture))), np.asarray(picture))
    # near-solid within the tolerance (a blank re-encoded with noise of 2 levels) is still blank
    near = np.full((8, 8, 3), 100, np.uint8)
    near[0, 0] = (102, 101, 100)
    with pytest.raises(UnusableAnswerError, match="solid single colour"):
        decode_image(png_bytes(Image.fromarray(near)))
    near[0, 0] = (103, 100, 100)
    assert decode_image(png_bytes(Image.fromarray(near))).size == (8, 8)
    for data in (SOLID_PNG, NOT_AN_IMAGE, b""):
        with pytest.raises(UnusableAnswerError):
            decode_image(data)


def test_decode_data_url_and_retry_after():
    data = png_bytes(drawn_image("y"))
    assert decode_data_url("data:image/png;base64," + base64.b64encode(data).decode()) == data
    for bad in ("https://example.org/a.png", None, "data:image/png,raw"):
        with pytest.raises(UnusableAnswerError):
            decode_data_url(bad)
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert parse_retry_after({}) is None
