"""The config keys an experiment table depends on: its block, what ``requires`` reads, and ``TableSpec.reads``."""

import ast
import inspect

import pytest

from widespectrum.config import load_yaml
from widespectrum.numbers import table_config_keys, table_params
from widespectrum.runconfig import validate_run
from widespectrum.tables.catalog import TABLES


@pytest.fixture(scope="module")
def paper(repo_root):
    return validate_run(load_yaml(repo_root / "config" / "config.yaml"))


def test_an_experiment_table_with_intervals_depends_on_the_bootstrap(paper):
    # tab_emotion's accuracies carry percentile bootstrap intervals (n, seed from analysis.bootstrap)
    keys = table_config_keys(TABLES["tab_emotion"], paper)
    assert "analysis.bootstrap" in keys
    assert table_params(TABLES["tab_emotion"], paper)["analysis.bootstrap"] == {"n": 1000, "seed": 0}
    # the rest of analysis (the table list, align_pairs, ...) is the main benchmark's, not its
    assert not [k for k in keys if k.startswith("analysis.") and k != "analysis.bootstrap"]


def test_an_experiment_table_without_intervals_does_not(paper):
    # tab_critical_test is a Wilcoxon test per reward, no bootstrap
    keys = table_config_keys(TABLES["tab_critical_test"], paper)
    assert not [k for k in keys if k.startswith("analysis")]
    assert "experiments" in keys or "experiments.critical" in keys


def test_a_top_level_experiments_table_depends_on_its_top_level_block(paper):
    # img2img's block is the config's top-level img2img, not experiments.img2img
    keys = table_config_keys(TABLES["tab_img2img"], paper)
    assert "img2img" in keys and "experiments.img2img" not in keys


def _calls_bootstrap(function) -> bool:
    tree = ast.parse(inspect.getsource(function))
    return any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == "bootstrap"
               for node in ast.walk(tree))


@pytest.mark.parametrize("name", [n for n, spec in TABLES.items() if spec.experiment is not None])
def test_every_experiment_table_whose_compute_bootstraps_declares_it(name, paper):
    spec = TABLES[name]
    declared = "analysis.bootstrap" in spec.reads
    assert declared == _calls_bootstrap(spec.function()), (
        f"{name}: its compute {'does not call' if declared else 'calls'} tables.benchmark.bootstrap; "
        f"TableSpec.reads must {'not ' if declared else ''}name analysis.bootstrap")
