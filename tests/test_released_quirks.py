"""Each quirk of the authors' released data, read by our readers, checked value by value.

The synthetic sets of ``tests/fixtures/released_data.py`` reproduce them: the
union struct of ``hpsv3_reward``'s two nestings, solid blue placeholders, the
duplicated ``sd3_medium_grpo_2`` run, ``selected_dims`` as a JSON string of spaced
names, rater scores in alphabetical dimension order, 2x2 BLIP logits, the
emotion set's per-item scores (one-element HPSv2 lists, a prompt without the
slot) and the critical set's score structs keyed by model names.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from widespectrum.captioning import Taxonomy
from widespectrum.config import ConfigError
from widespectrum.contracts import EMOTION_SCORES, OK, write_table
from widespectrum.experiments.ava.released import ava_photographs, has_captions
from widespectrum.experiments.ava.steps import build_items, recaptioned_items
from widespectrum.experiments.critical.released import critical_items
from widespectrum.experiments.emotion.released import emotion_bias_items, released_emotion_scores
from widespectrum.layout import experiment_file
from widespectrum.prompts.dimensions import DIMENSIONS
from widespectrum.released import (
    ReleasedFormatError,
    ReleasedSpec,
    audit_benchmark,
    convert_benchmark,
    load_released_table,
)
from widespectrum.released.benchmark import DROPPED_DUPLICATE, write_converted
from widespectrum.released.loading import released_source
from widespectrum.runconfig import load_run
from widespectrum.tables.build import compute_table

from .fixtures.chat_server import loopback_chat_server
from .fixtures.released_data import (
    CRITICAL_MODELS,
    DEFAULT_HPSV3_FLAT,
    NEGATIVE_EMOTIONS,
    critical_schema,
    emotion_bias_schema,
    make_benchmark_table,
    make_critical_table,
    make_emotion_bias_table,
    make_real_images_table,
    real_images_schema,
    write_benchmark_parquet,
    write_parquet_folder,
)

N_PROMPTS = 30  # indices 5, 17, 29 of the Nano Banana run are flat in the default union
SUFFIXES = ("oiop", "oidp", "diop", "didp")
KINDS = {"oiop": ("o", "o"), "oidp": ("o", "a"), "diop": ("a", "o"), "didp": ("a", "a")}


def _released(tmp_path, name, **kwargs):
    frame = make_benchmark_table(n_prompts=N_PROMPTS, image_size=4, **kwargs)
    folder = tmp_path / name
    write_benchmark_parquet(frame, folder)
    table = load_released_table("weathon/aas_benchmark_final", None, local_dir=folder)
    spec = ReleasedSpec.from_config({"local_dir": folder, "revision": "test-revision"})
    return frame, table, convert_benchmark(table, spec)


@pytest.fixture(scope="module")
def union(tmp_path_factory):
    return _released(tmp_path_factory.mktemp("union"), "union")


def test_union_hpsv3_column_holds_both_nestings(union):
    frame, table, converted = union
    kind = table.schema.field("hpsv3_reward").type
    assert sorted(kind.field(i).name for i in range(kind.num_fields)) == sorted(
        ["hpsv3_reward", *[f"hpsv3_{s}" for s in SUFFIXES]])
    flat_rows = [(m, i) for m, i in DEFAULT_HPSV3_FLAT if i < N_PROMPTS]
    assert flat_rows == [("nano-banana", 5), ("nano-banana", 17), ("nano-banana", 29)]
    values = table.column("hpsv3_reward").to_pylist()
    models, indices = table.column("model").to_pylist(), table.column("index").to_pylist()
    for value, model, index in zip(values, models, indices):
        flat = (model, index) in flat_rows
        assert (value["hpsv3_reward"] is None) == flat
        assert all((value[f"hpsv3_{s}"] is None) != flat for s in SUFFIXES)

    hpsv3 = converted.scores[converted.scores["reward"] == "hpsv3"].set_index(
        ["generator", "prompt_id", "image_kind", "prompt_kind"])
    kept = converted.rows[converted.rows["kept"]]
    for row in kept.itertuples(index=False):
        raw = values[row.row]
        leaf = raw["hpsv3_reward"] if raw["hpsv3_reward"] is not None else {f"hpsv3_{s}": raw[f"hpsv3_{s}"]
                                                                            for s in SUFFIXES}
        for suffix in SUFFIXES:
            mu, sigma = leaf[f"hpsv3_{suffix}"]
            got = hpsv3.loc[(row.generator, row.prompt_id, *KINDS[suffix])]
            assert got["status"] == OK and got["score"] == mu and got["score_sigma"] == sigma


def test_hpsv3_row_with_both_or_neither_form(tmp_path):
    frame = make_benchmark_table(n_models=2, n_prompts=3, duplicate_model=None, placeholder_rows=(), image_size=4)
    both = frame["hpsv3_reward"][1]
    both.update({f"hpsv3_{s}": [1.0, 0.1] for s in SUFFIXES})  # a row in both forms at once
    frame.at[2, "hpsv3_reward"] = {"hpsv3_reward": None, **{f"hpsv3_{s}": None for s in SUFFIXES}}
    folder = tmp_path / "bad"
    write_benchmark_parquet(frame, folder)
    table = load_released_table("x", None, local_dir=folder)
    spec = ReleasedSpec.from_config({"local_dir": folder, "revision": "r"})
    with pytest.raises(ReleasedFormatError, match=r"hpsv3_reward.*more than one nesting.*row 1 \(index 1"):
        convert_benchmark(table, spec)
    frame.at[1, "hpsv3_reward"] = {"hpsv3_reward": both["hpsv3_reward"], **{f"hpsv3_{s}": None for s in SUFFIXES}}
    write_benchmark_parquet(frame, folder)
    converted = convert_benchmark(load_released_table("x", None, local_dir=folder), spec)
    neither = converted.scores.query("reward == 'hpsv3' and prompt_id == '0002' and generator == 'flux-dev'")
    assert len(neither) == 4 and (neither["status"] == "missing in released data").all()


def test_other_benchmark_quirks_field_by_field(union):
    frame, table, converted = union
    rows = converted.rows
    second = rows[rows["model"] == "sd3_medium_grpo_2"]
    assert len(second) == N_PROMPTS and (~second["kept"]).all() and (second["dropped"] == DROPPED_DUPLICATE).all()
    # Placeholders are kept by default (the published numbers include them) and still found.
    assert converted.placeholders[["generator", "prompt_id", "image_kind"]].values.tolist() == [
        ["nano-banana", "0007", "a"]]
    nano7 = converted.scores.query("generator == 'nano-banana' and prompt_id == '0007'")
    assert (nano7["status"] == OK).all()

    first = frame.iloc[0]
    dims = json.loads(first["selected_dims"])
    assert all(" " in d or d in DIMENSIONS for d in dims)
    assert converted.prompts.set_index("prompt_id").loc["0000", "dimensions"] == [d.replace(" ", "_") for d in dims]

    ratings = converted.ratings.query("generator == 'flux-dev' and prompt_id == '0000'").set_index(
        ["image_kind", "dimension"])["score"]
    for kind, part in (("o", "original"), ("a", "distorted")):
        for d, dimension in enumerate(sorted(DIMENSIONS)):
            assert ratings[(kind, dimension)] == first["rater"][part]["scores"][d]

    blip = converted.scores.query("generator == 'flux-dev' and prompt_id == '0000' and reward == 'blip-l'")
    for i, kind in enumerate(("o", "a")):
        no_match, match = first["blip_score"][i]
        expected = math.exp(match) / (math.exp(match) + math.exp(no_match))
        assert blip.set_index("image_kind").loc[kind, "score"] == pytest.approx(expected, rel=1e-12)


def test_union_struct_gives_the_same_tab_gen_as_flat_values(union, tmp_path):
    config = load_run("config/released.yaml")
    config["analysis"]["bootstrap"] = {"n": 50, "seed": 0}
    results = []
    for name, converted in (("union", union[2]), ("flat", _released(tmp_path, "flat-data", hpsv3_form="flat")[2])):
        run = tmp_path / name
        write_converted(converted, run)
        results.append(compute_table("tab_gen", run, config))
    union_scores = union[2].scores.sort_values(["reward", "generator", "prompt_id", "image_kind", "prompt_kind"])
    assert union_scores["score"].notna().all()
    pd.testing.assert_frame_equal(results[0].frame, results[1].frame)
    tab = results[0].frame.set_index("generator")
    assert len(tab) == len(config["generators"]) and tab["d_hpsv3"].notna().all()
    # The Nano Banana row rests on every pair: its three flat rows were read, not dropped.
    assert tab.at["nano-banana", "n_hpsv3"] == N_PROMPTS


# ---------------------------------------------------------------- BLIP: logits and probabilities

# ITM logits [no-match, match] under p_a, rows [I_o, I_a]. Pattern "o": I_o has the larger match
# logit (2 > 1) but the smaller match probability (sigmoid(2) = 0.881 < sigmoid(6) = 0.998);
# pattern "a" is the same pair swapped. blip_selected is the argmax of the match logits.
BLIP_PATTERNS = {"o": ([[0.0, 2.0], [-5.0, 1.0]], 0), "a": ([[-5.0, 1.0], [0.0, 2.0]], 1)}


def test_tab_reward_model_ranks_blip_by_the_released_match_logit(tmp_path):
    frame = make_benchmark_table(n_prompts=6, image_size=4)
    # the judge agrees with the logit every time: pairs alternate between the two patterns
    pattern = ["o" if index % 2 == 0 else "a" for index in frame["index"]]
    frame["blip_score"] = [BLIP_PATTERNS[k][0] for k in pattern]
    frame["blip_selected"] = [BLIP_PATTERNS[k][1] for k in pattern]
    frame["llm_selected"] = [BLIP_PATTERNS[k][1] for k in pattern]
    for logits, _ in BLIP_PATTERNS.values():  # the patterns do rank the two images differently
        probability = [1 / (1 + math.exp(no - match)) for no, match in logits]
        assert (logits[1][1] > logits[0][1]) != (probability[1] > probability[0])
    write_benchmark_parquet(frame, tmp_path / "data")
    config = load_run("config/released.yaml")
    config["analysis"]["bootstrap"] = {"n": 0, "seed": 0}
    spec = ReleasedSpec.from_config({**config["released"], "local_dir": tmp_path / "data"})
    table = load_released_table(spec.dataset, None, local_dir=tmp_path / "data")
    converted = convert_benchmark(table, spec)
    write_converted(converted, tmp_path / "run")
    agreement = audit_benchmark(table, converted, spec).per_model.set_index("model")["blip_selected_agreement"]
    assert agreement.drop("sd3_medium_grpo_2").eq(1.0).all()  # the dropped duplicate run has no kept pair

    rows = compute_table("tab_reward_model", tmp_path / "run", config).frame.set_index("reward")
    assert "blip-l" not in rows.index
    assert rows.at["blip-l-logit", "accuracy"] == 1.0 and rows.at["blip-l-logit", "n"] == 10 * 6
    # the probability, asked for, gets every pair wrong: the config's choice of row decides the answer
    config["analysis"]["reward_model_rows"] = ["blip-l", "blip-l-logit"]
    both = compute_table("tab_reward_model", tmp_path / "run", config).frame.set_index("reward")
    assert both.at["blip-l", "accuracy"] == 0.0 and both.at["blip-l-logit", "accuracy"] == 1.0


# ---------------------------------------------------------------- emotion

@pytest.fixture(scope="module")
def bias(tmp_path_factory):
    frame = make_emotion_bias_table(n_items=8, missing=[(6, "angry_hpsv3")])
    folder = tmp_path_factory.mktemp("bias")
    write_parquet_folder(frame, folder, emotion_bias_schema(frame))
    return frame, folder, load_released_table("weathon/emotion_bias_dataset", None, local_dir=folder)


STEMS = {"blip-l-logit": "blip", "hpsv2.1": "hpsv2", "hpsv3": "hpsv3", "imagereward": "img_reward"}


def test_emotion_released_scores_field_by_field(bias):
    frame, _, table = bias
    assert table.schema.field("sad_hpsv2").type == pa.list_(pa.float64())
    scores, record = released_emotion_scores(table, STEMS)
    assert record["prompts_without_slot"] == 1 and record["items_without_slot"] == ["003"]
    assert len(scores) == 8 * 3 * 2 * 4
    indexed = scores.set_index(["item_id", "emotion", "image_emotion", "reward"])
    for row in range(8):
        for reward, stem in STEMS.items():
            for e in NEGATIVE_EMOTIONS:
                for column, image_emotion in ((f"{e}_{stem}", e), (f"{e}_{stem}_happy_image", "happy")):
                    value = frame.at[row, column]
                    got = indexed.loc[(f"{row:03d}", e, image_emotion, reward)]
                    if value is None:
                        assert got["status"] == "missing in released data" and pd.isna(got["score"])
                    else:
                        assert got["status"] == OK
                        assert got["score"] == (value[0] if stem == "hpsv2" else value)
    items = emotion_bias_items(load_released_table("x", None, local_dir=bias[1]))
    assert items["prompt_template"][3] == frame.at[3, "prompt"] and "[emotion]" not in items["prompt_template"][3]


def test_emotion_scores_reject_a_list_of_two(bias):
    frame = bias[0].copy()
    frame["sad_hpsv2"] = [[0.1, 0.2]] * len(frame)
    with pytest.raises(ReleasedFormatError, match=r"sad_hpsv2.*row 0.*one-element"):
        released_emotion_scores(frame, {"hpsv2.1": "hpsv2"})
    with pytest.raises(ReleasedFormatError, match=r"missing score column.*fearful_blip"):
        released_emotion_scores(bias[0].drop(columns=["fearful_blip"]), STEMS)


def test_tab_emotion_from_released_scores_equals_a_hand_computation(bias, tmp_path):
    frame, _, table = bias
    scores, _ = released_emotion_scores(table, STEMS)
    write_table(scores, tmp_path / experiment_file("emotion", "released_scores.parquet"), EMOTION_SCORES)
    config = {"experiments": {"emotion": {"source": "released", "released": {"dataset": "d", "revision": "r"},
                                          "rewards": list(STEMS), "released_scores": STEMS}},
              "analysis": {"bootstrap": {"n": 20, "seed": 0}}}
    table_frame = compute_table("tab_emotion", tmp_path, config).frame.set_index("reward")
    paper_columns = {"angry": "anger", "fearful": "fearfulness", "sad": "sadness"}
    assert sorted(table_frame.index) == sorted(STEMS)
    for reward, stem in STEMS.items():
        for e, column in paper_columns.items():
            wins, n = 0, 0
            for row in range(len(frame)):
                own, happy = frame.at[row, f"{e}_{stem}"], frame.at[row, f"{e}_{stem}_happy_image"]
                if own is None or happy is None:
                    continue
                own, happy = (own[0], happy[0]) if stem == "hpsv2" else (own, happy)
                wins += own > happy  # strict: the tie at item 1 (sad, blip) counts as wrong
                n += 1
            assert table_frame.at[reward, f"n_{column}"] == n
            assert table_frame.at[reward, column] == pytest.approx(wins / n, abs=1e-12)
    assert table_frame.at["hpsv3", "n_anger"] == 7  # item 6's angry HPSv3 score is missing
    assert table_frame.at["blip-l-logit", "n_sadness"] == 8


# ---------------------------------------------------------------- critical

def test_critical_items_keyed_by_model_names(tmp_path):
    frame = make_critical_table(n_per_topic=4)
    write_parquet_folder(frame, tmp_path / "critical", critical_schema())
    table = load_released_table("weathon/critical_comparsion", None, local_dir=tmp_path / "critical")
    items = critical_items(table)
    assert len(items) == 20 and items["item_id"].tolist() == [str(i) for i in range(20)]
    for row in range(20):
        assert sorted(items["images"][row]) == sorted(CRITICAL_MODELS)
        assert items["label"][row] == frame.at[row, "label"] and items["topic"][row] == frame.at[row, "topic"]
        for column in ("hpsv3", "hpsv2", "image_reward"):
            assert items["released_scores"][row][column] == frame.at[row, column]


def test_critical_default_revision_is_the_20_row_one_and_100_is_a_second_config():
    paper = load_run("config/config.yaml")["experiments"]["critical"]
    assert paper["released"]["revision"] == "d3fe5f37ff2eef79f2513255054795555fea8915"
    assert paper["n_per_topic"] is None
    second = load_run("config/released_critical_100.yaml")["experiments"]["critical"]
    assert second["released"]["revision"] == "main" and second["n_per_topic"] is None
    assert np.array_equal(sorted(second["image_columns"]), sorted(CRITICAL_MODELS))


# ---------------------------------------------------------------- E7 real photographs

RECAPTION_GOOD = {"anti_aesthetic_elements": ["clarity_and_focus.analog_degradation",
                                              "lighting_and_exposure.exposure_extremes"],
                  "clean_caption": "a street", "anti_aesthetic_caption": "A street through VHS noise, blown out."}
RECAPTION_BLUR = {"anti_aesthetic_elements": ["clarity_and_focus.intentional_blur"], "clean_caption": "a dancer",
                  "anti_aesthetic_caption": "A dancer smeared by a long exposure."}
RECAPTION_NONE = {"anti_aesthetic_elements": [], "clean_caption": None, "anti_aesthetic_caption": None}
PHOTOS = ["ava_001.jpg", "ava_002.jpg", "ava_003.jpg", "ava_004.jpg"]


def _photographs(tmp_path):
    frame = make_real_images_table(PHOTOS)
    write_parquet_folder(frame, tmp_path / "real", real_images_schema())
    table = load_released_table("weathon/aas_real_images", None, local_dir=tmp_path / "real")
    assert not has_captions(table)  # class_keys are hash ids, not classes: they must not be taken as such
    return ava_photographs(table)


def _check_items(items, record, how):
    assert record["captions"] == how
    assert record["photographs"] == 4 and record["not_anti_aesthetic"] == 1 and record["recaption_failed"] == 1
    assert items["file_name"].tolist() == ["ava_001.jpg", "ava_002.jpg"]
    assert items["class_keys"].tolist() == [["analog_degradation", "exposure_extremes"], ["intentional_blur"]]
    assert [Taxonomy.label(k) for k in items["class_keys"][0]] == ["analog degradation", "exposure extremes"]
    assert items["clean_caption"].tolist() == ["a street", "a dancer"]
    assert items["anti_aesthetic_caption"][1] == RECAPTION_BLUR["anti_aesthetic_caption"]


def test_ava_captions_from_a_recaption_folder(tmp_path):
    photos = _photographs(tmp_path)
    folder = tmp_path / "recaptions"
    folder.mkdir()
    for name, answer in zip(PHOTOS[:3], (RECAPTION_GOOD, RECAPTION_BLUR, RECAPTION_NONE)):
        (folder / f"{name.split('.')[0]}.json").write_text(json.dumps(answer))
    # ava_004 has no file: a failed recaption, counted apart from the not-anti-aesthetic one
    items, record = recaptioned_items(photos, {"folder": str(folder)})
    _check_items(items, record, "recaption folder")
    assert record["failed_files"] == ["ava_004.jpg"]


def test_ava_captions_from_the_recaption_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("RECAPTION_TEST_KEY", "sk-test-recaption")
    photos = _photographs(tmp_path)
    with loopback_chat_server(monkeypatch) as server:
        # The backend's schema asks for its reasoning first; the folder files are read without it.
        answers = [{"thinking": "looked closely", **a} for a in (RECAPTION_GOOD, RECAPTION_BLUR, RECAPTION_NONE)]
        server.script(*answers, "not json", "still not json")
        options = {"backend": {"model": "vlm", "base_url": server.base_url, "api_key_env": "RECAPTION_TEST_KEY",
                               "max_retries": 1, "timeout": 10.0, "backoff_s": 0.0}}
        items, record = recaptioned_items(photos, options)
    _check_items(items, record, "recaption backend")
    assert record["backend"]["captioner"] == "openai:vlm"
    assert "sk-test-recaption" not in json.dumps(record)


def test_ava_caption_columns_give_the_items_and_the_count_filtered(tmp_path):
    # A revision with the recaption output as columns: the same items and counts as the recaption path.
    answers = (RECAPTION_GOOD, RECAPTION_BLUR, RECAPTION_NONE, RECAPTION_NONE)
    frame = make_real_images_table(PHOTOS).assign(
        anti_aesthetic_elements=[a["anti_aesthetic_elements"] for a in answers],
        # object columns keep the nulls None, as the Arrow string columns need them
        clean_caption=pd.Series([a["clean_caption"] for a in answers], dtype=object),
        anti_aesthetic_caption=pd.Series([a["anti_aesthetic_caption"] for a in answers], dtype=object))
    schema = real_images_schema()
    for name, kind in (("anti_aesthetic_elements", pa.list_(pa.string())), ("clean_caption", pa.string()),
                       ("anti_aesthetic_caption", pa.string())):
        schema = schema.append(pa.field(name, kind))
    write_parquet_folder(frame, tmp_path / "real", schema)
    config = load_run("config/config.yaml")
    config["results_dir"] = str(tmp_path / "results")
    spec = {**config["experiments"]["ava"], "released": {"dataset": "weathon/aas_real_images",
                                                          "revision": None, "local_dir": str(tmp_path / "real")}}
    run_dir = tmp_path / "run"
    items, record = build_items(config, spec, run_dir / "ava" / "items", run_dir)
    assert record["captions"] == "dataset columns" and record["items"] == 2
    assert record["photographs"] == 4 and record["not_anti_aesthetic"] == 2
    assert items["file_name"].tolist() == ["ava_001.jpg", "ava_002.jpg"]
    assert items["classes"].tolist() == [["analog_degradation", "exposure_extremes"], ["intentional_blur"]]
    assert items["caption_clean"].tolist() == ["a street", "a dancer"]


def test_ava_without_captions_or_recaption_source_names_the_options(tmp_path):
    with pytest.raises(ConfigError, match=r"recaptions\.folder.*recaptions\.backend"):
        recaptioned_items(_photographs(tmp_path), {})


# ---------------------------------------------------------------- provenance of a released set

def test_released_source_records_the_requested_and_resolved_revision(tmp_path):
    commit = "d3fe5f37ff2eef79f2513255054795555fea8915"
    assert released_source("weathon/critical_comparsion", commit)["resolved_revision"] == commit
    # A folder from `huggingface-cli download --local-dir`: per-file metadata, commit on the first line.
    meta = tmp_path / "local" / ".cache" / "huggingface" / "download" / "data"
    meta.mkdir(parents=True)
    other = "0123456789abcdef0123456789abcdef01234567"
    (meta / "train-00000-of-00001.parquet.metadata").write_text(f"{other}\netag\n1700000000.0\n")
    record = released_source("weathon/emotion_bias_dataset", "main", tmp_path / "local")
    assert record == {"dataset": "weathon/emotion_bias_dataset", "revision": "main", "resolved_revision": other,
                      "local_dir": "local"}
    (meta / "extra.parquet.metadata").write_text(f"{commit}\n")
    assert released_source("d", "main", tmp_path / "local")["resolved_revision"] is None  # disagreeing files
    refs = tmp_path / "hub" / "datasets--weathon--lapis" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text(other)
    assert released_source("weathon/lapis", "main", cache_dir=tmp_path / "hub")["resolved_revision"] == other
    assert released_source("weathon/lapis", "v2", cache_dir=tmp_path / "hub")["resolved_revision"] is None


# ---------------------------------------------------------------- image writes

def test_a_full_disk_stops_the_image_ingest_instead_of_becoming_rows(tmp_path, monkeypatch):
    import errno

    from widespectrum.errors import OutputWriteError
    from widespectrum.released import benchmark

    frame = make_benchmark_table(n_models=1, n_prompts=2, duplicate_model=None, placeholder_rows=(), image_size=4)
    folder = tmp_path / "data"
    write_benchmark_parquet(frame, folder)
    table = load_released_table("x", None, local_dir=folder)
    spec = ReleasedSpec.from_config({"local_dir": folder, "revision": "r", "images": True})

    def full(path, data):
        raise OutputWriteError(path, OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(benchmark, "write_bytes", full)
    with pytest.raises(OutputWriteError):
        benchmark.write_images(table, spec, tmp_path / "run")
    monkeypatch.undo()
    # An undecodable image is still a row with its error, not a stop.
    broken = frame.copy()
    broken.at[0, "image_original"] = {"bytes": b"\x89PNG\r\n\x1a\nnot a png", "path": None}
    write_benchmark_parquet(broken, folder)
    manifests = benchmark.write_images(load_released_table("x", None, local_dir=folder), spec, tmp_path / "run2")
    statuses = manifests["flux-dev"].set_index(["prompt_id", "image_kind"])["status"]
    assert statuses[("0000", "o")].startswith("image decode failed: BadImageError")
    assert statuses[("0001", "o")] == OK
