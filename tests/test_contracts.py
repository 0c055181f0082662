import hashlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from widespectrum import contracts
from widespectrum.contracts import LABELS, SCORES, ContractError


def _scores(**overrides):
    row = {"generator": "g", "prompt_id": "0001", "image_kind": "a", "prompt_kind": "o", "reward": "r",
           "score": 1.5, "score_sigma": None, "status": "ok"}
    row.update(overrides)
    return pd.DataFrame([row])


def test_validate_orders_columns_and_types():
    frame = _scores()[list(reversed(SCORES.names))]
    out = SCORES.validate(frame)
    assert list(out.columns) == SCORES.names
    assert out["score"].dtype == np.float64
    assert out["score_sigma"].isna().all()


@pytest.mark.parametrize("column,value,needle", [
    ("image_kind", "x", "'image_kind' has value 'x'"),
    ("prompt_id", None, "'prompt_id' is null at row 0"),
    ("score", "high", "'score' is not float"),
])
def test_validate_names_column_and_row(column, value, needle):
    with pytest.raises(ContractError, match=needle):
        SCORES.validate(_scores(**{column: value}))


def test_missing_column_is_named():
    with pytest.raises(ContractError, match=r"missing column\(s\) \['status'\]"):
        SCORES.validate(_scores().drop(columns="status"))


def test_labels_only_accept_paper_values():
    frame = pd.DataFrame([{"generator": "g", "prompt_id": "1", "selected": 2, "first_shown": "o", "status": "ok"}])
    with pytest.raises(ContractError, match="allowed"):
        LABELS.validate(frame)


def test_table_round_trip_keeps_values_and_file_mode(tmp_path):
    # a writer failing half-way leaves nothing: tests/test_faults_io.py
    path = tmp_path / "deep" / "scores.parquet"
    contracts.write_table(_scores(), path, SCORES)
    assert [p.name for p in path.parent.iterdir()] == ["scores.parquet"]  # no temp file left behind
    back = contracts.read_table(path, SCORES)
    assert back.loc[0, "score"] == 1.5
    assert path.stat().st_mode & 0o777 == 0o666 & ~contracts._UMASK


def test_invalid_table_is_refused_before_any_write(tmp_path):
    path = tmp_path / "out.parquet"
    with pytest.raises(ContractError):
        contracts.write_table(_scores(image_kind="bad"), path, SCORES)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_png_sha_matches_file(tmp_path):
    image = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    digest = contracts.write_png(tmp_path / "x.png", image)
    assert digest == hashlib.sha256((tmp_path / "x.png").read_bytes()).hexdigest()
    assert contracts.sha256_file(tmp_path / "x.png") == digest


def test_json_is_strict_with_nan_as_null(tmp_path):
    import json

    contracts.write_json(tmp_path / "r.json", {"p": float("nan"), "n": np.int64(3), "z": [np.float64("inf"), 1.0]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"p": None, "n": 3, "z": [None, 1.0]}
