"""The per-dimension judge J on a tiny Qwen3-VL of the real class, loaded by the real ids.

The checkpoint and processor are built from small configs with random weights, saved
with save_pretrained and installed in a temporary offline hub cache as
weathon/smolvlm2_anti_aesthetics_7b and Qwen/Qwen3-VL-4B-Instruct; the judge is built
from config/judges.yaml through the registry, with the guidelines of a small rules.csv in
the authors' format (tests/fixtures/rules_csv.py) in place of the authors' own file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from widespectrum import contracts, registry
from widespectrum.demo.hub_cache import install_snapshot
from widespectrum.errors import SetupError
from widespectrum.hub import ModelUnavailableError
from widespectrum.judging.base import DimensionRater
from widespectrum.judging.dimension_judge import guidelines_source, load_guidelines
from widespectrum.judging.runner import rate_images
from widespectrum.prompts.dimensions import DIMENSIONS
from widespectrum.runtime import Runtime

from .conftest import REPO_ROOT
from .fixtures.forward_calls import batch_sizes_seen
from .fixtures.rules_csv import authors_guideline, write_rules_csv
from .fixtures.tiny_judges import build_tiny_qwen3_vl_judge

J = "qwen3-vl-4b-rater"
MODEL_ID = "weathon/smolvlm2_anti_aesthetics_7b"
PROCESSOR_ID = "Qwen/Qwen3-VL-4B-Instruct"
AUTHORS_URL = ("https://raw.githubusercontent.com/weathon/icml2026_position/"
               "8f47b89d8194ea66b20b61ff232586526410fd6e/eval/rater/rules.csv")
AUTHORS_SHA256 = "d013aa409f07264ee8f1b6112a875c57628e7a3a67131ed1b511bb4db4902dcc"


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> dict:
    build = tmp_path_factory.mktemp("build")
    cache = tmp_path_factory.mktemp("hub")
    model_dir, processor_dir = build_tiny_qwen3_vl_judge(build)
    shas = {PROCESSOR_ID: install_snapshot(processor_dir, cache, PROCESSOR_ID),
            MODEL_ID: install_snapshot(model_dir, cache, MODEL_ID)}
    snapshots = {repo: cache / f"models--{repo.replace('/', '--')}" / "snapshots" / sha for repo, sha in shas.items()}
    return {"cache": cache, "shas": shas, "snapshots": snapshots,
            "runtime": Runtime(device="cpu", cache_dir=str(cache), offline=True)}


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("rules") / "rules.csv"
    return {"path": path, "sha256": write_rules_csv(path)}


@pytest.fixture(scope="module")
def judges_registry(rules) -> dict:
    """config/judges.yaml, J reading the test-built rules.csv (the authors' file is not here offline)."""
    entries = yaml.safe_load((REPO_ROOT / "config" / "judges.yaml").read_text(encoding="utf-8"))
    entries[J]["options"].update(guidelines_file=str(rules["path"]), guidelines_sha256=rules["sha256"])
    return {"judges": entries}


def _judge(hub, judges_registry, **options):
    entries = copy.deepcopy(judges_registry)
    entries["judges"][J]["options"].update(options)
    return registry.build(entries, "judges", J, hub["runtime"])


@pytest.fixture(scope="module")
def judge(hub, judges_registry):
    return _judge(hub, judges_registry)


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    rng = np.random.default_rng(7)
    # different sizes and aspect ratios: J resizes every image to 512 x 512
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ((96, 64), (40, 120))]


@pytest.fixture(scope="module")
def all_ratings(judge, images) -> np.ndarray:
    return judge.rate(images, DIMENSIONS)  # each forward pass: the 11 dimensions of one image


def _reference_expectation(processor, model, image: Image.Image, dimension: str) -> float:
    """J(I, d) computed here from the saved checkpoint: one conversation, no batching."""
    dim = dimension.replace("_", " ")
    text = (f"Please rate this image for its {dim} quality. Use this guideline {authors_guideline(dimension)}. "
            "Response a single number.")
    messages = [{"role": "user", "content": [{"type": "text", "text": text},
                                             {"type": "image", "image": image.resize((512, 512))}]}]
    inputs = processor.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                           return_dict=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1]
    digits = [processor.tokenizer.convert_tokens_to_ids(d) for d in "012"]
    p = torch.softmax(logits[digits].double(), dim=0).numpy()
    return float(0 * p[0] + 1 * p[1] + 2 * p[2])


