"""numbers.json / numbers.tex / explain on a hand-made run folder, and the revision lock in load_registry."""

import hashlib
import json
import re
import subprocess

import pandas as pd
import pytest
import yaml

from widespectrum import layout, numbers
from widespectrum.cli import main as cli_main
from widespectrum.config import load_registry
from widespectrum.tables.catalog import TABLES

SENTINEL = "sk-sentinel-0123456789abcdef"
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


def _config():
    return {
        "run": "tiny", "demo": False, "seed": 7,
        "generators": ["g1", "g2"], "rewards": ["hpsv3", "probe"],
        "judges": {"pairwise": ["judge"]}, "roles": {"judge": "judge", "hpsv3": "hpsv3"},
        "analysis": {"tables": ["tab_reward_model"], "reward_model_rows": None, "baseline_judges": [],
                     "bootstrap": {"n": 10, "seed": 3}},
    }


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("WIDESPECTRUM_TEST_API_KEY", SENTINEL)
    run = tmp_path / "tiny"
    for folder in ("prompts", "tables", "provenance/score", "provenance/generate"):
        (run / folder).mkdir(parents=True)
    pd.DataFrame({"prompt_id": ["0000", "0001"], "prompt_original": ["a cat", "a dog"],
                  "prompt_anti": ["a blurred cat", f"a warped dog {SENTINEL}"]}).to_parquet(run / layout.PROMPTS)
    for generator in ("g1", "g2"):
        (run / f"images/{generator}").mkdir(parents=True)
        pd.DataFrame({"prompt_id": ["0000", "0000", "0001", "0001"], "image_kind": ["o", "a", "o", "a"],
                      "sha256": [f"{generator}-{i}" * 4 for i in range(4)]}).to_parquet(run / layout.manifest(generator))
        for reward in ("hpsv3", "probe"):
            (run / f"scores/{reward}").mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"generator": generator, "prompt_id": ["0000", "0000", "0001", "0001"],
                          "image_kind": ["o", "a", "o", "a"], "prompt_kind": "o", "reward": reward,
                          "score": [1.0, 2.0, 3.0, 4.0], "status": "ok"}).to_parquet(run / layout.scores(reward, generator))
        (run / "judgements/judge").mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"generator": generator, "prompt_id": ["0000", "0001"], "selected": [1, 0],
                      "status": "ok"}).to_parquet(run / layout.labels("judge", generator))
        (run / f"provenance/generate/{generator}-0.json").write_text(json.dumps(
            {"code_commit": "c0de", "component": {"kind": "generator", "name": generator, "model_id": f"org/{generator}",
                                                  "revision": "main", "resolved_revision": COMMIT_A}}))
    (run / "provenance/score/hpsv3-g1.json").write_text(json.dumps(
        {"component": {"kind": "reward", "name": "hpsv3", "model_id": "MizzenAI/HPSv3", "revision": "main",
                       "resolved_revision": COMMIT_B, "processor_id": "Qwen/Qwen2-VL-7B-Instruct",
                       "processor_revision": "main", "processor_resolved_revision": COMMIT_A}}))
    (run / "provenance/score/probe-g1.json").write_text(json.dumps(
        {"component": {"kind": "reward", "name": "probe", "model_id": "org/probe-model", "revision": "main",
                       "resolved_revision": COMMIT_A}}))
    (run / layout.table("tab_reward_model", "csv")).write_text(
        "reward,accuracy,f1,n\nhpsv3,0.75,0.5,4\nprobe,0.25,,4\n")
    (run / layout.table("tab_reward_model", "json")).write_text(json.dumps({
        "table": "tab_reward_model", "notes": [f"a leaked {SENTINEL} in a note"],
        "records": {"bootstrap": {"n_boot": 10, "seed": 3}, "excluded": {"ties": 1},
                    "rows": {"hpsv3": {"n": 4, "excluded": {"failed": 2}}, "probe": {"n": 4, "excluded": {}}}}}))
    return run


@pytest.fixture()
def git_root(tmp_path):
    root = tmp_path / "code"
    root.mkdir()
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    (root / "f.txt").write_text("one\n")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    return root, commit


