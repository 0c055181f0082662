"""The on-disk contracts between pipeline stages, and atomic writers for them.

Every table the DAG passes from one stage to the next is a Parquet file whose
columns are declared here. Readers and writers both validate against these
declarations, so a stage that drifts from the contract fails at the boundary
with a message naming the file and the column, not three stages later.

Layout of a run folder ``results/<run>/``::

    prompts/prompts.parquet                      PROMPTS
    images/<generator>/manifest.parquet          MANIFEST (paths relative to the run folder)
    scores/<reward>/<generator>.parquet          SCORES
    judgements/<judge>/<generator>.parquet       LABELS
    ratings/<judge>/<generator>.parquet          RATINGS
    tables/<name>.csv, <name>.tex                one table of the paper
    figures/<name>.pdf, <name>.png               one figure of the paper
    notebooks/<name>.ipynb                       the executed notebook that drew it

Writes are atomic (``_atomic_write``): an output is either its old complete
version, its new complete version, or absent, also when the writer is killed
with SIGKILL. A write in progress lives in ``.<name>.<host>-<pid>.<random>.tmp``
beside the output (hidden, and matched by no output pattern); the first write
of a later process into that folder deletes those of dead writers. Disk full or
a permission error raises ``errors.OutputWriteError`` naming the output and the
cause.

Non-finite values: tables keep float columns as they are; NaN, inf and -inf
round-trip through Parquet and no row is ever dropped here. The runners record
a model's non-finite output as a null score with status ``error: non-finite
score``; the analysis leaves out every row whose status is not ``ok`` or whose
value is missing, and counts them in each table's ``n_excluded``.
(``write_json``, for statistics, writes non-finite numbers as null.)
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import socket
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from .errors import OutputWriteError

OK = "ok"
IMAGE_KINDS = ("o", "a")  # o = from the original caption p_o, a = from the rewrite p_a
PROMPT_KINDS = ("o", "a")
LABEL_VALUES = (0, 1, -1)  # 0 = I_o matches p_a better, 1 = I_a does, -1 = tie


class ContractError(ValueError):
    """A table does not match its declared schema."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # one of: str, int, float, bool, list_str
    nullable: bool = False
    allowed: tuple | None = None
    doc: str = ""


@dataclass(frozen=True)
class Schema:
    name: str
    columns: tuple[Column, ...]
    doc: str = ""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def validate(self, frame: pd.DataFrame, where: str = "") -> pd.DataFrame:
        """Return ``frame`` with the contract's column order and dtypes, or raise."""
        label = f"{self.name} table{f' {where}' if where else ''}"
        missing = [c for c in self.names if c not in frame.columns]
        if missing:
            raise ContractError(
                f"{label}: missing column(s) {missing}; expected {self.names}"
            )
        out = pd.DataFrame(index=range(len(frame)))
        for col in self.columns:
            values = frame[col.name].reset_index(drop=True)
            if not col.nullable and values.isna().any():
                row = int(values.isna().to_numpy().nonzero()[0][0])
                raise ContractError(f"{label}: column {col.name!r} is null at row {row}")
            out[col.name] = _coerce(values, col, label)
            if col.allowed is not None:
                present = out[col.name].dropna()
                bad = present[~present.isin(col.allowed)]
                if len(bad):
                    raise ContractError(
                        f"{label}: column {col.name!r} has value {bad.iloc[0]!r} at row "
                        f"{int(bad.index[0])}; allowed {list(col.allowed)}"
                    )
        extra = [c for c in frame.columns if c not in self.names]
        for name in extra:
            out[name] = frame[name].reset_index(drop=True)
        return out

    def empty(self) -> pd.DataFrame:
        return self.validate(pd.DataFrame({c: [] for c in self.names}))

    def describe(self) -> str:
        lines = [f"{self.name}: {self.doc}"]
        for c in self.columns:
            extra = f" one of {list(c.allowed)}" if c.allowed else ""
            null = ", nullable" if c.nullable else ""
            lines.append(f"  {c.name} ({c.dtype}{null}){extra}: {c.doc}")
        return "\n".join(lines)


def _coerce(values: pd.Series, col: Column, label: str) -> pd.Series:
    try:
        if col.dtype == "str":
            return values.astype("string").astype(object).where(values.notna(), None)
        if col.dtype == "int":
            return values.astype("Int64" if col.nullable else "int64")
        if col.dtype == "float":
            return pd.to_numeric(values, errors="raise").astype("float64")
        if col.dtype == "bool":
            return values.astype(bool)
        if col.dtype == "list_str":
            return values.map(lambda v: [str(x) for x in v] if v is not None else None)
    except (TypeError, ValueError) as err:
        raise ContractError(f"{label}: column {col.name!r} is not {col.dtype}: {err}") from err
    raise ContractError(f"{label}: unknown dtype {col.dtype!r} for column {col.name!r}")


_STATUS = Column("status", "str", doc="'ok', or the error that stopped this row")