def test_the_digits_are_single_tokens_of_the_tiny_tokenizer(judge):
    tokenizer = judge.processor.tokenizer
    for digit, token_id in zip("012", judge.rating_token_ids):
        assert tokenizer.encode(digit, add_special_tokens=False) == [token_id]
    assert len(set(judge.rating_token_ids)) == 3


def test_score_is_the_expected_digit_under_the_softmax_of_the_last_position(hub, judge, images):
    dimensions = ["clarity", "color_aesthetic", "main_object"]
    from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(hub["snapshots"][PROCESSOR_ID])
    model = Qwen3VLForConditionalGeneration.from_pretrained(hub["snapshots"][MODEL_ID], dtype=torch.float32).eval()
    values = judge.rate(images[:1], dimensions)
    reference = [_reference_expectation(processor, model, images[0], d) for d in dimensions]
    np.testing.assert_allclose(values[0], reference, atol=1e-5)
    # the tiny model's output head is wide enough that the three digits do not tie
    assert np.ptp(values) > 1e-3 and np.all((values > 0) & (values < 2))


def test_batching_does_not_change_a_rating(hub, judges_registry, images, all_ratings):
    together = all_ratings
    assert together.shape == (2, 11)
    one_at_a_time = _judge(hub, judges_registry, batch_size=1).rate(images, DIMENSIONS)
    mixed = _judge(hub, judges_registry, batch_size=4).rate(images, DIMENSIONS)  # batches span both images
    np.testing.assert_allclose(together, one_at_a_time, atol=1e-5)
    np.testing.assert_allclose(mixed, one_at_a_time, atol=1e-5)


def test_the_vision_tower_sees_each_image_once_per_batch(judge, images, all_ratings):
    """The 11 questions about one image share one pass of the vision tower: a batch of 22
    conversations about 2 images encodes 2 images, and every rating stays as it was."""
    batch_size = judge.batch_size
    try:
        judge.batch_size = 2 * len(DIMENSIONS)
        with batch_sizes_seen(judge.model.model.visual) as encoded:
            together = judge.rate(images, DIMENSIONS)
    finally:
        judge.batch_size = batch_size
    assert encoded == [2]
    np.testing.assert_allclose(together, all_ratings, atol=1e-5)


def test_inputs_are_the_processors_with_each_image_prepared_once(judge, images):
    """Three questions about each of two images, left-padded: the language model's inputs equal the
    processor's own chat-template call, while the pixels hold each image once."""
    from widespectrum.batching import distinct, qwen_vl_inputs
    from widespectrum.judging.dimension_judge import conversation_image, fitted

    shown = [fitted(image, judge.image_size) for image in images]  # as rate() shows them: one object per image
    conversations = [judge.prompt(image, d) for image in shown for d in ("clarity", "main_object", "color_aesthetic")]
    theirs = judge.processor.apply_chat_template(conversations, tokenize=True, add_generation_prompt=True,
                                                 return_dict=True, return_tensors="pt",
                                                 processor_kwargs={"padding": True})
    unique, image_of = distinct([conversation_image(c) for c in conversations], key=id)
    texts = judge.processor.apply_chat_template(conversations, tokenize=False, add_generation_prompt=True)
    ours = qwen_vl_inputs(judge.processor, texts, unique, image_of)

    assert judge.processor.tokenizer.padding_side == "left" and image_of.tolist() == [0, 0, 0, 1, 1, 1]
    for key in ("input_ids", "attention_mask", "mm_token_type_ids", "image_grid_thw"):
        assert torch.equal(ours.text[key], theirs[key]), key
    patches = int(ours.image_grid_thw[0].prod())
    assert ours.pixel_values.shape[0] == 2 * patches and theirs["pixel_values"].shape[0] == 6 * patches
    assert torch.equal(ours.pixel_values[:patches], theirs["pixel_values"][:patches])
    assert torch.equal(ours.pixel_values[patches:], theirs["pixel_values"][3 * patches:4 * patches])


def test_attention_implementation_is_an_option_that_keeps_the_ratings(hub, judges_registry, judge, images,
                                                                      all_ratings):
    eager = _judge(hub, judges_registry, attn_implementation="eager")
    assert (eager.provenance()["attn_implementation"], judge.provenance()["attn_implementation"]) == ("eager", "sdpa")
    np.testing.assert_allclose(eager.rate(images, DIMENSIONS), all_ratings, atol=1e-5)


def test_prompt_puts_the_question_with_its_guideline_before_the_512px_image(judge, images):
    [turn] = judge.prompt(images[1], "color_brightness")
    text, picture = turn["content"]
    assert turn["role"] == "user" and text["type"] == "text" and picture["type"] == "image"
    assert text["text"] == ("Please rate this image for its color brightness quality. Use this guideline "
                            "{'Bright: 2': ': well lit', 'Normal: 1': ': adequate', 'Dark: 0': ': dim, murky'}. "
                            "Response a single number.")
    assert picture["image"].size == (512, 512)

    inputs = judge.processor.apply_chat_template([judge.prompt(images[1], "color_brightness")], tokenize=True,
                                                 add_generation_prompt=True, return_dict=True)
    decoded = judge.processor.tokenizer.decode(inputs["input_ids"][0])
    assert decoded.index("color brightness quality") < decoded.index("<|vision_start|>")
    assert decoded.endswith("<|im_start|>assistant\n")
    # 512 x 512 in 16-pixel patches merged 2 x 2: 16 x 16 image tokens
    assert decoded.count("<|image_pad|>") == 256


def test_the_authors_rules_csv_is_read_as_their_script_reads_it(tmp_path):
    rules = tmp_path / "rules.csv"
    rules.write_text(
        "Dimension ,Option,Score,Description\n"
        "Overall (clarity),very clear,2, sharp everywhere \n"
        ",somewhat clear,0,soft in places\n"
        ",blurry,-1,out of focus\n"
        "Colour (color brightness),bright,1,well lit\n"
        ",dark,-3,murky\n", encoding="utf-8")
    guidelines = load_guidelines(rules)
    assert list(guidelines) == ["clarity", "color_brightness"]
    assert guidelines["clarity"] == {"name": "clarity", "options": [
        ("very clear", 2, "sharp everywhere"), ("somewhat clear", 1, "soft in places"), ("blurry", 0, "out of focus")]}
    assert guidelines["color_brightness"]["name"] == "color brightness"
    assert guidelines["color_brightness"]["options"] == [("bright", 2, "well lit"), ("dark", 0, "murky")]


def test_the_authors_byte_order_mark_and_filled_down_dimensions_are_read(rules):
    guidelines = load_guidelines(rules["path"])
    # the file's 12 dimensions: J's 11 and symmetry, which infer.py leaves out
    assert sorted(guidelines) == sorted([*DIMENSIONS, "symmetry"])
    assert guidelines["richness"] == {"name": "richness", "options": [
        ("Very rich", 2, "full of detail"), ("Rich", 2, "quite a few objects"), ("Normal", 1, "average"),
        ("Empty", 0, "random or unfinished")]}
    assert guidelines["object_pairing"]["name"] == "object pairing"
    assert guidelines["main_object"]["options"][1] == ("Not prominent", 0, "small, peripheral")


def test_the_registry_entry_names_the_authors_rules_csv_at_its_commit():
    entries = yaml.safe_load((REPO_ROOT / "config" / "judges.yaml").read_text(encoding="utf-8"))
    options = entries[J]["options"]
    assert (options["guidelines_url"], options["guidelines_sha256"]) == (AUTHORS_URL, AUTHORS_SHA256)
    assert "guidelines_file" not in options


def test_without_options_the_guidelines_are_the_authors_file_which_offline_must_be_cached(tmp_path):
    runtime = Runtime(device="cpu", cache_dir=str(tmp_path), offline=True)
    with pytest.raises(ModelUnavailableError, match="8f47b89d8194ea66b20b61ff232586526410fd6e/eval/rater/rules.csv"):
        guidelines_source(runtime, "J guidelines")
    rules_file = tmp_path / "widespectrum-files" / AUTHORS_SHA256 / "rules.csv"
    rules_file.parent.mkdir(parents=True)
    rules_file.write_text("not the authors' file", encoding="utf-8")
    with pytest.raises(SetupError, match=f"the registry records {AUTHORS_SHA256}"):
        guidelines_source(runtime, "J guidelines")
    assert not rules_file.exists()  # a wrong file does not stay under the authors' digest


def test_j_reads_its_url_and_sha256_guidelines_from_the_verified_cache_offline(hub, tmp_path):
    """config/judges.yaml's J with the test file's sha256: read from <cache>/widespectrum-files/<sha256>/."""
    built = tmp_path / "rules.csv"
    digest = write_rules_csv(built)
    cached = hub["cache"] / "widespectrum-files" / digest / "rules.csv"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(built.read_bytes())
    entries = {"judges": yaml.safe_load((REPO_ROOT / "config" / "judges.yaml").read_text(encoding="utf-8"))}
    entries["judges"][J]["options"]["guidelines_sha256"] = digest
    judge = registry.build(entries, "judges", J, hub["runtime"])

    [turn] = judge.prompt(Image.new("RGB", (8, 8)), "detail_refinement")
    assert turn["content"][0]["text"] == (
        "Please rate this image for its detail refinement quality. Use this guideline "
        "{'Very refined: 2': ': fine texture', 'Normal: 1': ': plain', 'Rough: 0': ': coarse'}. "
        "Response a single number.")
    record = judge.provenance()
    assert (record["guidelines_file"], record["guidelines_url"], record["guidelines_sha256"]) == (
        "rules.csv", AUTHORS_URL, digest)


def test_a_guideline_file_with_another_sha256_is_refused(hub, judges_registry, rules, tmp_path):
    wrong = "0" * 64
    with pytest.raises(SetupError, match=f"has sha256 {rules['sha256']}, the registry records {wrong}"):
        _judge(hub, judges_registry, guidelines_sha256=wrong)
    cached = hub["cache"] / "widespectrum-files" / wrong / "rules.csv"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(rules["path"].read_bytes())
    with pytest.raises(SetupError, match="wrong or corrupted file"):
        _judge(hub, judges_registry, guidelines_file=None, guidelines_url=AUTHORS_URL, guidelines_sha256=wrong)


def test_this_projects_yaml_wording_remains_an_option(hub, judges_registry):
    judge = _judge(hub, judges_registry, guidelines_file="config/judge_guidelines.yaml", guidelines_sha256=None)
    [turn] = judge.prompt(Image.new("RGB", (8, 8)), "color_brightness")
    assert turn["content"][0]["text"] == (
        "Please rate this image for its color brightness quality. Use this guideline "
        "{'bright: 2': ': the scene is well lit and the colors are vivid', "
        "'normal: 1': ': brightness is adequate but unremarkable', "
        "'dark: 0': ': the scene is dim and murky, much of it lost in darkness'}. Response a single number.")
    record = judge.provenance()
    assert (record["guidelines_file"], record["guidelines_url"]) == ("judge_guidelines.yaml", None)
    assert record["guidelines_sha256"] == hashlib.sha256(
        (REPO_ROOT / "config" / "judge_guidelines.yaml").read_bytes()).hexdigest()


def _manifest(images, run_dir, generator: str = "g") -> pd.DataFrame:
    rows = []
    for i, image in enumerate(images):
        path = f"images/{generator}/{i}.png"
        (run_dir / path).parent.mkdir(parents=True, exist_ok=True)
        image.save(run_dir / path)
        rows.append({"generator": generator, "prompt_id": f"{i:04d}", "image_kind": "a", "prompt": "p",
                     "path": path, "sha256": contracts.sha256_file(run_dir / path), "seed": i,
                     "settings": "{}", "status": contracts.OK})
    return contracts.records_to_frame(rows, contracts.MANIFEST)


def test_ratings_contract_and_provenance(hub, judge, images, all_ratings, tmp_path):
    manifest = _manifest(images, tmp_path)
    ratings = rate_images(judge, manifest, tmp_path)
    contracts.RATINGS.validate(ratings)
    assert len(ratings) == 2 * 11 and (ratings["status"] == contracts.OK).all()
    direct = all_ratings
    table = ratings.pivot(index="prompt_id", columns="dimension", values="score").loc[:, list(DIMENSIONS)]
    np.testing.assert_allclose(table.to_numpy(dtype=float), direct, atol=1e-5)

    record = judge.provenance()
    assert record["model_id"] == MODEL_ID and record["processor_id"] == PROCESSOR_ID
    assert record["resolved_revision"] == hub["shas"][MODEL_ID]
    assert record["processor_resolved_revision"] == hub["shas"][PROCESSOR_ID]
    assert record["dtype"] == "float32"  # the entry asks for bfloat16, which is a GPU setting
    assert record["padding_side"] == "left" and record["image_size"] == 512 and record["batch_size"] == 11