def test_numbers_json_traces_each_cell(run_dir, git_root):
    root, commit = git_root
    (root / "f.txt").write_text("edited\n")  # a dirty tree
    document = numbers.write_numbers(run_dir, _config(), ["tab_reward_model"], root=root)
    written = json.loads((run_dir / "numbers.json").read_text())
    assert set(written["numbers"]) == {f"tab_reward_model.{r}.{c}" for r in ("hpsv3", "probe")
                                       for c in ("accuracy", "f1", "n")}
    entry = written["numbers"]["tab_reward_model.hpsv3.accuracy"]
    assert entry["value"] == 0.75 and entry["formatted"] == "0.750" and entry["n"] == 4
    assert written["numbers"]["tab_reward_model.probe.f1"]["formatted"] == "--"
    assert entry["function"] == TABLES["tab_reward_model"].compute and entry["rule"] == "table"
    assert entry["code"] == {"commit": commit, "dirty": True}
    assert entry["seeds"] == {"seed": 7, "bootstrap": 3}
    assert entry["excluded"] == {"table": {"ties": 1}, "row": {"failed": 2}}
    assert entry["config_keys"]["analysis.bootstrap"] == {"n": 10, "seed": 3}
    assert entry["config_keys"]["roles.judge"] == "judge"
    assert "analysis.tables" not in entry["config_keys"]
    # the hpsv3 row read hpsv3's scores and every judge label, not the probe's scores
    paths = {i["path"]: i["sha256"] for i in entry["inputs"]}
    assert paths == {p: _sha(run_dir / p) for p in [layout.PROMPTS, "scores/hpsv3/g1.parquet", "scores/hpsv3/g2.parquet",
                                                      "judgements/judge/g1.parquet", "judgements/judge/g2.parquet"]}
    models = {(m["id"], m["resolved_revision"]) for job in entry["upstream"] for m in job["models"]}
    assert models == {("MizzenAI/HPSv3", COMMIT_B), ("Qwen/Qwen2-VL-7B-Instruct", COMMIT_A),
                      ("org/g1", COMMIT_A), ("org/g2", COMMIT_A)}
    assert document["numbers"].keys() == written["numbers"].keys()
    tex = (run_dir / "numbers.tex").read_text()
    assert "\\newcommand{\\TabRewardModelHpsvThreeAccuracy}{0.750}" in tex
    assert "\\newcommand{\\TabRewardModelProbeN}{4}" in tex
    for path in ("numbers.json", "numbers.tex"):
        text = (run_dir / path).read_text()
        assert SENTINEL not in text
    assert "<redacted>" in (run_dir / "numbers.json").read_text()


def test_macro_names_are_letters_only_and_distinct():
    keys = ["tab_gen.tiny-flux.d_hpsv2", "tab_gen.tiny-flux.d_hpsv3", "tab_vsf.tiny-flux_vsf_2-0.hpsv3"]
    names = [numbers.macro_name(k) for k in keys]
    assert names == ["TabGenTinyFluxDHpsvTwo", "TabGenTinyFluxDHpsvThree", "TabVsfTinyFluxVsfTwoZeroHpsvThree"]
    assert all(re.fullmatch(r"[A-Za-z]+", n) for n in names)


def test_rows_named_by_as_many_label_columns_as_make_them_unique():
    columns = ["model", "method", "scale", "hpsv3", "generator"]
    rows = [{"model": "Flux", "method": "VSF", "scale": 2.0, "hpsv3": 1.0, "generator": "a"},
            {"model": "Flux", "method": "VSF", "scale": 4.0, "hpsv3": 2.0, "generator": "b"}]
    assert numbers.row_keys(columns, rows) == (["model", "method", "scale"], ["flux_vsf_2-0", "flux_vsf_4-0"])


def test_cell_n_picks_the_measures_own_n():
    row = {"d_hpsv3": 0.1, "d_hpsv3_lo": 0.0, "accuracy": 0.5, "n_hpsv3": 24, "n": 40}
    assert [numbers.cell_n(c, row) for c in ("d_hpsv3", "d_hpsv3_lo", "accuracy")] == [24, 24, 40]


