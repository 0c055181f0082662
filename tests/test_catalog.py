"""The table catalog, the run layout and the experiment plugin mechanism.

The catalog is checked against files it does not produce (the notebooks on
disk, config/published_values.yaml, results/README.md); the plugin test
writes a new experiment into a temporary folder and finds its table in a run
made by Snakemake.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from widespectrum import layout
from widespectrum.cli import main
from widespectrum.experiments import EXPERIMENTS
from widespectrum.tables.catalog import TABLES, configured_tables, tables_of

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_every_table_has_its_notebook_a_compute_function_and_an_experiment():
    for name, spec in TABLES.items():
        assert (REPO_ROOT / spec.notebook_for(name)).is_file(), name
        assert callable(spec.function()), name
        if spec.experiment is not None:
            assert EXPERIMENTS[spec.experiment].tables[name] is spec
    notebooks = {p.stem for p in (REPO_ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks <= set(TABLES), f"notebooks without a table: {sorted(notebooks - set(TABLES))}"


def test_every_published_table_is_reproduced_by_exactly_one_catalog_table():
    published = yaml.safe_load((REPO_ROOT / "config" / "published_values.yaml").read_text())
    keys = [spec.published for spec in TABLES.values() if spec.published]
    assert sorted(keys) == sorted(published)


def test_results_readme_lists_every_layout_path():
    readme = (REPO_ROOT / "results" / "README.md").read_text()
    paths = [layout.RUN_SPEC, layout.PROMPTS, layout.manifest("<generator>"), layout.chunk_dir("<generator>", "<k>"),
             layout.scores("<reward>", "<generator>"), layout.labels("<judge>", "<generator>"),
             layout.table("<name>"), layout.figure("<name>"), layout.notebook("<name>"), layout.report(),
             layout.experiment_items("<experiment>"), layout.experiment_prompts("<experiment>"),
             layout.experiment_manifest("<experiment>", "<generator>"),
             layout.experiment_scores("<experiment>", "<reward>"),
             layout.experiment_file("art", "released_scores.parquet"), layout.experiment_file("art", "leaderboard.json")]
    # the README writes the rater folder's owner as <judge>
    paths.append(layout.ratings("<judge>", "<generator>"))
    for path in paths:
        assert f"`{path}" in readme, path
    for experiment in ("validation", "human"):
        parts = ",".join(EXPERIMENTS[experiment].parts)
        assert f"`experiments/{experiment}/{{{parts}}}.parquet`" in readme


def test_tables_list_prints_each_table_with_its_inputs_in_the_demo(capsys):
    assert main(["tables", "--list", "--config", str(REPO_ROOT / "config" / "demo.yaml")]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == set(TABLES)
    # config/demo.yaml: emotion scored by 3 rewards; tab_gen reads 4 role rewards x 5 generators,
    # the judge's labels and the rater's ratings of the 5 generators, and the prompts
    assert "scores: 3" in lines["tab_emotion"] and "notebooks/tab_emotion.ipynb" in lines["tab_emotion"]
    assert "prompts: 1, scores: 20, labels: 5, ratings: 5" in lines["tab_gen"]
    assert "none in this run" in lines["tab_val"]  # the demo has no validation block


# ---------------------------------------------------------------- a new experiment, as a plugin

PLUGIN_INIT = '''
"""A made-up measurement: the mean gap r(I_a, p_o) - r(I_o, p_o) of one reward, per generator."""

from widespectrum import layout
from widespectrum.experiments.base import Experiment
from widespectrum.tables.spec import TableSpec


def _inputs(config):
    reward = EXPERIMENT.block(config)["reward"]
    return {"scores": [layout.scores(reward, g) for g in config["generators"]]}


class KindGap(Experiment):
    name = "kind_gap"
    tables = {"tab_kind_gap": TableSpec(compute="kind_gap.tables:tab_kind_gap", requires=_inputs,
                                        experiment="kind_gap", section="-", caption="mean r(I_a) - r(I_o)")}

    def named_entries(self, config):
        return [("experiments.kind_gap.reward", self.block(config)["reward"], "rewards")]


EXPERIMENT = KindGap()
'''

PLUGIN_TABLES = '''
import pandas as pd

from widespectrum.analysis.tables import TableResult
from widespectrum.contracts import SCORES


def tab_kind_gap(inputs, config):
    scores = inputs.frame("scores", SCORES)
    scores = scores[scores["prompt_kind"] == "o"]
    wide = scores.pivot_table(index=["generator", "prompt_id"], columns="image_kind", values="score")
    gap = (wide["a"] - wide["o"]).groupby(level="generator").agg(["mean", "size"])
    frame = pd.DataFrame({"generator": gap.index, "gap": gap["mean"].to_numpy(), "n": gap["size"].to_numpy()})
    return TableResult(frame, [], {"n": int(gap["size"].sum())})
'''

PLUGIN_SCHEMA = """
type: object
additionalProperties: false
required: [reward]
properties:
  reward: {type: string, description: "the reward whose gap is measured"}
