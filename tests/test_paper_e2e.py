"""The paper config (config/config.yaml) as a whole: every model it names gets its jobs, and it runs to the end.

The end-to-end run is config/config.yaml itself with an overlay of environment settings
only (the tiny hub cache, offline, CPU, three prompts, local copies of the released sets,
bootstrap n = 20) and copies of the registry files in which only what must point elsewhere
changes: the API base URLs (loopback servers speaking each provider's protocol), the
off-hub files of HPS v1 and MPS, J's guideline file (a rules.csv in the authors' format),
the tiny open_clip architecture of HPSv2 / HPS v1, and image size and step count, for which
no run-config knob exists.
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from widespectrum import contracts, layout

from .fixtures import paper_cache, reduced_run, released_data
from .fixtures.chat_server import PROXY_VARIABLES, chat_server
from .fixtures.provider_servers import ProviderServer
from .fixtures.rules_csv import write_rules_csv


def _dry_run(repo_root: Path, results_dir: Path) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """rule -> the set of its jobs' wildcards, from a Snakemake dry run of the paper config."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", "config/config.yaml",
                             "--config", f"results_dir={results_dir}"],
                            cwd=repo_root, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:] + result.stdout[-5000:]
    jobs: dict[str, set] = {}
    rule = None
    for line in (result.stdout + result.stderr).splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line.strip()):
            rule = m.group(1)
            jobs.setdefault(rule, set())
        elif rule and (m := re.match(r"^wildcards: (.*)$", line.strip())):
            jobs[rule].add(tuple(tuple(kv.split("=", 1)) for kv in m.group(1).split(", ")))
    return jobs


def _with(jobs: set, **wanted: str) -> set:
    return {j for j in jobs if all(dict(j).get(k) == v for k, v in wanted.items())}


def test_paper_dry_run_has_a_job_for_every_model_it_names(repo_root, tmp_path):
    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    jobs = _dry_run(repo_root, tmp_path)
    main = config["generators"]
    assert "nano-banana" in main and len(main) == 10  # Table 1's ten rows
    mitigation = [v["generator"] for v in config["vsf"]["variants"]]
    img2img = config["img2img"]["generators"]

    scored = {(dict(j)["reward"], dict(j)["generator"]) for j in jobs["score"]}
    assert {(r, g) for r in config["rewards"] for g in main} <= scored
    assert {(config["roles"]["hpsv3"], g) for g in img2img} <= scored

    rater = config["roles"]["rater"]
    assert config["judges"]["rater"] == [rater]
    rated = {dict(j)["generator"] for j in _with(jobs["rate"], rater=rater)}
    assert rated == set(main) | set(mitigation) | set(img2img)

    assert {dict(j)["generator"] for j in jobs["img2img"]} == set(img2img)
    assert config["img2img"]["source"] == "nano-banana"

    side = config["experiments"]
    rendered = {(dict(j)["experiment"], dict(j)["generator"]) for j in jobs["experiment_generate"]}
    assert {("emotion_generation", g) for g in side["emotion_generation"]["generators"]} <= rendered
    assert {"sd3.5-large", "nano-banana", "flux-dev", "danceflux", "prefflux", "flux-krea"} == set(
        side["emotion_generation"]["generators"])
    assert ("ava", "z-image-turbo") in rendered
    experiment_scores = {(dict(j)["experiment"], dict(j)["reward"]) for j in jobs["experiment_score"]}
    for name in ("emotion", "critical"):
        assert {(name, r) for r in side[name]["rewards"]} <= experiment_scores, name
    assert {("emotion_generation", side["emotion_generation"]["reward"]), ("ava", "hpsv3")} <= experiment_scores

    tables = {dict(j)["table"] for j in jobs["table"]}
    assert set(config["analysis"]["tables"]) <= tables
    assert {"tab_img2img", "fig_diff", "tab_emotion_gen"} <= tables


# ---------------------------------------------------------------- the paper config end to end, tiny

N_PROMPTS = 3  # the fewest that leave every paired statistic more than one pair
NOT_LOCAL_PIPELINES = {"openai_images", "replicate", "oracle", "sugarwater"}  # no size or step settings here
TINY_SIZE = 64  # the tiny VAEs downsample 8x; 64 px keeps every latent grid above the patch size
DUMMY_KEY = "sk-widespectrum-paper-e2e"
KEY_VARIABLES = ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "REPLICATE_API_TOKEN")
_PAPER: dict[str, paper_cache.PaperCache] = {}


@pytest.fixture(scope="session")
def tiny_paper_cache(tmp_path_factory) -> paper_cache.PaperCache:
    if "cache" not in _PAPER:
        _PAPER["cache"] = paper_cache.build_paper_cache(tmp_path_factory.mktemp("paper-cache"))
    return _PAPER["cache"]


