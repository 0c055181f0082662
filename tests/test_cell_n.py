"""The n behind each published cell: the table specs' ``n_columns`` and the default rule of ``numbers.n_column``."""

from __future__ import annotations

import pandas as pd
import pytest

from widespectrum import contracts, layout, numbers
from widespectrum.config import load_yaml
from widespectrum.runconfig import validate_run
from widespectrum.tables.build import compute_table
from widespectrum.tables.catalog import TABLES


def _n(table: str, column: str, row: dict) -> object:
    return numbers.cell_n(column, row, TABLES[table].n_columns)


def test_tab_gen_means_of_the_rewrites_images_and_success_have_their_own_n():
    row = {"generator": "Flux Dev", "d_hpsv3": -3.1, "hpsv3_aa": 9.0, "hpsv3_aa_lo": 8.0, "j_aa": 8.9, "j_aa_hi": 9.9,
           "d_j": -1.0, "success": 0.56, "success_lo": 0.5, "success_hi": 0.6, "d_hpsv2": 0.0,
           "n_hpsv2": 298, "n_hpsv3": 297, "n_j": 296, "n_labels": 300, "n_excluded": 4}
    got = {c: _n("tab_gen", c, row) for c in ("d_hpsv3", "hpsv3_aa", "hpsv3_aa_lo", "j_aa", "j_aa_hi", "d_j",
                                              "success", "success_lo", "success_hi", "d_hpsv2")}
    assert got == {"d_hpsv3": 297, "hpsv3_aa": 297, "hpsv3_aa_lo": 297, "j_aa": 296, "j_aa_hi": 296, "d_j": 296,
                   "success": 300, "success_lo": 300, "success_hi": 300, "d_hpsv2": 298}


def test_tab_vsf_selected_dimension_j_counts_the_rated_pairs():
    row = {"model": "Flux", "method": "VSF", "scale": 2.0, "hpsv3": 1.0, "j_s": 0.7, "j_s_lo": 0.6, "blip": 0.9,
           "generator": "flux-vsf-2", "n_hpsv3": 30, "n_j": 28, "n_blip": 29}
    assert [_n("tab_vsf", c, row) for c in ("hpsv3", "j_s", "j_s_lo", "blip")] == [30, 28, 28, 29]


def test_human_validation_cells_count_the_compared_pairs_or_those_without_ties():
    row = {"judge": "judge", "mae": 0.3, "quadratic_kappa": 0.6, "accuracy_ties_removed": 0.9,
           "accuracy_tie_grouped_with_original": 0.8, "raters": 5, "pairs": 40, "n_pairs_ties_removed": 27,
           "n_excluded": 2}
    got = {c: _n("human_validation", c, row)
           for c in ("mae", "quadratic_kappa", "accuracy_ties_removed", "accuracy_tie_grouped_with_original")}
    assert got == {"mae": 40, "quadratic_kappa": 40, "accuracy_ties_removed": 27,
                   "accuracy_tie_grouped_with_original": 40}


def test_tab_real_arts_caption_check_counts_the_blip_scores_not_the_artworks():
    row = {"reward": "hpsv3", "r": 5.86, "r_lo": 5.7, "r_hi": 6.0, "blip_true_captions": 0.99,
           "blip_shuffled_captions": 0.09, "n": 100, "n_blip_true": 98, "n_blip_shuffled": 97}
    assert [_n("tab_real_arts", c, row) for c in ("r", "r_hi", "blip_true_captions", "blip_shuffled_captions")] \
        == [100, 100, 98, 97]


def test_rows_used_of_human_validation_is_the_pairs_compared(tmp_path):
    # 40 pairs compared, 13 of them a tie on one side: 27 without ties
    frame = pd.DataFrame([{"judge": "judge", "mae": 0.3, "quadratic_kappa": 0.6, "accuracy_ties_removed": 0.9,
                           "accuracy_tie_grouped_with_original": 0.8, "raters": 5, "pairs": 40,
                           "n_pairs_ties_removed": 27, "n_excluded": 2}])
    path = tmp_path / "human_validation.csv"
    frame.to_csv(path, index=False)
    spec = TABLES["human_validation"]
    assert numbers.rows_used(path, spec.n_columns) == 40
    assert numbers.rows_label("human_validation", path, spec) == {"table": "human_validation", "rows used (n)": 40}


def test_rows_used_ignores_counts_no_cell_rests_on(tmp_path):
    # tab_val: n cells; n_dimensions counts dimensions, and n_excluded rows left out, not rows used
    path = tmp_path / "tab_val.csv"
    pd.DataFrame([{"judge": "J", "mae": 0.4, "n": 18, "n_dimensions": 30, "n_excluded": 50}]).to_csv(path, index=False)
    assert numbers.rows_used(path, TABLES["tab_val"].n_columns) == 18


# ---------------------------------------------------------------- every table of the catalog

@pytest.fixture(scope="module")
def every_table_config(repo_root):
    config = load_yaml(repo_root / "config" / "config.yaml")
    # the two reference experiments read the user's files, which the paper config leaves out
    config["experiments"]["validation"] = {"pred_file": "pred.csv", "truth_file": "truth.csv"}
    config["experiments"]["human"] = {"answers_file": "answers.csv", "judge_labels_file": "labels.csv"}
    return validate_run(config)


def _empty_run_table(name, config, run_dir):
    """The table computed from a run folder without inputs: its rows NaN, its columns those it always has."""
    if name == "fig_slopes":  # it refuses to regress without a BLIP score under p_o; one is enough
        blip = config["roles"]["blip"]
        generator = config["generators"][0]
        row = {"generator": generator, "prompt_id": "0000", "image_kind": "o", "prompt_kind": "o", "reward": blip,
               "score": 0.5, "score_sigma": None, "status": contracts.OK}
        contracts.write_table(pd.DataFrame([row]), layout.join(run_dir, layout.scores(blip, generator)),
                              contracts.SCORES)
    return compute_table(name, run_dir, config).frame


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_measure_of_every_table_has_an_n_column(name, every_table_config, tmp_path):
    spec = TABLES[name]
    csv = tmp_path / f"{name}.csv"
    _empty_run_table(name, every_table_config, tmp_path / "run").to_csv(csv, index=False)
    columns, rows = numbers.read_csv_rows(csv)
    labels, _ = numbers.row_keys(columns, rows)
    counts = {c for c in columns if c == "n" or c.startswith("n_")} | set(spec.n_columns.values())
    not_measures = {c for c, n in spec.n_columns.items() if n is None}
    measures = [c for c in columns if c not in labels and c not in counts and c not in not_measures]
    assert measures, name
    unresolved = {c: numbers.n_column(c, columns, spec.n_columns) for c in measures}
    assert {c: n for c, n in unresolved.items() if n not in columns} == {}
    assert all(n != "n_excluded" for n in unresolved.values())  # rows left out are no n
