"""An experiment's render job writes its PNGs into the folder it is given (the rule's declared output)."""

import hashlib

from widespectrum import contracts, experiment_steps as steps
from widespectrum.contracts import OK
from widespectrum.runconfig import validate_run


def _config(results_dir):
    return validate_run({
        "run": "renders", "results_dir": str(results_dir), "seed": 7, "demo": True,
        "generators": ["oracle"], "rewards": ["aesthetic"],
        "judges": {"pairwise": ["probe-judge"], "rater": ["probe-rater"]},
        "roles": {"hpsv3": "aesthetic", "blip": "aesthetic", "judge": "probe-judge", "rater": "probe-rater"},
        "prompts": {"source": "captions_file", "captions_file": "config/captions/demo_captions.csv", "n": 2},
    })


def test_generate_writes_the_pngs_into_the_given_folder(tmp_path):
    config = _config(tmp_path)
    run = tmp_path / "renders"
    prompts = run / "experiments" / "e" / "prompts.parquet"
    contracts.write_table(contracts.PROMPTS.validate(
        contracts.PROMPTS.empty().reindex(range(2)).assign(
            prompt_id=["p0", "p1"], caption_id=["c0", "c1"], prompt_original=["a red barn", "a cat"],
            prompt_anti=["x", "y"], dimensions=[[], []], rewriter="none")), prompts, contracts.PROMPTS)
    manifest_file = run / "experiments" / "e" / "images" / "oracle" / "manifest.parquet"
    # another folder than the manifest's, so the PNGs can only be there if the given folder is used
    folder = run / "experiments" / "e" / "renders"

    manifest = steps.generate(config, "e", "oracle", prompts, manifest_file, run / "provenance" / "e.json",
                              image_dir=folder)

    assert list(manifest["path"]) == ["experiments/e/renders/p0_o.png", "experiments/e/renders/p1_o.png"]
    assert (manifest["status"] == OK).all()
    for row in manifest.itertuples():
        assert hashlib.sha256((run / row.path).read_bytes()).hexdigest() == row.sha256
    assert sorted(p.name for p in folder.iterdir()) == ["p0_o.png", "p1_o.png"]
    assert contracts.read_table(manifest_file, contracts.MANIFEST)["path"].tolist() == list(manifest["path"])
