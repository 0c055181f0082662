"""The GPU budget of a run before it runs: its jobs, their GPU-hours and peak GPU memory.

The jobs come from Snakemake's own DAG of the config (every job of a full run, as if no
output existed), so the plan lists exactly what `snakemake` would run. GPU time per job
is images x the registry entry's ``estimate.gpu_seconds_per_image`` (with the source of
that figure); the images a job handles follow from the config: a generate job makes its
chunk's pairs times the entry's image kinds, a score job scores every image of one
generator, an img2img job makes at most one image per pair. Jobs whose image count is
decided while the run goes (the side experiments' jobs) or whose entry has no estimate
are listed with their GPU request and counted apart, never as zero hours.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .config import REPO_ROOT, load_registry
from .runconfig import load_run

# rule -> (registry kind, wildcard naming the entry)
ENTRY_OF_RULE = {
    "generate": ("generators", "generator"),
    "img2img": ("generators", "generator"),
    "experiment_generate": ("generators", "generator"),
    "score": ("rewards", "reward"),
    "experiment_score": ("rewards", "reward"),
    "judge": ("judges", "judge"),
    "rate": ("judges", "rater"),
}


@dataclass(frozen=True)
class PlannedJob:
    rule: str
    wildcards: dict[str, str]
    threads: int
    gpu: int
    entry: str | None = None
    images: int | None = None
    gpu_seconds: float | None = None
    peak_gpu_memory_gb: float | None = None
    source: str | None = None

    @property
    def label(self) -> str:
        wildcards = ",".join(f"{key}={value}" for key, value in self.wildcards.items())
        return f"{self.rule}[{wildcards}]" if wildcards else self.rule


@dataclass
class Plan:
    config_file: str
    jobs: list[PlannedJob]
    seconds_to_build: float
    counts: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.counts = Counter(job.rule for job in self.jobs)

    @property
    def gpu_jobs(self) -> list[PlannedJob]:
        return [job for job in self.jobs if job.gpu]

    @property
    def unestimated(self) -> list[PlannedJob]:
        return [job for job in self.gpu_jobs if job.gpu_seconds is None]

    @property
    def gpu_hours(self) -> float:
        return sum(job.gpu_seconds * job.gpu for job in self.gpu_jobs if job.gpu_seconds is not None) / 3600


def _profile_resources(profile: str | Path | None) -> dict:
    """A profile's default-resources and set-resources, parsed as `snakemake --profile` does."""
    if profile is None:
        return {}
    import yaml
    from snakemake.resources import Resources

    settings = yaml.safe_load((Path(profile) / "config.yaml").read_text())

    def parse(mapping: dict) -> Resources:
        return Resources.parse([f"{key}={value}" for key, value in mapping.items()], allow_expressions=True)

    parsed = {}
    if settings.get("default-resources"):
        parsed["default_resources"] = parse(settings["default-resources"])
    if settings.get("set-resources"):
        parsed["overwrite_resources"] = {rule: parse(values) for rule, values in settings["set-resources"].items()}
    return parsed


def dag_jobs(config_file: str | Path, snakefile: str | Path = REPO_ROOT / "Snakefile",
             profile: str | Path | None = None) -> list[tuple[str, dict, int, dict]]:
    """(rule, wildcards, threads, resources) of every job of a full run of ``config_file``.

    Builds the DAG with ``forceall`` through the Snakemake API without executing anything
    and without locking the working directory. With ``profile``, the resources are those
    its default-resources and set-resources give each job's first attempt.
    """
    from snakemake.api import SnakemakeApi
    from snakemake.settings.enums import Quietness
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=1, **_profile_resources(profile)),
            config_settings=ConfigSettings(configfiles=[Path(config_file).resolve()]),
            snakefile=Path(snakefile).resolve(),
            workdir=Path(snakefile).resolve().parent,
        )
        workflow_api.dag(DAGSettings(forceall=True))
        # The DAG API offers no "list jobs" call; these two steps are what its own
        # printdag/summary run before reading the DAG (snakemake 9.27, pinned).
        workflow = workflow_api._workflow
        workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True, nolock=True)
        workflow._build_dag()
        jobs = []
        for job in workflow.dag.jobs:
            if job.rule.norun:
                continue
            resources = {key: value for key, value in job.resources.items() if not key.startswith("_")}
            jobs.append((job.rule.name, dict(job.wildcards_dict), int(job.threads), resources))
    return sorted(jobs, key=lambda job: (job[0], sorted(job[1].items())))


