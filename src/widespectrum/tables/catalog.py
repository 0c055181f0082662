"""Every table of the paper, once: ``TABLES = {name: TableSpec}``.

The main benchmark's tables are listed here; each experiment brings its own
(``Experiment.tables``), so adding an experiment adds its tables. The config
checks, the DAG, ``widespectrum tables`` and the reproduction report read this
mapping and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..experiments import EXPERIMENTS, registered
from . import benchmark
from .spec import TableSpec

BENCHMARK_TABLES: dict[str, TableSpec] = {
    "tab_gen": TableSpec(
        compute="widespectrum.tables.compute:tab_gen", requires=benchmark.requires_tab_gen, experiment=None,
        section="E2", published="tab_gen",
        # hpsv3_aa and j_aa are over the pairs of d_hpsv3 and d_j; success over the judge's labels
        n_columns={"hpsv3_aa": "n_hpsv3", "j_aa": "n_j", "success": "n_labels"},
        caption="per generator: reward deltas d = r(I_a) - r(I_o), the judge's success rate, BLIP alignment"),
    "tab_reward_model": TableSpec(
        compute="widespectrum.tables.compute:tab_reward_model", requires=benchmark.requires_tab_reward_model,
        experiment=None, section="E3", published="tab_reward_model",
        caption="each reward as a classifier of the judge's pairwise labels: accuracy, F1, AUROC"),
    "tab_align_p": TableSpec(
        compute="widespectrum.tables.compute:tab_align_p", requires=benchmark.requires_tab_align_p,
        experiment=None, section="E5", published="tab_align_p",
        caption="aligned model vs its base: paired tests of reward, J and judge success"),
}


def _collect(experiments: Mapping) -> dict[str, TableSpec]:
    tables = dict(BENCHMARK_TABLES)
    for experiment in experiments.values():
        for name, spec in experiment.tables.items():
            if name in tables:
                raise ValueError(f"table {name!r} of experiment {experiment.name!r} is already in the catalog")
            tables[name] = spec
    return tables


TABLES: dict[str, TableSpec] = _collect(EXPERIMENTS)


def tables_of(config: Mapping) -> dict[str, TableSpec]:
    """The catalog a run sees: the built-in tables and those of its ``experiment_plugins``."""
    if not config.get("experiment_plugins"):
        return TABLES
    return _collect(registered(config))


def configured_tables(config: Mapping) -> list[str]:
    """The tables a run makes: ``analysis.tables``, then every table of each experiment whose block it has."""
    catalog = tables_of(config)
    experiments = registered(config)
    chosen = list(config["analysis"]["tables"])
    chosen += [name for name, spec in catalog.items()
               if spec.experiment is not None and experiments[spec.experiment].spec(config) is not None]
    return [name for name in dict.fromkeys(chosen) if name not in unavailable_tables(config)]


def unavailable_tables(config: Mapping) -> dict[str, str]:
    """The tables this run asks for but cannot make, with the reason (the report prints it)."""
    catalog = tables_of(config)
    wanted = list(config["analysis"]["tables"]) + [name for name, spec in catalog.items() if spec.experiment]
    reasons = {}
    for name in dict.fromkeys(wanted):
        if name in catalog:
            spec = catalog[name]
            if spec.experiment is not None and registered(config)[spec.experiment].spec(config) is None:
                continue
            why = spec.why_unavailable(config)
            if why:
                reasons[name] = why
    return reasons
