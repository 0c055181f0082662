"""The pipeline's steps, one function per Snakemake rule.

Each step takes the validated config and explicit input and output paths, so
the rules' scripts stay a few lines long and every step can be run and tested
without Snakemake.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import yaml

from . import contracts, gpu_cards, layout, provenance, registry
from .config import config_digest, generation_settings, load_registry, resolve_path, run_dir as run_folder
from .runtime import Runtime

log = logging.getLogger(__name__)


@contextlib.contextmanager
def job(log_file: str | Path | None, gpus: int = 0) -> Iterator[None]:
    """Send logging and progress bars of one job to its Snakemake log file.

    A job that asks for ``gpus`` cards claims them before any model loads, so that on
    one multi-GPU machine (profiles/local-gpu) two jobs never share a card.
    Torch threads are set by ``Runtime`` when a model loads, so jobs that need no
    torch (probes, procedural generators, tables) never pay for importing it.
    """
    handle = open(log_file, "w", encoding="utf-8") if log_file else None
    stream = handle or sys.stderr
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    saved_stderr = sys.stderr
    sys.stderr = stream  # tqdm writes to stderr
    try:
        gpu_cards.assign(int(gpus))
        yield
    except Exception:
        log.exception("job failed")
        raise
    finally:
        sys.stderr = saved_stderr
        root.removeHandler(handler)
        if handle:
            handle.close()


def _runtime(config: dict, threads: int | None) -> Runtime:
    return Runtime.from_config(config, threads=threads)


# ------------------------------------------------------------------ stages

def build_offline_models(config: dict, output: str | Path) -> None:
    from .demo.build import build_offline_models as build

    built = build(config["offline_models"], config["hub"]["cache_dir"])
    contracts.write_json(output, built)


def build_prompts(config: dict, output: str | Path, threads: int | None = None) -> pd.DataFrame:
    from .prompts.rewriters import build_rewriter
    from .prompts.sampling import build_prompt_pairs, load_dimension_texts
    from .prompts.sources import load_caption_source

    spec = config["prompts"]
    if spec["source"] == "released":
        frame = released_prompts(spec["released"], spec["n"], _runtime(config, threads))
        contracts.write_table(frame, output, contracts.PROMPTS)
        return frame
    captions = load_caption_source(spec, _runtime(config, threads))
    rewriter_spec = dict(spec["rewriter"])
    rewriter_spec.setdefault("negative_prompt", spec.get("negative_prompts", False))
    frame = build_prompt_pairs(
        captions,
        load_dimension_texts(resolve_path(spec["dimensions_file"])),
        build_rewriter(rewriter_spec),
        n=spec["n"],
        seed=config["seed"],
        k_choices=tuple(spec["k_choices"]),
    )
    contracts.write_table(frame, output, contracts.PROMPTS)
    return frame


def released_prompts(spec: dict, n: int, runtime: Runtime) -> pd.DataFrame:
    """The authors' own prompt pairs: the first ``n`` rows of their released prompt set."""
    from .released.prompts import anti_aesthetics_prompts
    from .released.loading import load_released_table

    table = load_released_table(spec["dataset"], spec["revision"], spec["split"], spec["local_dir"],
                                cache_dir=runtime.cache_dir)
    return anti_aesthetics_prompts(table, n)


def generate_chunk(config: dict, generator: str, chunk: int, prompts_file: str | Path,
                   image_dir: str | Path, provenance_file: str | Path,
                   threads: int | None = None) -> pd.DataFrame:
    """Generate one chunk of pairs; write PNGs and their manifest (``layout.manifest_in``) into ``image_dir``."""
    from .generation.runner import build_requests, chunk_of, run_generation

    reg = load_registry(config)
    model = registry.build(reg, "generators", generator, _runtime(config, threads))
    prompts = chunk_of(contracts.read_table(prompts_file, contracts.PROMPTS), chunk,
                       config["generation"]["chunk_size"])
    spec = reg["generators"][generator]
    requests = build_requests(prompts, generation_settings(reg, generator, "o"),
                              generation_settings(reg, generator, "a"), config["seed"], model.takes_seed,
                              negative_prompts=spec.get("negative_prompts"),
                              image_kinds=tuple(spec.get("image_kinds", ("o", "a"))),
                              prompt_negative=spec.get("prompt_negative", False), fixed_seed=spec.get("seed"))
    run_dir = run_folder(config)
    relative_dir = Path(image_dir).resolve().relative_to(run_dir.resolve()).as_posix()
    Path(image_dir).mkdir(parents=True, exist_ok=True)
    manifest = run_generation(model, requests, run_dir, relative_dir)
    contracts.write_table(manifest, layout.manifest_in(image_dir), contracts.MANIFEST)
    contracts.write_json(provenance_file, provenance.record(
        config, {"kind": "generator", "name": generator, **model.provenance()},
        chunk=chunk, images=len(manifest), failed=int((manifest["status"] != contracts.OK).sum())))
    return manifest