PROMPTS = Schema(
    "prompts",
    (
        Column("prompt_id", "str", doc="stable id of the pair, e.g. '0007'"),
        Column("caption_id", "str", doc="id of the source caption"),
        Column("prompt_original", "str", doc="p_o, the original caption"),
        Column("prompt_anti", "str", doc="p_a, the wide-spectrum rewrite"),
        Column("dimensions", "list_str", doc="the sampled VisionReward dimension keys"),
        Column("negative_prompt", "str", nullable=True, doc="short negative prompt (VSF, E11)"),
        Column("reference_image", "str", nullable=True,
               doc="a source picture for procedural or image-to-image generators"),
        Column("rewriter", "str", doc="the rewriter backend that produced p_a"),
    ),
    "one row per (p_o, p_a) pair",
)

MANIFEST = Schema(
    "manifest",
    (
        Column("generator", "str"),
        Column("prompt_id", "str"),
        Column("image_kind", "str", allowed=IMAGE_KINDS, doc="o: made from p_o; a: from p_a"),
        Column("prompt", "str", doc="the exact text given to the generator"),
        Column("path", "str", nullable=True, doc="PNG path relative to the run folder"),
        Column("sha256", "str", nullable=True, doc="sha256 of the PNG file"),
        Column("seed", "int", nullable=True, doc="the seed used; null where the service takes none"),
        Column("settings", "str", doc="JSON of the generation settings used"),
        _STATUS,
    ),
    "one row per requested image; failures are rows with an error status and no path",
)

SCORES = Schema(
    "scores",
    (
        Column("generator", "str"),
        Column("prompt_id", "str"),
        Column("image_kind", "str", allowed=IMAGE_KINDS),
        Column("prompt_kind", "str", allowed=PROMPT_KINDS),
        Column("reward", "str"),
        Column("score", "float", nullable=True, doc="r(I, p); null when status is not ok"),
        Column("score_sigma", "float", nullable=True, doc="uncertainty where the model gives one"),
        _STATUS,
    ),
    "r(I, p) for the four (image, prompt) combinations of every pair",
)

LABELS = Schema(
    "labels",
    (
        Column("generator", "str"),
        Column("prompt_id", "str"),
        Column("selected", "int", nullable=True, allowed=LABEL_VALUES,
               doc="0 = I_o matches p_a better, 1 = I_a, -1 = tie; null when status is not ok"),
        Column("first_shown", "str", nullable=True, allowed=IMAGE_KINDS,
               doc="which image the judge saw first; null where the source did not record it"),
        _STATUS,
    ),
    "pairwise judge labels y",
)

RATINGS = Schema(
    "ratings",
    (
        Column("generator", "str"),
        Column("prompt_id", "str"),
        Column("image_kind", "str", allowed=IMAGE_KINDS),
        Column("dimension", "str"),
        Column("score", "float", nullable=True, doc="J(I, d), expected rating in [0, 2]"),
        _STATUS,
    ),
    "per-dimension judge ratings J(I, d)",
)

EMOTIONS_NEGATIVE = ("angry", "fearful", "sad")
EMOTIONS = ("happy", *EMOTIONS_NEGATIVE)

EMOTION_SCORES = Schema(
    "emotion_scores",
    (
        Column("item_id", "str"),
        Column("emotion", "str", allowed=EMOTIONS_NEGATIVE, doc="the emotion the prompt asks for"),
        Column("image_emotion", "str", allowed=EMOTIONS, doc="'happy' or the prompt's emotion"),
        Column("reward", "str"),
        Column("score", "float", nullable=True),
        _STATUS,
    ),
    "E6: r(I_e, p_e) and r(I_happy, p_e) for every item and negative emotion",
)

FACE_SCORES = Schema(
    "face_scores",
    (
        Column("generator", "str"),
        Column("prompt_id", "str"),
        Column("emotion", "str", allowed=EMOTIONS, doc="the emotion the prompt asked for"),
        Column("reward", "str"),
        Column("score", "float", nullable=True, doc="score of 'The face shows [emotion] expression' on the face crop"),
        _STATUS,
    ),
    "E6 generation: one row per generated emotion image",
)

AVA_SCORES = Schema(
    "ava_scores",
    (
        Column("item_id", "str"),
        Column("classes", "list_str", doc="anti-aesthetic classes of the photograph (they overlap)"),
        Column("source", "str", allowed=("photo", "generated"), doc="the photograph or the clean-caption render"),
        Column("reward", "str"),
        Column("score", "float", nullable=True, doc="r(image, anti-aesthetic caption)"),
        _STATUS,
    ),
    "E7: real anti-aesthetic photographs against clean renders of the same scene",
)

ART_SCORES = Schema(
    "art_scores",
    (
        Column("item_id", "str"),
        Column("caption_kind", "str", allowed=("true", "shuffled"), doc="the artwork's caption or another's"),
        Column("reward", "str"),
        Column("score", "float", nullable=True),
        _STATUS,
    ),
    "E8: reward scores of real artworks under their captions",
)

CRITICAL_SCORES = Schema(
    "critical_scores",
    (
        Column("prompt_id", "str"),
        Column("topic", "str"),
        Column("generator", "str"),
        Column("reward", "str"),
        Column("score", "float", nullable=True, doc="r(image, critical prompt)"),
        _STATUS,
    ),
    "E10: critical prompts rendered by two generators, scored under the prompt",
)

