"""Pairwise judge through an OpenAI-compatible chat endpoint (docs/experiments.md#e4).

The judge sees the two images in the order the runner chose plus p_a and
answers which one follows p_a better as JSON ``{"selection": 0 | 1 | -1}``
(0: the first image shown, 1: the second, -1: a tie). The runner maps shown
order back to I_o / I_a and records which image came first.

Two wordings of the request (option ``wording``):

* ``authors`` (default): the neutral request of the authors'
  ``eval/rater_training/llm_select.py`` (github.com/weathon/icml2026_position):
  "an image preference judge" asked which image better matches the prompt, the
  instruction and p_a in one text part followed by the two images. The paper ran
  it at temperature 0.3.
* ``anti_aesthetic``: a longer instruction that tells the judge requested flaws
  count as matching and not to reward beauty for its own sake. It changes the
  labels, so it is not the paper's judge.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..llm import ChatClient, RefusedAPIKeyError, image_part, text_part
from ..runtime import Runtime
from .base import PairRequest, PairwiseJudge

SELECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"selection": {"type": "integer", "enum": [0, 1, -1]}},
    "required": ["selection"],
    "additionalProperties": False,
}


AUTHORS_SYSTEM = "You are an image preference judge. Reply with a JSON object that matches the provided schema."


def authors_question(prompt_anti: str) -> str:
    return (
        "You will see two images and a prompt. Decide which image better matches the prompt. "
        "Return a JSON object exactly matching the schema {\"selection\": <int>} where selection is 0 for "
        "the first image, 1 for the second image, and -1 if it is a tie. "
        "Do not include any additional keys or text.\n\n"
        f"Prompt:\n{prompt_anti}"
    )


def authors_messages(request: PairRequest) -> list[dict]:
    return [
        {"role": "system", "content": AUTHORS_SYSTEM},
        {"role": "user", "content": [
            text_part(authors_question(request.prompt_anti)),
            image_part(request.first),
            image_part(request.second),
        ]},
    ]


ANTI_AESTHETIC_SYSTEM = (
    "You compare two images against a written description and decide which image "
    "follows the description more faithfully. The description may deliberately ask for "
    "qualities that are usually avoided, such as blur, darkness, clashing colors, "
    "deformed objects or a disturbing mood; an image that shows those requested "
    "qualities follows the description better than a more polished image that leaves "
    "them out. Do not reward beauty for its own sake."
)


def anti_aesthetic_question(prompt_anti: str) -> str:
    return (
        f"Description: {prompt_anti}\n\n"
        "Two images follow: the first image, then the second image. Which of them matches "
        "the description better? Answer with JSON: {\"selection\": 0} if the first image "
        "matches better, {\"selection\": 1} if the second image does, or {\"selection\": -1} "
        "if they match it equally well."
    )


def anti_aesthetic_messages(request: PairRequest) -> list[dict]:
    return [
        {"role": "system", "content": ANTI_AESTHETIC_SYSTEM},
        {"role": "user", "content": [
            text_part(anti_aesthetic_question(request.prompt_anti)),
            text_part("First image:"),
            image_part(request.first),
            text_part("Second image:"),
            image_part(request.second),
        ]},
    ]


WORDINGS: dict[str, Callable[[PairRequest], list[dict]]] = {
    "authors": authors_messages,
    "anti_aesthetic": anti_aesthetic_messages,
}
SYSTEM_TEXTS = {"authors": AUTHORS_SYSTEM, "anti_aesthetic": ANTI_AESTHETIC_SYSTEM}


class OpenAICompatiblePairwiseJudge(PairwiseJudge):
    """A vision-language model behind an OpenAI-compatible endpoint as the pairwise judge."""

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        model: str,
        base_url: str,
        api_key_env: str,
        temperature: float = 0.3,
        wording: str = "authors",
        cache_dir: str | os.PathLike | None = None,
        max_retries: int = 3,
        timeout: float = 120.0,
        backoff_s: float = 2.0,
    ) -> None:
        super().__init__(name, runtime)
        if wording not in WORDINGS:
            raise ValueError(f"{name}: wording must be one of {sorted(WORDINGS)}, not {wording!r}")
        self.wording = wording
        self.client = ChatClient(
            model=model,
            base_url=base_url,
            api_key_env=api_key_env,
            temperature=temperature,
            max_retries=max_retries,
            timeout=timeout,
            cache_dir=cache_dir,
            backoff_s=backoff_s,
        )
        # Without a cache every pair needs the key: a missing one stops the job before any pair is
        # judged. With one, the key is checked at the first request, so a fully cached rerun needs none.
        if cache_dir is None:
            self.client.check_api_key()

    def messages(self, request: PairRequest) -> list[dict]:
        return WORDINGS[self.wording](request)

    def judge(self, request: PairRequest) -> int:
        import openai

        try:
            answer = self.client.complete_json(self.messages(request), "pairwise_selection", SELECTION_SCHEMA)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
            # A refused key would refuse every pair: stop the job. The provider's message may quote part
            # of the key, so only the variable is named and the SDK's error is not chained.
            raise RefusedAPIKeyError(
                f"{self.client.base_url} refused the key in {self.client.api_key_env} (HTTP {err.status_code}) "
                f"for model {self.client.model}") from None
        return int(answer["selection"])

    def provenance(self) -> dict[str, Any]:
        # Ties stay -1 here: only the runner knows which shown image is I_o, and how a
        # baseline judge's tie counts (docs/experiments.md#e4: GPT-5-Chat's as I_o) is the table's rule.
        return {**self.client.provenance(), "wording": self.wording, "system_text": SYSTEM_TEXTS[self.wording]}
