"""What both captioning backends share: image inputs as message parts and the per-item loop."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import pandas as pd
from tqdm.auto import tqdm

from ..contracts import OK, Schema, records_to_frame
from ..errors import SetupError
from ..llm import image_file_to_data_url, image_to_data_url

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

ImageInput = Union["Image.Image", str, os.PathLike]


def image_url_part(image: ImageInput) -> dict:
    """An image message part carrying the picture as a data URL (a file's own bytes when a path)."""
    if isinstance(image, (str, os.PathLike)):
        url = image_file_to_data_url(Path(image))
    else:
        url = image_to_data_url(image)
    return {"type": "image_url", "image_url": {"url": url}}


def _fatal_errors() -> tuple[type[BaseException], ...]:
    """Failures that would hit every item alike: stop the job rather than write n error rows."""
    import openai

    return (SetupError, openai.AuthenticationError, openai.PermissionDeniedError)


def caption_rows(
    items: Iterable[tuple[str, ImageInput]],
    id_column: str,
    answer: Callable[[ImageInput], dict[str, Any]],
    failed: Mapping[str, Any],
    schema: Schema,
    desc: str,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per item: ``answer(image)`` gives the row's values and status; a failure a status row.

    ``failed`` holds the values of a row whose item could not be captioned.
    """
    total = len(items) if hasattr(items, "__len__") else None
    records = []
    fatal = _fatal_errors()
    for item_id, image in tqdm(items, total=total, desc=desc, unit="img", disable=not progress):
        record: dict[str, Any] = {id_column: str(item_id)}
        try:
            record.update(answer(image))
        except fatal:
            raise
        except Exception as err:  # recorded, not skipped: the caller counts it in its n
            logger.warning("captioning %s failed: %s: %s", item_id, type(err).__name__, err)
            record.update(failed)
            record["status"] = f"error: {type(err).__name__}: {err}"
        records.append(record)
    n_ok = sum(r["status"] == OK for r in records)
    logger.info("%s: %d of %d item(s) ok", desc, n_ok, len(records))
    return records_to_frame(records, schema)

