import pandas as pd
import pytest

from widespectrum.report import Printed, build_report, flatten_published, load_published

PUBLISHED = """
tab_gen:
  columns: [d_hpsv3, success]
  rows:
    Flux Dev: [-3.165, 0.560]
    SDXL: [-4.041, 0.717]
tab_align_p:
  columns: [hpsv3_p, mcnemar_p]
  rows:
    DanceFlux: ["**", 0.57]
tab_critical_test:
  columns: [p, effect_r]
  rows:
    HPSv3: ["<0.0001", 0.8723]
tab_real_arts:
  columns: [rank, model_above]
  rows:
    HPSv3: ["10/12", Hunyuan-DiT]
tab_vsf:
  columns: [model, method, scale, hpsv3]
  rows:
    - [DanceFlux, VSF, 2.0, 3.670]
tab_val:
  mae: 0.307
"""

REGISTRY = {
    "generators": {"flux-dev": {"display_name": "Flux Dev"}, "danceflux": {"display_name": "DanceFlux"}},
    "rewards": {"hpsv3": {"display_name": "HPSv3"}},
    "judges": {},
}


@pytest.fixture()
def published(tmp_path):
    path = tmp_path / "published.yaml"
    path.write_text(PUBLISHED)
    return load_published(path)


def test_printed_precision_is_kept(published):
    value = published["tab_gen"]["rows"]["Flux Dev"][1]
    assert value == Printed(0.56, "0.560") and value.rounding == pytest.approx(0.0005)
    assert Printed(8.0, "8").rounding == 0.5


def test_flatten_covers_every_number(published):
    entries = {(e.table, e.row, e.column) for e in flatten_published(published)}
    assert ("tab_vsf", "DanceFlux|VSF|2.0", "hpsv3") in entries
    assert ("tab_val", "all", "mae") in entries
    assert len(entries) == 4 + 2 + 2 + 2 + 1 + 1


def _write(run, name, frame):
    (run / "tables").mkdir(parents=True, exist_ok=True)
    frame.to_csv(run / "tables" / f"{name}.csv", index=False)


def test_comparisons(tmp_path, published):
    run = tmp_path / "run"
    _write(run, "tab_gen", pd.DataFrame({
        "generator": ["flux-dev", "tiny-sdxl"], "d_hpsv3": [-3.1654, -3.0], "success": [0.5604, 0.7],
        "success_lo": [0.5, 0.69], "success_hi": [0.6, 0.71]}))
    _write(run, "tab_align_p", pd.DataFrame({"generator": ["danceflux"], "hpsv3_p": [1e-12], "mcnemar_p": [0.61]}))
    _write(run, "tab_critical_test", pd.DataFrame({"reward": ["hpsv3"], "p": [4e-5], "effect_r": [0.8723]}))
    _write(run, "tab_real_arts", pd.DataFrame({"reward": ["hpsv3"], "rank": ["9/12"], "model_above": ["Hunyuan-DiT"]}))
    _write(run, "tab_vsf", pd.DataFrame({"model": ["danceflux"], "method": ["VSF"], "scale": [2.0], "hpsv3": [3.6704]}))
    out = build_report(run, published, REGISTRY, ["tab_gen", "tab_align_p", "tab_critical_test", "tab_real_arts",
                                                  "tab_vsf"]).set_index(["table", "row", "column"])
    assert out.loc[("tab_gen", "Flux Dev", "d_hpsv3"), "within"]  # |diff| 0.0004 <= 0.0005
    assert out.loc[("tab_gen", "Flux Dev", "success"), "within"]
    assert out.loc[("tab_gen", "Flux Dev", "success"), "difference"] == pytest.approx(0.0004)
    # the paper's SDXL row has no counterpart: tiny-sdxl is neither named nor displayed so
    assert out.loc[("tab_gen", "SDXL", "success"), "status"] == "missing"
    assert out.loc[("tab_align_p", "DanceFlux", "hpsv3_p"), "reproduced"] == "**"
    assert out.loc[("tab_align_p", "DanceFlux", "hpsv3_p"), "within"]
    assert not out.loc[("tab_align_p", "DanceFlux", "mcnemar_p"), "within"]  # 0.61 vs 0.57 +- 0.005
    assert out.loc[("tab_critical_test", "HPSv3", "p"), "within"]
    assert not out.loc[("tab_real_arts", "HPSv3", "rank"), "within"]
    assert out.loc[("tab_real_arts", "HPSv3", "model_above"), "within"]
    assert out.loc[("tab_vsf", "DanceFlux|VSF|2.0", "hpsv3"), "within"]
    assert out.loc[("tab_val", "all", "mae"), "why"] == "table not in this run's analysis.tables"


