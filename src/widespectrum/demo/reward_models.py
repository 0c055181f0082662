"""Tiny stand-ins for the neural reward models, in the real checkpoints' formats.

* CLIP (CLIP-L, PickScore and PickScore's processor repo): a ``CLIPModel`` and a
  ``CLIPProcessor`` saved with ``save_pretrained``; the tokenizer is the real
  49,408-token CLIP BPE, so the text encoder keeps the real vocabulary size.
* BLIP ITM: a ``BlipForImageTextRetrieval`` and a ``BlipProcessor`` whose BERT
  tokenizer uses a small WordPiece vocabulary built here.
* HPSv2: an open_clip model from a small custom config, saved the way the
  ``xswu/HPSv2`` files are (a torch checkpoint with the weights under
  ``'state_dict'``); the config dict is handed to ``HPSv2Reward(model_config=...)``.

Weights are random but seeded, so every build gives byte-identical files and
therefore the same snapshot sha in a hub cache.
"""

from __future__ import annotations

import logging
import os
import string
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import hub_cache
from .tokenizers import CLIP_VOCAB_SIZE, write_clip_tokenizer

logger = logging.getLogger(__name__)

TINY_IMAGE_SIZE = 32
HPSV2_CHECKPOINT_FILES = ("HPS_v2_compressed.pt", "HPS_v2.1_compressed.pt")

# A small open_clip architecture in the ViT-H-14 config's format; the text tower
# keeps the real vocabulary and context length so open_clip's own tokenizer fits.
TINY_OPEN_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": TINY_IMAGE_SIZE, "layers": 2, "width": 32, "head_width": 8, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": CLIP_VOCAB_SIZE, "width": 16, "heads": 2, "layers": 2},
}

# WordPiece words for the tiny BLIP tokenizer: enough that test prompts split
# into real pieces rather than [UNK]; letters keep any other word spellable.
_BLIP_WORDS = (
    "a an the of in on with and photo picture image painting drawing portrait face "
    "cat dog woman man person coffee cup astronaut rocket space red blue green dark "
    "light bright sad happy angry fearful expression shows style art old young"
).split()
_BLIP_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "[ENC]")


def _seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def build_tiny_clip(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Save a tiny ``CLIPModel`` + ``CLIPProcessor`` into ``out_dir``."""
    from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTextConfig,
                              CLIPTokenizer, CLIPVisionConfig)

    out = Path(out_dir)
    text_config = CLIPTextConfig(
        vocab_size=CLIP_VOCAB_SIZE, hidden_size=16, intermediate_size=32, projection_dim=16,
        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
        bos_token_id=49406, eos_token_id=49407, pad_token_id=49407,
    )
    vision_config = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, projection_dim=16, num_hidden_layers=2,
        num_attention_heads=4, image_size=TINY_IMAGE_SIZE, patch_size=8,
    )
    config = CLIPConfig(text_config=text_config.to_dict(), vision_config=vision_config.to_dict(),
                        projection_dim=16)
    _seeded(seed)
    CLIPModel(config).eval().save_pretrained(out)

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(tmp))
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": TINY_IMAGE_SIZE},
        crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    return out


def blip_wordpiece_vocab() -> dict[str, int]:
    """Special tokens, then letters (whole-word and ``##`` continuation), digits, punctuation, words."""
    pieces = list(_BLIP_SPECIALS)
    pieces += list(string.ascii_lowercase) + [f"##{c}" for c in string.ascii_lowercase]
    pieces += list(string.digits) + [f"##{d}" for d in string.digits] + list(string.punctuation)
    pieces += [w for w in _BLIP_WORDS if w not in pieces]
    return {piece: index for index, piece in enumerate(pieces)}


def build_tiny_blip(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Save a tiny ``BlipForImageTextRetrieval`` + ``BlipProcessor`` into ``out_dir``."""
    from transformers import (BertTokenizer, BlipConfig, BlipForImageTextRetrieval, BlipImageProcessor,
                              BlipProcessor, BlipTextConfig, BlipVisionConfig)

    out = Path(out_dir)
    vocab = blip_wordpiece_vocab()
    # The model reads these ids from its config; they must name the tiny vocab's tokens.
    text_config = BlipTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, projection_dim=16,
        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64,
        bos_token_id=vocab["[DEC]"], pad_token_id=vocab["[PAD]"], sep_token_id=vocab["[SEP]"],
        eos_token_id=vocab["[SEP]"],
    )
    # BLIP's vision default initializer_range (1e-10) would make every image look alike.
    vision_config = BlipVisionConfig(
        hidden_size=32, intermediate_size=64, projection_dim=16, num_hidden_layers=2,
        num_attention_heads=4, image_size=TINY_IMAGE_SIZE, patch_size=8, initializer_range=0.02,
    )
    config = BlipConfig(text_config=text_config.to_dict(), vision_config=vision_config.to_dict(),
                        projection_dim=16, image_text_hidden_size=16)
    _seeded(seed)
    BlipForImageTextRetrieval(config).eval().save_pretrained(out)

    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=64, bos_token="[DEC]")
    image_processor = BlipImageProcessor(size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE})
    BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    return out


def build_tiny_hpsv2(
    out_dir: str | os.PathLike, seed: int = 0, checkpoint_files: tuple[str, ...] = HPSV2_CHECKPOINT_FILES
) -> dict[str, Any]:
    """Write tiny open_clip checkpoints named like the HPSv2 files; return the model config.

    Each file gets its own seed, as HPSv2 and HPSv2.1 are different fine-tunes.
    """
    import open_clip
    import torch

    from ..scoring.hpsv2 import register_model_config

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    architecture = register_model_config(TINY_OPEN_CLIP_CONFIG)
    for offset, filename in enumerate(checkpoint_files):
        _seeded(seed + offset)
        model = open_clip.create_model(architecture, pretrained=None)
        torch.save({"state_dict": model.state_dict()}, out / filename)
    return dict(TINY_OPEN_CLIP_CONFIG)


BUILDERS: dict[str, Callable[..., Any]] = {
    "clip": build_tiny_clip,
    "blip": build_tiny_blip,
    "hpsv2": build_tiny_hpsv2,
}


def install_tiny_reward(
    kind: str, cache_dir: str | os.PathLike, repo_id: str, ref: str = "main", seed: int = 0
) -> str:
    """Build the tiny model of ``kind`` and place it in a hub cache as ``repo_id``; return its sha.

    ``kind`` is 'clip' (also the processor repo of PickScore), 'blip' or 'hpsv2'.
    Two repos of one kind differ only if they are given different seeds.
    """
    if kind not in BUILDERS:
        raise ValueError(f"unknown tiny reward kind {kind!r}; use one of {sorted(BUILDERS)}")
    with tempfile.TemporaryDirectory() as tmp:
        BUILDERS[kind](Path(tmp) / "model", seed=seed)
        sha = hub_cache.install_snapshot(Path(tmp) / "model", cache_dir, repo_id, ref=ref)
    logger.info("installed tiny %s model as %s@%s (%s)", kind, repo_id, ref, sha)
    return sha
