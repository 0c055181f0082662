"""The released E7 photographs (``weathon/aas_real_images``) as items.

The release's upload script (scripts/publish_real_images_hf_dataset.py of the
authors' repository) writes ``image``, ``original_path``, ``file_name``,
``class_keys`` (retrieval-query hash ids, not taxonomy classes), ``queries``,
``source_datasets``, ``messages`` and ``annotations_json``: no captions. A
revision that carries caption columns is read by ``ava_items``; otherwise the
photographs (``ava_photographs``) are recaptioned (``experiments.ava.steps``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pandas as pd
import pyarrow as pa

from ...captioning import Taxonomy
from ...released.columns import find_column, text_value
from ...released.loading import (ReleasedFormatError, Table, column_names, is_image_value, missing, records,
                                 string_list)

log = logging.getLogger(__name__)

AVA_CAPTION_STRUCT = "caption"
AVA_ELEMENTS = "anti_aesthetic_elements"


def ava_items(table: Table, taxonomy: Taxonomy, with_images: bool = True) -> tuple[pd.DataFrame, dict[str, int]]:
    """``weathon/aas_real_images``: item_id, file_name, image, class_keys, anti_aesthetic_caption,
    clean_caption; and the counts ``photographs`` (rows read) and ``not_anti_aesthetic`` (rows left out).

    Captions and elements live either in top-level columns or in a ``caption`` struct
    (``anti_aesthetic_caption``, ``clean_caption``, ``anti_aesthetic_elements``), as the
    authors' own gallery script reads them. The classes are the elements (a list or a JSON
    string of ``group.element`` keys) put as ``element_keys`` puts them; ``class_keys`` holds
    retrieval-query hash ids and is never read. A row with both captions null was judged not
    anti-aesthetic and is left out and counted; one with a single caption null is an error.
    """
    dataset = "weathon/aas_real_images"
    present = column_names(table)
    image_column = find_column(table, ("image",), "the photograph", dataset) if with_images else None
    name_column = find_column(table, ("file_name", "filename"), "the file name", dataset, required=False)
    nested = AVA_CAPTION_STRUCT in present and _is_struct_column(table, AVA_CAPTION_STRUCT)
    anti_column = clean_column = None
    if not nested:
        anti_column = find_column(table, ("anti_aesthetic_caption", "caption_anti", "anti_caption", "caption"),
                                  "the anti-aesthetic caption", dataset)
        clean_column = find_column(table, ("clean_caption", "caption_clean"), "the clean caption", dataset)
    elements_column = find_column(table, (AVA_ELEMENTS,), "the anti-aesthetic elements", dataset,
                                  required=not nested)
    wanted = [c for c in (image_column, name_column, elements_column, anti_column, clean_column) if c]
    if nested:
        wanted.append(AVA_CAPTION_STRUCT)
        anti_column, clean_column = (f"{AVA_CAPTION_STRUCT}.{c}" for c in ("anti_aesthetic_caption", "clean_caption"))
    items = []
    rows = records(table, wanted)
    for row, record in enumerate(rows):
        if nested:
            caption = record[AVA_CAPTION_STRUCT] or {}
            anti, clean = caption.get("anti_aesthetic_caption"), caption.get("clean_caption")
            elements = record[elements_column] if elements_column else caption.get(AVA_ELEMENTS)
        else:
            anti, clean, elements = record[anti_column], record[clean_column], record[elements_column]
        if missing(anti) and missing(clean):
            continue
        if image_column and not is_image_value(record[image_column]):
            raise ReleasedFormatError(f"{dataset}: column {image_column!r} holds no image at row {row}")
        qualified = string_list(None if missing(elements) else elements,
                                elements_column or f"{AVA_CAPTION_STRUCT}.{AVA_ELEMENTS}", f"row {row} of {dataset}")
        items.append({
            "item_id": f"{row:05d}",
            "file_name": record[name_column] if name_column else None,
            "image": record[image_column] if image_column else None,
            "class_keys": element_keys(qualified, taxonomy),
            "anti_aesthetic_caption": text_value(anti, anti_column, row, dataset),
            "clean_caption": text_value(clean, clean_column, row, dataset),
        })
    counts = {"photographs": len(rows), "not_anti_aesthetic": len(rows) - len(items)}
    log.info("%s: %d of %d photographs judged not anti-aesthetic (both captions null), filtered",
             dataset, counts["not_anti_aesthetic"], counts["photographs"])
    frame = pd.DataFrame(items, columns=["item_id", "file_name", "image", "class_keys",
                                         "anti_aesthetic_caption", "clean_caption"])
    return frame, counts


def element_keys(qualified: list[str], taxonomy: Taxonomy) -> list[str]:
    """Fully qualified ``group.element`` keys -> element keys, fig_diff's rows (the paper names the element:
    analog_degradation, intentional_blur, exposure_extremes); ``Taxonomy.label`` prints them."""
    elements = [key.rsplit(".", 1)[-1] for key in taxonomy.keys]
    if len(set(elements)) != len(elements):
        raise ValueError("taxonomy element keys repeat across groups; the element alone does not name a class")
    return [key.rsplit(".", 1)[-1] for key in qualified]


CAPTION_COLUMNS = ("anti_aesthetic_caption", "caption_anti", "anti_caption", "caption")


def has_captions(table: Table) -> bool:
    """Whether this revision carries caption columns (top-level or a ``caption`` struct)."""
    return any(c in column_names(table) for c in CAPTION_COLUMNS)


def ava_photographs(table: Table) -> pd.DataFrame:
    """item_id, file_name and image of every released photograph, for recaptioning by ``file_name``."""
    dataset = "weathon/aas_real_images"
    image_column = find_column(table, ("image",), "the photograph", dataset)
    name_column = find_column(table, ("file_name", "filename"), "the file name", dataset)
    items = []
    for row, record in enumerate(records(table, [image_column, name_column])):
        if not is_image_value(record[image_column]):
            raise ReleasedFormatError(f"{dataset}: column {image_column!r} holds no image at row {row}")
        items.append({"item_id": f"{row:05d}", "file_name": text_value(record[name_column], name_column, row, dataset),
                      "image": record[image_column]})
    frame = pd.DataFrame(items, columns=["item_id", "file_name", "image"])
    repeated = frame["file_name"][frame["file_name"].duplicated()].tolist()
    if repeated:
        raise ReleasedFormatError(f"{dataset}: column {name_column!r} repeats {repeated[:5]}: recaptions are "
                                  "keyed by file name")
    return frame


def _is_struct_column(table: Table, name: str) -> bool:
    if isinstance(table, pa.Table):
        return pa.types.is_struct(table.schema.field(name).type)
    first = next((v for v in table[name] if v is not None), None)
    return isinstance(first, Mapping)