def test_bootstrap_interval_widens_tolerance(tmp_path, published):
    run = tmp_path / "run"
    _write(run, "tab_gen", pd.DataFrame({"generator": ["flux-dev"], "d_hpsv3": [-3.0], "success": [0.52],
                                         "success_lo": [0.47], "success_hi": [0.57]}))
    out = build_report(run, published, REGISTRY, ["tab_gen"]).set_index(["table", "row", "column"])
    assert out.loc[("tab_gen", "Flux Dev", "success"), "within"]  # 0.560 inside [0.47, 0.57]
    assert not out.loc[("tab_gen", "Flux Dev", "d_hpsv3"), "within"]  # no interval, off by 0.165


def test_shipped_published_values_flatten(repo_root):
    entries = flatten_published(load_published(repo_root / "config" / "published_values.yaml"))
    tables = {e.table for e in entries}
    assert {"tab_gen", "tab_reward_model", "tab_align_p", "tab_emotion", "tab_emotion_gen", "fig_diff",
            "tab_real_arts", "tab_img2img", "tab_critical_selection", "tab_critical_test", "tab_vsf", "tab_val",
            "human_validation"} == tables
    counts = {t: sum(e.table == t for e in entries) for t in tables}
    # counted from the paper's tables: 10 generators x 8 columns + 3 post-paper rows x 2;
    # 9 reward models x 3 less GPT-5-Chat's absent AUROC; 8 VSF/NAG rows x 3 measures
    assert counts["tab_gen"] == 10 * 8 + 3 * 2
    assert counts["tab_reward_model"] == 9 * 3 - 1
    assert counts["tab_vsf"] == 8 * 3
    assert counts["fig_diff"] == 5 and counts["tab_val"] == 3 and counts["human_validation"] == 6
    by_key = {(e.table, e.row, e.column): e.published for e in entries}
    assert ("tab_reward_model", "GPT-5-Chat", "auroc") not in by_key
    assert by_key[("tab_critical_test", "MPS", "effect_r")] == Printed(0.4884, "0.4884")
    assert by_key[("tab_vsf", "Flux Krea|NAG|10.0", "hpsv3")] == Printed(-8.365, "-8.365")
    assert by_key[("tab_real_arts", "HPSv3", "model_above")] == "Hunyuan-DiT"


ALIASED = """
tab_emotion:
  columns: [anger]
  aliases: {BLIP: blip-l-logit, HPSv2: hpsv2.1}
  rows:
    BLIP: [0.960]
    HPSv2: [0.700]
human_validation:
  column_aliases: {images: pairs}
  images: 40
"""


def test_aliases_name_the_entry_that_produced_the_published_row(tmp_path):
    path = tmp_path / "published.yaml"
    path.write_text(ALIASED)
    published = load_published(path)
    entries = {(e.table, e.row, e.column) for e in flatten_published(published)}
    assert entries == {("tab_emotion", "BLIP", "anger"), ("tab_emotion", "HPSv2", "anger"),
                       ("human_validation", "all", "images")}
    # both BLIP outputs and both HPSv2 versions are in the run; by their registry names alone
    # "BLIP" would find blip-l and "HPSv2" hpsv2: the aliases pick the entries the paper used
    registry = {"generators": {}, "judges": {}, "rewards": {
        "blip-l": {"display_name": "BLIP-L", "aliases": ["BLIP"]}, "blip-l-logit": {"display_name": "BLIP-L logit"},
        "hpsv2": {"display_name": "HPSv2"}, "hpsv2.1": {"display_name": "HPSv2.1"}}}
    run = tmp_path / "run"
    _write(run, "tab_emotion", pd.DataFrame({"reward": ["blip-l", "blip-l-logit", "hpsv2", "hpsv2.1"],
                                             "anger": [0.5, 0.96, 0.1, 0.70]}))
    _write(run, "human_validation", pd.DataFrame({"judge": ["J"], "pairs": [40]}))
    out = build_report(run, published, registry, ["tab_emotion", "human_validation"]).set_index(
        ["table", "row", "column"])
    assert out.loc[("tab_emotion", "BLIP", "anger"), "reproduced"] == "0.96"
    assert out.loc[("tab_emotion", "HPSv2", "anger"), "reproduced"] == "0.7"
    assert out.loc[("human_validation", "all", "images"), "reproduced"] == "40"
    assert out["within"].all()


def test_released_scores_are_held_to_the_printed_precision_only(tmp_path, published):
    """0.560 published; 0.52 reproduced with a 95% interval [0.47, 0.57] that covers it."""
    run = tmp_path / "run"
    _write(run, "tab_gen", pd.DataFrame({"generator": ["flux-dev"], "d_hpsv3": [-3.165], "success": [0.52],
                                         "success_lo": [0.47], "success_hi": [0.57]}))
    released = build_report(run, published, REGISTRY, ["tab_gen"], config={"source": "released"}).set_index(
        ["table", "row", "column"])
    regenerated = build_report(run, published, REGISTRY, ["tab_gen"], config={"source": "generated"}).set_index(
        ["table", "row", "column"])
    key = ("tab_gen", "Flux Dev", "success")
    assert released.loc[key, "basis"] == "released scores" and not released.loc[key, "within"]
    assert "CI" not in released.loc[key, "tolerance"]
    assert regenerated.loc[key, "basis"] == "regenerated" and regenerated.loc[key, "within"]
    # an exact number from the released scores agrees whatever the basis
    assert released.loc[("tab_gen", "Flux Dev", "d_hpsv3"), "within"]


def test_unavailable_table_is_named_with_its_reason(tmp_path, published):
    out = build_report(tmp_path / "run", published, REGISTRY, ["tab_gen"],
                       unavailable={"tab_val": "no validation files"}).set_index(["table", "row", "column"])
    assert out.loc[("tab_val", "all", "mae"), "why"] == "this run cannot make the table: no validation files"


def test_write_report_reads_and_writes_only_the_files_it_is_given(tmp_path, repo_root):
    """Published 0.560 vs 0.5604: within the printed precision, off by 0.0004. A stale tab_val.csv
    (not a table of the demo) and an undeclared record at the layout's place are not read."""
    from widespectrum.report import write_report
    from widespectrum.runconfig import load_run

    config = load_run(repo_root / "config" / "demo.yaml")
    config["results_dir"] = str(tmp_path)
    run = tmp_path / config["run"]
    _write(run, "tab_gen", pd.DataFrame({"generator": ["flux-dev"], "d_hpsv3": [-3.165], "success": [0.5604]}))
    _write(run, "tab_val", pd.DataFrame({"judge": ["J"], "mae": [0.307]}))
    (run / "tables" / "tab_gen.json").write_text('{"table": "tab_gen", "notes": ["undeclared note"]}')
    declared = tmp_path / "declared" / "tab_gen.json"
    declared.parent.mkdir()
    declared.write_text('{"table": "tab_gen", "notes": ["declared note"]}')
    published = tmp_path / "published.yaml"
    published.write_text(PUBLISHED)
    markdown, csv = tmp_path / "out" / "report.md", tmp_path / "out" / "report.csv"

    write_report(config, published, markdown=markdown, csv=csv, records=[declared])

    assert not (run / "reproduction_report.md").exists() and not (run / "reproduction_report.csv").exists()
    out = pd.read_csv(csv).set_index(["table", "row", "column"])
    assert out.loc[("tab_gen", "Flux Dev", "success"), "difference"] == pytest.approx(0.0004)
    assert bool(out.loc[("tab_gen", "Flux Dev", "success"), "within"])
    assert out.loc[("tab_val", "all", "mae"), "status"] == "missing"
    assert out.loc[("tab_val", "all", "mae"), "why"] == "table not in this run's analysis.tables"
    text = markdown.read_text()
    assert "# Reproduction report: run `demo`" in text
    assert "- note: declared note" in text and "undeclared note" not in text
