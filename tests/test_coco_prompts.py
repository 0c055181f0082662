"""COCO's official captions file as a prompt source: path or URL, checksum, one caption per image, seeded draw."""

from __future__ import annotations

import copy
import hashlib
import http.server
import json
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from widespectrum.prompts.rewriters import build_rewriter
from widespectrum.prompts.sampling import build_prompt_pairs, load_dimension_texts
from widespectrum.prompts.sources import ChecksumMismatch, coco_captions, load_caption_source
from widespectrum.config import ConfigError, resolve_path, validate_config

# image 7 has three captions (ids 30, 12, 55): the lowest id, 12, is the one kept
ANNOTATIONS = [
    {"image_id": 7, "id": 30, "caption": "A dog  runs on a beach."},
    {"image_id": 3, "id": 5, "caption": "Two cups of coffee on a table."},
    {"image_id": 7, "id": 12, "caption": "A brown dog running by the sea."},
    {"image_id": 9, "id": 40, "caption": "A red bus in the rain."},
    {"image_id": 7, "id": 55, "caption": "Dog on sand."},
    {"image_id": 1, "id": 2, "caption": "A kitchen with white cabinets."},
] + [{"image_id": 100 + i, "id": 200 + i, "caption": f"A photo of scene number {i}."} for i in range(20)]
IMAGES = [{"id": a["image_id"], "file_name": f"{a['image_id']:012d}.jpg"} for a in ANNOTATIONS]


def write_annotations(path: Path, annotations=ANNOTATIONS) -> Path:
    path.write_text(json.dumps({"info": {}, "images": IMAGES, "annotations": annotations}), encoding="utf-8")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_caption_per_image_by_lowest_annotation_id(tmp_path):
    path = write_annotations(tmp_path / "captions_train2017.json")
    frame = coco_captions(str(path))
    assert list(frame["caption_id"][:4]) == ["coco:1:2", "coco:3:5", "coco:7:12", "coco:9:40"]
    assert list(frame["caption"][:4]) == ["A kitchen with white cabinets.", "Two cups of coffee on a table.",
                                          "A brown dog running by the sea.", "A red bus in the rain."]
    assert len(frame) == 24  # 26 annotations, image 7 counted once
    every = coco_captions(str(path), one_per_image=False)
    assert len(every) == 26 and "A dog runs on a beach." in set(every["caption"])  # whitespace collapsed
    record = frame.attrs["provenance"]
    assert record["sha256"] == sha256(path) and record["sha256_verified"] is False
    assert (record["annotations_read"], record["captions"], record["images"]) == (26, 24, 26)


def test_checksum_is_verified_when_pinned(tmp_path):
    path = write_annotations(tmp_path / "captions.json")
    assert coco_captions(str(path), sha256=sha256(path)).attrs["provenance"]["sha256_verified"] is True
    with pytest.raises(ChecksumMismatch, match=sha256(path)):
        coco_captions(str(path), sha256="0" * 64)


def test_the_seeded_draw_does_not_depend_on_file_order(tmp_path):
    forward = write_annotations(tmp_path / "a.json")
    backward = write_annotations(tmp_path / "b.json", list(reversed(ANNOTATIONS)))
    texts = load_dimension_texts(resolve_path("config/dimensions.yaml"))
    rewriter = build_rewriter({"backend": "template"})

    def draw(path, seed):
        captions = load_caption_source({"source": "coco_captions", "coco_captions": {"annotations": str(path)}},
                                       runtime=None)
        return list(build_prompt_pairs(captions, texts, rewriter, n=5, seed=seed)["caption_id"])

    first = draw(forward, seed=3)
    assert first == draw(backward, seed=3)
    assert len(set(first)) == 5 and set(first) <= set(coco_captions(str(forward))["caption_id"])
    assert any(draw(forward, seed=s) != first for s in (4, 5, 6))


class _Server:
    """A loopback HTTP server serving one file; counts the requests it answered."""

    def __init__(self, payload: bytes, name: str) -> None:
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                outer.requests += 1
                if self.path != f"/{name}":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/{name}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_official_zip_from_a_url_is_downloaded_once_and_checked(tmp_path):
    json_file = write_annotations(tmp_path / "captions_train2017.json")
    archive = tmp_path / "annotations_trainval2017.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(json_file, "annotations/captions_train2017.json")
        handle.writestr("annotations/instances_train2017.json", "{}")
    digest = sha256(archive)
    downloads = tmp_path / "downloads"
    with _Server(archive.read_bytes(), archive.name) as server:
        frame = coco_captions(server.url, sha256=digest, download_dir=str(downloads))
        assert frame.equals(coco_captions(str(json_file)))
        assert frame.attrs["provenance"]["sha256"] == digest
        again = coco_captions(server.url, sha256=digest, download_dir=str(downloads))
        assert server.requests == 1 and again.equals(frame)
        with pytest.raises(ChecksumMismatch):
            coco_captions(server.url, sha256="f" * 64, download_dir=str(downloads))
        assert server.requests == 2  # a cached copy that fails the pin is fetched again before failing


def test_the_run_config_accepts_the_coco_source_and_fills_its_defaults(repo_root):
    raw = yaml.safe_load((repo_root / "config" / "demo.yaml").read_text())
    raw["prompts"]["source"] = "coco_captions"
    with pytest.raises(ConfigError, match="'coco_captions' is a required property"):
        validate_config(copy.deepcopy(raw))
    raw["prompts"]["coco_captions"] = {"annotations": "http://images.cocodataset.org/annotations/"
                                                      "annotations_trainval2017.zip", "download_dir": "downloads"}
    spec = validate_config(raw)["prompts"]["coco_captions"]
    assert spec["sha256"] is None and spec["one_per_image"] is True and spec["member"] is None
