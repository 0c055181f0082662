"""A client for OpenAI-compatible chat endpoints, with an on-disk request cache.

The rewriter (docs/experiments.md#e1) and the pairwise judges (docs/experiments.md#e4) talk to remote models
through any endpoint that speaks the OpenAI chat-completions protocol
(OpenRouter, vLLM, a local server). Every answer that passes validation is
cached on disk under the sha256 of the full request (endpoint, model, messages
including image bytes, temperature, response format), as HELM does, so a rerun
replays the same answers without a network call and without the API key.

The key is read from the environment variable the config names when a request
goes out; it is never logged and never part of a cache key or a cache file.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import io
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from .contracts import write_json
from .errors import SetupError

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

Message = Mapping[str, Any]
Validator = Callable[[dict], None]

_DATA_URL_PREFIX = "data:image/png;base64,"
_PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}
# Formats chat endpoints take inline as they are; any other file is re-encoded as PNG.
_FILE_MIMES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


class LLMError(RuntimeError):
    """A remote model could not give a usable answer."""


class MissingAPIKeyError(LLMError, SetupError):
    """The environment variable that should hold the API key is unset or empty."""


class RefusedAPIKeyError(LLMError, SetupError):
    """The endpoint refused the key (HTTP 401 or 403): every request would be refused alike."""


class LLMResponseError(LLMError):
    """Every attempt returned an answer that failed validation, or the endpoint kept failing."""


def image_to_data_url(image: Image.Image) -> str:
    """A PIL image as a base64 PNG data URL, the form chat endpoints accept inline."""
    if image.mode not in _PNG_MODES:
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return _DATA_URL_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_file_to_data_url(path: str | os.PathLike) -> str:
    """An image file as a data URL of its own bytes: a JPEG stays a JPEG, never a larger PNG."""
    path = Path(path)
    mime = _FILE_MIMES.get(path.suffix.lower())
    if mime is None:
        from PIL import Image

        with Image.open(path) as image:
            return image_to_data_url(image)
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def text_part(text: str) -> dict:
    return {"type": "text", "text": text}


def image_part(image: Image.Image) -> dict:
    return {"type": "image_url", "image_url": {"url": image_to_data_url(image)}}


def json_schema_format(schema_name: str, json_schema: Mapping[str, Any]) -> dict:
    """The ``response_format`` that asks for structured output matching ``json_schema``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": schema_name, "schema": dict(json_schema), "strict": True},
    }


def request_key(request: Mapping[str, Any]) -> str:
    """sha256 of the request in canonical JSON: equal requests, equal keys."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _summarise_images(value: Any) -> Any:
    """The request with each inline image replaced by its digest, to keep cache files small."""
    if isinstance(value, str) and value.startswith("data:image/"):
        return "sha256:" + hashlib.sha256(value.encode("ascii")).hexdigest()
    if isinstance(value, Mapping):
        return {k: _summarise_images(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_summarise_images(v) for v in value]
    return value


def parse_json_answer(content: str | None) -> dict:
    """The JSON object in a model's answer; tolerate a Markdown code fence around it."""
    if content is None or not content.strip():
        raise ValueError("empty answer")
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"answer is not JSON ({err.msg}): {content[:200]!r}") from None
    if not isinstance(answer, dict):
        raise ValueError(f"answer is not a JSON object: {content[:200]!r}")
    return answer


