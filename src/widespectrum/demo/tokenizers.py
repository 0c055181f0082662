"""Tokenizer files for the tiny offline models.

The CLIP tokenizer uses the real 49,408-token BPE vocabulary that the
``open_clip`` wheel ships, so token ids match the real checkpoints' tokenizer.
The T5 tokenizer is a small Unigram model: the real one ships as a
sentencepiece file no package carries, and the tiny text encoders that use it
only need consistent ids.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

CLIP_VOCAB_SIZE = 49408


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2/CLIP map every byte to a printable character so BPE works on text.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1)
    )
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


@lru_cache(maxsize=1)
def clip_vocab_and_merges() -> tuple[dict[str, int], list[str]]:
    bpe_path = files("open_clip") / "bpe_simple_vocab_16e6.txt.gz"
    with gzip.open(bpe_path, "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    # open_clip keeps the first 49152 - 256 - 2 merges; the header line is skipped.
    merges = lines[1 : 49152 - 256 - 2 + 1]
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += ["".join(m.split()) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    assert len(tokens) == CLIP_VOCAB_SIZE, len(tokens)
    return {tok: i for i, tok in enumerate(tokens)}, merges


def write_clip_tokenizer(out_dir: str | os.PathLike, model_max_length: int = 77) -> Path:
    """Write vocab.json + merges.txt + config and return the folder.

    ``CLIPTokenizer.from_pretrained(out_dir)`` then loads the real vocabulary.
    """
    from transformers import CLIPTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab, merges = clip_vocab_and_merges()
    (out / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split()) for m in merges],
                              model_max_length=model_max_length)
    tokenizer.save_pretrained(out)
    return out


def t5_tokenizer(vocab_size: int = 1000, model_max_length: int = 512):
    """A Unigram T5 tokenizer with ``vocab_size`` pieces (special tokens included)."""
    from transformers import T5TokenizerFast

    specials = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces = ["▁" + c for c in letters] + letters
    pieces += [f"▁w{i}" for i in range(vocab_size - len(specials) - len(pieces) - 100)]
    vocab = specials + [(p, -float(i + 1)) for i, p in enumerate(pieces)]
    tokenizer = T5TokenizerFast(vocab=vocab, extra_ids=100, model_max_length=model_max_length)
    return tokenizer


def write_t5_tokenizer(out_dir: str | os.PathLike, vocab_size: int = 1000) -> Path:
    out = Path(out_dir)
    t5_tokenizer(vocab_size).save_pretrained(out)
    return out
