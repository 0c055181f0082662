"""The stage runners on the procedural generators and probes: no torch, hand-checkable."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from widespectrum import contracts
from widespectrum.generation.base import Generator
from widespectrum.generation.procedural import OracleGenerator
from widespectrum.generation.runner import build_requests, chunk_of, merge_manifests, pair_seed, run_generation
from widespectrum.judging.base import PairwiseJudge
from widespectrum.judging.runner import first_shown, judge_pairs, rate_images
from widespectrum.judging.probes import ProbeDimensionRater
from widespectrum.runtime import Runtime
from widespectrum.scoring.base import RewardOutput
from widespectrum.scoring.probes import ProbeReward
from widespectrum.scoring.runner import score_pairs

RUNTIME = Runtime(device="cpu")


def _prompts(n=4):
    return contracts.PROMPTS.validate(pd.DataFrame({
        "prompt_id": [f"{i:04d}" for i in range(n)],
        "caption_id": [f"c{i}" for i in range(n)],
        "prompt_original": [f"a photo number {i}" for i in range(n)],
        "prompt_anti": [f"a dark blurry photo number {i}" for i in range(n)],
        "dimensions": [["clarity", "color_brightness"]] * n,
        "negative_prompt": ["sharp, bright"] * n,
        "reference_image": ["astronaut", "coffee", "chelsea", "rocket"][:n],
        "rewriter": ["template"] * n,
    }))


def test_requests_pair_seeds_and_kinds():
    requests = build_requests(_prompts(), {"steps": 2}, {"steps": 3}, base_seed=100)
    assert [(r.prompt_id, r.image_kind) for r in requests[:2]] == [("0000", "o"), ("0000", "a")]
    assert requests[0].seed == requests[1].seed == pair_seed(100, "0000") == 100
    assert requests[3].seed == 101 and requests[1].settings == {"steps": 3}
    assert requests[0].dimensions == () and requests[1].dimensions == ("clarity", "color_brightness")


def test_requests_for_negative_prompt_methods():
    requests = build_requests(_prompts(), {}, {}, base_seed=0, image_kinds=("a",), prompt_negative=True,
                              fixed_seed=54324, negative_prompts={"a": "ignored"})
    assert {r.image_kind for r in requests} == {"a"} and len(requests) == 4
    assert {r.seed for r in requests} == {54324}
    assert {r.negative_prompt for r in requests} == {"sharp, bright"}
    plain = build_requests(_prompts(), {}, {}, base_seed=0, negative_prompts={"a": ""})
    assert [r.negative_prompt for r in plain[:2]] == [None, ""]


def test_chunks_partition_the_prompts():
    prompts = _prompts(4)
    ids = [list(chunk_of(prompts, k, 3)["prompt_id"]) for k in range(2)]
    assert ids == [["0000", "0001", "0002"], ["0003"]]


class _Flaky(Generator):
    def generate(self, request):
        if request.prompt_id == "0001" and request.image_kind == "a":
            raise RuntimeError("out of memory")
        return OracleGenerator("oracle", RUNTIME, size=32).generate(request)


@pytest.fixture()
def run(tmp_path):
    prompts = _prompts()
    requests = build_requests(prompts, {}, {}, base_seed=7)
    manifest = run_generation(_Flaky("flaky", RUNTIME), requests, tmp_path, "images/flaky/chunk-0")
    return tmp_path, prompts, manifest


def test_failed_generation_is_a_row_not_a_placeholder(run):
    run_dir, _, manifest = run
    failed = manifest[manifest["status"] != "ok"]
    assert len(failed) == 1 and failed.iloc[0]["status"] == "error: RuntimeError: out of memory"
    assert failed.iloc[0]["path"] is None and failed.iloc[0]["sha256"] is None
    assert len(list((run_dir / "images" / "flaky" / "chunk-0").glob("*.png"))) == 7
    assert json.loads(manifest.iloc[0]["settings"]) == {}


def test_merge_rejects_overlapping_chunks(run):
    _, _, manifest = run
    assert len(merge_manifests([manifest.iloc[:4], manifest.iloc[4:]])) == 8
    with pytest.raises(ValueError, match="overlap"):
        merge_manifests([manifest, manifest.iloc[:1]])


def test_scores_cover_four_combinations_and_missing_images(run):
    run_dir, prompts, manifest = run
    scores = score_pairs(ProbeReward("brightness", RUNTIME, batch_size=3, probe="brightness"), manifest, prompts,
                         run_dir)
    assert len(scores) == 16
    missing = scores[scores["status"] != "ok"]
    assert set(zip(missing["prompt_id"], missing["image_kind"])) == {("0001", "a")}
    assert missing["status"].str.startswith("image failed").all() and missing["score"].isna().all()
    ok = scores[scores["status"] == "ok"].set_index(["prompt_id", "image_kind", "prompt_kind"])
    # probes ignore the prompt; the oracle's darkened I_a is darker than its photo
    assert ok.loc[("0000", "a", "o"), "score"] == ok.loc[("0000", "a", "a"), "score"]
    assert ok.loc[("0000", "a", "o"), "score"] < ok.loc[("0000", "o", "o"), "score"]


class _CutsAntiPrompts(ProbeReward):
    """A probe that reports every p_a as cut to its text limit."""

    def score(self, images, prompts):
        output = super().score(images, prompts)
        return RewardOutput(scores=output.scores, truncated=np.array(["dark" in p for p in prompts]))


def test_truncated_prompts_are_flagged_per_row_and_counted_once_per_job(run, caplog):
    run_dir, prompts, manifest = run
    with caplog.at_level("WARNING", logger="widespectrum.scoring.runner"):
        scores = score_pairs(_CutsAntiPrompts("b", RUNTIME, batch_size=3, probe="brightness"), manifest, prompts,
                             run_dir)
    ok = scores[scores["status"] == "ok"]
    assert ok["prompt_truncated"].tolist() == (ok["prompt_kind"] == "a").tolist()
    # 16 pairs less the two of the missing image: 14 scored, 7 of them under p_a
    warnings = [r.getMessage() for r in caplog.records if "text limit" in r.getMessage()]
    assert warnings == ["b: 7 of 14 scored pairs had their prompt cut to the reward's text limit"]


def test_tampered_image_is_an_error_row(run):
    run_dir, prompts, manifest = run
    (run_dir / manifest.iloc[0]["path"]).write_bytes(b"not the image")
    scores = score_pairs(ProbeReward("b", RUNTIME, probe="brightness"), manifest, prompts, run_dir)
    first = scores[(scores["prompt_id"] == "0000") & (scores["image_kind"] == "o")]
    assert first["status"].str.contains("ImageIntegrityError").all()


class _PicksSecondAndRemembers(PairwiseJudge):
    """Picks the second image shown and keeps what it was shown, to be compared with the files."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shown: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def judge(self, request):
        self.shown[request.prompt_id] = (np.asarray(request.first), np.asarray(request.second))
        return 1


