"""Image generators behind remote APIs (docs/experiments.md#e2): Nano Banana, gpt-image-1.5, seedream-4, qwen-image.

Settings follow the authors' ``eval/benchmarks/benchmark.py`` and
``benchmark_post_paper.py`` (weathon/icml2026_position); the registry entries in
``config/generators.yaml`` carry them, so the manifest records what was sent.

Where the authors' code returned a solid blue image for a failed call, these
generators raise: the runner then writes a manifest row with the error, and an
answer that is not a decodable image, or is one solid colour (a filtered or
blank answer), counts as a failure too. Transient failures (HTTP 429 and 5xx,
timeouts, dropped connections) and unusable answers are retried a bounded number
of times with exponential backoff, honouring Retry-After; other client errors
are not retried, and a refused key stops the job (``SetupError``), since it
would fail every image alike.

Every accepted answer is cached on disk under the sha256 of the full request
(endpoint, model, prompt, settings; never the key), so a rerun replays it
without a network call. None of these services takes a seed.

The key is read once, at construction, from the environment variable the entry
names; it is sent only to the provider's own host and never logged, cached or
recorded.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import abstractmethod
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..contracts import write_bytes, write_json
from ..errors import SetupError
from ..llm import MissingAPIKeyError, parse_retry_after, request_key
from .base import NO_SEED, GenerationRequest, Generator

log = logging.getLogger(__name__)


class APIGenerationError(RuntimeError):
    """The service gave no usable image for one request."""


class RetryableAPIError(APIGenerationError):
    """A failure worth another attempt; ``retry_after`` is the wait the server asked for."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnusableAnswerError(RetryableAPIError):
    """The service answered, but not with a usable image (no image, undecodable, one colour)."""


class APIKeyRefusedError(APIGenerationError, SetupError):
    """The provider refused the key (HTTP 401/403) or the account (402): every request would fail alike."""


