"""Every kind of image file either becomes the RGB picture the documented rule gives, or a named error."""

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from widespectrum.errors import BadImageError, ImageIntegrityError
from widespectrum.images import MAX_PIXELS, load_image, open_rgb

RNG = np.random.default_rng(11)


def _save(image: Image.Image, path, **options):
    image.save(path, **options)
    return path


def _pixels(path) -> np.ndarray:
    return np.asarray(open_rgb(path))


def _over_white(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Alpha compositing over a white page, by the textbook formula in floating point."""
    a = alpha.astype(np.float64)[..., None] / 255.0
    return np.rint(colour.astype(np.float64) * a + 255.0 * (1.0 - a)).astype(np.uint8)


def _error(path, **kwargs) -> str:
    with pytest.raises(BadImageError) as caught:
        open_rgb(path, **kwargs)
    return str(caught.value)


def test_rgb_is_returned_as_stored(tmp_path):
    rgb = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(_pixels(_save(Image.fromarray(rgb), tmp_path / "x.png")), rgb)


def test_rgba_is_composited_over_white(tmp_path):
    rgba = RNG.integers(0, 256, (6, 9, 4), dtype=np.uint8)
    rgba[0, 0, 3], rgba[0, 1, 3] = 0, 255  # fully transparent and fully opaque pixels included
    got = _pixels(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "x.png"))
    np.testing.assert_array_equal(got, _over_white(rgba[..., :3], rgba[..., 3]))
    assert tuple(got[0, 0]) == (255, 255, 255) and tuple(got[0, 1]) == tuple(rgba[0, 1, :3])


def test_grey_with_alpha_is_composited_over_white(tmp_path):
    la = RNG.integers(0, 256, (4, 4, 2), dtype=np.uint8)
    got = _pixels(_save(Image.fromarray(la, "LA"), tmp_path / "x.png"))
    expected = _over_white(np.repeat(la[..., :1], 3, axis=2), la[..., 1])
    np.testing.assert_array_equal(got, expected)


def test_palette_is_expanded_and_its_transparent_entry_is_white(tmp_path):
    palette = np.array([[10, 20, 30], [200, 100, 0], [7, 250, 9]], dtype=np.uint8)
    indices = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.flatten().tolist())
    np.testing.assert_array_equal(_pixels(_save(image, tmp_path / "opaque.png")), palette[indices])

    got = _pixels(_save(image, tmp_path / "keyed.png", transparency=1))
    expected = palette[indices].copy()
    expected[indices == 1] = 255
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("fmt", ["png", "tiff"])
def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path, fmt):
    values = np.array([[0, 128, 129, 1000, 32767], [32768, 40000, 65406, 65407, 65535]], dtype=np.uint16)
    path = _save(Image.fromarray(values), tmp_path / f"x.{fmt}")
    assert Image.open(path).mode.startswith("I;16")
    # 8-bit level = nearest integer to v * 255 / 65535 = v / 257, worked out by hand
    expected = np.array([[0, 0, 1, 4, 127], [128, 156, 254, 255, 255]], dtype=np.uint8)
    got = _pixels(path)
    np.testing.assert_array_equal(got, np.repeat(expected[..., None], 3, axis=2))
    assert got[0, 3, 0] == 4  # PIL's own convert("RGB") clips 1000 to 255


def test_sixteen_bit_rgb_png_gives_its_high_bytes(tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    values = np.array([[[1000, 65535, 300], [2047, 32768, 0]]], dtype=">u2")  # 1 x 2 pixels, 16 bits a channel
    rows = b"".join(b"\x00" + row.tobytes() for row in values)  # filter type 0 before each row
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    np.testing.assert_array_equal(np.asarray(open_rgb(png)), [[[3, 255, 1], [7, 128, 0]]])  # floor(v / 256)


def test_cmyk_uses_the_multiplicative_rule(tmp_path):
    cmyk = RNG.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    cmyk[0, 0], cmyk[0, 1], cmyk[0, 2] = (0, 0, 0, 0), (0, 0, 0, 255), (255, 0, 0, 0)
    got = _pixels(_save(Image.fromarray(cmyk, "CMYK"), tmp_path / "x.tiff"))
    c, k = cmyk[..., :3].astype(np.float64), cmyk[..., 3:].astype(np.float64)
    np.testing.assert_array_equal(got, np.rint((255 - c) * (255 - k) / 255).astype(np.uint8))
    assert [tuple(p) for p in got[0, :3]] == [(255, 255, 255), (0, 0, 0), (0, 255, 255)]


def test_grey_and_bilevel_are_replicated(tmp_path):
    grey = RNG.integers(0, 256, (3, 5), dtype=np.uint8)
    np.testing.assert_array_equal(_pixels(_save(Image.fromarray(grey), tmp_path / "l.png")),
                                  np.repeat(grey[..., None], 3, axis=2))
    bits = np.array([[True, False], [False, True]])
    got = _pixels(_save(Image.fromarray(bits), tmp_path / "b.png"))
    np.testing.assert_array_equal(got[..., 0], np.where(bits, 255, 0))


def test_empty_file_is_named(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    message = _error(path)
    assert str(path) in message and "empty file" in message


def test_not_an_image_is_named(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are not pixels\n" * 20)
    message = _error(path)
    assert str(path) in message and "not a recognised image format" in message


def _noise_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("cut", ["half", "last_chunk"])
def test_truncated_png_is_rejected(tmp_path, cut):
    data = _noise_png()
    # Cutting only the 12-byte IEND chunk leaves every pixel decodable, which PIL's load() accepts.
    kept = data[: len(data) // 2] if cut == "half" else data[:-5]
    path = tmp_path / "cut.png"
    path.write_bytes(kept)
    message = _error(path)
    assert str(path) in message and "truncated or corrupt" in message


def test_png_with_a_flipped_bit_is_rejected(tmp_path):
    data = bytearray(_noise_png())
    idat = data.index(b"IDAT")
    data[idat + 200] ^= 0x10  # inside the compressed pixels: the chunk's CRC no longer matches
    path = tmp_path / "flipped.png"
    path.write_bytes(bytes(data))
    message = _error(path)
    assert str(path) in message and "truncated or corrupt PNG" in message


def test_truncated_jpeg_is_rejected(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "JPEG", quality=95)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    message = _error(path)
    assert str(path) in message and "truncated or corrupt JPEG" in message


def test_decompression_bomb_is_rejected_from_its_header(tmp_path):
    side = 8193  # one row and column past 8192 x 8192; a 1-bit black picture compresses to a few kB
    path = _save(Image.new("1", (side, side)), tmp_path / "bomb.png")
    assert path.stat().st_size < 100_000
    message = _error(path)
    assert str(path) in message and f"{side} x {side} = {side * side} pixels" in message
    assert str(MAX_PIXELS) in message
    small = _save(Image.new("RGB", (10, 10)), tmp_path / "small.png")
    assert "exceeds the limit of 99" in _error(small, max_pixels=99)


@pytest.mark.parametrize("mode,array", [
    ("F", np.linspace(-1.0, 3.0, 12, dtype=np.float32).reshape(3, 4)),
    ("I", np.array([[-5, 0], [70000, 2**30]], dtype=np.int32)),
])
def test_modes_without_an_eight_bit_range_are_rejected(tmp_path, mode, array):
    path = _save(Image.fromarray(array, mode), tmp_path / "x.tiff")
    assert Image.open(path).mode == mode
    message = _error(path)
    assert str(path) in message and f"pixel mode {mode!r} has no defined conversion" in message


def test_bytes_are_named_by_the_caller():
    with pytest.raises(BadImageError, match=r"^released row 7: empty file"):
        open_rgb(b"", name="released row 7")


def _manifest_row(tmp_path, data: bytes, name="img.png"):
    (tmp_path / name).write_bytes(data)
    return {"path": name, "sha256": hashlib.sha256(data).hexdigest()}


def test_load_image_checks_the_sha_then_converts(tmp_path):
    rgba = RNG.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    row = _manifest_row(tmp_path, buffer.getvalue())
    np.testing.assert_array_equal(np.asarray(load_image(tmp_path, row)), _over_white(rgba[..., :3], rgba[..., 3]))

    tampered = {**row, "sha256": "0" * 64}
    with pytest.raises(ImageIntegrityError, match="does not match the sha256 in its manifest") as caught:
        load_image(tmp_path, tampered)
    assert str(tmp_path / "img.png") in str(caught.value)
    assert np.asarray(load_image(tmp_path, tampered, verify=False)).shape == (4, 4, 3)


def test_load_image_names_a_damaged_file_whose_sha_was_recorded(tmp_path):
    row = _manifest_row(tmp_path, _noise_png()[:300], name="cut.png")
    with pytest.raises(BadImageError, match="truncated or corrupt") as caught:
        load_image(tmp_path, row)
    assert str(tmp_path / "cut.png") in str(caught.value)


def test_scoring_records_a_damaged_image_as_its_rows_status_and_goes_on(tmp_path):
    import pandas as pd

    from widespectrum import contracts
    from widespectrum.runtime import Runtime
    from widespectrum.scoring.probes import ProbeReward
    from widespectrum.scoring.runner import score_pairs

    rows = []
    for kind in ("o", "a"):
        relpath = f"images/g/0000_{kind}.png"
        sha = contracts.write_png(tmp_path / relpath, Image.new("RGB", (8, 8), (90, 90, 90)))
        rows.append({"generator": "g", "prompt_id": "0000", "image_kind": kind, "prompt": "p", "path": relpath,
                     "sha256": sha, "seed": 1, "settings": "{}", "status": "ok"})
    damaged = tmp_path / rows[1]["path"]
    damaged.write_bytes(damaged.read_bytes()[:-5])  # IEND cut off, and the manifest says these are the bytes
    rows[1]["sha256"] = hashlib.sha256(damaged.read_bytes()).hexdigest()
    prompts = pd.DataFrame({"prompt_id": ["0000"], "prompt_original": ["a"], "prompt_anti": ["b"]})
    scores = score_pairs(ProbeReward("b", Runtime(device="cpu"), batch_size=1, probe="brightness"),
                         contracts.MANIFEST.validate(pd.DataFrame(rows)), prompts, tmp_path)
    by_kind = scores.groupby("image_kind")["status"].agg(set)
    assert by_kind["o"] == {"ok"}
    (status,) = by_kind["a"]
    assert status.startswith(f"error: BadImageError: {damaged}: truncated or corrupt PNG")
