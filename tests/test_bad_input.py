"""Bad input fails only what it touches, with a message that names the thing at fault.

Images: one unreadable image fails its own score rows, not its batch. Model outputs:
non-finite scores and judge answers outside {0, 1, -1} become null with a status.
Remote judges that time out, answer 5xx or malformed content get bounded retries, then a
status row, and the run goes on. Names that would escape the run folder are refused by
the layout and, earlier, by config validation.
"""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import pandas as pd
import pytest
import yaml

from widespectrum import contracts, layout
from widespectrum.config import ConfigError
from widespectrum.generation.procedural import OracleGenerator
from widespectrum.generation.runner import build_requests, run_generation
from widespectrum.judging.base import PairwiseJudge
from widespectrum.judging.llm import OpenAICompatiblePairwiseJudge
from widespectrum.judging.runner import judge_pairs
from widespectrum.llm import MissingAPIKeyError
from widespectrum.runconfig import validate_run
from widespectrum.runtime import Runtime
from widespectrum.scoring.base import RewardModel, RewardOutput
from widespectrum.scoring.probes import ProbeReward
from widespectrum.scoring.runner import score_pairs

from .fixtures.chat_server import PROXY_VARIABLES, Delayed, chat_server

RUNTIME = Runtime(device="cpu")


def _prompts(n: int) -> pd.DataFrame:
    return contracts.PROMPTS.validate(pd.DataFrame({
        "prompt_id": [f"{i:04d}" for i in range(n)],
        "caption_id": [f"c{i}" for i in range(n)],
        "prompt_original": [f"a photo number {i}" for i in range(n)],
        "prompt_anti": [f"a dark blurry photo number {i}" for i in range(n)],
        "dimensions": [["clarity"]] * n,
        "negative_prompt": [""] * n,
        "reference_image": ["astronaut", "coffee", "chelsea", "rocket"][:n],
        "rewriter": ["template"] * n,
    }))


@pytest.fixture()
def generated(tmp_path):
    prompts = _prompts(4)
    requests = build_requests(prompts, {}, {}, base_seed=3)
    manifest = run_generation(OracleGenerator("oracle", RUNTIME, size=32), requests, tmp_path, "images/oracle/chunk-0")
    assert (manifest["status"] == contracts.OK).all()
    return tmp_path, prompts, manifest


# ---------------------------------------------------------------- images and model outputs

