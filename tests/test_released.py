"""Ingesting the authors' released datasets: released-format Parquet built here,
loaded from a local folder, converted and checked against values written by hand."""

import hashlib
import io
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from PIL import Image

from widespectrum.captioning import load_taxonomy
from widespectrum.config import ConfigError
from widespectrum.contracts import LABELS, MANIFEST, OK, PROMPTS, RATINGS, SCORES, read_table
from widespectrum.prompts.dimensions import DIMENSIONS
from widespectrum.experiments.art.released import lapis_items
from widespectrum.experiments.ava.released import ava_items
from widespectrum.experiments.critical.released import critical_items
from widespectrum.experiments.emotion.measure import emotion_prompt
from widespectrum.experiments.emotion.released import emotion_bias_items
from widespectrum.experiments.emotion_generation.released import emotion_generation_prompts
from widespectrum.released import (
    ReleasedFormatError,
    ReleasedSpec,
    anti_aesthetics_prompts,
    audit_benchmark,
    convert_benchmark,
    decode_image,
    iter_released_batches,
    load_released_table,
    scan_placeholders,
    write_audit,
    write_converted,
    write_images,
)
from widespectrum.released.benchmark import (
    STATUS_MISSING,
    STATUS_NONFINITE,
    STATUS_PLACEHOLDER,
)
from .fixtures.released_data import hpsv3_value, make_benchmark_table, png_bytes, write_benchmark_parquet

N_PROMPTS = 30
JUDGES = {"llm_selected": "qwen3-vl-235b", "sec_llm_selected": "gpt-5-chat", "third_llm_selected": "glm-4.5v"}


def _image(colour=None, seed=0):
    if colour is not None:
        pixels = np.broadcast_to(np.array(colour, dtype=np.uint8), (4, 4, 3))
    else:
        pixels = np.random.default_rng(seed).integers(0, 256, size=(4, 4, 3))
    return {"bytes": png_bytes(pixels), "path": None}


def _hand_row(model, index, base, labels, blip, dims, hpsv3_form="wrapped", image_o=None, image_a=None,
              hpsv3_flat=False):
    """One released row whose every number derives from ``base`` so expectations are easy to write."""
    hpsv3 = {f"hpsv3_{k}": [base + 10 + j, 0.5 + j / 10] for j, k in enumerate(("oiop", "oidp", "diop", "didp"))}
    return {
        "image_original": image_o or _image(seed=index * 2),
        "image_distorted": image_a or _image(seed=index * 2 + 1),
        "index": index,
        "prompt_original": f"a cat {index}",
        "prompt_distorted": f"a cat {index}, murky and blurred",
        "selected_dims": json.dumps(dims),
        "model": model,
        "hpsv2_reward": {f"hpsv2_{k}": base + j / 100 for j, k in enumerate(("oiop", "oidp", "diop", "didp"))},
        "hpsv3_reward": hpsv3_value(hpsv3, hpsv3_form, hpsv3_flat),
        "image_reward": {f"image_reward_{k}": -base - j for j, k in enumerate(("oiop", "oidp", "diop", "didp"))},
        "rater": {"original": {"scores": [d / 10 for d in range(11)], "preds": [0] * 11},
                  "distorted": {"scores": [2 - d / 10 for d in range(11)], "preds": [2] * 11}},
        "llm_selected": labels[0],
        "sec_llm_selected": labels[1],
        "third_llm_selected": labels[2],
        "blip_score": blip,
        "blip_selected": 1,
    }


def _softmax_match(row):
    logits = np.asarray(row, dtype=float)
    e = np.exp(logits - logits.max())
    return float(e[1] / e.sum())


def _load(frame, tmp_path, name="data", **kwargs):
    folder = tmp_path / name
    write_benchmark_parquet(frame, folder, **kwargs)
    return load_released_table("weathon/aas_benchmark_final", None, local_dir=folder), folder


def _spec(folder, **overrides):
    return ReleasedSpec.from_config({"local_dir": folder, "revision": "test-revision", **overrides})


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    frame = make_benchmark_table(n_prompts=N_PROMPTS, placeholder_rows=[("nano-banana", 7, "a")],
                                 missing=[("flux_dev", 3, "hpsv2_reward"), ("flux_dev", 4, "llm_selected"),
                                          ("playground", 5, "hpsv3_reward.hpsv3_oidp.0"),
                                          ("dance_flux", 6, "rater.distorted")],
                                 nonfinite=[("flux_krea", 2, "image_reward.image_reward_diop"),
                                            ("grpo_flux", 8, "blip_score.1.1")])
    write_benchmark_parquet(frame, folder, n_files=3)
    table = load_released_table("weathon/aas_benchmark_final", None, local_dir=folder)
    spec = _spec(folder, placeholders="exclude")  # the switch; the default keeps them
    return frame, table, spec, convert_benchmark(table, spec)


