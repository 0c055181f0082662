"""Ingesting the authors' released Hugging Face datasets into the stage contracts.

``loading`` reads a dataset (a local Parquet folder or a pinned hub revision),
``benchmark`` converts ``weathon/aas_benchmark_final`` into PROMPTS, SCORES,
LABELS, RATINGS and MANIFEST frames, ``audit`` reports what the conversion
dropped or flagged, ``prompts`` reads the released prompt set. The readers of
the side experiments' sets live in their experiments' folders
(``widespectrum.experiments.<name>.released``). Stand-in data in the released schema is a test fixture
(``tests/fixtures/released_data.py``).
"""

from .audit import Audit, audit_benchmark, write_audit
from .benchmark import (
    ReleasedBenchmark,
    ReleasedSpec,
    convert_benchmark,
    scan_placeholders,
    write_converted,
    write_images,
)
from .loading import ReleasedFormatError, decode_image, iter_released_batches, load_released_table
from .prompts import anti_aesthetics_prompts

__all__ = [
    "Audit",
    "ReleasedBenchmark",
    "ReleasedFormatError",
    "ReleasedSpec",
    "anti_aesthetics_prompts",
    "audit_benchmark",
    "convert_benchmark",
    "decode_image",
    "iter_released_batches",
    "load_released_table",
    "scan_placeholders",
    "write_audit",
    "write_converted",
    "write_images",
]