def merge_manifests(chunk_dirs: list[str | Path], output: str | Path) -> pd.DataFrame:
    from .generation.runner import merge_manifests as merge

    frame = merge([contracts.read_table(layout.manifest_in(d), contracts.MANIFEST) for d in chunk_dirs])
    contracts.write_table(frame, output, contracts.MANIFEST)
    return frame


def score(config: dict, reward: str, manifest_file: str | Path, prompts_file: str | Path,
          output: str | Path, provenance_file: str | Path, threads: int | None = None) -> pd.DataFrame:
    from .scoring.runner import score_pairs

    model = registry.build(load_registry(config), "rewards", reward, _runtime(config, threads))
    frame = score_pairs(model, contracts.read_table(manifest_file, contracts.MANIFEST),
                        contracts.read_table(prompts_file, contracts.PROMPTS), run_folder(config))
    contracts.write_table(frame, output, contracts.SCORES)
    contracts.write_json(provenance_file, provenance.record(
        config, {"kind": "reward", "name": reward, **model.provenance()}, rows=len(frame),
        failed=int((frame["status"] != contracts.OK).sum())))
    return frame


def judge(config: dict, judge_name: str, manifest_file: str | Path, prompts_file: str | Path,
          output: str | Path, provenance_file: str | Path,
          threads: int | None = None) -> pd.DataFrame:
    from .judging.runner import judge_pairs

    model = registry.build(load_registry(config), "judges", judge_name, _runtime(config, threads))
    frame = judge_pairs(model, contracts.read_table(manifest_file, contracts.MANIFEST),
                        contracts.read_table(prompts_file, contracts.PROMPTS), run_folder(config), config["seed"])
    contracts.write_table(frame, output, contracts.LABELS)
    contracts.write_json(provenance_file, provenance.record(
        config, {"kind": "pairwise judge", "name": judge_name, **model.provenance()}, rows=len(frame),
        failed=int((frame["status"] != contracts.OK).sum())))
    return frame


def rate(config: dict, rater_name: str, manifest_file: str | Path, output: str | Path,
         provenance_file: str | Path, threads: int | None = None) -> pd.DataFrame:
    from .judging.runner import rate_images

    model = registry.build(load_registry(config), "judges", rater_name, _runtime(config, threads))
    frame = rate_images(model, contracts.read_table(manifest_file, contracts.MANIFEST), run_folder(config))
    contracts.write_table(frame, output, contracts.RATINGS)
    contracts.write_json(provenance_file, provenance.record(
        config, {"kind": "rater", "name": rater_name, **model.provenance()}, rows=len(frame),
        failed=int((frame["status"] != contracts.OK).sum())))
    return frame


def write_run_spec(config: dict, output: str | Path) -> None:
    """The run folder's spec: the resolved config that produced everything in it."""
    spec = {"config_digest": config_digest(config), "config": config,
            "registry": load_registry(config), "code_commit": provenance.code_commit()}
    contracts.write_text(output, yaml.safe_dump(spec, sort_keys=False))


