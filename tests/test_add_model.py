"""Adding a generator is one registry entry: a tiny Flux under a new id, in a temporary registry,
reaches every table of a demo-sized run (the README's "Adding a generator, reward model or judge")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

NEW = "tiny-flux-b"
# The entry a user would add to config/generators.yaml: a new hub id of an existing pipeline kind.
NEW_ENTRY = {
    "loader": "flux",
    "display_name": "tiny Flux B (random weights)",
    "family": "Flux",
    "alignment": "none (offline stand-in)",
    "offline_model": NEW,
    "options": {"model_id": "widespectrum/tiny-flux-b", "revision": "main"},
    "settings": {"num_inference_steps": 2, "guidance_scale": 3.5, "height": 64, "width": 64,
                 "max_sequence_length": 64},
}
# Every table over the run's generators (tab_critical_test comes with tab_critical_selection).
TABLES = ["tab_gen", "tab_align_p", "tab_emotion_gen", "tab_critical_selection"]
N_PROMPTS, N_TEMPLATES, N_TOPICS = 4, 2, 5


def _config(repo: Path, tmp: Path) -> dict:
    """config/demo.yaml cut to the new tiny Flux against the oracle, with the registry copied plus one entry."""
    generators = yaml.safe_load((repo / "config" / "generators.yaml").read_text())
    assert NEW not in generators
    generators[NEW] = NEW_ENTRY
    registry_file = tmp / "generators.yaml"
    registry_file.write_text(yaml.safe_dump(generators, sort_keys=False))

    config = yaml.safe_load((repo / "config" / "demo.yaml").read_text())
    for heavy in ("vsf", "img2img"):
        config.pop(heavy)
    config.update(
        run="add_model", results_dir=str(tmp / "results"),
        registry={"generators": str(registry_file)},
        offline_models={NEW: {"builder": "flux", "repo_id": "widespectrum/tiny-flux-b"}},
        generators=["oracle", NEW],
        rewards=["aesthetic", "brightness"],
        judges={"pairwise": ["probe-judge"], "rater": ["probe-rater"]},
        roles={"hpsv3": "aesthetic", "imagereward": "brightness", "judge": "probe-judge", "rater": "probe-rater"},
    )
    config["prompts"]["n"] = N_PROMPTS
    config["generation"]["chunk_size"] = N_PROMPTS
    experiments = config["experiments"]
    config["experiments"] = {
        "emotion_generation": {**experiments["emotion_generation"], "n_templates": N_TEMPLATES,
                               "generators": ["oracle", NEW], "reward": "aesthetic"},
        "critical": {**experiments["critical"], "n_per_topic": 1, "pair": [NEW, "oracle"],
                     "rewards": ["aesthetic", "brightness"]},
    }
    config["analysis"] = {**config["analysis"], "tables": TABLES,
                          "align_pairs": [{"aligned": NEW, "base": "oracle"}], "bootstrap": {"n": 20, "seed": 0}}
    return config


@pytest.mark.slow
def test_a_generator_added_as_one_entry_has_its_row_in_every_table(repo_root, tmp_path):
    config_file = tmp_path / "add_model.yaml"
    config_file.write_text(yaml.safe_dump(_config(repo_root, tmp_path), sort_keys=False))
    env = dict(os.environ, HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(config_file)],
                            cwd=repo_root, env=env, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-5000:]
    check_run(tmp_path / "results" / "add_model")


def check_run(run: Path) -> None:
    """The new generator's images, and its row with the n it should have in each table."""
    manifest = pd.read_parquet(run / "images" / NEW / "manifest.parquet")
    assert len(manifest) == 2 * N_PROMPTS and (manifest["status"] == "ok").all()
    gen = pd.read_csv(run / "tables" / "tab_gen.csv").set_index("generator")
    assert list(gen.index) == ["oracle", NEW]
    for n in ("n_hpsv3", "n_imagereward", "n_j", "n_labels"):
        assert gen.loc[NEW, n] == N_PROMPTS, n
    align = pd.read_csv(run / "tables" / "tab_align_p.csv").set_index("generator")
    assert list(align.index) == [NEW] and align.loc[NEW, "base"] == "oracle"
    assert align.loc[NEW, "n_hpsv3"] == align.loc[NEW, "n_j"] == N_PROMPTS
    emotion = pd.read_csv(run / "tables" / "tab_emotion_gen.csv").set_index("generator")
    assert list(emotion.index) == ["oracle", NEW]
    for e in ("happy", "sad", "angry", "fearful"):
        assert emotion.loc[NEW, f"n_{e}"] == N_TEMPLATES, e
    emotion_manifest = pd.read_parquet(run / "experiments" / "emotion_generation" / "images" / NEW / "manifest.parquet")
    assert len(emotion_manifest) == 4 * N_TEMPLATES
    selection = pd.read_csv(run / "tables" / "tab_critical_selection.csv").set_index("reward")
    column = NEW.replace("-", "_") + "_selected"
    assert list(selection.index) == ["aesthetic", "brightness"]
    assert (selection[column] + selection["oracle_selected"] + selection["ties"] == selection["n"]).all()
    assert (selection["n"] == N_TOPICS).all()
