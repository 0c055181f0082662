"""The per-dimension judge J through transformers' Qwen3-VL (docs/experiments.md#e4).

J is the authors' Qwen3-VL-4B-Instruct fine-tune ``weathon/smolvlm2_anti_aesthetics_7b``,
run with the processor of ``Qwen/Qwen3-VL-4B-Instruct``. As in the authors'
``eval/rater_training/infer.py`` (github.com/weathon/icml2026_position):

* one single-turn user message per (image, dimension): the question text first, then
  the image resized to 512x512;
* the question names the dimension and inserts its guideline, rendered as the
  authors' script renders it (a Python dict literal mapping "option: rating" to
  ": description");
* the guidelines are the authors' ``eval/rater/rules.csv`` by default, downloaded from a
  pinned commit and used only if its sha256 matches (``scoring.offhub.verified_file``);
  ``guidelines_file`` names a local file instead (this project's
  config/judge_guidelines.yaml, for one);
* J(I, d) = sum_k k * P(token k) for k in 0, 1, 2, the probabilities a softmax over
  the logits of the three digit tokens at the prompt's last position (the next token
  after the assistant prompt).

The authors read ``logits[:, -1]`` of a padded batch, which is the last prompt token
only under left padding; here the tokenizer pads on the left and the last position
with attention is gathered per row, so J(I, d) does not depend on what else is in the
batch. All dimensions of one image go in one forward pass when ``batch_size`` allows.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..batching import batches, distinct, qwen_vl_image_features, qwen_vl_inputs
from ..config import resolve_path
from ..contracts import sha256_file
from ..hub import load_from_hub, resolved_revision
from ..prompts.dimensions import DIMENSIONS, check_dimensions
from ..runtime import Runtime
from ..scoring.offhub import verified_file
from .base import DimensionRater

log = logging.getLogger(__name__)

RATING_TOKENS = ("0", "1", "2")
AUTHORS_RULES_URL = ("https://raw.githubusercontent.com/weathon/icml2026_position/"
                     "8f47b89d8194ea66b20b61ff232586526410fd6e/eval/rater/rules.csv")
AUTHORS_RULES_SHA256 = "d013aa409f07264ee8f1b6112a875c57628e7a3a67131ed1b511bb4db4902dcc"


def question(dimension_name: str, guideline: str) -> str:
    """The authors' question for one dimension (infer.py), word for word."""
    return (f"Please rate this image for its {dimension_name} quality. Use this guideline {guideline}. "
            "Response a single number.")


def render_guideline(options: Sequence[tuple[str, int, str]]) -> str:
    """(option, rating, description) rows as infer.py's f-string prints its guideline dict."""
    return repr({f"{option}: {rating}": f": {description}" for option, rating, description in options})