def test_unreadable_image_fails_only_its_own_rows(generated):
    run_dir, prompts, manifest = generated
    reward = ProbeReward("brightness", RUNTIME, batch_size=16, probe="brightness")  # all 16 rows in one batch
    clean = score_pairs(reward, manifest, prompts, run_dir)

    # Truncated PNG whose manifest hash is updated to match: it passes the integrity check and fails to decode.
    broken = manifest.copy()
    at = broken.index[(broken["prompt_id"] == "0002") & (broken["image_kind"] == "o")][0]
    path = run_dir / broken.at[at, "path"]
    path.write_bytes(path.read_bytes()[:60])
    broken.at[at, "sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    scores = score_pairs(reward, broken, prompts, run_dir)

    failed = scores[scores["status"] != contracts.OK]
    assert list(zip(failed["prompt_id"], failed["image_kind"], failed["prompt_kind"])) == [
        ("0002", "o", "a"), ("0002", "o", "o")]
    assert failed["score"].isna().all()
    assert failed["status"].str.contains(path.name, regex=False).all()
    kept = scores["status"] == contracts.OK
    assert kept.sum() == 14
    pd.testing.assert_frame_equal(scores[kept], clean[kept])


class _NonFinite(RewardModel):
    """Scores i for the i-th image of the batch, except NaN for the 2nd and +inf for the 3rd."""

    def score(self, images, prompts):
        values = np.arange(len(images), dtype=np.float64)
        values[1], values[2] = np.nan, np.inf
        return RewardOutput(scores=values)


def test_non_finite_scores_become_null_with_a_status(generated):
    run_dir, prompts, manifest = generated
    scores = score_pairs(_NonFinite("nonfinite", RUNTIME, batch_size=4), manifest, prompts, run_dir)
    # A prompt's four rows form one batch, scored in the order oo, oa, ao, aa (0, NaN, inf, 3);
    # the table sorts them aa, ao, oa, oo: 3, inf, NaN, 0.
    position = np.arange(16) % 4
    bad = scores[np.isin(position, (1, 2))]
    assert len(scores) == 16 and bad["score"].isna().all()
    assert (bad["status"] == "error: non-finite score").all()
    good = scores[~np.isin(position, (1, 2))]
    assert (good["status"] == contracts.OK).all()
    assert list(good["score"]) == [3.0, 0.0] * 4


class _Answers(PairwiseJudge):
    def __init__(self, answers):
        super().__init__("scripted", RUNTIME)
        self.answers = dict(answers)

    def judge(self, request):
        return self.answers[request.prompt_id]


def test_judge_answer_outside_0_1_minus_1_is_a_status_row(generated):
    run_dir, prompts, manifest = generated
    labels = judge_pairs(_Answers({"0000": 2, "0001": -1, "0002": "1", "0003": 0}), manifest, prompts, run_dir,
                         seed=0).set_index("prompt_id")
    assert labels.loc["0000", "status"] == "error: ValueError: judge returned 2, expected 0, 1 or -1"
    assert labels.loc["0002", "status"] == "error: ValueError: judge returned '1', expected 0, 1 or -1"
    assert labels.loc[["0000", "0002"], "selected"].isna().all()
    assert labels.loc["0001", "selected"] == -1 and labels.loc["0001", "status"] == contracts.OK
    assert labels.loc["0003", "status"] == contracts.OK


# ---------------------------------------------------------------- remote judge faults

def test_remote_judge_faults_are_bounded_retries_then_status_rows(generated, monkeypatch):
    run_dir, prompts, manifest = generated
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("JUDGE_TEST_KEY", "k")
    with chat_server() as server:
        attempts = 2  # max_retries=1
        server.script(*[503] * attempts,                                 # 0000: server error
                      *[Delayed(1.0, {"selection": 0})] * attempts,      # 0001: time-out
                      *["this is not json"] * attempts,                  # 0002: malformed content
                      429, {"selection": 0})                             # 0003: rate limited once, then fine
        judge = OpenAICompatiblePairwiseJudge("remote", RUNTIME, model="judge-model", base_url=server.base_url,
                                              api_key_env="JUDGE_TEST_KEY", max_retries=1, timeout=0.3,
                                              backoff_s=0.0)
        labels = judge_pairs(judge, manifest, prompts, run_dir, seed=0).set_index("prompt_id")
        assert len(server.requests) == 3 * attempts + 2
    assert labels.loc["0003", "status"] == contracts.OK and labels.loc["0003", "selected"] in (0, 1)
    lost = labels.loc[["0000", "0001", "0002"]]
    assert lost["selected"].isna().all() and lost["status"].str.startswith("error: ").all()
    assert "503" in lost.loc["0000", "status"]
    assert "tim" in lost.loc["0001", "status"].lower()
    assert "json" in lost.loc["0002", "status"].lower()


def test_missing_key_stops_the_judge_before_any_request(generated, monkeypatch):
    run_dir, prompts, manifest = generated
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("JUDGE_TEST_KEY", raising=False)
    with chat_server() as server:
        server.script(*[{"selection": 0}] * 4)
        # the judge cannot even be built: the job stops before it reads an image or judges a pair
        with pytest.raises(MissingAPIKeyError, match="environment variable JUDGE_TEST_KEY is not set"):
            OpenAICompatiblePairwiseJudge("remote", RUNTIME, model="judge-model", base_url=server.base_url,
                                          api_key_env="JUDGE_TEST_KEY", max_retries=1, backoff_s=0.0)
        assert server.requests == []


# ---------------------------------------------------------------- names that would leave the run folder

@pytest.mark.parametrize("name", ["../other", "a/b", "..", ".", "", "/abs", ".hidden", "a\\b", "name with space"])
def test_layout_refuses_names_that_escape_the_run_folder(name):
    for spell in (lambda n: layout.scores(n, "g"), lambda n: layout.manifest(n), lambda n: layout.table(n),
                  lambda n: layout.experiment_scores(n, "r"), lambda n: layout.labels("j", n)):
        with pytest.raises(ValueError, match="cannot name a path under the run folder"):
            spell(name)


def test_layout_accepts_registry_names_and_rule_wildcards():
    assert layout.scores("tiny-clip", "flux.1-dev_v2") == "scores/tiny-clip/flux.1-dev_v2.parquet"
    assert layout.scores("{reward}", "{generator}") == "scores/{reward}/{generator}.parquet"


@pytest.fixture()
def demo(repo_root):
    return yaml.safe_load((repo_root / "config" / "demo.yaml").read_text())


@pytest.mark.parametrize("mutate,needle", [
    (lambda c: c["rewards"].append("no-such-reward"), "rewards[8]: 'no-such-reward' is not in the rewards registry"),
    (lambda c: c["judges"]["pairwise"].append("no-such-judge"), "'no-such-judge'"),
    (lambda c: c["rewards"].append("../escape"), "'../escape'"),
    (lambda c: c["generators"].append("a/b"), "'a/b'"),
    (lambda c: c["vsf"]["variants"][0].update(generator="../vsf"), "'../vsf'"),
    (lambda c: c.update(run=".."), "run: '..' does not match"),
    (lambda c: c["prompts"].update(n=-3), "prompts.n: -3"),
    (lambda c: c["prompts"].update(colour="blue"), "'colour' was unexpected"),
])
def test_config_names_the_bad_value_before_any_job(demo, mutate, needle):
    broken = copy.deepcopy(demo)
    mutate(broken)
    with pytest.raises(ConfigError) as err:
        validate_run(broken)
    assert needle in str(err.value)


# ---------------------------------------------------------------- prompts: empty or over the text limit

@pytest.mark.parametrize("kind, repo_id", [("clip", "openai/clip-vit-large-patch14"),
                                           ("blip", "Salesforce/blip-itm-large-coco")])
def test_empty_and_over_long_prompts_score_and_record_truncation(tmp_path, kind, repo_id):
    from PIL import Image

    from widespectrum.demo.reward_models import install_tiny_reward
    from widespectrum.scoring.blip import BLIPITMReward
    from widespectrum.scoring.clip import CLIPReward

    install_tiny_reward(kind, tmp_path / "hub", repo_id)
    runtime = Runtime(device="cpu", cache_dir=str(tmp_path / "hub"), offline=True)
    reward = (CLIPReward if kind == "clip" else BLIPITMReward)(kind, runtime, model_id=repo_id)
    image = Image.fromarray(np.full((32, 32, 3), 120, dtype=np.uint8))
    # 300 words are over 77 (CLIP) and over the tiny BLIP's position limit whatever the tokenizer
    words = " ".join(["house"] * 300)
    output = reward.score([image] * 3, ["", "a red house", words])
    assert np.isfinite(output.scores).all()
    assert list(output.truncated) == [False, False, True]