class _FixedRater(DimensionRater):
    """Rates every image with the same row of values, whatever they are."""

    def __init__(self, values) -> None:
        super().__init__("fixed", Runtime(device="cpu"))
        self.values = values

    def rate(self, images, dimensions):
        return np.tile(self.values, (len(images), 1))


def test_a_rating_that_is_not_a_number_in_0_to_2_becomes_an_error_row(images, tmp_path):
    manifest = _manifest(images[:1], tmp_path)
    dimensions = ["background", "clarity", "emotion", "richness", "main_object"]
    ratings = rate_images(_FixedRater([math.nan, 2.5, 2.0, 0.0, -0.25]), manifest, tmp_path, dimensions=dimensions)
    contracts.RATINGS.validate(ratings)
    by_dimension = ratings.set_index("dimension")
    assert by_dimension["status"].to_dict() == {
        "background": "error: non-finite rating", "clarity": "error: rating 2.5 outside [0, 2]",
        "emotion": "ok", "richness": "ok", "main_object": "error: rating -0.25 outside [0, 2]"}
    assert by_dimension.loc["emotion", "score"] == 2.0 and by_dimension.loc["richness", "score"] == 0.0
    assert by_dimension.loc[["background", "clarity", "main_object"], "score"].isna().all()


def test_the_paper_config_plans_a_rate_job_for_j_on_every_generator(repo_root, tmp_path):
    from .test_workflow import _planned_jobs, _snakemake

    config = yaml.safe_load((repo_root / "config" / "config.yaml").read_text(encoding="utf-8"))
    assert config["judges"]["rater"] == [J] and config["roles"]["rater"] == J
    result = _snakemake(repo_root, "-n", "--configfile", "config/config.yaml", "--config", f"results_dir={tmp_path}")
    assert result.returncode == 0, result.stderr + result.stdout
    rated = _planned_jobs(result.stdout + result.stderr)["rate"]
    generators = (set(config["generators"]) | {v["generator"] for v in config["vsf"]["variants"]}
                  | set(config["img2img"]["generators"]))
    assert rated == {f"rater={J}, generator={g}" for g in generators}


def test_the_rate_stage_runs_j_from_the_paper_config(hub, judges_registry, rules, images, all_ratings, tmp_path):
    """What the paper DAG's rate job does: config/config.yaml's J on the tiny cache, one generator,
    its registry's guidelines pointed at the test-built rules.csv."""
    from widespectrum import pipeline
    from widespectrum.runconfig import load_run as load_config

    config = load_config(REPO_ROOT / "config" / "config.yaml")
    judges_file = tmp_path / "judges.yaml"
    judges_file.write_text(yaml.safe_dump(judges_registry["judges"], sort_keys=False), encoding="utf-8")
    config.update(results_dir=str(tmp_path), device="cpu", hub={"cache_dir": str(hub["cache"]), "offline": True},
                  registry={**config["registry"], "judges": str(judges_file)})
    run_dir = tmp_path / config["run"]
    generator = config["generators"][0]
    manifest_file = run_dir / "images" / generator / "manifest.parquet"
    contracts.write_table(_manifest(images, run_dir, generator), manifest_file, contracts.MANIFEST)
    output = run_dir / "ratings" / J / f"{generator}.parquet"
    provenance_file = run_dir / "provenance" / "rate" / f"{J}-{generator}.json"

    pipeline.rate(config, J, manifest_file, output, provenance_file, threads=2)

    ratings = contracts.read_table(output, contracts.RATINGS)
    assert len(ratings) == 2 * 11 and (ratings["status"] == contracts.OK).all()
    table = ratings.pivot(index="prompt_id", columns="dimension", values="score").loc[:, list(DIMENSIONS)]
    np.testing.assert_allclose(table.to_numpy(dtype=float), all_ratings, atol=1e-5)
    record = json.loads(provenance_file.read_text(encoding="utf-8"))
    text = json.dumps(record)
    assert record["rows"] == 22 and hub["shas"][MODEL_ID] in text and hub["shas"][PROCESSOR_ID] in text
    component = record["component"]
    assert component["guidelines_file"] == "rules.csv" and component["guidelines_sha256"] == rules["sha256"]