def load_guidelines(path: str | Path) -> dict[str, dict]:
    """dimension key -> {"name": str, "options": [(option, rating, description), ...]}.

    Reads this project's YAML (config/judge_guidelines.yaml) or the authors' rules.csv
    (Dimension, Option, Score, Description; Dimension filled down; the key is the text
    in parentheses, else the whole name; rating = sign(Score) + 1, as infer.py maps it).
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _guidelines_from_rules_csv(path)
    import yaml

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {key: {"name": spec["name"],
                  "options": [(o["option"], int(o["rating"]), o["description"]) for o in spec["options"]]}
            for key, spec in raw.items()}


def guidelines_source(runtime: Runtime, what: str, guidelines_file: str | None = None,
                      guidelines_url: str | None = None,
                      guidelines_sha256: str | None = None) -> tuple[Path, str | None]:
    """The guideline file J reads, and the url it was downloaded from (None for a local file).

    A ``guidelines_file`` is used as it is, and checked only when ``guidelines_sha256`` is
    given; else ``guidelines_url`` is downloaded into the off-hub cache and must match
    ``guidelines_sha256``. With neither, the authors' rules.csv at its pinned commit.
    """
    if guidelines_file:
        path = resolve_path(guidelines_file)
        if guidelines_sha256:
            path = verified_file(runtime, what, guidelines_sha256, path=str(path), url=guidelines_url)
        return path, None
    if not guidelines_url:
        guidelines_url, guidelines_sha256 = AUTHORS_RULES_URL, AUTHORS_RULES_SHA256
    return verified_file(runtime, what, guidelines_sha256, url=guidelines_url), guidelines_url


def _guidelines_from_rules_csv(path: Path) -> dict[str, dict]:
    # utf-8-sig: the authors' file starts with a byte-order mark, which pandas drops and csv would not
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [{k.strip(): (v or "") for k, v in row.items()} for row in csv.DictReader(handle)]
    guidelines: dict[str, dict] = {}
    dimension = None
    for row in rows:
        dimension = row["Dimension"].strip() or dimension
        match = re.search(r"\((.*?)\)", dimension)
        name = match.group(1) if match else dimension
        score = int(row["Score"])
        rating = (score > 0) - (score < 0) + 1
        entry = guidelines.setdefault(name.replace(" ", "_"), {"name": name, "options": []})
        entry["options"].append((row["Option"], rating, str(row["Description"]).strip()))
    return guidelines


def fitted(image, image_size: int):
    """The image as J is shown it: RGB, image_size x image_size. An image already so is returned as it
    is (resizing to its own size would only copy it), so the questions about it share one object."""
    if image.mode == "RGB" and image.size == (image_size, image_size):
        return image
    return image.convert("RGB").resize((image_size, image_size))


def conversation(image, dimension_name: str, guideline: str, image_size: int) -> list[dict]:
    """One user turn: the question, then the image at image_size x image_size."""
    return [{"role": "user", "content": [
        {"type": "text", "text": question(dimension_name, guideline)},
        {"type": "image", "image": fitted(image, image_size)},
    ]}]


def conversation_image(turns: list[dict]):
    """The image of a one-image conversation."""
    [image] = [part["image"] for turn in turns for part in turn["content"] if part["type"] == "image"]
    return image


class QwenVLDimensionJudge(DimensionRater):
    """J(I, d): expected rating over the digit tokens 0, 1, 2 of a Qwen3-VL judge."""

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        model_id: str = "weathon/smolvlm2_anti_aesthetics_7b",
        revision: str = "main",
        processor_id: str = "Qwen/Qwen3-VL-4B-Instruct",
        processor_revision: str = "main",
        dtype: str | None = "bfloat16",
        image_size: int = 512,
        batch_size: int = len(DIMENSIONS),
        guidelines_file: str | None = None,
        guidelines_url: str | None = None,
        guidelines_sha256: str | None = None,
        attn_implementation: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

        super().__init__(name=name, runtime=runtime)
        if batch_size < 1:
            raise ValueError(f"{name}: batch_size must be >= 1, got {batch_size}")
        self.model_id, self.revision = model_id, revision
        self.processor_id, self.processor_revision = processor_id, processor_revision
        self.image_size = int(image_size)
        self.batch_size = int(batch_size)
        self.device = runtime.torch_device()
        self.dtype = runtime.torch_dtype(dtype)  # float32 on CPU

        self.guidelines_path, self.guidelines_url = guidelines_source(
            runtime, f"{name} guidelines", guidelines_file, guidelines_url, guidelines_sha256)
        self.guidelines_sha256 = sha256_file(self.guidelines_path)
        self.guidelines = load_guidelines(self.guidelines_path)
        missing = [d for d in DIMENSIONS if d not in self.guidelines]
        if missing:
            raise ValueError(f"{name}: {self.guidelines_path} has no guideline for {missing}")

        # None lets transformers choose (sdpa); "flash_attention_2" on a GPU with flash-attn installed.
        self.model = load_from_hub(Qwen3VLForConditionalGeneration.from_pretrained, model_id, revision, runtime,
                                   dtype=self.dtype, attn_implementation=attn_implementation)
        self.model.to(self.device).eval()
        self.attn_implementation = str(self.model.config._attn_implementation)
        self.processor = load_from_hub(AutoProcessor.from_pretrained, processor_id, processor_revision, runtime)
        self.processor.tokenizer.padding_side = "left"
        tokenizer = self.processor.tokenizer
        self.rating_token_ids = [tokenizer.convert_tokens_to_ids(t) for t in RATING_TOKENS]
        if any(i is None or i == tokenizer.unk_token_id for i in self.rating_token_ids):
            raise ValueError(f"{name}: the tokenizer of {processor_id} has no single token for each of {RATING_TOKENS}")
        self._ratings = torch.arange(len(RATING_TOKENS), dtype=torch.float32)

    def prompt(self, image, dimension: str) -> list[dict]:
        spec = self.guidelines[dimension]
        return conversation(image, spec["name"], render_guideline(spec["options"]), self.image_size)

    def rate(self, images: Sequence, dimensions: Sequence[str]) -> np.ndarray:
        dimensions = check_dimensions(dimensions)
        images = [fitted(image, self.image_size) for image in images]
        requests = [self.prompt(image, d) for image in images for d in dimensions]
        values = np.concatenate([self._expected_ratings(requests[part])
                                 for part in batches(len(requests), self.batch_size)]) if requests else np.zeros(0)
        return values.reshape(len(images), len(dimensions))

    def rating_probabilities(self, conversations: Sequence[list[dict]]):
        """P(0), P(1), P(2) at each conversation's last prompt position, float32, shape (n, 3)."""
        import torch

        texts = self.processor.apply_chat_template(list(conversations), tokenize=False, add_generation_prompt=True)
        # The questions about one image share its object (``fitted``): it is prepared and through the
        # vision tower once.
        unique_images, image_of = distinct([conversation_image(c) for c in conversations], key=id)
        inputs = qwen_vl_inputs(self.processor, texts, unique_images, image_of).to(self.device)
        with torch.inference_mode():
            encoded = qwen_vl_image_features(self.model.model, inputs.pixel_values.to(self.dtype),
                                             inputs.image_grid_thw, inputs.image_of)
            hidden = self.model.model(**inputs.text, mm_encoder_outputs={"image": encoded}).last_hidden_state
            mask = inputs.text["attention_mask"]
            # the first maximum of the running count of attended tokens is the last attended one
            last = mask.cumsum(dim=-1).argmax(dim=-1)
            rows = torch.arange(hidden.shape[0], device=hidden.device)
            # the vocabulary projection at the last position only: at every position of a batch of 11
            # it would hold sequence x 11 x ~150k logits
            digit_logits = self.model.lm_head(hidden[rows, last])[:, self.rating_token_ids].float()
        return torch.softmax(digit_logits, dim=-1)

    def _expected_ratings(self, conversations: Sequence[list[dict]]) -> np.ndarray:
        probabilities = self.rating_probabilities(conversations).cpu()
        return (probabilities @ self._ratings).numpy().astype(np.float64)

    def provenance(self) -> dict[str, Any]:
        cache = self.runtime.cache_dir
        return {
            "model_id": self.model_id,
            "revision": self.revision,
            "resolved_revision": resolved_revision(cache, self.model_id, self.revision),
            "processor_id": self.processor_id,
            "processor_revision": self.processor_revision,
            "processor_resolved_revision": resolved_revision(cache, self.processor_id, self.processor_revision),
            "dtype": str(self.dtype).removeprefix("torch."),
            "attn_implementation": self.attn_implementation,
            "image_size": self.image_size,
            "batch_size": self.batch_size,
            "padding_side": self.processor.tokenizer.padding_side,
            "rating_tokens": dict(zip(RATING_TOKENS, self.rating_token_ids)),
            "guidelines_file": self.guidelines_path.name,
            "guidelines_url": self.guidelines_url,
            "guidelines_sha256": self.guidelines_sha256,
            "score": "sum_k k * softmax(logits of tokens 0, 1, 2 at the last prompt position)_k",
        }
