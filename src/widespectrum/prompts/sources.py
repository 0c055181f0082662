"""Where captions come from: a local CSV, a Hugging Face dataset, or COCO's own annotations file."""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.request
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from ..config import resolve_path
from ..contracts import sha256_file, write_bytes

logger = logging.getLogger(__name__)

# The member of COCO's official annotations_trainval2017.zip that holds the train captions.
COCO_TRAIN_CAPTIONS_MEMBER = "annotations/captions_train2017.json"
DOWNLOAD_TIMEOUT_S = 120


def hf_captions(path: str, revision: str, split: str, column: str, runtime) -> pd.DataFrame:
    """Captions from a hub dataset at a pinned revision (docs/experiments.md#e1: COCO train2017 captions)."""
    from datasets import load_dataset

    kwargs = {"cache_dir": runtime.cache_dir} if runtime.cache_dir else {}
    dataset = load_dataset(path, revision=revision, split=split, **kwargs)
    if column not in dataset.column_names:
        raise KeyError(f"dataset {path} has no column {column!r}; columns: {dataset.column_names}")
    captions = dataset[column]
    # Some caption sets hold a list of captions per image: take the first, as one caption per pair.
    captions = [c[0] if isinstance(c, list) else c for c in captions]
    return pd.DataFrame({"caption_id": [f"{path}:{split}:{i}" for i in range(len(captions))],
                         "caption": captions, "reference_image": None})


class ChecksumMismatch(ValueError):
    """The annotations file is not the one the config pins."""


def coco_captions(annotations: str, sha256: str | None = None, member: str | None = None,
                  one_per_image: bool = True, download_dir: str | None = None) -> pd.DataFrame:
    """Captions from COCO's official annotations (``captions_train2017.json`` format).

    ``annotations`` is a path or an http(s) URL of the JSON file or of the zip
    that holds it (then ``member`` names the file inside; COCO's own
    ``annotations_trainval2017.zip`` by default holds it at
    ``annotations/captions_train2017.json``). A URL is downloaded once into
    ``download_dir``. The file's sha256 is verified when ``sha256`` is given and
    is always recorded in ``frame.attrs["provenance"]``.

    COCO gives five captions per image; ``one_per_image`` keeps the one with
    the lowest annotation id, so no image enters the benchmark twice (the
    authors' caption set also has one caption per image). Rows are ordered by
    (image_id, id), so the run's seeded draw does not depend on the file's order.
    """
    path = _local_copy(annotations, download_dir, sha256)
    digest = sha256_file(path)
    if sha256 is not None and digest != sha256.lower():
        raise ChecksumMismatch(f"COCO annotations {annotations}: sha256 {digest}, the config pins {sha256}")
    data = _read_annotations(path, member)
    rows = pd.DataFrame.from_records(
        [(int(a["image_id"]), int(a["id"]), " ".join(str(a["caption"]).split())) for a in data["annotations"]],
        columns=["image_id", "annotation_id", "caption"])
    rows = rows[rows["caption"] != ""].sort_values(["image_id", "annotation_id"], kind="stable")
    if rows["annotation_id"].duplicated().any():
        raise ValueError(f"COCO annotations {annotations}: annotation ids are not unique")
    if one_per_image:
        rows = rows.drop_duplicates("image_id", keep="first")
    frame = pd.DataFrame({
        "caption_id": [f"coco:{i}:{a}" for i, a in zip(rows["image_id"], rows["annotation_id"])],
        "caption": rows["caption"].to_numpy(),
        "reference_image": None,
    })
    frame.attrs["provenance"] = {
        "source": "coco_captions", "annotations": _without_credentials(annotations), "member": member,
        "sha256": digest, "sha256_verified": sha256 is not None, "one_per_image": one_per_image,
        "images": int(len(data.get("images", []))), "annotations_read": int(len(data["annotations"])),
        "captions": int(len(frame)),
    }
    logger.info("COCO captions: %d of %d annotations from %s (sha256 %s)", len(frame),
                len(data["annotations"]), _without_credentials(annotations), digest)
    return frame


def _local_copy(annotations: str, download_dir: str | None, sha256: str | None) -> Path:
    scheme = urlparse(annotations).scheme
    if scheme not in ("http", "https"):
        path = resolve_path(annotations)
        if not path.is_file():
            raise FileNotFoundError(f"COCO annotations file {path} does not exist")
        return path
    if download_dir is None:
        raise ValueError(f"COCO annotations at a URL ({_without_credentials(annotations)}) need a download_dir")
    name = Path(urlparse(annotations).path).name or "annotations"
    target = resolve_path(download_dir) / hashlib.sha256(annotations.encode()).hexdigest()[:16] / name
    if target.is_file() and (sha256 is None or sha256_file(target) == sha256.lower()):
        return target
    logger.info("downloading %s", _without_credentials(annotations))
    with urllib.request.urlopen(annotations, timeout=DOWNLOAD_TIMEOUT_S) as response:
        write_bytes(target, response.read())
    return target


def _read_annotations(path: Path, member: str | None) -> dict[str, Any]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            name = member or COCO_TRAIN_CAPTIONS_MEMBER
            if name not in archive.namelist():
                raise KeyError(f"{path} holds no {name!r}; it holds {archive.namelist()[:10]}")
            data = json.loads(archive.read(name))
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise ValueError(f"{path}: not a COCO captions file (no 'annotations' list)")
    missing = {"image_id", "id", "caption"} - set(data["annotations"][0]) if data["annotations"] else set()
    if missing:
        raise ValueError(f"{path}: annotations lack {sorted(missing)}")
    return data


def _without_credentials(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None and parsed.username is None:
        return url
    return parsed._replace(netloc=parsed.hostname + (f":{parsed.port}" if parsed.port else "")).geturl()


def load_caption_source(prompts_config: dict, runtime) -> pd.DataFrame:
    from .sampling import load_captions

    source = prompts_config["source"]
    if source == "captions_file":
        return load_captions(resolve_path(prompts_config["captions_file"]))
    if source == "hf_captions":
        return hf_captions(**prompts_config["hf_captions"], runtime=runtime)
    if source == "coco_captions":
        return coco_captions(**prompts_config["coco_captions"])
    raise ValueError(f"unknown prompts.source {source!r}")