CONTRACTS = {s.name: s for s in (PROMPTS, MANIFEST, SCORES, LABELS, RATINGS, EMOTION_SCORES, FACE_SCORES,
                                 AVA_SCORES, ART_SCORES, CRITICAL_SCORES)}


# ---------------------------------------------------------------- atomic IO

def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write through a temporary file in the target folder, fsync it, then rename.

    A rename within one file system is atomic, so a reader (or a job killed
    half way, even by SIGKILL) sees the old file or the new one, never a part;
    the fsync keeps a crash of the machine from leaving a renamed but empty
    file. A failed write (disk full, no permission) raises ``OutputWriteError``
    naming ``path`` and the cause, and removes its temporary file.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(path.parent)
        fd, name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX, dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # also where a network file system reports a late ENOSPC
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs get the usual mode
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, OutputWriteError):
            raise OutputWriteError(path, err) from err
        raise
    return path


# Temporary files are hidden and end in .tmp, so that no output pattern (*.parquet,
# *.png) matches them: ``.<name>.<host>-<pid>.<random>.tmp`` next to the output.
_TEMP_SUFFIX = ".tmp"
_HOST = "".join(c if c.isalnum() or c in ".-" else "_" for c in socket.gethostname()) or "host"
# A temporary file from another machine is left alone until it is this old: its
# writer may still be running, and a running writer touches its file.
_FOREIGN_TEMP_STALE_S = 24 * 3600
# Folders this process has already cleaned: listing a folder of 20,000 images
# takes tens of milliseconds, too much to repeat for every image written there.
_CLEANED_FOLDERS: set[Path] = set()


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{_HOST}-{os.getpid()}."


def _remove_stale_temps(folder: Path) -> None:
    """Delete, once per process and folder, the temporary files of writers that are gone.

    A writer killed by SIGKILL cannot clean up after itself. A temporary file
    is this machine's when its host part matches, and then stale once its
    process id is no longer alive; a file of another machine is stale once it
    is older than ``_FOREIGN_TEMP_STALE_S``.
    """
    folder = folder.resolve()
    if folder in _CLEANED_FOLDERS:
        return
    with os.scandir(folder) as entries:
        candidates = [e for e in entries if e.name.startswith(".") and e.name.endswith(_TEMP_SUFFIX)]
    for entry in candidates:
        # ".<name>.<host>-<pid>.<random>.tmp" -> "<name>.<host>", "<pid>"
        name_and_host, _, pid = entry.name[1:-len(_TEMP_SUFFIX)].rpartition(".")[0].rpartition("-")
        if not pid.isdigit() or "." not in name_and_host:
            continue  # not one of ours
        try:
            if name_and_host.endswith(f".{_HOST}"):
                stale = not _process_alive(int(pid))
            else:
                stale = time.time() - entry.stat().st_mtime > _FOREIGN_TEMP_STALE_S
            if stale:
                os.unlink(entry.path)
        except FileNotFoundError:
            pass  # its writer renamed it into place, or another cleaner got there first
    _CLEANED_FOLDERS.add(folder)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return _atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    return _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Strict JSON: NaN and infinities (undefined statistics) are written as null."""
    text = json.dumps(_finite_or_null(obj), indent=2, sort_keys=True, default=_json_default, allow_nan=False)
    return write_text(path, text + "\n")


def _finite_or_null(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:  # numpy scalars
        return _finite_or_null(obj.item())
    return obj


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_table(frame: pd.DataFrame, path: str | os.PathLike, schema: Schema | None = None) -> Path:
    """Validate ``frame`` against ``schema`` (if given) and write it as Parquet atomically.

    Float columns are written as they are, NaN and infinities included, and no
    row is dropped. Pages carry CRC32 checksums, which ``read_table`` verifies.
    """
    if schema is not None:
        frame = schema.validate(frame, where=f"for {path}")
    return _atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False, write_page_checksum=True))


def read_table(path: str | os.PathLike, schema: Schema | None = None) -> pd.DataFrame:
    """Read a Parquet table (validated against ``schema`` if given).

    A truncated or corrupt file raises ``ContractError`` naming it; a missing
    one, ``FileNotFoundError``.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"table {path} does not exist")
    try:
        frame = pd.read_parquet(path, page_checksum_verification=True)
    except (pa.ArrowException, OSError, ValueError) as err:
        raise ContractError(f"{path} is not a readable Parquet table (truncated or corrupt?): "
                            f"{type(err).__name__}: {err}") from err
    if schema is not None:
        frame = schema.validate(frame, where=f"in {path}")
    return frame


def write_png(path: str | os.PathLike, image) -> str:
    """Save a PIL image as PNG atomically; return the sha256 of the bytes written."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def concat_validated(frames: list[pd.DataFrame], schema: Schema) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return schema.empty()
    return schema.validate(pd.concat(frames, ignore_index=True))


def records_to_frame(records: list[Mapping[str, Any]], schema: Schema) -> pd.DataFrame:
    if not records:
        return schema.empty()
    return schema.validate(pd.DataFrame.from_records(records))
