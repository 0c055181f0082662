"""VLM captioning over OpenAI-compatible chat endpoints (docs/experiments.md#e7 recaptions, E8 art captions).

- ``recaption_images(OpenAICompatibleRecaptioner(...), [(file_name, image), ...])`` and
  ``read_recaption_folder(folder, file_names)`` give ``RECAPTIONS`` rows;
- ``caption_artworks(OpenAICompatibleArtCaptioner(...), [(item_id, image), ...])`` gives
  ``ART_CAPTIONS`` rows.

Answers are structured JSON validated here, cached on disk by the full request and
retried a bounded number of times (``widespectrum.llm.ChatClient``).
"""

from .art import ART_CAPTIONS, ArtCaptionBackend, OpenAICompatibleArtCaptioner, caption_artworks
from .recaption import (
    NOT_ANTI_AESTHETIC,
    RECAPTIONS,
    OpenAICompatibleRecaptioner,
    Recaption,
    RecaptionBackend,
    read_recaption_folder,
    recaption_images,
)
from .taxonomy import TAXONOMY_FILE, Taxonomy, load_taxonomy

__all__ = [
    "ART_CAPTIONS",
    "ArtCaptionBackend",
    "NOT_ANTI_AESTHETIC",
    "RECAPTIONS",
    "TAXONOMY_FILE",
    "OpenAICompatibleArtCaptioner",
    "OpenAICompatibleRecaptioner",
    "Recaption",
    "RecaptionBackend",
    "Taxonomy",
    "caption_artworks",
    "load_taxonomy",
    "read_recaption_folder",
    "recaption_images",
]