class ChatClient:
    """Chat completions against one model on one OpenAI-compatible endpoint."""

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str,
        temperature: float = 0.0,
        max_retries: int = 3,
        timeout: float = 120.0,
        cache_dir: str | os.PathLike | None = None,
        backoff_s: float = 2.0,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        """``extra_body`` holds endpoint-specific request fields (e.g. vLLM's
        ``chat_template_kwargs``); it is sent with every request and is part of the cache key."""
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.temperature = float(temperature)
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.backoff_s = float(backoff_s)
        self.extra_body = dict(extra_body) if extra_body else None
        self._client = None

    # -------------------------------------------------------------- public

    def complete_json(
        self,
        messages: Sequence[Message],
        schema_name: str,
        json_schema: Mapping[str, Any],
        validate: Validator | None = None,
        send_schema: bool = True,
    ) -> dict:
        """The model's answer as a dict that matches ``json_schema`` and passes ``validate``.

        ``validate`` raises ``ValueError`` to reject an answer (e.g. too many words).
        A rejected answer or a transient endpoint failure is retried up to
        ``max_retries`` times with exponential backoff, or after the wait a rate limit's
        Retry-After asks for; only accepted answers are cached.
        ``send_schema=False`` is for endpoints without structured output: the request then
        carries no ``response_format`` and the answer is still validated against the schema.
        """
        request = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": self.temperature,
        }
        if send_schema:
            request["response_format"] = json_schema_format(schema_name, json_schema)
        if self.extra_body:
            # Only when set, so that requests without it keep their existing cache keys.
            request["extra_body"] = self.extra_body
        key = request_key({"base_url": self.base_url, **request})

        cached = self._read_cache(key)
        if cached is not None:
            try:
                return self._accept(cached, json_schema, validate)
            except ValueError as err:
                # A stricter validator than the one that wrote the entry: ask again.
                logger.warning("cached answer %s no longer validates (%s); asking again", key[:12], err)

        retryable = (ValueError, *_transient_errors())
        failures: list[str] = []
        asked_wait = None  # a rate limit's Retry-After, which the endpoint prefers to our backoff
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(asked_wait if asked_wait is not None else self.backoff_s * 2 ** (attempt - 1))
            try:
                content = self._create(request)
                answer = self._accept(content, json_schema, validate)
            except retryable as err:
                asked_wait = parse_retry_after(getattr(getattr(err, "response", None), "headers", None))
                failures.append(f"attempt {attempt + 1}: {err}")
                logger.warning("%s via %s, %s", self.model, self.base_url, failures[-1])
                continue
            self._write_cache(key, request, content)
            return answer
        raise LLMResponseError(
            f"{self.model} via {self.base_url} gave no valid answer in {self.max_retries + 1} "
            f"attempt(s): " + "; ".join(failures)
        )

    def provenance(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url, "temperature": self.temperature}

    def check_api_key(self) -> None:
        """Raise ``MissingAPIKeyError`` naming the variable when the key is unset, before any work."""
        self._api_key()

    # ------------------------------------------------------------- network

    def _api_key(self) -> str:
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise MissingAPIKeyError(
                f"environment variable {self.api_key_env} is not set; it must hold the API key "
                f"for {self.base_url} (model {self.model})"
            )
        return key

    def _openai(self):
        if self._client is None:
            import openai

            # The SDK calls the provider on every request, so the key is read at call time.
            self._client = openai.OpenAI(
                base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=self.timeout
            )
        return self._client

    def _create(self, request: Mapping[str, Any]) -> str | None:
        self._api_key()  # fail with the variable's name before the SDK sees no key
        logger.debug("request to %s via %s", self.model, self.base_url)
        completion = self._openai().chat.completions.create(**request)
        if not completion.choices:
            raise ValueError("answer has no choices")
        return completion.choices[0].message.content

    @staticmethod
    def _accept(content: str | None, json_schema: Mapping[str, Any], validate: Validator | None) -> dict:
        answer = parse_json_answer(content)
        try:
            jsonschema.validate(answer, json_schema)
        except jsonschema.ValidationError as err:
            raise ValueError(f"answer does not match the schema: {err.message}") from None
        if validate is not None:
            validate(answer)
        return answer

    # --------------------------------------------------------------- cache

    def _cache_path(self, key: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / key[:2] / f"{key}.json"

    def _read_cache(self, key: str) -> str | None:
        path = self._cache_path(key)
        if path is None or not path.exists():
            return None
        logger.debug("cache hit %s", key[:12])
        return json.loads(path.read_text(encoding="utf-8"))["content"]

    def _write_cache(self, key: str, request: Mapping[str, Any], content: str | None) -> None:
        path = self._cache_path(key)
        if path is None:
            return
        record = {
            "key": key,
            "base_url": self.base_url,
            "request": _summarise_images(request),
            "content": content,
        }
        write_json(path, record)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _transient_errors() -> tuple[type[Exception], ...]:
    """Endpoint failures worth retrying: network, timeouts, rate limits, server errors."""
    import openai

    return (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)
