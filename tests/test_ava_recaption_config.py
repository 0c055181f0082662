"""The paper config's E7 block on the real release, which has no caption columns: the recaption backend.

The authors' recaption step (anti_aesthetics_agent/recaption.py of weathon/icml2026_position) asked
``Qwen/Qwen3.6-35B-A3B`` on a vLLM endpoint with ``chat_template_kwargs: {enable_thinking: true}``
and a 240 s timeout; the paper config names the same. A loopback server stands in for the endpoint.
"""

from __future__ import annotations

import pytest

from widespectrum.config import load_yaml
from widespectrum.experiments import EXPERIMENTS
from widespectrum.experiments.ava.released import ava_photographs, has_captions
from widespectrum.experiments.ava.steps import recaptioned_items
from widespectrum.llm import MissingAPIKeyError
from widespectrum.released import load_released_table
from widespectrum.runconfig import validate_run

from .fixtures.chat_server import loopback_chat_server
from .fixtures.released_data import make_real_images_table, real_images_schema, write_parquet_folder

PHOTOS = ["p_001.jpg", "p_002.jpg"]
ANSWER = {"thinking": "grain everywhere", "anti_aesthetic_elements": ["clarity_and_focus.analog_degradation"],
          "clean_caption": "a street", "anti_aesthetic_caption": "A street under heavy film grain."}


@pytest.fixture(scope="module")
def ava_block(repo_root):
    return validate_run(load_yaml(repo_root / "config" / "config.yaml"))["experiments"]["ava"]


@pytest.fixture
def photographs(tmp_path):
    write_parquet_folder(make_real_images_table(PHOTOS), tmp_path / "real", real_images_schema())
    table = load_released_table("weathon/aas_real_images", None, local_dir=tmp_path / "real")
    assert not has_captions(table)  # as released: the recaptions must come from elsewhere
    return ava_photographs(table)


@pytest.fixture
def loopback(monkeypatch):
    with loopback_chat_server(monkeypatch) as server:
        yield server


def _at(server, block):
    """The paper's recaption options, sent to the loopback server, without the on-disk answer cache."""
    backend = {**block["recaptions"]["backend"], "base_url": server.base_url, "cache_dir": None,
               "max_retries": 1, "backoff_s": 0.0}
    return {**block["recaptions"], "backend": backend}


def test_the_paper_config_recaptions_the_release_with_the_authors_vlm(ava_block, photographs, loopback,
                                                                      monkeypatch):
    backend = ava_block["recaptions"]["backend"]
    assert ava_block["recaptions"]["folder"] is None
    assert backend["model"] == "Qwen/Qwen3.6-35B-A3B" and backend["timeout"] == 240
    monkeypatch.setenv(backend["api_key_env"], "any-value-for-a-keyless-vllm")
    loopback.script(ANSWER, ANSWER)
    items, record = recaptioned_items(photographs, _at(loopback, ava_block))  # no ConfigError
    assert record["captions"] == "recaption backend" and record["photographs"] == 2
    assert items["clean_caption"].tolist() == ["a street", "a street"]
    assert items["class_keys"].tolist() == [["analog_degradation"], ["analog_degradation"]]
    assert [r["model"] for r in loopback.requests] == ["Qwen/Qwen3.6-35B-A3B"] * 2
    assert all(r["chat_template_kwargs"] == {"enable_thinking": True} for r in loopback.requests)


def test_a_missing_recaption_key_stops_before_the_first_request(ava_block, photographs, loopback, monkeypatch):
    variable = ava_block["recaptions"]["backend"]["api_key_env"]
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(MissingAPIKeyError, match=f"environment variable {variable} is not set"):
        recaptioned_items(photographs, _at(loopback, ava_block))
    assert loopback.requests == []


def test_a_new_recaption_source_rebuilds_the_items():
    # rules/experiment_inputs.smk makes the items job's params of these keys
    assert "recaptions" in EXPERIMENTS["ava"].item_keys