def _kind_of(picture: np.ndarray, files: dict[str, np.ndarray]) -> str:
    (kind,) = [k for k, pixels in files.items() if np.array_equal(pixels, picture)]
    return kind


def test_judge_answers_map_back_from_shown_order(run):
    run_dir, prompts, manifest = run
    judge = _PicksSecondAndRemembers("second", RUNTIME)
    labels = judge_pairs(judge, manifest, prompts, run_dir, seed=3).set_index("prompt_id")
    ok = labels[labels["status"] == "ok"]
    assert sorted(ok.index) == sorted(judge.shown) == ["0000", "0002", "0003"]
    for prompt_id, (first, second) in judge.shown.items():
        # the oracle's I_o and I_a of a prompt differ, so the pixels tell which file was shown
        files = {row.image_kind: np.asarray(Image.open(run_dir / row.path).convert("RGB"))
                 for row in manifest[manifest["prompt_id"] == prompt_id].itertuples()}
        assert not np.array_equal(files["o"], files["a"])
        assert ok.loc[prompt_id, "first_shown"] == _kind_of(first, files)
        assert ok.loc[prompt_id, "selected"] == {"o": 0, "a": 1}[_kind_of(second, files)]
    assert pd.isna(labels.loc["0001", "selected"])
    orders = {first_shown(3, "g", f"{i:04d}") for i in range(40)}
    assert orders == {"o", "a"}


def test_ratings_have_every_dimension(run):
    run_dir, _, manifest = run
    ratings = rate_images(ProbeDimensionRater("rater", RUNTIME), manifest, run_dir, batch_size=3)
    assert len(ratings) == 8 * 11
    ok = ratings[ratings["status"] == "ok"]
    assert np.all((ok["score"] >= 0) & (ok["score"] <= 2)) and len(ok) == 7 * 11
