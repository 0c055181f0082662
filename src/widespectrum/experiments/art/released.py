"""The released E8 artworks (LAPIS) as items, with the score columns the set carries."""

from __future__ import annotations


import pandas as pd

from ...released.columns import find_column, scalar_score, text_value
from ...released.loading import ReleasedFormatError, Table, column_names, records


LAPIS_SCORE_CANDIDATES = ("hpsv3", "hpsv3_score", "hpsv3_reward", "hpsv2", "hpsv2_score", "hpsv2_reward",
                          "image_reward", "imagereward", "blip", "blip_score")


def lapis_items(table: Table) -> pd.DataFrame:
    """``weathon/lapis``: item_id, caption, image (null without an image column)
    and one ``score_<column>`` per released score column found. A score given as
    ``[mu, sigma]`` (HPSv3) contributes mu."""
    dataset = "weathon/lapis"
    caption_column = find_column(table, ("caption", "text", "description", "qwen_caption"), "the caption", dataset)
    id_column = find_column(table, ("i", "idx", "index", "id"), "the item id", dataset, required=False)
    image_column = find_column(table, ("image",), "the painting", dataset, required=False)
    score_columns = [c for c in LAPIS_SCORE_CANDIDATES if c in column_names(table)]
    if not score_columns:
        raise ReleasedFormatError(f"{dataset}: no score column; looked for {list(LAPIS_SCORE_CANDIDATES)}, "
                                  f"present: {column_names(table)}")
    wanted = [c for c in (caption_column, id_column, image_column) if c] + score_columns
    items = []
    for row, record in enumerate(records(table, wanted)):
        item = {"item_id": str(record[id_column]) if id_column else f"{row:05d}",
                "caption": text_value(record[caption_column], caption_column, row, dataset),
                "image": record[image_column] if image_column else None}
        for column in score_columns:
            item[f"score_{column}"] = scalar_score(record[column], column, row, dataset)
        items.append(item)
    return pd.DataFrame(items, columns=["item_id", "caption", "image", *[f"score_{c}" for c in score_columns]])
