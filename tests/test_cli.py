import yaml

from widespectrum.cli import main


def test_validate_reports_the_offending_key(repo_root, tmp_path, capsys):
    assert main(["validate", str(repo_root / "config" / "demo.yaml")]) == 0
    assert "valid (run 'demo'" in capsys.readouterr().out
    config = yaml.safe_load((repo_root / "config" / "demo.yaml").read_text())
    config["prompts"]["n"] = 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    assert main(["validate", str(bad)]) == 1
    assert "prompts.n: 0 is less than the minimum of 1" in capsys.readouterr().err


def test_registry_lists_entries_without_loaders(repo_root, capsys):
    assert main(["registry", "--config", str(repo_root / "config" / "config.yaml"), "rewards", "judges"]) == 0
    out = capsys.readouterr().out
    assert "hpsv3" in out and "pickscore" in out
    released_line = next(line for line in out.splitlines() if "released-rater" in line)
    assert "(released only)" in released_line


def test_contracts_are_printed(capsys):
    assert main(["contracts"]) == 0
    out = capsys.readouterr().out
    assert "scores: r(I, p)" in out and "first_shown" in out


def test_tables_needs_a_run_folder_or_contract_files(tmp_path, caplog):
    assert main(["tables", "--results", str(tmp_path)]) == 2
    assert "has no run.yaml and none of the contract files" in caplog.text
    assert main(["tables", "--results", str(tmp_path / "absent")]) == 2
    assert "is not a folder" in caplog.text


def test_contracts_print_each_path_with_its_columns(capsys):
    assert main(["contracts"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if "experiments/validation/truth.parquet" in l)
    assert line.split()[-3:] == ["image_id,", "dimension,", "label"]
    assert any(l.strip().startswith("experiments/emotion/scores/<reward>.parquet") and "item_id, emotion" in l
               for l in out.splitlines())