def decode_image(data: bytes, solid_tolerance: int = 2):
    """The answer's bytes as an RGB PIL image; reject undecodable and single-colour answers.

    ``solid_tolerance`` is the largest per-channel spread (0-255) that still counts as one
    colour, so that a blank answer re-encoded as JPEG is caught too.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise UnusableAnswerError(f"answer is not a decodable image ({len(data)} bytes: {err})") from None
    pixels = np.asarray(image)
    spread = pixels.max(axis=(0, 1)).astype(int) - pixels.min(axis=(0, 1)).astype(int)
    if int(spread.max()) <= solid_tolerance:
        colour = tuple(int(c) for c in pixels[0, 0])
        raise UnusableAnswerError(f"answer is a solid single colour {colour} ({image.width}x{image.height})")
    return image


def decode_data_url(url: Any) -> bytes:
    """The bytes of a base64 ``data:image/...`` URL."""
    if not isinstance(url, str) or not url.startswith("data:image/") or "," not in url:
        raise UnusableAnswerError(f"image is not a base64 data URL: {str(url)[:80]!r}")
    header, _, payload = url.partition(",")
    if not header.endswith(";base64"):
        raise UnusableAnswerError(f"image data URL is not base64: {header!r}")
    try:
        return base64.b64decode(payload)
    except ValueError as err:
        raise UnusableAnswerError(f"image data URL does not decode: {err}") from None


class APIImageGenerator(Generator):
    """One image per request from a remote service, retried, validated and cached."""

    takes_seed = False
    provider = "api"

    def __init__(
        self,
        name: str,
        runtime,
        model: str,
        base_url: str,
        api_key_env: str,
        cache_dir: str | os.PathLike | None = None,
        max_retries: int = 4,
        backoff_s: float = 2.0,
        max_backoff_s: float = 120.0,
        timeout_s: float = 300.0,
        solid_tolerance: int = 2,
    ) -> None:
        super().__init__(name, runtime)
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.timeout_s = float(timeout_s)
        self.solid_tolerance = int(solid_tolerance)
        key = os.environ.get(api_key_env, "")
        if not key:
            raise MissingAPIKeyError(
                f"environment variable {api_key_env} is not set; it must hold the {self.provider} API key "
                f"for generator {name!r} (model {model} at {self.base_url})")
        self._api_key = key
        self._settings_used: dict[str, dict] = {}  # image kind -> settings sent, for the provenance

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    # ------------------------------------------------------- per provider

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """The URL the request is sent to (part of the cache key and of the provenance)."""

    @abstractmethod
    def request_body(self, request: GenerationRequest) -> dict:
        """The JSON body of the request, without the key."""

    @abstractmethod
    def _fetch(self, body: dict) -> bytes:
        """One attempt: the image bytes of the answer, or a ``RetryableAPIError``."""

    # ------------------------------------------------------------- shared

    def generate(self, request: GenerationRequest):
        body = self.request_body(request)
        self._settings_used[request.image_kind] = {
            **request.settings, **({"negative_prompt": request.negative_prompt}
                                   if request.negative_prompt is not None else {})}
        key = request_key({"endpoint": self.endpoint, "body": body})
        cached = self._read_cache(key)
        if cached is not None:
            return decode_image(cached, self.solid_tolerance)
        data, image = self._with_retries(body, f"{request.prompt_id}/{request.image_kind}")
        self._write_cache(key, body, data)
        return image

    def provenance(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "endpoint": self.endpoint,
            "api_key_env": self.api_key_env,
            "seed": NO_SEED,
            "settings": dict(self._settings_used),
            "max_retries": self.max_retries,
            "backoff_s": self.backoff_s,
            "timeout_s": self.timeout_s,
            "solid_tolerance": self.solid_tolerance,
            "cache_dir": str(self.cache_dir) if self.cache_dir is not None else None,
        }

    def _with_retries(self, body: dict, label: str):
        failures: list[str] = []
        for attempt in range(self.max_retries + 1):
            try:
                data = self._fetch(body)
                return data, decode_image(data, self.solid_tolerance)
            except RetryableAPIError as err:
                message = self._redact(str(err))
                failures.append(f"attempt {attempt + 1}: {message}")
                log.warning("%s %s: %s", self.name, label, failures[-1])
                if attempt == self.max_retries:
                    break
                wait = err.retry_after if err.retry_after is not None else self.backoff_s * 2 ** attempt
                # The cap keeps a server's hour-long Retry-After from stalling a job silently.
                time.sleep(min(wait, self.max_backoff_s))
        raise APIGenerationError(
            f"{self.model} at {self.endpoint} gave no usable image in {self.max_retries + 1} attempt(s): "
            + "; ".join(failures))

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _status_error(self, status: int, headers: Any, detail: str) -> APIGenerationError:
        """The exception for an HTTP error status: retryable, a refused key, or final."""
        detail = self._redact(detail)[:300]
        if status == 429 or status >= 500:
            return RetryableAPIError(f"HTTP {status}: {detail}", parse_retry_after(headers))
        if status in (401, 403):
            # The provider's message may quote part of the key: say only which variable.
            return APIKeyRefusedError(
                f"{self.provider} refused the key in {self.api_key_env} (HTTP {status}) for {self.endpoint}")
        if status == 402:
            return APIKeyRefusedError(
                f"{self.provider} wants payment for the account of the key in {self.api_key_env} (HTTP 402): {detail}")
        return APIGenerationError(f"HTTP {status}: {detail}")

    # -------------------------------------------------------------- cache

    def _cache_paths(self, key: str) -> tuple[Path, Path] | None:
        if self.cache_dir is None:
            return None
        folder = self.cache_dir / key[:2]
        return folder / f"{key}.json", folder / f"{key}.image"

    def _read_cache(self, key: str) -> bytes | None:
        paths = self._cache_paths(key)
        if paths is None or not paths[0].exists() or not paths[1].exists():
            return None
        record = json.loads(paths[0].read_text(encoding="utf-8"))
        data = paths[1].read_bytes()
        if hashlib.sha256(data).hexdigest() != record.get("image_sha256"):
            log.warning("cached image %s does not match its record; asking again", key[:12])
            return None
        log.debug("cache hit %s", key[:12])
        return data

    def _write_cache(self, key: str, body: dict, data: bytes) -> None:
        paths = self._cache_paths(key)
        if paths is None:
            return
        # The image first: a record without its image is ignored, never the reverse.
        write_bytes(paths[1], data)
        write_json(paths[0], {
            "key": key,
            "provider": self.provider,
            "endpoint": self.endpoint,
            "request": body,
            "image_sha256": hashlib.sha256(data).hexdigest(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })


# ---------------------------------------------------------------------------
# OpenAI SDK providers (OpenRouter chat, OpenAI images)


class _OpenAIClientGenerator(APIImageGenerator):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        import openai

        # Retries are ours (bounded, logged, Retry-After honoured), so the SDK makes one attempt.
        self._client = openai.OpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0,
                                     timeout=self.timeout_s)

    def _call(self, create, **kwargs):
        import openai

        try:
            return create(**kwargs)
        except (openai.APITimeoutError, openai.APIConnectionError) as err:
            raise RetryableAPIError(f"{type(err).__name__}: {self._redact(str(err))}") from None
        except openai.APIStatusError as err:
            raise self._status_error(err.status_code, err.response.headers, err.message) from None

    @staticmethod
    def _rejects_negative_prompt(request: GenerationRequest) -> None:
        if request.negative_prompt is not None:
            # A registry mistake that would fail every p_a alike.
            raise SetupError("this service takes no negative prompt; remove negative_prompts/prompt_negative "
                             "from the generator's registry entry")


class OpenRouterImageGenerator(_OpenAIClientGenerator):
    """An image model behind OpenRouter's chat-completions API (Nano Banana).

    The answer carries the image in ``choices[0].message.images[0].image_url.url`` as a
    base64 data URL. ``settings['instruction']`` wraps the prompt (the authors asked
    "Generate an image with following prompt, return the image directly: {prompt}");
    every other setting (``modalities``) goes into the request body as given.
    """

    provider = "openrouter"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    def request_body(self, request: GenerationRequest) -> dict:
        self._rejects_negative_prompt(request)
        settings = dict(request.settings)
        instruction = settings.pop("instruction", "{prompt}")
        text = instruction.format(prompt=request.prompt)
        return {"model": self.model,
                "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
                **settings}

    def _fetch(self, body: dict) -> bytes:
        extra = {k: v for k, v in body.items() if k not in ("model", "messages")}
        completion = self._call(self._client.chat.completions.create, model=body["model"],
                                messages=body["messages"], extra_body=extra)
        choices = getattr(completion, "choices", None)
        if not choices:
            raise UnusableAnswerError(f"answer has no choices: {_extra(completion, 'error')!r}"[:300])
        message = choices[0].message
        images = _extra(message, "images")
        if not images:
            raise UnusableAnswerError(f"answer has no image; text: {(message.content or '')[:200]!r}")
        first = images[0] if isinstance(images[0], dict) else {}
        return decode_data_url((first.get("image_url") or {}).get("url"))


class OpenAIImagesGenerator(_OpenAIClientGenerator):
    """An OpenAI images-API model (gpt-image-1.5): ``POST /images/generations``, base64 answer.

    Settings (quality, size) go into the request body as given; GPT image models
    always answer with ``data[0].b64_json``.
    """

    provider = "openai"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/images/generations"

    def request_body(self, request: GenerationRequest) -> dict:
        self._rejects_negative_prompt(request)
        return {"model": self.model, "prompt": request.prompt, **request.settings}

    def _fetch(self, body: dict) -> bytes:
        extra = {k: v for k, v in body.items() if k not in ("model", "prompt")}
        result = self._call(self._client.images.generate, model=body["model"], prompt=body["prompt"],
                            extra_body=extra)
        data = getattr(result, "data", None)
        if not data or not getattr(data[0], "b64_json", None):
            raise UnusableAnswerError("answer has no data[0].b64_json")
        try:
            return base64.b64decode(data[0].b64_json)
        except ValueError as err:
            raise UnusableAnswerError(f"b64_json does not decode: {err}") from None


def _extra(model: Any, field: str) -> Any:
    """A field the SDK's typed model does not declare (OpenRouter's ``images``, ``error``)."""
    value = getattr(model, field, None)
    if value is None:
        value = (getattr(model, "model_extra", None) or {}).get(field)
    return value


# ---------------------------------------------------------------------------
# Replicate (plain HTTP)

_REPLICATE_DONE = ("succeeded", "failed", "canceled", "aborted")


class ReplicateGenerator(APIImageGenerator):
    """A model on Replicate's HTTP API (seedream-4, qwen-image).

    ``POST {base_url}/models/{owner}/{name}/predictions`` with ``{"input": ...}`` and
    ``Prefer: wait``; a prediction that is not finished when the wait ends is polled at
    ``urls.get`` until it succeeds or fails (within ``timeout_s``), then its first output
    URL is downloaded. The input is the prompt, the entry's settings, and the request's
    negative prompt where it has one (the authors gave qwen-image "" for p_a only).
    """

    provider = "replicate"

    def __init__(self, *args, poll_s: float = 1.0, wait_s: int = 60, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not 1 <= int(wait_s) <= 60:
            raise ValueError(f"wait_s must be 1..60 (Replicate's Prefer: wait bound), got {wait_s}")
        self.poll_s = float(poll_s)
        self.wait_s = int(wait_s)
        self._origin = _origin(self.base_url)

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/models/{self.model}/predictions"

    def request_body(self, request: GenerationRequest) -> dict:
        model_input = {"prompt": request.prompt, **request.settings}
        if request.negative_prompt is not None:
            model_input["negative_prompt"] = request.negative_prompt
        return {"input": model_input}

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "poll_s": self.poll_s, "wait_s": self.wait_s}

    def _fetch(self, body: dict) -> bytes:
        deadline = time.monotonic() + self.timeout_s
        # The server holds the POST open up to wait_s before answering: the read timeout starts after it.
        prediction = self._json("POST", self.endpoint, body, {"Prefer": f"wait={self.wait_s}"},
                                timeout_s=self.wait_s + self.timeout_s)
        while prediction.get("status") not in _REPLICATE_DONE:
            poll_url = (prediction.get("urls") or {}).get("get")
            if not poll_url:
                raise UnusableAnswerError(f"unfinished prediction without urls.get: {prediction.get('status')!r}")
            if time.monotonic() > deadline:
                raise RetryableAPIError(f"prediction {prediction.get('id')} unfinished after {self.timeout_s:g} s")
            time.sleep(self.poll_s)
            prediction = self._json("GET", poll_url)
        if prediction["status"] != "succeeded":
            raise UnusableAnswerError(
                f"prediction {prediction.get('id')} {prediction['status']}: {prediction.get('error')!r}"[:300])
        output = prediction.get("output")
        url = output[0] if isinstance(output, list) and output else output
        if isinstance(url, str) and url.startswith("data:"):
            return decode_data_url(url)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise UnusableAnswerError(f"prediction output is not an image URL: {str(output)[:200]!r}")
        return self._http("GET", url)[1]

    def _json(self, method: str, url: str, body: dict | None = None, headers: dict | None = None,
              timeout_s: float | None = None) -> dict:
        content_type, data = self._http(method, url, body, headers, timeout_s)
        try:
            answer = json.loads(data)
        except ValueError:
            raise UnusableAnswerError(f"answer is not JSON ({content_type}): {data[:200]!r}") from None
        if not isinstance(answer, dict):
            raise UnusableAnswerError(f"answer is not a JSON object: {data[:200]!r}")
        return answer

    def _http(self, method: str, url: str, body: dict | None = None, headers: dict | None = None,
              timeout_s: float | None = None) -> tuple[str, bytes]:
        headers = dict(headers or {})
        # The token goes only to the API's own host; output files live on a delivery host.
        if _origin(url) == self._origin:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s) as response:
                return response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")
            raise self._status_error(err.code, err.headers, detail) from None
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as err:
            raise RetryableAPIError(f"{method} {_origin(url)}: {type(err).__name__}: {err}") from None


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc
