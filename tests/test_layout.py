"""The run folder's paths, spelled out literally as results/README.md documents them."""

from __future__ import annotations

from pathlib import Path

import pytest

from widespectrum import layout

# Every public path builder with the path it must give; the names are registry-shaped.
EXPECTED = [
    (lambda: layout.chunk_dir("flux-dev", 3), "images/flux-dev/chunk-3"),
    (lambda: layout.chunk_dir("{generator}", "{chunk}"), "images/{generator}/chunk-{chunk}"),
    (lambda: layout.manifest("flux-dev"), "images/flux-dev/manifest.parquet"),
    (lambda: layout.released_image("flux-dev", "0007", "a"), "images/flux-dev/released/0007_a.png"),
    (lambda: layout.scores("hpsv2.1", "flux-dev"), "scores/hpsv2.1/flux-dev.parquet"),
    (lambda: layout.labels("qwen3-vl-235b", "flux-dev"), "judgements/qwen3-vl-235b/flux-dev.parquet"),
    (lambda: layout.ratings("qwen3-vl-4b-rater", "flux-dev"), "ratings/qwen3-vl-4b-rater/flux-dev.parquet"),
    (lambda: layout.audit(), "audit/audit.md"),
    (lambda: layout.audit("csv"), "audit/audit.csv"),
    (lambda: layout.table("tab_gen"), "tables/tab_gen.csv"),
    (lambda: layout.table("tab_gen", "parquet"), "tables/tab_gen.parquet"),
    (lambda: layout.figure("fig_diff"), "figures/fig_diff.pdf"),
    (lambda: layout.figure("fig_diff", "png"), "figures/fig_diff.png"),
    (lambda: layout.notebook("tab_vsf"), "notebooks/tab_vsf.ipynb"),
    (lambda: layout.report(), "reproduction_report.md"),
    (lambda: layout.report("csv"), "reproduction_report.csv"),
    (lambda: layout.explain_listing("tab_gen.flux-dev.d_hpsv3"), "explain/tab_gen.flux-dev.d_hpsv3.jsonl"),
    (lambda: layout.experiment_dir("ava"), "experiments/ava"),
    (lambda: layout.experiment_items("ava"), "experiments/ava/items.parquet"),
    (lambda: layout.experiment_item_images("art"), "experiments/art/item_images"),
    (lambda: layout.experiment_prompts("critical"), "experiments/critical/prompts.parquet"),
    (lambda: layout.experiment_manifest("critical", "flux-krea"),
     "experiments/critical/images/flux-krea/manifest.parquet"),
    (lambda: layout.experiment_scores("emotion", "blip-l-logit"), "experiments/emotion/scores/blip-l-logit.parquet"),
    (lambda: layout.experiment_file("art", "leaderboard.json"), "experiments/art/leaderboard.json"),
    (lambda: layout.experiment_step("{experiment}", "score-{reward}"), "experiments/{experiment}/score-{reward}"),
    (lambda: layout.log("score/hpsv3-flux-dev"), "logs/score/hpsv3-flux-dev.log"),
    (lambda: layout.benchmark("generate/flux-dev-0"), "benchmarks/generate/flux-dev-0.tsv"),
    (lambda: layout.provenance("generate/flux-dev-0"), "provenance/generate/flux-dev-0.json"),
    (lambda: layout.owner_of("ratings/probe-rater/oracle.parquet"), "probe-rater"),
    (lambda: layout.stage_of("judgements/probe-judge/oracle.parquet"), "judgements"),
]


@pytest.mark.parametrize("spell,expected", EXPECTED, ids=[e for _, e in EXPECTED])
def test_each_path_kind_is_spelled_as_documented(spell, expected):
    assert spell() == expected


def test_run_level_files_and_folders():
    assert (layout.RUN_SPEC, layout.PROMPTS, layout.OFFLINE_MODELS, layout.AUDIT) == (
        "run.yaml", "prompts/prompts.parquet", "models/offline_models.json", "audit/audit.md")
    assert (layout.AUDIT_DIR, layout.PROVENANCE_DIR) == ("audit", "provenance")
    assert layout.join("/runs/demo", "scores/a/b.parquet") == Path("/runs/demo/scores/a/b.parquet")
    assert layout.manifest_in("/runs/demo/images/oracle/chunk-0") == Path(
        "/runs/demo/images/oracle/chunk-0/manifest.parquet")


@pytest.mark.parametrize("spell,kind", [
    (lambda bad: layout.chunk_dir("g", bad), "chunk"),
    (lambda bad: layout.released_image("g", bad, "a"), "prompt id"),
    (lambda bad: layout.ratings(bad, "g"), "rater"),
    (lambda bad: layout.figure(bad), "figure"),
    (lambda bad: layout.experiment_manifest("ava", bad), "generator"),
    (lambda bad: layout.experiment_file("ava", bad), "experiment file"),
    (lambda bad: layout.experiment_step(bad, "items"), "experiment"),
])
def test_every_name_is_checked_and_the_error_names_its_kind(spell, kind):
    with pytest.raises(ValueError, match=f"^{kind} name '../x' cannot name a path under the run folder"):
        spell("../x")