def _image(rng: np.random.Generator) -> dict:
    return {"bytes": released_data.png_bytes(rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)), "path": None}


def _write(columns: dict, folder: Path) -> Path:
    """A one-file Hub-style dataset folder, as ``released.local_dir`` reads it."""
    return released_data.write_parquet_folder(pd.DataFrame(columns), folder, pa.Table.from_pydict(columns).schema)


def _released_sets(root: Path) -> dict[str, Path]:
    """Small synthetic copies of the six released sets the paper config reads, in their released schemas."""
    rng = np.random.default_rng(8)
    sets = {}
    sets["prompts"] = root / "anti_aesthetics_dataset"
    _write({"original_prompt": ["a cat on a sofa", "a red bus in the rain", "two dogs on a beach"],
            "disorted_long_prompt": ["a blurry, dark cat on a stained sofa", "a washed-out bus, tilted frame",
                                     "two dogs in an empty, grey frame"],
            "selected": [["clarity", "color brightness"], ["color_aesthetic"], ["richness", "clarity"]],
            "desc": ["x", "y", "z"], "negative_prompt": ["sharp, bright", "vivid colours", "rich detail"]},
           sets["prompts"])
    sets["emotion"] = root / "emotion_bias_dataset"
    bias = released_data.make_emotion_bias_table(n_items=4, image_size=16)
    released_data.write_parquet_folder(bias, sets["emotion"], released_data.emotion_bias_schema(bias))
    sets["emotion_generation"] = root / "anti_aesthetics_emotion"
    _write({"prompt": [f"A portrait of a boy, looking {e}." for e in released_data.BIAS_EMOTIONS],
            "emotion": list(released_data.BIAS_EMOTIONS)}, sets["emotion_generation"])
    sets["ava"] = root / "aas_real_images"
    names = [f"{k}.jpg" for k in range(4)]
    photos = released_data.make_real_images_table(names, image_size=16)
    # a revision with the caption columns: the release itself has none, which the report notes
    photos["anti_aesthetic_caption"] = [f"a blurred, overexposed photo of a street, number {k}" for k in range(4)]
    photos["clean_caption"] = [f"a photo of a street, number {k}" for k in range(4)]
    schema = released_data.real_images_schema()
    schema = schema.append(pa.field("anti_aesthetic_caption", pa.string())).append(
        pa.field("clean_caption", pa.string()))
    released_data.write_parquet_folder(photos, sets["ava"], schema)
    sets["art"] = root / "lapis"
    _write({"caption": ["a vase of flowers", "a pencil sketch of a horse", "a field at dusk", "a harbour"],
            "hpsv3": [[5.5, 1.0], [3.0, 0.9], [6.0, 1.1], [4.2, 1.0]],
            "image": [_image(rng) for _ in range(4)]}, sets["art"])
    sets["critical"] = root / "critical_comparsion"
    critical = released_data.make_critical_table(n_per_topic=2, image_size=16)
    released_data.write_parquet_folder(critical, sets["critical"], released_data.critical_schema())
    return sets


def _tiny_registry(repo_root: Path, folder: Path, cache: paper_cache.PaperCache,
                   urls: dict[str, str]) -> dict[str, str]:
    """Copies of config/{generators,rewards,judges}.yaml with only what must point elsewhere changed."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {kind: yaml.safe_load((repo_root / "config" / f"{kind}.yaml").read_text())
               for kind in ("generators", "rewards", "judges")}
    # every entry, not only the main run's: the side experiments render with their own
    # generators (Z-Image-Turbo for E7), which at their real 1,024 px outgrow the tiny models
    for entry in entries["generators"].values():
        if entry["loader"] in NOT_LOCAL_PIPELINES:
            continue
        if entry["loader"] == "openrouter_image":
            entry["options"]["base_url"] = urls["openrouter"]
            continue
        # img2img at strength 0.5 runs int(steps * 0.5) steps: two is the fewest that leave one
        steps = 2 if entry["loader"] == "flux_img2img" else 1
        entry["settings"] = {**entry["settings"], "num_inference_steps": steps, "height": TINY_SIZE,
                             "width": TINY_SIZE}
        if "settings_anti" in entry:
            entry["settings_anti"] = {**entry["settings_anti"], "num_inference_steps": steps}
    for name, options in paper_cache.reward_options(cache).items():
        entries["rewards"][name]["options"] = {**entries["rewards"][name]["options"], **options}
    for entry in entries["judges"].values():
        if entry.get("loader") == "openai_pairwise":
            entry["options"]["base_url"] = urls["chat"]
        elif entry.get("loader") == "qwen_vl_rater":
            # the authors' rules.csv is not in the offline cache: a file in their format, with its own sha256
            rules = folder / "rules.csv"
            entry["options"].update(guidelines_file=str(rules), guidelines_sha256=write_rules_csv(rules))
    paths = {}
    for kind, value in entries.items():
        paths[kind] = str(folder / f"{kind}.yaml")
        Path(paths[kind]).write_text(yaml.safe_dump(value, sort_keys=False))
    return paths


def _overlay(paper: dict, cache: paper_cache.PaperCache, registry: dict[str, str], sets: dict[str, Path],
             chat_url: str) -> dict:
    """The run config's environment settings, merged over config/config.yaml by the Snakefile (top-level keys)."""
    prompts = copy.deepcopy(paper["prompts"])
    prompts["n"] = N_PROMPTS
    prompts["released"]["local_dir"] = str(sets["prompts"])
    prompts["rewriter"]["base_url"] = chat_url
    experiments = copy.deepcopy(paper["experiments"])
    for name, block in experiments.items():
        if name in sets:
            block["released"]["local_dir"] = str(sets[name])
    experiments["emotion"]["authors_build"]["captioner"]["base_url"] = chat_url
    analysis = {**paper["analysis"], "bootstrap": {"n": 20, "seed": 0}}
    return {"results_dir": "results", "device": "cpu", "hub": {"cache_dir": str(cache.cache_dir), "offline": True},
            "registry": registry, "prompts": prompts, "experiments": experiments, "analysis": analysis}