# ------------------------------------------------------------ hand-written rows

@pytest.mark.parametrize("hpsv3_form", ["wrapped", "flat", "union"])
def test_conversion_field_by_field(tmp_path, hpsv3_form):
    # In the union form the Nano Banana row is flat, the others wrapped, as in the release.
    rows = [
        _hand_row("flux_dev", 0, 0.20, (1, 0, -1), [[0.5, 2.0], [-1.0, 3.0]],
                  ["color aesthetic", "Detail-Realism"], hpsv3_form),
        _hand_row("nano-banana", 0, 0.30, (0, 1, 1), [[1.0, -1.0], [0.0, 0.0]],
                  ["color aesthetic", "Detail-Realism"], hpsv3_form, hpsv3_flat=True),
        _hand_row("flux_dev", 1, 0.25, (-1, -1, 0), [[3.0, 3.5], [2.0, -4.0]], ["emotion", "main_object"],
                  hpsv3_form),
    ]
    table, folder = _load(pd.DataFrame(rows), tmp_path)
    spec = _spec(folder, models={"flux_dev": "flux-dev", "nano-banana": "nano"}, judges=JUDGES,
                 rater="vl-rater")
    converted = convert_benchmark(table, spec)

    prompts = converted.prompts
    assert list(prompts["prompt_id"]) == ["0000", "0001"]
    assert list(prompts["caption_id"]) == ["released:0", "released:1"]
    assert list(prompts["prompt_original"]) == ["a cat 0", "a cat 1"]
    assert list(prompts["prompt_anti"]) == ["a cat 0, murky and blurred", "a cat 1, murky and blurred"]
    assert prompts["dimensions"].tolist() == [["color_aesthetic", "detail_realism"], ["emotion", "main_object"]]
    assert prompts["negative_prompt"].isna().all() and prompts["reference_image"].isna().all()
    assert set(prompts["rewriter"]) == {"released"}
    PROMPTS.validate(prompts)

    scores = SCORES.validate(converted.scores).set_index(
        ["generator", "prompt_id", "reward", "image_kind", "prompt_kind"])
    assert (scores["status"] == OK).all()
    kinds = {"oiop": ("o", "o"), "oidp": ("o", "a"), "diop": ("a", "o"), "didp": ("a", "a")}
    for generator, prompt_id, base in (("flux-dev", "0000", 0.20), ("nano", "0000", 0.30), ("flux-dev", "0001", 0.25)):
        for j, (image_kind, prompt_kind) in enumerate(kinds.values()):
            key = (generator, prompt_id)
            hps2 = scores.loc[(*key, "hpsv2.1", image_kind, prompt_kind)]
            assert hps2["score"] == pytest.approx(base + j / 100) and math.isnan(hps2["score_sigma"])
            hps3 = scores.loc[(*key, "hpsv3", image_kind, prompt_kind)]
            assert hps3["score"] == pytest.approx(base + 10 + j)
            assert hps3["score_sigma"] == pytest.approx(0.5 + j / 10)
            assert scores.loc[(*key, "imagereward", image_kind, prompt_kind), "score"] == pytest.approx(-base - j)
    blips = {("flux-dev", "0000"): [[0.5, 2.0], [-1.0, 3.0]], ("nano", "0000"): [[1.0, -1.0], [0.0, 0.0]],
             ("flux-dev", "0001"): [[3.0, 3.5], [2.0, -4.0]]}
    for key, logits in blips.items():
        assert scores.loc[(*key, "blip-l", "o", "a"), "score"] == pytest.approx(_softmax_match(logits[0]))
        assert scores.loc[(*key, "blip-l", "a", "a"), "score"] == pytest.approx(_softmax_match(logits[1]))
        assert (*key, "blip-l", "o", "o") not in scores.index
        # blip-l-logit: the raw match logit itself (column 1 of each row)
        assert scores.loc[(*key, "blip-l-logit", "o", "a"), "score"] == logits[0][1]
        assert scores.loc[(*key, "blip-l-logit", "a", "a"), "score"] == logits[1][1]
    assert len(converted.scores) == 3 * (3 * 4 + 2 + 2)

    expected_labels = {"qwen3-vl-235b": [1, -1, 0], "gpt-5-chat": [0, -1, 1], "glm-4.5v": [-1, 0, 1]}
    for judge, values in expected_labels.items():
        labels = LABELS.validate(converted.labels[judge]).set_index(["generator", "prompt_id"])
        got = [labels.loc[k, "selected"] for k in (("flux-dev", "0000"), ("flux-dev", "0001"), ("nano", "0000"))]
        assert got == values
        assert labels["first_shown"].isna().all() and (labels["status"] == OK).all()

    ratings = RATINGS.validate(converted.ratings)
    assert converted.rater == "vl-rater"
    one = ratings[(ratings["generator"] == "nano") & (ratings["prompt_id"] == "0000")]
    alphabetical = sorted(DIMENSIONS)
    for image_kind, expected in (("o", lambda d: d / 10), ("a", lambda d: 2 - d / 10)):
        part = one[one["image_kind"] == image_kind].set_index("dimension")["score"]
        assert list(part.index) == alphabetical
        for position, dimension in enumerate(alphabetical):
            assert part[dimension] == pytest.approx(expected(position))
    assert ratings.loc[(ratings["dimension"] == "clarity") & (ratings["image_kind"] == "o"), "score"].tolist() == \
        pytest.approx([0.1] * 3)

    assert converted.unmapped_models == []
    assert converted.generators == ["flux-dev", "nano"]


