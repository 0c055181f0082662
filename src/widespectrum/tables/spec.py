"""A table of the paper as the catalog lists it: what computes it, what it reads, where it is drawn.

This module is light on purpose (no pandas): the Snakefile reads ``requires``
for every table job while it builds the DAG.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# requires(config) -> {input name: [run-relative paths]}; the names are the keys of
# the table rule's inputs and of the ``TableInputs`` the compute function reads.
Requires = Callable[[Mapping], dict[str, list[str]]]


@dataclass(frozen=True)
class TableSpec:
    """One table: ``compute`` is ``"module:function"``, called as ``function(inputs, config) -> TableResult``.

    ``compute`` is named, not imported, so listing the catalog loads none of the
    statistics libraries the tables use.
    """

    compute: str
    requires: Requires
    experiment: str | None  # the experiment whose block the table needs; None: the main benchmark
    section: str  # the measurement in docs/experiments.md (E1-E12)
    caption: str
    published: str | None = None  # its key in config/published_values.yaml; None: nothing published
    notebook: str | None = None  # notebooks/<name>.ipynb by default
    # unavailable(config) -> why the run cannot make the table (None: it can); such a
    # table is left out of the DAG and the report gives the reason, rather than a table of NaNs.
    unavailable: Callable[[Mapping], str | None] | None = None
    # Dotted config keys ``compute`` reads beyond ``requires`` and its experiment's block (such as
    # ``tables.benchmark.BOOTSTRAP_KEYS``): the table rule's params, so that changing one reruns the table.
    reads: tuple[str, ...] = ()
    # {measured column: the column holding its n} where ``numbers.n_column``'s default rule
    # (n_<column>, n_<measure>, n_<measure without d_>, then n) would miss it; a measure's
    # _lo/_hi/_p/_r/_stars columns follow it. None: a column that is no measure (a setting, a count).
    n_columns: Mapping[str, str | None] = field(default_factory=dict, hash=False)

    def why_unavailable(self, config: Mapping) -> str | None:
        return self.unavailable(config) if self.unavailable is not None else None

    def notebook_for(self, name: str) -> str:
        return self.notebook or f"notebooks/{name}.ipynb"

    def function(self) -> Callable[..., Any]:
        module, _, attribute = self.compute.partition(":")
        return getattr(importlib.import_module(module), attribute)