"""


def _plugin(folder: Path) -> Path:
    package = folder / "kind_gap"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN_INIT))
    (package / "tables.py").write_text(textwrap.dedent(PLUGIN_TABLES))
    (package / "schema.yaml").write_text(PLUGIN_SCHEMA)
    return folder


def _plugin_config(results: Path) -> dict:
    return {
        "run": "plugin", "results_dir": str(results), "seed": 3, "demo": True,
        "prompts": {"source": "captions_file", "captions_file": "config/captions/demo_captions.csv", "n": 3,
                    "rewriter": {"backend": "template"}},
        "generation": {"chunk_size": 3},
        "generators": ["oracle", "sugarwater"], "rewards": ["brightness"],
        "judges": {"pairwise": ["probe-judge"]}, "roles": {"judge": "probe-judge"},
        "analysis": {"tables": ["tab_kind_gap"]},
        "experiment_plugins": ["kind_gap"],
        "experiments": {"kind_gap": {"reward": "brightness"}},
    }


def test_a_plugin_experiment_joins_the_catalog_and_the_config_checks(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_plugin(tmp_path / "plugins")))
    from widespectrum.config import ConfigError
    from widespectrum.runconfig import validate_run

    config = validate_run(_plugin_config(tmp_path / "results"))
    assert "tab_kind_gap" in tables_of(config) and "tab_kind_gap" not in TABLES
    assert configured_tables(config) == ["tab_kind_gap"]
    broken = _plugin_config(tmp_path / "results")
    broken["experiments"]["kind_gap"] = {"reward": "no-such-reward"}
    with pytest.raises(ConfigError, match="experiments.kind_gap.reward: 'no-such-reward' is not in the rewards"):
        validate_run(broken)
    broken["experiments"]["kind_gap"] = {"rewrd": "brightness"}
    with pytest.raises(ConfigError, match="experiments.kind_gap: 'reward' is a required property"):
        validate_run(broken)


@pytest.mark.slow
def test_a_plugin_experiment_table_is_made_by_the_dag(tmp_path):
    plugins = _plugin(tmp_path / "plugins")
    results = tmp_path / "results"
    config_file = tmp_path / "plugin.yaml"
    config_file.write_text(yaml.safe_dump(_plugin_config(results)))
    table = results / "plugin" / layout.table("tab_kind_gap")
    env = dict(os.environ, HF_HUB_OFFLINE="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(plugins), str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    # the table as a target, before --configfile (which takes every value after it)
    done = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", str(table), "--configfile",
                           str(config_file)], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    made = pd.read_csv(table).set_index("generator")
    # the gap by hand, from the score files the DAG wrote
    for generator in ("oracle", "sugarwater"):
        scores = pd.read_parquet(results / "plugin" / layout.scores("brightness", generator))
        scores = scores[scores["prompt_kind"] == "o"].set_index(["prompt_id", "image_kind"])["score"]
        gaps = [scores[(p, "a")] - scores[(p, "o")] for p in scores.index.get_level_values(0).unique()]
        assert made.loc[generator, "gap"] == pytest.approx(sum(gaps) / len(gaps))
        assert made.loc[generator, "n"] == 3
