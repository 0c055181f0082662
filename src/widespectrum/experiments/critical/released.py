"""The released E10 critical pairs: prompts and both models' pictures."""

from __future__ import annotations


import pandas as pd

from ...released.columns import holds_images, keyed_by, scalar_score, text_value
from ...released.loading import ReleasedFormatError, Table, column_names, records


def critical_items(table: Table) -> pd.DataFrame:
    """``weathon/critical_comparsion`` (schema not published): item_id (from ``i``),
    topic, label (null without that column), prompt, images (model -> image) and
    released_scores (score column -> model -> value).

    Image columns are found by their values (``{bytes, path}`` structs): the
    authors' notebooks name them after the models ("DanceFlux", "Flux Krea").
    A score column is a struct keyed by those same model names.
    """
    dataset = "weathon/critical_comparsion"
    required = ["i", "topic", "prompt"]
    present = column_names(table)
    missing = [c for c in required if c not in present]
    if missing:
        raise ReleasedFormatError(f"{dataset}: missing column(s) {missing}; present: {present}")
    image_columns = [c for c in present if c not in required and holds_images(table, c)]
    if not image_columns:
        raise ReleasedFormatError(f"{dataset}: no image column (struct with bytes) among {present}")
    score_columns = [c for c in present if c not in image_columns and c not in (*required, "label")
                     and keyed_by(table, c, image_columns)]
    label_column = "label" if "label" in present else None
    items = []
    wanted = [*required, *([label_column] if label_column else []), *image_columns, *score_columns]
    for row, record in enumerate(records(table, wanted)):
        if record["i"] is None:
            raise ReleasedFormatError(f"{dataset}: column 'i' is null at row {row}")
        items.append({
            "item_id": str(record["i"]),
            "topic": text_value(record["topic"], "topic", row, dataset),
            "label": record[label_column] if label_column else None,
            "prompt": text_value(record["prompt"], "prompt", row, dataset),
            "images": {c: record[c] for c in image_columns},
            "released_scores": {c: {m: scalar_score(v, f"{c}.{m}", row, dataset)
                                    for m, v in (record[c] or {}).items()} for c in score_columns},
        })
    return pd.DataFrame(items, columns=["item_id", "topic", "label", "prompt", "images", "released_scores"])