def images_of_job(rule: str, wildcards: dict[str, str], config: dict, registry: dict) -> int | None:
    """Images a job generates or scores, from the config alone; None when only the run knows."""
    n_pairs = config["prompts"]["n"] if "prompts" in config else None
    if n_pairs is None:
        return None
    if rule == "generate":
        kinds = len(registry["generators"][wildcards["generator"]].get("image_kinds", ("o", "a")))
        size = config["generation"]["chunk_size"]
        pairs = min(size, n_pairs - int(wildcards["chunk"]) * size)
        return pairs * kinds
    if rule == "img2img":
        return n_pairs * len(registry["generators"][wildcards["generator"]].get("image_kinds", ("o", "a")))
    if rule == "score":
        generator = registry["generators"][wildcards["generator"]]
        return n_pairs * len(generator.get("image_kinds", ("o", "a")))
    return None


def plan(config_file: str | Path, snakefile: str | Path = REPO_ROOT / "Snakefile") -> Plan:
    started = time.perf_counter()
    config = load_run(config_file)
    registry = load_registry(config)
    planned = []
    for rule, wildcards, threads, resources in dag_jobs(config_file, snakefile):
        gpu = int(resources.get("gpu", 0) or 0)
        kind, key = ENTRY_OF_RULE.get(rule, (None, None))
        name = wildcards.get(key) if key else None
        estimate = registry[kind].get(name, {}).get("estimate") if name else None
        images = images_of_job(rule, wildcards, config, registry) if gpu else None
        seconds = None
        if estimate and images is not None:
            seconds = images * estimate["gpu_seconds_per_image"]
        planned.append(PlannedJob(
            rule=rule, wildcards=wildcards, threads=threads, gpu=gpu, entry=name, images=images,
            gpu_seconds=seconds,
            peak_gpu_memory_gb=estimate.get("peak_gpu_memory_gb") if (estimate and gpu) else None,
            source=estimate.get("source") if estimate else None,
        ))
    return Plan(str(config_file), planned, time.perf_counter() - started)


def _hours(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 3600:.2f}"


def format_plan(result: Plan) -> str:
    lines = [f"Plan of a full run of {result.config_file}: {len(result.jobs)} jobs, "
             f"{len(result.gpu_jobs)} of them on a GPU", "", "Jobs per rule:"]
    lines += [f"  {rule:<28} {count:>6}" for rule, count in sorted(result.counts.items())]
    lines += ["", "GPU jobs (GPU-hours from the registries' estimates; ? = no estimate for this job):",
              f"  {'job':<72} {'gpus':>4} {'images':>7} {'gpu-h':>7} {'peak GB':>8}  source"]
    for job in result.gpu_jobs:
        images = "?" if job.images is None else str(job.images)
        memory = "?" if job.peak_gpu_memory_gb is None else f"{job.peak_gpu_memory_gb:g}"
        lines.append(f"  {job.label:<72} {job.gpu:>4} {images:>7} {_hours(job.gpu_seconds):>7} {memory:>8}  "
                     f"{job.source or 'no estimate in the registry'}")
    peaks = [job.peak_gpu_memory_gb for job in result.gpu_jobs if job.peak_gpu_memory_gb is not None]
    estimated = len(result.gpu_jobs) - len(result.unestimated)
    total = f"Total: {result.gpu_hours:.1f} GPU-hours over {estimated} estimated GPU jobs"
    lines += ["", total + (f"; largest job needs {max(peaks):g} GB of GPU memory" if peaks else "")]
    if result.unestimated:
        by_rule = Counter(job.rule for job in result.unestimated)
        listing = ", ".join(f"{count} {rule}" for rule, count in sorted(by_rule.items()))
        lines.append(f"Not estimated ({len(result.unestimated)} GPU jobs, not counted above): {listing}")
    lines.append(f"(DAG built in {result.seconds_to_build:.1f} s)")
    return "\n".join(lines)