def test_placeholder_detected_and_rows_kept_with_status(tmp_path):
    blue = _image(colour=(0, 0, 255))
    rows = [_hand_row("nano-banana", 0, 0.2, (1, 1, 1), [[0.0, 1.0], [0.0, 2.0]], ["clarity", "richness"],
                      image_a=blue),
            _hand_row("nano-banana", 1, 0.2, (1, 1, 1), [[0.0, 1.0], [0.0, 2.0]], ["clarity", "richness"])]
    table, folder = _load(pd.DataFrame(rows), tmp_path)
    converted = convert_benchmark(table, _spec(folder, placeholders="exclude"))
    assert converted.placeholders[["prompt_id", "image_kind"]].values.tolist() == [["0000", "a"]]
    scores = converted.scores
    pair = scores[scores["prompt_id"] == "0000"]
    assert len(pair) == 16 and (pair["status"] == STATUS_PLACEHOLDER).all() and pair["score"].isna().all()
    assert (scores.loc[scores["prompt_id"] == "0001", "status"] == OK).all()
    for labels in converted.labels.values():
        row = labels.set_index("prompt_id").loc["0000"]
        assert row["status"] == STATUS_PLACEHOLDER and pd.isna(row["selected"])
    ratings = converted.ratings
    assert (ratings.loc[ratings["prompt_id"] == "0000", "status"] == STATUS_PLACEHOLDER).all()

    # The default keeps them, as the published numbers do, and still reports them.
    kept = convert_benchmark(table, _spec(folder))
    assert ReleasedSpec(revision="pinned").placeholders == "keep"
    assert (kept.scores["status"] == OK).all()
    assert len(kept.placeholders) == 1

    manifests = write_images(table, _spec(folder, placeholders="exclude"), tmp_path / "run", converted)
    manifest = MANIFEST.validate(manifests["nano-banana"]).set_index(["prompt_id", "image_kind"])
    assert manifest.loc[("0000", "a"), "status"] == STATUS_PLACEHOLDER
    assert pd.isna(manifest.loc[("0000", "a"), "path"])
    assert manifest.loc[("0000", "o"), "status"] == OK


def test_undecodable_image_is_reported_not_fatal(tmp_path):
    rows = [_hand_row("flux_dev", 0, 0.2, (1, 1, 1), [[0.0, 1.0], [0.0, 2.0]], ["clarity", "richness"],
                      image_o={"bytes": b"not an image", "path": None}),
            _hand_row("flux_dev", 1, 0.2, (1, 1, 1), [[0.0, 1.0], [0.0, 2.0]], ["clarity", "richness"])]
    table, folder = _load(pd.DataFrame(rows), tmp_path)
    spec = _spec(folder)
    converted = convert_benchmark(table, spec)
    assert (converted.scores["status"] == OK).all()  # the released scores stand
    audit = audit_benchmark(table, converted, spec)
    assert audit.per_model.set_index("model").loc["flux_dev", "image_decode_errors"] == 1
    manifest = write_images(table, spec, tmp_path / "run", converted)["flux-dev"].set_index(
        ["prompt_id", "image_kind"])
    assert manifest.loc[("0000", "o"), "status"].startswith("image decode failed")
    assert pd.isna(manifest.loc[("0000", "o"), "path"]) and manifest.loc[("0000", "a"), "status"] == OK
    assert not (tmp_path / "run" / "images" / "flux-dev" / "released" / "0000_o.png").exists()


def test_prompts_differing_across_models_is_an_error(tmp_path):
    rows = [_hand_row("flux_dev", 0, 0.2, (1, 1, 1), [[0.0, 1.0], [0.0, 2.0]], ["clarity", "richness"]),
            _hand_row("playground", 0, 0.2, (1, 1, 1), [[0.0, 1.0], [0.0, 2.0]], ["clarity", "richness"])]
    rows[1]["prompt_distorted"] = "something else"
    table, folder = _load(pd.DataFrame(rows), tmp_path)
    with pytest.raises(ReleasedFormatError, match=r"index 0.*flux_dev.*playground"):
        convert_benchmark(table, _spec(folder))


# ------------------------------------------------------------ synthetic volume

def test_synthetic_layout_duplicates_and_counts(synthetic):
    frame, table, spec, converted = synthetic
    assert table.num_rows == 11 * N_PROMPTS
    assert frame["model"].value_counts().eq(N_PROMPTS).all()
    rows = converted.rows
    dropped = rows[rows["dropped"] == "duplicate"]
    assert len(dropped) == N_PROMPTS and set(dropped["model"]) == {"sd3_medium_grpo_2"}
    assert len(converted.generators) == 10 and "sd3.5m-pickscore" in converted.generators
    assert len(converted.prompts) == N_PROMPTS
    assert len(converted.scores) == 10 * N_PROMPTS * 16
    assert len(converted.ratings) == 10 * N_PROMPTS * 22
    assert all(len(f) == 10 * N_PROMPTS for f in converted.labels.values())

    # "first" kept the first run's values; "last" keeps the second copy's.
    first = frame[(frame["model"] == "sd3_medium_grpo") & (frame["index"] == 0)].iloc[0]
    second = frame[(frame["model"] == "sd3_medium_grpo_2") & (frame["index"] == 0)].iloc[0]
    last = convert_benchmark(table, _spec(spec.local_dir, duplicates="last"))
    for result, source in ((converted, first), (last, second)):
        score = result.scores.query(
            "generator == 'sd3.5m-pickscore' and prompt_id == '0000' and reward == 'hpsv2.1' "
            "and image_kind == 'a' and prompt_kind == 'o'")["score"].item()
        assert score == pytest.approx(source["hpsv2_reward"]["hpsv2_diop"])
    with pytest.raises(ReleasedFormatError, match=r"index 0 of generator 'sd3.5m-pickscore'.*sd3_medium_grpo_2"):
        convert_benchmark(table, _spec(spec.local_dir, duplicates="error"))


def test_same_name_duplicate_run_is_dropped(tmp_path):
    frame = make_benchmark_table(n_models=3, n_prompts=4, duplicate_model="flux_dev", duplicate_name=None,
                                 placeholder_rows=())
    table, folder = _load(frame, tmp_path)
    converted = convert_benchmark(table, _spec(folder))
    assert (converted.rows["dropped"] == "duplicate").sum() == 4
    assert converted.rows.loc[converted.rows["dropped"] == "duplicate", "row"].min() == 8  # the later copy


def test_missing_and_nonfinite_values_become_status_rows(synthetic):
    _, _, _, converted = synthetic
    scores = converted.scores
    flux3 = scores.query("generator == 'flux-dev' and prompt_id == '0003' and reward == 'hpsv2.1'")
    assert len(flux3) == 4 and (flux3["status"] == STATUS_MISSING).all() and flux3["score"].isna().all()
    oidp = scores.query("generator == 'playground' and prompt_id == '0005' and reward == 'hpsv3'")
    oidp = oidp.set_index(["image_kind", "prompt_kind"])
    assert oidp.loc[("o", "a"), "status"] == STATUS_MISSING and pd.isna(oidp.loc[("o", "a"), "score_sigma"])
    assert (oidp.drop(("o", "a"))["status"] == OK).all()
    diop = scores.query("generator == 'flux-krea' and prompt_id == '0002' and reward == 'imagereward'")
    diop = diop.set_index(["image_kind", "prompt_kind"])
    assert diop.loc[("a", "o"), "status"] == STATUS_NONFINITE and pd.isna(diop.loc[("a", "o"), "score"])
    blip = scores.query("generator == 'prefflux' and prompt_id == '0008' and reward == 'blip-l'")
    assert blip.set_index("image_kind")["status"].to_dict() == {"o": OK, "a": STATUS_NONFINITE}
    label = converted.labels["qwen3-vl-235b"].query("generator == 'flux-dev' and prompt_id == '0004'")
    assert label["status"].item() == STATUS_MISSING and pd.isna(label["selected"].item())
    ratings = converted.ratings.query("generator == 'danceflux' and prompt_id == '0006'")
    assert ratings.groupby("image_kind")["status"].agg(set).to_dict() == {"o": {OK}, "a": {STATUS_MISSING}}
    nano = scores.query("generator == 'nano-banana' and prompt_id == '0007'")
    assert (nano["status"] == STATUS_PLACEHOLDER).all()


def test_audit_counts_and_files(synthetic, tmp_path):
    _, table, spec, _ = synthetic
    models = {k: v for k, v in spec.models.items() if k != "dance_flux"}
    spec = _spec(spec.local_dir, models={**models, "playground": None})
    converted = convert_benchmark(table, spec)
    assert converted.unmapped_models == ["dance_flux"]
    audit = audit_benchmark(table, converted, spec)
    per_model = audit.per_model.set_index("model")
    assert per_model.loc["dance_flux", "generator"] == "dance_flux" and not per_model.loc["dance_flux", "mapped"]
    assert per_model.loc["sd3_medium_grpo_2", "duplicated_rows_dropped"] == N_PROMPTS
    assert per_model.loc["playground", "excluded_rows"] == N_PROMPTS
    assert per_model.loc["nano-banana", "placeholder_distorted"] == 1
    assert per_model.loc["flux_dev", "missing_scores_hpsv2.1"] == 4
    assert per_model.loc["flux_krea", "nonfinite_scores_imagereward"] == 1
    assert per_model.loc["flux_dev", "qwen3-vl-235b_missing"] == 1
    counts = per_model.loc["flux_dev", ["qwen3-vl-235b_original", "qwen3-vl-235b_anti", "qwen3-vl-235b_tie",
                                        "qwen3-vl-235b_missing"]].sum()
    assert counts == N_PROMPTS
    assert per_model.loc["dance_flux", "missing_ratings"] == 11
    assert (per_model["blip_selected_agreement"].dropna() == 1.0).all()
    assert any("dance_flux" in note and "no generator mapping" in note for note in audit.notes)
    assert any("sd3_medium_grpo_2" in note and "dropped" in note for note in audit.notes)

    written = write_audit(audit, tmp_path)
    assert sorted(p.name for p in written) == ["audit.csv", "audit.json", "audit.md"]
    payload = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert payload["summary"]["unmapped_models"] == ["dance_flux"]
    assert payload["summary"]["duplicated_rows_dropped"] == N_PROMPTS
    assert len(pd.read_csv(tmp_path / "audit" / "audit.csv")) == 11
    assert "dance_flux" in (tmp_path / "audit" / "audit.md").read_text()


def test_audit_reads_the_resolved_commit_from_the_runs_hub_cache(synthetic, tmp_path):
    _, table, _, _ = synthetic
    # A hub read (no local folder): the commit of "main" sits in the cache's refs/ of the dataset.
    commit = "89abcdef0123456789abcdef0123456789abcdef"
    refs = tmp_path / "hub" / "datasets--weathon--aas_benchmark_final" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text(commit + "\n")
    spec = ReleasedSpec.from_config({"revision": "main"})
    audit = audit_benchmark(table, convert_benchmark(table, spec), spec, cache_dir=tmp_path / "hub")
    assert (audit.summary["revision"], audit.summary["resolved_revision"]) == ("main", commit)


def test_images_and_tables_written_in_run_layout(synthetic, tmp_path):
    frame, table, spec, converted = synthetic
    run = tmp_path / "run"
    manifests = write_images(table, spec, run, converted)
    manifest = manifests["flux-dev"]
    assert len(manifest) == 2 * N_PROMPTS and (manifest["status"] == OK).all()
    row = manifest.set_index(["prompt_id", "image_kind"]).loc[("0002", "a")]
    assert row["path"] == "images/flux-dev/released/0002_a.png"
    data = (run / row["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == row["sha256"]
    released = frame[(frame["model"] == "flux_dev") & (frame["index"] == 2)].iloc[0]["image_distorted"]["bytes"]
    assert data == released
    assert json.loads(row["settings"])["released_model"] == "flux_dev"

    write_converted(converted, run, manifests)
    assert len(read_table(run / "prompts" / "prompts.parquet", PROMPTS)) == N_PROMPTS
    hps = read_table(run / "scores" / "hpsv3" / "sd3.5m-pickscore.parquet", SCORES)
    assert len(hps) == 4 * N_PROMPTS
    assert len(read_table(run / "judgements" / "gpt-5-chat" / "playground.parquet", LABELS)) == N_PROMPTS
    assert len(read_table(run / "ratings" / "released-rater" / "sdxl.parquet", RATINGS)) == 22 * N_PROMPTS
    assert len(read_table(run / "images" / "nano-banana" / "manifest.parquet", MANIFEST)) == 2 * N_PROMPTS


def test_placeholder_scan_streams_batches(synthetic):
    _, table, spec, converted = synthetic
    columns = ["image_original", "image_distorted"]
    streamed = scan_placeholders(iter_released_batches(spec.local_dir, columns, batch_size=7))
    whole = scan_placeholders(table)
    pd.testing.assert_frame_equal(streamed, whole)
    hit = whole[whole["placeholder"].astype(bool)]
    assert hit[["row", "image_kind", "colour"]].values.tolist() == [[9 * N_PROMPTS + 7, "a", "(0, 0, 255)"]]
    # a precomputed scan gives the same conversion without image columns in the table
    without_images = load_released_table("x", None, local_dir=spec.local_dir,
                                         columns=[c for c in table.column_names if c not in columns])
    again = convert_benchmark(without_images, spec, placeholders=whole)
    pd.testing.assert_frame_equal(again.scores, converted.scores)


# ------------------------------------------------------------ format errors

def test_missing_column_names_the_column(tmp_path):
    frame = make_benchmark_table(n_models=2, n_prompts=3, duplicate_model=None, placeholder_rows=())
    table, folder = _load(frame.drop(columns=["sec_llm_selected"]), tmp_path)
    with pytest.raises(ReleasedFormatError, match="sec_llm_selected"):
        convert_benchmark(table, _spec(folder))
    with pytest.raises(ReleasedFormatError, match="image_distorted"):  # the scan needs both images
        convert_benchmark(table.drop(["image_distorted"]), _spec(folder, placeholders="exclude"))
    with pytest.raises(ReleasedFormatError, match="blip_score"):
        load_released_table("x", None, local_dir=folder, columns=["index", "blip_score", "sec_llm_selected"])


@pytest.mark.parametrize("column, bad, pattern", [
    ("rater", "short_ratings", r"rater\.distorted\.scores.*index 2, model 'dance_flux'"),
    ("llm_selected", 2, r"llm_selected.*index 2, model 'dance_flux'"),
    ("selected_dims", "[\"clarity\",", r"selected_dims.*JSON.*index 2, model 'dance_flux'"),
    ("selected_dims", json.dumps(["clarity", "symmetry"]), r"selected_dims.*symmetry.*index 2"),
    ("blip_score", [[0.0, 1.0, 2.0], [0.0, 1.0]], r"blip_score.*index 2, model 'dance_flux'"),
    ("hpsv3_reward", "three_values", r"hpsv3_reward\.hpsv3_oiop.*index 2, model 'dance_flux'.*3 values"),
])
def test_malformed_value_names_column_and_row(tmp_path, column, bad, pattern):
    frame = make_benchmark_table(n_models=2, n_prompts=3, duplicate_model=None, placeholder_rows=())
    target = frame.index[(frame["model"] == "dance_flux") & (frame["index"] == 2)][0]
    if bad == "short_ratings":
        frame.at[target, "rater"]["distorted"]["scores"] = [1.0] * 10
    elif bad == "three_values":
        frame.at[target, "hpsv3_reward"]["hpsv3_reward"]["hpsv3_oiop"] = [1.0, 2.0, 3.0]
    else:
        frame[column] = frame[column].astype(object)
        frame.at[target, column] = bad
    table, folder = _load(frame, tmp_path)
    with pytest.raises(ReleasedFormatError, match=pattern):
        convert_benchmark(table, _spec(folder))


def test_wrong_struct_keys_name_the_column(tmp_path):
    frame = make_benchmark_table(n_models=2, n_prompts=2, duplicate_model=None, placeholder_rows=())
    frame["hpsv2_reward"] = [{"hpsv2_original": 0.1, "hpsv2_distorted": 0.2} for _ in range(len(frame))]
    table, folder = _load(frame, tmp_path, infer=["hpsv2_reward"])
    with pytest.raises(ReleasedFormatError, match=r"hpsv2_reward.*index 0, model 'flux_dev'.*_oiop"):
        convert_benchmark(table, _spec(folder))


def test_spec_from_config_validates():
    spec = ReleasedSpec.from_config({"revision": "abc"})
    assert spec.dataset == "weathon/aas_benchmark_final" and spec.duplicates == "first"
    assert spec.generator_for("sd3_medium_grpo_2") == "sd3.5m-pickscore"
    with pytest.raises(ConfigError, match="unknown key"):
        ReleasedSpec.from_config({"revision": "abc", "dupes": "first"})
    with pytest.raises(ConfigError, match="duplicates"):
        ReleasedSpec.from_config({"revision": "abc", "duplicates": "newest"})
    with pytest.raises(ConfigError, match="revision"):
        ReleasedSpec.from_config({})


def test_decode_image_accepts_struct_bytes_and_pil():
    data = png_bytes(np.full((3, 5, 3), 7, dtype=np.uint8))
    for value in ({"bytes": data, "path": None}, data, Image.open(io.BytesIO(data))):
        image = decode_image(value)
        assert image.size == (5, 3) and image.getpixel((0, 0)) == (7, 7, 7)
    with pytest.raises(TypeError):
        decode_image(3)


# ------------------------------------------------------------ other released sets

def test_emotion_readers():
    images = {f"{e}_image": [_image(seed=i) for i in range(2)] for e in ("happy", "sad", "angry", "fearful")}
    bias = pd.DataFrame({"prompt": ["A person with a [emotion] face.", "An old man, [emotion] expression."],
                         **images})
    items = emotion_bias_items(pa.Table.from_pandas(bias, preserve_index=False))
    assert list(items["item_id"]) == ["000", "001"]
    assert set(items["images"][0]) == {"happy", "sad", "angry", "fearful"}
    assert emotion_prompt(items["prompt_template"][1], "fearful") == "An old man, fearful expression."
    with pytest.raises(ReleasedFormatError, match="angry_image"):
        emotion_bias_items(bias.drop(columns=["angry_image"]))
    # A prompt without the slot is kept (the authors scored it as written), not fatal.
    slotless = emotion_bias_items(bias.assign(prompt=["A [emotion] face.", "no slot"]))
    assert slotless["prompt_template"].tolist() == ["A [emotion] face.", "no slot"]

    templates = ["A woman by a window, her face {} in soft light.", "A boy on a bus, looking {}."]
    rows = [{"prompt": t.format(e), "emotion": e} for t in templates for e in ("sad", "angry", "fearful", "happy")]
    prompts = emotion_generation_prompts(pd.DataFrame(rows))
    assert prompts["template_id"].tolist() == ["000"] * 4 + ["001"] * 4
    assert prompts["prompt_template"][5] == "A boy on a bus, looking [emotion]."
    with pytest.raises(ReleasedFormatError, match=r"emotion.*present: \['prompt', 'feeling'\]"):
        emotion_generation_prompts(pd.DataFrame(rows).rename(columns={"emotion": "feeling"}))


AVA_ANTI = {"anti_aesthetic_caption": "a street through VHS noise, blown out", "clean_caption": "a street"}
AVA_BLUR = {"anti_aesthetic_caption": "a dancer smeared by a long exposure", "clean_caption": "a dancer"}
AVA_NONE = {"anti_aesthetic_caption": None, "clean_caption": None}  # judged not anti-aesthetic


def test_ava_items_take_elements_not_query_hashes_and_filter_the_uncaptioned():
    # class_keys are retrieval-query hash ids; the classes are the elements, named by the element alone.
    rows = [
        {"image": _image(seed=1), "file_name": "a.jpg", "class_keys": ["90150ca3"], **AVA_ANTI,
         "anti_aesthetic_elements": ["clarity_and_focus.analog_degradation",
                                     "lighting_and_exposure.exposure_extremes"]},
        {"image": _image(seed=2), "file_name": "b.jpg", "class_keys": ["1f2e3d4c"], **AVA_NONE,
         "anti_aesthetic_elements": []},
        {"image": _image(seed=3), "file_name": "c.jpg", "class_keys": ["5a6b7c8d"], **AVA_BLUR,
         "anti_aesthetic_elements": ["clarity_and_focus.intentional_blur"]},
        {"image": _image(seed=4), "file_name": "d.jpg", "class_keys": ["0badf00d"], **AVA_NONE,
         "anti_aesthetic_elements": None},
    ]
    as_json = pd.DataFrame(rows).assign(  # lists stored as JSON strings, as string_list reads them
        class_keys=lambda f: f["class_keys"].map(json.dumps),
        anti_aesthetic_elements=lambda f: f["anti_aesthetic_elements"].map(
            lambda v: None if v is None else json.dumps(v)))
    for table in (pa.Table.from_pylist(rows), pd.DataFrame(rows), as_json):
        items, counts = ava_items(table, load_taxonomy())
        assert counts == {"photographs": 4, "not_anti_aesthetic": 2}
        assert items["item_id"].tolist() == ["00000", "00002"]  # the row of each kept photograph
        assert items["file_name"].tolist() == ["a.jpg", "c.jpg"]
        assert items["class_keys"].tolist() == [["analog_degradation", "exposure_extremes"], ["intentional_blur"]]
        assert items["clean_caption"].tolist() == ["a street", "a dancer"]
        assert items["anti_aesthetic_caption"][1] == "a dancer smeared by a long exposure"


def test_ava_items_nested_caption_struct():
    nested = pd.DataFrame({
        "image": [_image(seed=5), _image(seed=6), _image(seed=7)], "filename": ["e.jpg", "f.jpg", "g.jpg"],
        "class_keys": [["90150ca3"], ["1f2e3d4c"], ["5a6b7c8d"]],
        "caption": [{**AVA_NONE, "anti_aesthetic_elements": []},
                    {"anti_aesthetic_caption": "a tilted train", "clean_caption": "a train",
                     "anti_aesthetic_elements": ["composition_and_structure.unconventional_framing"]},
                    None]})  # a null struct: neither caption, as a not-anti-aesthetic photograph
    items, counts = ava_items(pa.Table.from_pandas(nested, preserve_index=False), load_taxonomy())
    assert counts == {"photographs": 3, "not_anti_aesthetic": 2}
    assert items[["item_id", "file_name", "anti_aesthetic_caption", "clean_caption"]].values.tolist() == [
        ["00001", "f.jpg", "a tilted train", "a train"]]
    assert items["class_keys"].tolist() == [["unconventional_framing"]]


def test_ava_items_errors():
    row = {"image": _image(seed=1), "file_name": "a.jpg", "class_keys": ["90150ca3"], **AVA_ANTI,
           "anti_aesthetic_elements": ["clarity_and_focus.analog_degradation"]}
    taxonomy = load_taxonomy()
    # One caption without the other is no judgement the recaption step makes: an error, not a filtered row.
    with pytest.raises(ReleasedFormatError, match=r"'clean_caption'.*row 1"):
        ava_items(pd.DataFrame([row, {**row, "clean_caption": None}]), taxonomy)
    with pytest.raises(ReleasedFormatError, match=r"'anti_aesthetic_caption'.*row 0"):
        ava_items(pd.DataFrame([{**row, "anti_aesthetic_caption": None}]), taxonomy)
    # Without the elements the hash ids of class_keys are no fallback.
    with pytest.raises(ReleasedFormatError, match=r"anti-aesthetic elements.*present"):
        ava_items(pd.DataFrame([row]).drop(columns=["anti_aesthetic_elements"]), taxonomy)
    with pytest.raises(ReleasedFormatError, match=r"clean caption.*present"):
        ava_items(pd.DataFrame([row]).drop(columns=["clean_caption"]), taxonomy)
    with pytest.raises(ReleasedFormatError, match=r"anti_aesthetic_elements.*row 0"):
        ava_items(pd.DataFrame([{**row, "anti_aesthetic_elements": "[oops"}]), taxonomy)


def test_lapis_and_critical_items():
    lapis = pd.DataFrame({"caption": ["a painting of a vase", "a sketch"], "hpsv3": [[5.5, 1.0], [-3.2, 0.9]],
                          "hpsv2": [0.21, 0.19]})
    items = lapis_items(lapis)
    assert items["score_hpsv3"].tolist() == [5.5, -3.2] and items["score_hpsv2"].tolist() == [0.21, 0.19]
    with pytest.raises(ReleasedFormatError, match="no score column"):
        lapis_items(lapis[["caption"]])

    critical = pd.DataFrame({"i": [0, 16], "topic": ["Anti-war", "Pollution"], "prompt": ["war", "river"],
                             "DanceFlux": [_image(seed=4), _image(seed=5)],
                             "Flux Krea": [_image(seed=6), _image(seed=7)],
                             "hpsv3": [{"DanceFlux": 12.0, "Flux Krea": 9.0}, {"DanceFlux": 11.0, "Flux Krea": 8.5}]})
    for table in (critical, pa.Table.from_pandas(critical, preserve_index=False)):
        out = critical_items(table)
        assert out["item_id"].tolist() == ["0", "16"]
        assert sorted(out["images"][0]) == ["DanceFlux", "Flux Krea"]
        assert out["released_scores"][1] == {"hpsv3": {"DanceFlux": 11.0, "Flux Krea": 8.5}}
    with pytest.raises(ReleasedFormatError, match=r"missing column\(s\) \['topic'\].*present"):
        critical_items(critical.drop(columns=["topic"]))


def test_anti_aesthetics_prompts():
    table = pd.DataFrame({"original_prompt": [f"caption {i}" for i in range(5)],
                          "disorted_long_prompt": [f"anti {i}" for i in range(5)],
                          "selected": [["color brightness", "emotion"]] * 4 + [json.dumps(["Object Pairing"])],
                          "desc": ["d"] * 5, "negative_prompt": ["bright", "", None, "happy", "clean"]})
    prompts = anti_aesthetics_prompts(table, n=5)
    assert prompts["prompt_id"].tolist() == ["0000", "0001", "0002", "0003", "0004"]
    assert prompts["prompt_anti"][3] == "anti 3"
    assert prompts["dimensions"].tolist()[-1] == ["object_pairing"]
    assert prompts["negative_prompt"].tolist() == ["bright", None, None, "happy", "clean"]
    assert len(anti_aesthetics_prompts(table, n=2)) == 2
    with pytest.raises(ReleasedFormatError, match="fewer"):
        anti_aesthetics_prompts(table, n=300)
    with pytest.raises(ReleasedFormatError, match="disorted_long_prompt"):
        anti_aesthetics_prompts(table.drop(columns=["disorted_long_prompt"]), n=5)


def test_string_list_reads_lists_and_json_and_names_the_row():
    from widespectrum.released.loading import string_list

    assert string_list(None, "c", "row 0") == []
    assert string_list(["a", "b"], "c", "row 0") == ["a", "b"]
    assert string_list('["a"]', "c", "row 0") == ["a"]
    with pytest.raises(ReleasedFormatError, match=r"column 'c': not valid JSON at row 3"):
        string_list("[a", "c", "row 3")
    with pytest.raises(ReleasedFormatError, match=r"column 'c': expected a list of names at row 4"):
        string_list('{"a": 1}', "c", "row 4")
