"""Command line: ``widespectrum <command>``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("widespectrum")


def _list_tables(config_file: Path | None) -> int:
    from .runconfig import load_run
    from .tables.catalog import TABLES, tables_of

    catalog = tables_of(load_run(config_file)) if config_file else TABLES
    config = load_run(config_file) if config_file else None
    for name, spec in catalog.items():
        if config is None:
            inputs = "needs " + (f"experiment {spec.experiment}" if spec.experiment else "the main benchmark")
        else:
            try:
                needs = spec.requires(config)
            except KeyError:  # the run lacks the table's block
                needs = {}
            inputs = ", ".join(f"{key}: {len(paths)}" for key, paths in needs.items() if paths) or "none in this run"
        print(f"{name:<24} {spec.section:<4} inputs [{inputs}]  figure {spec.notebook_for(name)}")
    return 0


def _tables(args: argparse.Namespace) -> int:
    if args.list:
        return _list_tables(args.config)
    if args.results is None:
        log.error("--results is required unless --list is given")
        return 2
    from . import layout
    from .tables.build import build_table
    from .tables.catalog import configured_tables, tables_of
    from .tables.discover import describe, run_config_or_discovered

    if not Path(args.results).is_dir():
        log.error("%s is not a folder: --results must be a run folder such as results/demo", args.results)
        return 2
    config, discovered = run_config_or_discovered(args.results)
    if discovered and not (config["generators"] or config["experiments"]):
        log.error("%s has no run.yaml and none of the contract files of results/README.md "
                  "(`widespectrum contracts` lists them)", args.results)
        return 2
    if discovered:
        log.info("%s has no run.yaml: tables from the contract files present, with the documented defaults",
                 args.results)
        for line in describe(config):
            log.info("  %s", line)
    catalog = tables_of(config)
    names = args.only or configured_tables(config)
    status = 0
    for name in names:
        if name not in catalog:
            log.error("unknown table %r; the catalog has %s", name, sorted(catalog))
            status = 2
            continue
        try:
            result = build_table(name, args.results, config)
        except (KeyError, ValueError) as err:  # a table this folder's files cannot make: say which and why
            log.error("%s: %s", name, err)
            status = 1
            continue
        print(f"{name}: {len(result.frame)} rows -> {layout.join(args.results, layout.table(name))}")
        for note in result.notes:
            print(f"  {name} note: {note}")
    return status


def _validate(args: argparse.Namespace) -> int:
    from .config import ConfigError
    from .runconfig import load_run

    try:
        config = load_run(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{args.config}: valid (run {config['run']!r}, {len(config['generators'])} generators, "
          f"{len(config['rewards'])} rewards)")
    return 0


def _registry(args: argparse.Namespace) -> int:
    from .config import load_registry
    from .registry import display_name
    from .runconfig import load_run

    registry = load_registry(load_run(args.config))
    for kind in args.kind or ("generators", "rewards", "judges"):
        print(f"{kind}:")
        for name, entry in registry[kind].items():
            loader = entry["loader"] or "(released only)"
            print(f"  {name:<20} {loader:<16} {display_name(registry, kind, name)}")
    return 0


def _contracts(args: argparse.Namespace) -> int:
    from .contracts import CONTRACTS
    from .tables.discover import contract_files

    print("Files the tables read (paths inside a run folder; see results/README.md):")
    for path, what, columns in contract_files():
        print(f"  {path:<52} {what}: {', '.join(columns)}")
    print()
    print("\n\n".join(schema.describe() for schema in CONTRACTS.values()))
    return 0


def _convert_mps(args: argparse.Namespace) -> int:
    from .scoring.mps import convert_mps_checkpoint

    config = convert_mps_checkpoint(args.source, args.out_dir)
    print(f"wrote {args.out_dir}/model.safetensors and mps_config.json; in config/rewards.yaml set mps.options "
          f"path: {args.out_dir} and sha256: {config['weights_sha256']}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from .plan import format_plan, plan

    print(format_plan(plan(args.config)))
    return 0


def _lock(args: argparse.Namespace) -> int:
    from .lock import LockError, write_lock

    try:
        lock = write_lock(args.run, args.output)
    except LockError as err:
        log.error("%s", err)
        return 1
    print(f"{args.output}: {len(lock['revisions'])} revisions locked from {args.run}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from .numbers import explain

    try:
        print(explain(args.key, args.results), end="")
    except FileNotFoundError as err:
        log.error("%s: run the `numbers` rule first (snakemake ... numbers)", err)
        return 2
    except KeyError as err:
        log.error("%s", err.args[0])
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    from .snakemake_run import run

    return run(args.snakemake_args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="widespectrum", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    tables = sub.add_parser("tables", help="recompute tables from the files of a run folder")
    tables.add_argument("--results", type=Path, help="run folder, e.g. results/demo")
    tables.add_argument("--only", nargs="+", metavar="NAME", help="table names (default: the run's tables)")
    tables.add_argument("--list", action="store_true", help="print the table catalog: name, section, inputs, figure")
    tables.add_argument("--config", type=Path, help="with --list: count each table's inputs in this run config")
    tables.set_defaults(func=_tables)

    validate = sub.add_parser("validate", help="validate a run config against the schema and registries")
    validate.add_argument("config", type=Path)
    validate.set_defaults(func=_validate)

    reg = sub.add_parser("registry", help="list the registry entries a config can use")
    reg.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    reg.add_argument("kind", nargs="*", choices=["generators", "rewards", "judges"])
    reg.set_defaults(func=_registry)

    con = sub.add_parser("contracts", help="print the Parquet schemas passed between stages")
    con.set_defaults(func=_contracts)

    mps = sub.add_parser("convert-mps", help="convert the pickled MPS checkpoint, once, to safetensors + config "
                                             "(reads the pickle through an allow-list: run it on a file you trust)")
    mps.add_argument("source", type=Path, help="MPS_overall_checkpoint.pth")
    mps.add_argument("out_dir", type=Path, help="folder for model.safetensors and mps_config.json")
    mps.set_defaults(func=_convert_mps)

    plan_cmd = sub.add_parser("plan", help="list a full run's jobs with their GPU-hours and peak GPU memory")
    plan_cmd.add_argument("config", type=Path)
    plan_cmd.set_defaults(func=_plan)

    lock = sub.add_parser("lock", help="write the hub commits a run resolved to a lock file")
    lock.add_argument("run", type=Path, help="run folder, e.g. results/paper")
    lock.add_argument("--output", type=Path, default=Path("config/lock.yaml"))
    lock.set_defaults(func=_lock)

    explain = sub.add_parser("explain", help="trace one number of a run's tables to its inputs, models and code")
    explain.add_argument("key", help="<table>.<row>.<column>, e.g. tab_reward_model.hpsv3.accuracy")
    explain.add_argument("--results", type=Path, default=Path("results/paper"), help="run folder")
    explain.set_defaults(func=_explain)

    run_cmd = sub.add_parser("run", help="run snakemake with these arguments, first clearing the locks of a killed run",
                             description="Runs `snakemake ARGS`. Locks left in the working directory by a run that "
                                         "was killed are cleared first (`snakemake --unlock ARGS`), with a warning; "
                                         "a live Snakemake in that directory on this host stops the command.")
    run_cmd.set_defaults(func=_run)

    # `run` passes every word after it to Snakemake, options included, which argparse cannot take as a positional.
    args, extra = parser.parse_known_args(argv)
    if args.command == "run":
        args.snakemake_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