@pytest.fixture(scope="module")
def paper_run(repo_root, tmp_path_factory, tiny_paper_cache):
    paper = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    root = tmp_path_factory.mktemp("paper-e2e")
    sets = _released_sets(root / "released")
    with chat_server() as chat, ProviderServer("openrouter") as openrouter:
        # the pairwise judges' answers: first image, second, tie, in turn (answers are cached by request)
        chat.script(*({"selection": s} for s in itertools.islice(itertools.cycle((0, 1, -1)), 2000)))
        registry = _tiny_registry(repo_root, root / "registry", tiny_paper_cache,
                                  {"openrouter": openrouter.base_url, "chat": chat.base_url})
        overlay = _overlay(paper, tiny_paper_cache, registry, sets, chat.base_url)
        folder = reduced_run.workflow_copy(root / "workflow", overlay)
        env = reduced_run.environment({key: DUMMY_KEY for key in KEY_VARIABLES})
        for variable in PROXY_VARIABLES:
            env.pop(variable, None)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        started = time.monotonic()
        # --keep-going: one failed job must not hide the others
        result = reduced_run.snakemake(folder, "--keep-going", env=env, timeout=4800, check=False)
        wall_s = time.monotonic() - started
    output = reduced_run.output(result)
    return {"folder": folder, "run": folder / "results" / paper["run"], "result": result, "output": output,
            "wall_s": wall_s, "jobs": reduced_run.finished_jobs(output), "paper": paper, "cache": tiny_paper_cache,
            "chat_requests": list(chat.requests), "image_requests": openrouter.calls()}


@pytest.mark.slow
@pytest.mark.paper_e2e
def test_the_paper_config_runs_to_the_end_on_the_tiny_cache(paper_run):
    result = paper_run["result"]
    assert result.returncode == 0, paper_run["output"][-8000:]
    print(f"paper e2e: {paper_run['wall_s']:.0f} s, {len(paper_run['jobs'])} jobs")


def _paper_config(paper_run) -> dict:
    """The run's validated config as the jobs read it (its run spec)."""
    from widespectrum.tables.build import run_config

    return run_config(paper_run["run"])


def _hub_ids(options: dict) -> set[str]:
    keys = ("model_id", "processor_id", "checkpoint_repo", "base_model", "tokenizer_id", "repo")
    found = {options[k] for k in keys if isinstance(options.get(k), str)}
    for value in options.values():
        if isinstance(value, dict):
            found |= _hub_ids(value)
    return found


@pytest.mark.slow
@pytest.mark.paper_e2e
def test_the_cache_holds_every_hub_id_the_paper_config_uses(repo_root, paper_run):
    config = _paper_config(paper_run)
    from widespectrum.config import all_generators, load_registry

    registry = load_registry(config)
    used = set()
    for name in all_generators(config):
        used |= _hub_ids(registry["generators"][name].get("options", {}))
    for name in config["rewards"]:
        used |= _hub_ids(registry["rewards"][name].get("options", {}))
    for name in config["judges"]["pairwise"] + config["judges"]["rater"]:
        used |= _hub_ids(registry["judges"][name].get("options", {}))
    used |= _hub_ids(config["experiments"]["emotion_generation"]["cropper"]["options"])
    assert "iSEE-Laboratory/llmdet_large" in used and "MizzenAI/HPSv3" in used
    assert used <= set(paper_run["cache"].shas), sorted(used - set(paper_run["cache"].shas))


