"""Procedural stand-ins for the side experiments' datasets (docs/experiments.md, E6, E7, E8), for the offline demo.

The paper's items come from datasets the demo cannot download: Nano Banana
pictures of a happy scene edited into sad, angry and fearful versions; AVA
photographs judged deliberately anti-aesthetic; LAPIS / WikiArt paintings.
The functions below make small deterministic substitutes from the photographs
that ship inside scikit-image (``generation.procedural``) and from seeded
procedural painting. They play the datasets' roles so that every stage of the
experiments runs; what a reward makes of them says nothing about the paper.

Every function writes PNGs under ``out_dir`` (which must lie inside
``run_dir``) and returns the items frame with run-relative paths; the same
arguments give byte-identical pictures. Only numpy, scipy, scikit-image and
PIL are used (no torch).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage
from tqdm.auto import tqdm

from ..contracts import OK
from ..experiments.common import relative_folder, save_item_image
from ..experiments.art.measure import ART_ITEMS
from ..experiments.ava.measure import AVA_ITEMS
from ..experiments.emotion.measure import EMOTION_ITEMS
from ..generation.procedural import COLOUR_PHOTOS, EFFECTS, beautify, load_photo, to_image
from ..imagestats import REC709

log = logging.getLogger(__name__)

ZOOMS = (1.0, 1.125, 1.25, 1.375)  # few distinct sizes, so the photo cache stays small


# ---------------------------------------------------------------- shared

def _luma(pixels: np.ndarray) -> np.ndarray:
    return pixels @ REC709


def _photo_view(photo: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square view of a bundled photo: zoomed in a little, shifted, maybe mirrored.

    Gives items drawn from the same photo different pictures.
    """
    zoom = ZOOMS[int(rng.integers(len(ZOOMS)))]
    side = round(size * zoom)
    pixels = load_photo(photo, side)
    top, left = (int(rng.integers(side - size + 1)) for _ in range(2))
    view = pixels[top:top + size, left:left + size]
    return view[:, ::-1].copy() if rng.random() < 0.5 else view.copy()


def _check_size(size: int) -> int:
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    return int(size)


def _photo_order(seed: int, photos: Sequence[str]) -> list[str]:
    """The photos in a seeded order; item i uses photo i mod len, so small runs see every photo."""
    return [photos[i] for i in np.random.default_rng([seed, 0]).permutation(len(photos))]


# ---------------------------------------------------------------- E6: happy pictures and their edits

# Per photo, a prompt template in the spirit of the paper's (an [emotion] slot).
EMOTION_TEMPLATES: dict[str, str] = {
    "astronaut": "A portrait of an astronaut posing beside a flag, her expression [emotion]",
    "chelsea": "A close-up of a tabby cat looking [emotion]",
    "coffee": "A cup of coffee on a saucer, in a scene that feels [emotion]",
    "hubble_deep_field": "A field of distant galaxies that feels [emotion]",
    "immunohistochemistry": "A microscope view of stained tissue that feels [emotion]",
    "motorcycle": "A parked motorcycle in a street that feels [emotion]",
    "retina": "The back of a human eye, in a picture that feels [emotion]",
    "rocket": "A rocket on its launch pad at dusk, the scene [emotion]",
}


def happy_edit(pixels: np.ndarray) -> np.ndarray:
    """Warm, bright and beautified: the happy picture every edit starts from."""
    lifted = np.clip(beautify(pixels), 0.0, 1.0) ** 0.8
    return np.clip(lifted * np.array([1.06, 1.0, 0.9]), 0.0, 1.0)


