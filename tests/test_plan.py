"""`widespectrum plan CONFIG`: the jobs of a full run and the GPU budget they need."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from widespectrum.cli import main
from widespectrum.plan import plan

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """The demo's tiny Flux and tiny CLIP marked as GPU entries with known estimates."""
    folder = tmp_path_factory.mktemp("plan")
    registry = {}
    for kind in ("generators", "rewards", "judges"):
        entries = yaml.safe_load((REPO / "config" / f"{kind}.yaml").read_text())
        registry[kind] = folder / f"{kind}.yaml"
        if kind == "generators":
            entries["tiny-flux"].update(gpu=True, estimate={"gpu_seconds_per_image": 9.0, "peak_gpu_memory_gb": 30,
                                                            "source": "test figure"})
        if kind == "rewards":
            entries["tiny-clip"].update(gpu=True, estimate={"gpu_seconds_per_image": 0.5, "peak_gpu_memory_gb": 2,
                                                            "source": "test figure"})
        registry[kind].write_text(yaml.safe_dump(entries))
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    for heavy in ("vsf", "img2img", "experiments"):
        config.pop(heavy)
    config.update(
        run="plan_test", results_dir=str(folder / "results"),
        registry={kind: str(path) for kind, path in registry.items()},
        generators=["tiny-flux", "oracle"], rewards=["tiny-clip", "aesthetic"],
        judges={"pairwise": ["probe-judge"], "rater": []},
        roles={"hpsv2": "tiny-clip", "hpsv3": "aesthetic", "judge": "probe-judge"},
    )
    config["prompts"]["n"] = 10
    config["generation"]["chunk_size"] = 4
    config["analysis"] = {**config["analysis"], "tables": ["tab_gen"], "align_pairs": []}
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, plan(path)


def test_jobs_of_a_full_run(planned):
    _, result = planned
    counts = result.counts
    # 10 pairs in chunks of 4: 3 chunks for each of 2 generators; 2 rewards x 2 generators
    assert counts["generate"] == 6 and counts["score"] == 4 and counts["judge"] == 2
    assert counts["table"] == 1 and counts["offline_models"] == 1 and "all" not in counts


def test_gpu_hours_from_registry_estimates(planned):
    _, result = planned
    generate = {job.wildcards["chunk"]: job for job in result.gpu_jobs if job.rule == "generate"}
    # chunks of 4, 4 and 2 pairs, two images (I_o, I_a) per pair, 9 s each
    assert {chunk: job.images for chunk, job in generate.items()} == {"0": 8, "1": 8, "2": 4}
    assert [generate[c].gpu_seconds for c in "012"] == [72.0, 72.0, 36.0]
    score = [job for job in result.gpu_jobs if job.rule == "score"]
    # tiny CLIP scores each generator's 20 images on a GPU at 0.5 s; the pixel probe needs none
    assert sorted((job.wildcards["generator"], job.gpu_seconds, job.peak_gpu_memory_gb) for job in score) == [
        ("oracle", 10.0, 2), ("tiny-flux", 10.0, 2)]
    assert all(job.wildcards["reward"] == "tiny-clip" for job in score)
    assert len(result.gpu_jobs) == 5 and not result.unestimated
    assert result.gpu_hours == pytest.approx((72 + 72 + 36 + 10 + 10) / 3600)
    assert all(job.source == "test figure" for job in result.gpu_jobs)


def test_plan_command_prints_budget(planned, capsys):
    path, _ = planned
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "generate[generator=tiny-flux,chunk=2]" in out
    assert "Total: 0.1 GPU-hours over 5 estimated GPU jobs; largest job needs 30 GB" in out


def test_jobs_without_estimate_are_counted_apart():
    from widespectrum.plan import Plan, PlannedJob, format_plan

    jobs = [PlannedJob("generate", {"generator": "flux-dev", "chunk": "0"}, 1, 1, "flux-dev", 200, 2200.0, 34, "s"),
            PlannedJob("experiment_score", {"experiment": "art", "reward": "blip-l"}, 1, 1, "blip-l", None, None, 3,
                       "s"),
            PlannedJob("table", {"table": "tab_gen"}, 1, 0)]
    out = format_plan(Plan("c.yaml", jobs, 0.1))
    assert "3 jobs, 2 of them on a GPU" in out
    assert "Total: 0.6 GPU-hours over 1 estimated GPU jobs; largest job needs 34 GB" in out  # 2200 s
    assert "Not estimated (1 GPU jobs, not counted above): 1 experiment_score" in out