@pytest.mark.slow
@pytest.mark.paper_e2e
def test_every_model_of_the_paper_config_wrote_its_rows(paper_run):
    config, run = _paper_config(paper_run), paper_run["run"]
    main = config["generators"]
    mitigation = [v["generator"] for v in config["vsf"]["variants"]]
    img2img = config["img2img"]["generators"]
    for reward in config["rewards"]:
        for generator in main:
            scores = contracts.read_table(layout.join(run, layout.scores(reward, generator)), contracts.SCORES)
            # every image (N prompts x I_o, I_a) under both prompts
            assert len(scores) == N_PROMPTS * 2 * 2, (reward, generator)
            assert scores.groupby(["prompt_id", "image_kind"]).ngroups == N_PROMPTS * 2
            assert (scores["status"] == contracts.OK).all(), (reward, generator, scores["status"].unique())
            assert scores["score"].notna().all()
    rater = config["roles"]["rater"]
    for generator in main + mitigation + img2img:
        ratings = contracts.read_table(layout.join(run, layout.ratings(rater, generator)), contracts.RATINGS)
        assert (ratings["status"] == contracts.OK).all() and len(ratings) > 0, generator
        assert ratings["score"].between(0, 2).all()  # an expectation over the ratings 0, 1, 2
    for judge in config["judges"]["pairwise"]:
        for generator in main:
            labels = contracts.read_table(layout.join(run, layout.labels(judge, generator)), contracts.LABELS)
            assert len(labels) == N_PROMPTS and (labels["status"] == contracts.OK).all(), (judge, generator)
    # Nano Banana's images came from the loopback OpenRouter server, one request per image at most
    assert 0 < len(paper_run["image_requests"]) <= N_PROMPTS * 2 + 4 * len(released_data.BIAS_EMOTIONS)


@pytest.mark.slow
@pytest.mark.paper_e2e
def test_every_enabled_table_exists_or_the_report_says_why(paper_run):
    from widespectrum.tables.catalog import TABLES, configured_tables, unavailable_tables

    config, run = _paper_config(paper_run), paper_run["run"]
    made, missing = configured_tables(config), unavailable_tables(config)
    assert set(config["analysis"]["tables"]) <= set(made) | set(missing)
    report = layout.join(run, layout.report("md")).read_text()
    for name in made:
        frame = pd.read_csv(layout.join(run, layout.table(name, "csv")))
        record = yaml.safe_load(layout.join(run, layout.table(name, "json")).read_text())
        assert record["table"] == name and len(frame) > 0, name
        # every input the catalog names was there: a wiring gap shows up as a "missing input" note
        assert not [note for note in record["notes"] if "missing input" in note], (name, record["notes"])
        if "n" in frame.columns:  # each row states the n it rests on
            assert (frame["n"].dropna() >= 1).all() and frame["n"].notna().any(), name
        if TABLES[name].published:  # the report lists the tables the paper printed numbers of
            assert name in report, name
    for name, why in missing.items():
        assert not layout.join(run, layout.table(name, "csv")).exists(), name
        assert name in report and why in report, (name, why)


@pytest.mark.slow
@pytest.mark.paper_e2e
def test_an_hpsv3_row_is_the_loader_run_on_that_image(paper_run):
    """One score recomputed here, in this process, by the HPSv3 loader on the tiny cache."""
    from PIL import Image

    from widespectrum import registry
    from widespectrum.config import load_registry
    from widespectrum.runtime import Runtime

    config, run = _paper_config(paper_run), paper_run["run"]
    generator = "danceflux"
    scores = contracts.read_table(layout.join(run, layout.scores("hpsv3", generator)), contracts.SCORES)
    manifest = contracts.read_table(layout.join(run, layout.manifest(generator)), contracts.MANIFEST)
    prompts = contracts.read_table(layout.join(run, layout.PROMPTS), contracts.PROMPTS)
    row = scores[(scores["image_kind"] == "a") & (scores["prompt_kind"] == "o")].iloc[0]
    image_row = manifest[(manifest["prompt_id"] == row["prompt_id"]) & (manifest["image_kind"] == "a")].iloc[0]
    prompt = prompts.set_index("prompt_id").loc[row["prompt_id"], "prompt_original"]
    model = registry.build(load_registry(config), "rewards", "hpsv3",
                           Runtime(device="cpu", cache_dir=str(paper_run["cache"].cache_dir), offline=True))
    output = model.score([Image.open(layout.join(run, image_row["path"]))], [prompt])
    assert float(output.scores[0]) == pytest.approx(row["score"], abs=1e-5)
    assert float(output.sigmas[0]) == pytest.approx(row["score_sigma"], abs=1e-5)