def test_explain_goes_down_to_prompts_and_image_hashes(run_dir):
    numbers.write_numbers(run_dir, _config(), ["tab_reward_model"])
    text = numbers.explain("tab_reward_model.hpsv3.accuracy", run_dir)
    assert "tab_reward_model.hpsv3.accuracy = 0.750" in text
    assert "MizzenAI/HPSv3@main -> " + COMMIT_B in text
    assert "org/probe-model" not in text
    # 8 hpsv3 score rows (2 generators x 2 prompts x 2 images) and 4 judge labels
    assert "rows behind the number (12)" in text
    assert '"image_sha256": "g1-1g1-1g1-1g1-1"' in text and "a blurred cat" in text
    assert SENTINEL not in text and "<redacted>" in text
    # more rows than the listing limit go to a file, redacted too
    assert cli_main(["explain", "tab_reward_model.hpsv3.accuracy", "--results", str(run_dir)]) == 0
    numbers.LISTING_LIMIT, limit = 5, numbers.LISTING_LIMIT
    try:
        text = numbers.explain("tab_reward_model.hpsv3.accuracy", run_dir)
    finally:
        numbers.LISTING_LIMIT = limit
    listing = run_dir / layout.explain_listing("tab_reward_model.hpsv3.accuracy")
    assert f"rows behind the number: 12, listed in {layout.explain_listing('tab_reward_model.hpsv3.accuracy')}" in text
    rows = [json.loads(line) for line in listing.read_text().splitlines()]
    assert len(rows) == 12 and SENTINEL not in listing.read_text()
    assert {r["input"] for r in rows} == {"scores/hpsv3/g1.parquet", "scores/hpsv3/g2.parquet",
                                          "judgements/judge/g1.parquet", "judgements/judge/g2.parquet"}


def test_unknown_key_lists_the_closest(run_dir):
    numbers.write_numbers(run_dir, _config(), ["tab_reward_model"])
    with pytest.raises(KeyError, match=r"closest: tab_reward_model\.hpsv3\.accuracy"):
        numbers.explain("tab_reward_model.hpsv3.acuracy", run_dir)
    assert cli_main(["explain", "tab_reward_model.hpsv3.acuracy", "--results", str(run_dir)]) == 1


def test_recording_config_sees_what_requires_reads():
    config = _config()
    keys = numbers.table_config_keys(TABLES["tab_reward_model"], config)
    assert {"generators", "rewards", "roles.judge", "analysis.bootstrap", "analysis.baseline_judges"} <= set(keys)
    assert "analysis.tables" not in keys and "seed" not in keys


def test_a_lock_file_pins_the_registry_a_job_loads(tmp_path):
    base = {"registry": {"generators": "config/generators.yaml", "rewards": "config/rewards.yaml",
                         "judges": "config/judges.yaml"}}
    unlocked = load_registry(base)
    assert unlocked["generators"]["flux-dev"]["options"]["revision"] == "main"
    lock = tmp_path / "lock.yaml"
    lock.write_text(yaml.safe_dump({"run": "paper", "revisions": {"black-forest-labs/FLUX.1-dev": COMMIT_A}}))
    locked = load_registry({**base, "lock": str(lock)})
    assert locked["generators"]["flux-dev"]["options"]["revision"] == COMMIT_A
    # an entry whose hub id the lock does not name keeps its branch
    assert locked["generators"]["sdxl"] == unlocked["generators"]["sdxl"]
    # a lock key naming no file yet (before the first run) leaves the registry as it is
    assert load_registry({**base, "lock": str(tmp_path / "absent.yaml")}) == unlocked


def test_a_row_reads_the_files_its_labels_name_and_not_other_rows_files():
    mine, others = {"danceflux", "flux-dev"}, {"playground", "sdxl"}
    assert numbers._belongs("scores/hpsv3/flux-dev.parquet", mine, others)
    assert numbers._belongs("judgements/judge/danceflux.parquet", mine, others)
    assert not numbers._belongs("scores/hpsv3/sdxl.parquet", mine, others)
    assert numbers._belongs(layout.PROMPTS, mine, others)
