"""The released E7 photographs (``weathon/aas_real_images``) as items.

The release's upload script (scripts/publish_real_images_hf_dataset.py of the
authors' repository) writes ``image``, ``original_path``, ``file_name``,
``class_keys`` (retrieval-query hash ids, not taxonomy classes), ``queries``,
``source_datasets``, ``messages`` and ``annotations_json``: no captions. A
revision that carries caption columns is read by ``ava_items``; otherwise the
photographs (``ava_photographs``) are recaptioned (``experiments.ava.steps``).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import pyarrow as pa

from ...released.columns import find_column, text_value
from ...released.loading import ReleasedFormatError, Table, column_names, is_image_value, records, string_list


AVA_CAPTION_STRUCT = "caption"


def ava_items(table: Table, with_images: bool = True) -> pd.DataFrame:
    """``weathon/aas_real_images``: item_id, file_name, image, class_keys,
    anti_aesthetic_caption, clean_caption.

    Captions live either in top-level columns or in a ``caption`` struct
    (``anti_aesthetic_caption``, ``clean_caption``, ``anti_aesthetic_elements``),
    as the authors' own gallery script reads them. Class keys are a list or a
    JSON string; rows without any class key are kept with an empty list.
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
    class_column = find_column(table, ("class_keys", "classes", "categories"), "the class keys", dataset,
                         required=not nested)
    wanted = [c for c in (image_column, name_column, class_column, anti_column, clean_column) if c]
    if nested:
        wanted.append(AVA_CAPTION_STRUCT)
    items = []
    for row, record in enumerate(records(table, wanted)):
        if nested:
            caption = record[AVA_CAPTION_STRUCT] or {}
            anti, clean = caption.get("anti_aesthetic_caption"), caption.get("clean_caption")
            classes = record[class_column] if class_column else caption.get("anti_aesthetic_elements")
            where = f"{AVA_CAPTION_STRUCT}.anti_aesthetic_caption"
        else:
            anti, clean, classes = record[anti_column], record[clean_column], record[class_column]
            where = anti_column
        if image_column and not is_image_value(record[image_column]):
            raise ReleasedFormatError(f"{dataset}: column {image_column!r} holds no image at row {row}")
        items.append({
            "item_id": f"{row:05d}",
            "file_name": record[name_column] if name_column else None,
            "image": record[image_column] if image_column else None,
            "class_keys": string_list(classes, class_column or f"{AVA_CAPTION_STRUCT}.anti_aesthetic_elements",
                                      f"row {row} of {dataset}"),
            "anti_aesthetic_caption": text_value(anti, where, row, dataset),
            "clean_caption": clean if isinstance(clean, str) and clean.strip() else None,
        })
    return pd.DataFrame(items, columns=["item_id", "file_name", "image", "class_keys",
                                        "anti_aesthetic_caption", "clean_caption"])


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