def ingest_released(config: dict, expected_outputs: list[str | Path], threads: int | None = None) -> None:
    """Convert the authors' released benchmark into this run's contracts, with an audit.

    Every output the DAG expects is written: a generator or reward the release
    lacks gets an empty table of its contract (and the audit names it), so the
    tables report n = 0 for it instead of the DAG failing on a missing file.
    """
    from .released.audit import audit_benchmark, write_audit
    from .released.benchmark import ReleasedSpec, convert_benchmark, write_converted, write_images
    from .released.loading import load_released_table

    spec = ReleasedSpec.from_config(config["released"])
    run_dir = run_folder(config)
    # Placeholder detection reads the pixels, so the image columns load unless both are off.
    with_images = spec.images or spec.placeholders == "exclude"
    cache_dir = Runtime.from_config(config).cache_dir
    table = load_released_table(spec.dataset, spec.revision, spec.split, spec.local_dir,
                                columns=spec.required_columns(with_images), cache_dir=cache_dir)
    converted = convert_benchmark(table, spec)
    manifests = write_images(table, spec, run_dir, converted) if spec.images else None
    write_converted(converted, run_dir, manifests)
    write_audit(audit_benchmark(table, converted, spec, cache_dir), run_dir)
    # the contract of each stage folder the ingest writes into
    schemas = {"scores": contracts.SCORES, "judgements": contracts.LABELS, "ratings": contracts.RATINGS,
               "images": contracts.MANIFEST, "prompts": contracts.PROMPTS}
    for path in map(Path, expected_outputs):
        if not path.exists():
            schema = schemas[layout.stage_of(path.relative_to(run_dir).as_posix())]
            log.warning("the released data has nothing for %s: writing an empty table", path)
            contracts.write_table(schema.empty(), path, schema)


def generate_img2img(config: dict, generator: str, source_manifest: str | Path, source_scores: str | Path,
                     prompts_file: str | Path, image_dir: str | Path, provenance_file: str | Path,
                     threads: int | None = None) -> pd.DataFrame:
    """E9, docs/experiments.md: re-render the source generator's low-scoring I_a under p_a.

    The manifest's I_o rows point at the source images themselves (the img2img
    input) and its I_a rows at the re-renders, so scoring and rating treat an
    img2img run like any pair: d = r(output) - r(input).
    """
    from .experiments.img2img.selection import select_img2img_inputs
    from .generation.base import GenerationRequest
    from .generation.runner import pair_seed, run_generation

    spec = config["img2img"]
    run_dir = run_folder(config)
    reg = load_registry(config)
    source = contracts.read_table(source_manifest, contracts.MANIFEST)
    chosen = select_img2img_inputs(contracts.read_table(source_scores, contracts.SCORES), generator=spec["source"],
                                   reward=config["roles"]["hpsv3"], threshold=spec["threshold"])
    prompts = contracts.read_table(prompts_file, contracts.PROMPTS).set_index("prompt_id")
    inputs = source[(source["image_kind"] == "a") & (source["status"] == contracts.OK)].set_index("prompt_id")
    chosen = [p for p in chosen if p in inputs.index]
    model = registry.build(reg, "generators", generator, Runtime.from_config(config, threads=threads))
    settings = generation_settings(reg, generator, "a")
    requests = [GenerationRequest(prompt_id=p, image_kind="a", prompt=prompts.loc[p, "prompt_anti"],
                                  seed=pair_seed(config["seed"], p), settings=dict(settings),
                                  reference_image=str((run_dir / inputs.loc[p, "path"]).resolve()))
                for p in chosen]
    relative_dir = Path(image_dir).resolve().relative_to(run_dir.resolve()).as_posix()
    outputs = run_generation(model, requests, run_dir, relative_dir)
    originals = inputs.loc[chosen].reset_index().assign(generator=generator, image_kind="o")
    manifest = contracts.concat_validated([originals[contracts.MANIFEST.names], outputs], contracts.MANIFEST)
    manifest = manifest.sort_values(["prompt_id", "image_kind"], kind="stable").reset_index(drop=True)
    contracts.write_table(manifest, layout.manifest_in(image_dir), contracts.MANIFEST)
    contracts.write_json(provenance_file, provenance.record(
        config, {"kind": "img2img generator", "name": generator, "source": spec["source"], **model.provenance()},
        inputs=len(chosen), threshold=spec["threshold"]))
    return manifest