def sad_edit(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Desaturated, blue and dark: the procedural gloom effect (``EFFECTS['emotion']``)."""
    return np.clip(EFFECTS["emotion"](pixels, rng), 0.0, 1.0)


def angry_edit(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Red, high-contrast and harsh: a red grade, contrast pushed about the mean, an over-sharpened edge."""
    red = pixels * np.array([1.3, 0.78, 0.72]) * rng.uniform(0.95, 1.05)
    mean = _luma(red).mean()
    punchy = mean + rng.uniform(1.5, 1.7) * (red - mean)
    blurred = ndimage.gaussian_filter(punchy, sigma=(1.5, 1.5, 0), mode="reflect")
    return np.clip(punchy + 1.2 * (punchy - blurred), 0.0, 1.0)


def fearful_edit(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dark, green-grey, vignetted and noisy: washed-out colour, a sickly tint, dim light, grain."""
    size = pixels.shape[0]
    grey = _luma(pixels)[..., None]
    washed = grey + 0.1 * (pixels - grey)
    sickly = washed * np.array([0.78, 1.0, 0.84])
    dim = rng.uniform(0.5, 0.6) * np.clip(sickly, 0.0, 1.0) ** 1.3
    rows, cols = np.mgrid[0:size, 0:size] / (size - 1) - 0.5
    vignette = 1.0 - 1.4 * (rows**2 + cols**2)  # 1 in the centre, 0.3 in the corners
    grain = rng.normal(0.0, 0.035, size=(size, size, 1))
    return np.clip(dim * vignette[..., None] + grain, 0.0, 1.0)


EMOTION_EDITS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "angry": angry_edit,
    "fearful": fearful_edit,
    "sad": sad_edit,
}


def emotion_items(
    out_dir: str | os.PathLike, run_dir: str | os.PathLike, n_items: int, seed: int, size: int = 256
) -> pd.DataFrame:
    """Stand-in for ``weathon/emotion_bias_dataset``: a happy picture and three edits per item (EMOTION_ITEMS).

    The happy picture is a beautified, warm, bright view of a bundled photo;
    the sad, angry and fearful pictures are procedural edits of it, as the
    paper's were Nano Banana edits of its happy picture.
    """
    size = _check_size(size)
    folder = relative_folder(out_dir, run_dir)
    photos = _photo_order(seed, list(COLOUR_PHOTOS))
    rows = []
    for index in tqdm(range(n_items), desc="emotion stand-ins", unit="item"):
        item_id = f"{index:03d}"
        photo = photos[index % len(photos)]
        happy = happy_edit(_photo_view(photo, size, np.random.default_rng([seed, index, 0])))
        pictures = {"happy": happy}
        for number, (emotion, edit) in enumerate(EMOTION_EDITS.items(), start=1):
            pictures[emotion] = edit(happy, np.random.default_rng([seed, index, number]))
        for emotion, pixels in pictures.items():
            saved = save_item_image(to_image(pixels), run_dir, f"{folder}/{item_id}_{emotion}.png")
            rows.append({"item_id": item_id, "image_emotion": emotion, "prompt_template": EMOTION_TEMPLATES[photo],
                         **saved, "status": OK})
    return EMOTION_ITEMS.validate(pd.DataFrame(rows, columns=EMOTION_ITEMS.names), where="of the emotion stand-ins")


# ---------------------------------------------------------------- E7: anti-aesthetic photographs

PHOTO_SUBJECTS: dict[str, str] = {
    "astronaut": "an astronaut in a flight suit posing beside a flag",
    "chelsea": "a tabby cat looking to one side",
    "coffee": "a cup of coffee on a red saucer",
    "hubble_deep_field": "a night sky full of distant galaxies",
    "immunohistochemistry": "a stained tissue sample under a microscope",
    "motorcycle": "a parked motorcycle",
    "retina": "the back of a human eye with its blood vessels",
    "rocket": "a rocket on its launch pad",
}

AvaEffect = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, str]]


@dataclass(frozen=True)
class AvaClass:
    group: str  # one of the paper's five taxonomy groups
    apply: AvaEffect  # pixels, rng -> (pixels, caption phrase)


def dutch_tilt(pixels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The frame turned 12-25 degrees either way, zoomed so that no corner is empty."""
    size = pixels.shape[0]
    angle = np.deg2rad(rng.uniform(12.0, 25.0)) * rng.choice([-1.0, 1.0])
    cos, sin = np.cos(angle), np.sin(angle)
    scale = 1.0 / (abs(cos) + abs(sin))  # the largest upright square inside the turned frame
    centre = (size - 1) / 2
    rows, cols = np.mgrid[0:size, 0:size] - centre
    source_rows = centre + scale * (cos * rows - sin * cols)
    source_cols = centre + scale * (sin * rows + cos * cols)
    turned = np.stack([ndimage.map_coordinates(pixels[..., ch], [source_rows, source_cols], order=1, mode="nearest")
                       for ch in range(3)], axis=2)
    return turned, "framed at a steep, careless dutch tilt"


def empty_frame(pixels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The scene shrunk to a small inset far off centre in a flat field of its own mean colour."""
    size = pixels.shape[0]
    side = max(4, round(0.2 * size))
    inset = np.asarray(to_image(pixels).resize((side, side), Image.Resampling.LANCZOS), dtype=np.float64) / 255.0
    canvas = np.broadcast_to(pixels.mean(axis=(0, 1)), pixels.shape).copy()
    margin = round(0.04 * size)
    top = margin if rng.random() < 0.5 else size - margin - side
    left = margin if rng.random() < 0.5 else size - margin - side
    canvas[top:top + side, left:left + side] = inset
    return canvas, "a tiny subject lost in a vast, empty frame"


def intentional_blur(pixels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A long motion smear along the rows or the columns."""
    length = max(3, round(rng.uniform(0.06, 0.1) * pixels.shape[0]))
    axis = int(rng.integers(2))
    smeared = ndimage.uniform_filter1d(pixels, size=length, axis=axis, mode="nearest")
    return smeared, "smeared by deliberate motion blur"


def exposure_extremes(pixels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Either blown out to white or sunk into darkness (drawn per picture)."""
    if rng.random() < 0.5:
        return np.clip(pixels * rng.uniform(2.2, 2.8) + 0.1, 0.0, 1.0), "blown out by extreme overexposure"
    return rng.uniform(0.18, 0.25) * np.clip(pixels, 0.0, 1.0) ** 1.8, "sunk into deep underexposure"


def clashing_colour(pixels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Garish, clashing hues pushed to overexposure (``EFFECTS['color_aesthetic']``)."""
    return EFFECTS["color_aesthetic"](pixels, rng), "in garish, clashing colours"


def gloomy_mood(pixels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Cold, grey, dim grading (``EFFECTS['emotion']``)."""
    return EFFECTS["emotion"](pixels, rng), "in a cold, gloomy, joyless grade"


def analog_degradation(pixels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Old film: faded tones, a colour cast, heavy grain, vertical scratches and dust."""
    size = pixels.shape[0]
    faded = 0.14 + 0.72 * np.clip(pixels, 0.0, 1.0)  # lifted blacks, dulled whites
    casts = (np.array([1.08, 1.0, 0.78]), np.array([1.06, 0.86, 1.04]), np.array([0.9, 1.05, 0.85]))
    cast = casts[int(rng.integers(len(casts)))]
    grain = rng.normal(0.0, 0.06, size=(size, size, 1)) + rng.normal(0.0, 0.015, size=(size, size, 3))
    film = faded * cast + grain
    for _ in range(int(rng.integers(3, 7))):  # scratches: thin bright vertical lines of random length
        column = int(rng.integers(size))
        start = int(rng.integers(0, size // 2))
        stop = int(rng.integers(start + size // 3, size + 1))
        film[start:stop, column] = np.maximum(film[start:stop, column], rng.uniform(0.85, 0.95))
    specks = rng.random((size, size)) < 0.002  # dust: dark specks
    film[specks] *= 0.2
    return np.clip(film, 0.0, 1.0), "on faded, scratched, grainy film with a colour cast"


# Applied in this order: composition, then focus, exposure and colour, with the
# film's grain and scratches last so that nothing smooths them away.
AVA_TAXONOMY: dict[str, AvaClass] = {
    "dutch_tilt": AvaClass("composition_and_structure", dutch_tilt),
    "empty_frame": AvaClass("composition_and_structure", empty_frame),
    "intentional_blur": AvaClass("clarity_and_focus", intentional_blur),
    "exposure_extremes": AvaClass("lighting_and_exposure", exposure_extremes),
    "clashing_colour": AvaClass("color_and_tone", clashing_colour),
    "gloomy_mood": AvaClass("emotion_and_subject", gloomy_mood),
    "analog_degradation": AvaClass("color_and_tone", analog_degradation),
}


def apply_ava_classes(pixels: np.ndarray, classes: Sequence[str], seed: int) -> tuple[np.ndarray, list[str]]:
    """Apply the classes' effects in AVA_TAXONOMY order; return the pixels and their caption phrases.

    Each class draws from its own stream, seeded by (seed, class position), so
    one class looks the same whichever others join it.
    """
    unknown = [c for c in classes if c not in AVA_TAXONOMY]
    if unknown:
        raise ValueError(f"unknown AVA class(es) {unknown}; known: {list(AVA_TAXONOMY)}")
    phrases = []
    for position, (key, ava_class) in enumerate(AVA_TAXONOMY.items()):
        if key in classes:
            pixels, phrase = ava_class.apply(pixels, np.random.default_rng([seed, position]))
            pixels = np.clip(pixels, 0.0, 1.0)
            phrases.append(phrase)
    return pixels, phrases


def _join(phrases: Sequence[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def ava_items(
    out_dir: str | os.PathLike, run_dir: str | os.PathLike, n_items: int, seed: int, size: int = 256
) -> pd.DataFrame:
    """Stand-in for ``weathon/aas_real_images``: photographs made deliberately anti-aesthetic (AVA_ITEMS).

    Each item is a view of a bundled photo with 1-3 classes of AVA_TAXONOMY
    applied, an anti-aesthetic caption naming them and a clean caption of the
    same scene. ``reference_image`` names the photo, so the demo's procedural
    generators render the clean caption from the same scene.
    """
    size = _check_size(size)
    folder = relative_folder(out_dir, run_dir)
    photos = _photo_order(seed, list(COLOUR_PHOTOS))
    keys = list(AVA_TAXONOMY)
    rows = []
    for index in tqdm(range(n_items), desc="AVA stand-ins", unit="item"):
        item_id = f"{index:04d}"
        rng = np.random.default_rng([seed, index, 0])
        photo = photos[index % len(photos)]
        view = _photo_view(photo, size, rng)
        chosen = [keys[k] for k in sorted(rng.choice(len(keys), size=int(rng.integers(1, 4)), replace=False))]
        pixels, phrases = apply_ava_classes(view, chosen, seed=int(rng.integers(2**31)))
        subject = PHOTO_SUBJECTS[photo]
        saved = save_item_image(to_image(pixels), run_dir, f"{folder}/{item_id}.png")
        rows.append({
            "item_id": item_id, "classes": chosen,
            "caption_anti": f"A photograph of {subject}, {_join(phrases)}.",
            "caption_clean": f"A sharp, well-exposed, well-composed photograph of {subject} in natural colours.",
            "reference_image": photo, **saved, "status": OK,
        })
    return AVA_ITEMS.validate(pd.DataFrame(rows, columns=AVA_ITEMS.names), where="of the AVA stand-ins")


# ---------------------------------------------------------------- E8: abstract paintings

Palette = dict[str, tuple[int, int, int]]  # colour name -> RGB

PALETTES: dict[str, Palette] = {
    "warm ochres and crimson": {"ochre": (204, 119, 34), "crimson": (200, 24, 52), "mustard": (236, 196, 80),
                                "maroon": (122, 16, 36), "cream": (244, 222, 182)},
    "cool blues and teal": {"navy": (24, 48, 120), "teal": (0, 126, 128), "cornflower": (98, 146, 232),
                            "pale blue": (178, 222, 230), "midnight": (12, 22, 60)},
    "muted earth tones": {"umber": (112, 84, 62), "tan": (150, 122, 90), "olive": (86, 104, 50),
                          "sand": (192, 176, 128), "charcoal brown": (58, 48, 40)},
    "soft pastels": {"pink": (250, 206, 218), "lilac": (200, 164, 204), "powder blue": (178, 222, 230),
                     "lemon": (250, 246, 160), "peach": (252, 216, 186)},
    "stark black and white": {"black": (12, 12, 12), "white": (244, 244, 240), "grey": (128, 128, 128),
                              "dark grey": (60, 60, 60), "silver": (204, 204, 200)},
    "vivid primaries": {"red": (218, 32, 32), "blue": (32, 62, 196), "yellow": (248, 208, 24),
                        "black": (16, 16, 16), "off-white": (244, 242, 236)},
}
NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen").split()


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _colour(palette: Palette, rng: np.random.Generator) -> tuple[int, int, int]:
    return list(palette.values())[int(rng.integers(len(palette)))]


def _paint_colour_fields(draw: ImageDraw.ImageDraw, size: int, palette: Palette, rng: np.random.Generator) -> str:
    """Stacked horizontal bands of colour (their edges are softened after drawing)."""
    count = int(rng.integers(2, 5))
    edges = np.sort(rng.uniform(0.08, 0.92, size=count * 2)) * size
    inset = rng.uniform(0.05, 0.12) * size
    for top, bottom in zip(edges[0::2], edges[1::2]):
        draw.rectangle([inset, top, size - inset, bottom], fill=_colour(palette, rng))
    return f"{NUMBER_WORDS[count]} soft-edged horizontal colour fields"


def _paint_geometric(draw: ImageDraw.ImageDraw, size: int, palette: Palette, rng: np.random.Generator) -> str:
    """A grid of heavy black lines enclosing flat rectangles, with a few circles."""
    cuts_x = np.sort(rng.uniform(0.1, 0.9, size=int(rng.integers(2, 5)))) * size
    cuts_y = np.sort(rng.uniform(0.1, 0.9, size=int(rng.integers(2, 5)))) * size
    xs, ys = [0.0, *cuts_x, float(size)], [0.0, *cuts_y, float(size)]
    for left, right in zip(xs[:-1], xs[1:]):
        for top, bottom in zip(ys[:-1], ys[1:]):
            if rng.random() < 0.45:
                draw.rectangle([left, top, right, bottom], fill=_colour(palette, rng))
    width = max(2, size // 60)
    for x in cuts_x:
        draw.line([(x, 0), (x, size)], fill=(10, 10, 10), width=width)
    for y in cuts_y:
        draw.line([(0, y), (size, y)], fill=(10, 10, 10), width=width)
    circles = int(rng.integers(1, 4))
    for _ in range(circles):
        cx, cy, r = rng.uniform(0.15, 0.85) * size, rng.uniform(0.15, 0.85) * size, rng.uniform(0.05, 0.15) * size
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_colour(palette, rng))
    lines = len(cuts_x) + len(cuts_y)
    return (f"a grid of {NUMBER_WORDS[lines]} black lines enclosing flat rectangles, "
            f"with {NUMBER_WORDS[circles]} circle{'s' if circles > 1 else ''}")


def _paint_strokes(draw: ImageDraw.ImageDraw, size: int, palette: Palette, rng: np.random.Generator) -> str:
    """Many curved, overlapping brush strokes, broad or fine."""
    count = int(rng.integers(60, 140))
    broad = rng.random() < 0.5
    widest = max(3, size // (20 if broad else 40))
    for _ in range(count):
        x, y = rng.uniform(0, size, size=2)
        heading = rng.uniform(0, 2 * np.pi)
        points = [(x, y)]
        for _ in range(int(rng.integers(3, 8))):
            heading += rng.normal(0.0, 0.5)
            step = rng.uniform(0.02, 0.06) * size
            x, y = x + step * np.cos(heading), y + step * np.sin(heading)
            points.append((x, y))
        draw.line(points, fill=_colour(palette, rng), width=int(rng.integers(2, widest)), joint="curve")
    density = "dense" if count >= 100 else "loose"
    return f"{density}, energetic {'broad' if broad else 'fine'} brush strokes"


def _paint_shapes(draw: ImageDraw.ImageDraw, size: int, palette: Palette, rng: np.random.Generator) -> str:
    """Circles and triangles scattered over a plain ground."""
    count = int(rng.integers(5, 17))
    for _ in range(count):
        cx, cy = rng.uniform(0.1, 0.9, size=2) * size
        r = rng.uniform(0.03, 0.14) * size
        if rng.random() < 0.5:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_colour(palette, rng))
        else:
            turn = rng.uniform(0, 2 * np.pi)
            corners = [(cx + r * np.cos(turn + k * 2 * np.pi / 3), cy + r * np.sin(turn + k * 2 * np.pi / 3))
                       for k in range(3)]
            draw.polygon(corners, fill=_colour(palette, rng))
    return f"{NUMBER_WORDS[count]} scattered circles and triangles"


COMPOSITIONS: dict[str, Callable[[ImageDraw.ImageDraw, int, Palette, np.random.Generator], str]] = {
    "colour_fields": _paint_colour_fields,
    "geometric": _paint_geometric,
    "strokes": _paint_strokes,
    "shapes": _paint_shapes,
}


def paint_canvas(seed: int, size: int = 256) -> tuple[Image.Image, str]:
    """One seeded abstract painting and a caption naming its composition, palette and ground."""
    size = _check_size(size)
    rng = np.random.default_rng(seed)
    palette_name = list(PALETTES)[int(rng.integers(len(PALETTES)))]
    palette = PALETTES[palette_name]
    ground = list(palette)[int(rng.integers(len(palette)))]
    composition = list(COMPOSITIONS)[int(rng.integers(len(COMPOSITIONS)))]
    canvas = Image.new("RGB", (size, size), palette[ground])
    description = COMPOSITIONS[composition](ImageDraw.Draw(canvas), size, palette, rng)
    if composition == "colour_fields":  # their edges dissolve into the ground
        canvas = canvas.filter(ImageFilter.GaussianBlur(radius=size / 60))
    # canvas weave: a faint texture, so that no painting is perfectly flat
    pixels = np.asarray(canvas, dtype=np.float64) / 255.0
    pixels = pixels + rng.normal(0.0, 0.012, size=(size, size, 1))
    caption = f"An abstract painting of {description} in {palette_name}, on {_article(ground)} {ground} ground."
    return to_image(pixels), caption


def lapis_items(
    out_dir: str | os.PathLike, run_dir: str | os.PathLike, n_items: int, seed: int, size: int = 256
) -> pd.DataFrame:
    """Stand-in for LAPIS / WikiArt paintings: seeded abstract canvases with captions (ART_ITEMS)."""
    folder = relative_folder(out_dir, run_dir)
    rows = []
    for index in tqdm(range(n_items), desc="painting stand-ins", unit="item"):
        item_id = f"{index:05d}"
        image, caption = paint_canvas(int(np.random.default_rng([seed, index]).integers(2**63)), size)
        saved = save_item_image(image, run_dir, f"{folder}/{item_id}.png")
        rows.append({"item_id": item_id, "caption": caption, **saved, "status": OK})
    return ART_ITEMS.validate(pd.DataFrame(rows, columns=ART_ITEMS.names), where="of the painting stand-ins")

