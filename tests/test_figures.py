"""Figures: a table read from, and its figure written to, the run folder's documented places."""

import json

import matplotlib
import pandas as pd

from widespectrum.figures import load_table, save_figure

matplotlib.use("Agg")


def test_load_table_reads_the_csv_and_record_under_tables(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "tab_x.csv").write_text("generator,n\noracle,4\n")
    (tmp_path / "tables" / "tab_x.json").write_text(json.dumps({"table": "tab_x", "demo": True, "notes": []}))
    frame, record = load_table(tmp_path, "tab_x")
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"generator": ["oracle"], "n": [4]}))
    assert record == {"table": "tab_x", "demo": True, "notes": []}


def test_save_figure_writes_pdf_and_png_under_figures(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    written = save_figure(fig, tmp_path, "tab_x", demo=False)
    plt.close(fig)
    assert written == [tmp_path / "figures" / "tab_x.pdf", tmp_path / "figures" / "tab_x.png"]
    assert (tmp_path / "figures" / "tab_x.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "figures" / "tab_x.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["tab_x.pdf", "tab_x.png"]
