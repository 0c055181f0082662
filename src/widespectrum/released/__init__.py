"""Ingesting the authors' released Hugging Face datasets into the stage contracts.

``loading`` reads a dataset (a local Parquet folder or a pinned hub revision),
``benchmark`` converts ``weathon/aas_benchmark_final`` into PROMPTS, SCORES,
LABELS, RATINGS and MANIFEST frames, ``audit`` reports what the conversion
dropped or flagged, ``experiments`` reads the datasets of the other
experiments. Stand-in data in the released schema is a test fixture
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
from .experiments import (
    anti_aesthetics_prompts,
    ava_items,
    critical_items,
    emotion_bias_items,
    emotion_generation_prompts,
    lapis_items,
)
from .loading import ReleasedFormatError, decode_image, iter_released_batches, load_released_table

__all__ = [
    "Audit",
    "ReleasedBenchmark",
    "ReleasedFormatError",
    "ReleasedSpec",
    "anti_aesthetics_prompts",
    "audit_benchmark",
    "ava_items",
    "convert_benchmark",
    "critical_items",
    "decode_image",
    "emotion_bias_items",
    "emotion_generation_prompts",
    "iter_released_batches",
    "lapis_items",
    "load_released_table",
    "scan_placeholders",
    "write_audit",
    "write_converted",
    "write_images",
]
