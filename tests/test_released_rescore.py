"""fig_slopes on the released run with ``released.images``: BLIP is rescored from the released images.

The release holds BLIP only under p_a (``blip_score``), and E12 regresses r(I, p_o) on
BLIP(I, p_o) (docs/experiments.md#e12). With images on, the ingest writes the images and
leaves ``blip-l`` to the run's own score stage, which scores every pair under both
prompts with the tiny BLIP installed under its real hub id; the slopes are then fitted
on the released rewards and ratings and the rescored BLIP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from widespectrum import contracts, layout, pipeline
from widespectrum.demo.reward_models import install_tiny_reward
from widespectrum.prompts.dimensions import DIMENSIONS
from widespectrum.released import ReleasedSpec
from widespectrum.runconfig import load_run, released_outputs
from widespectrum.tables.build import compute_table
from widespectrum.tables.catalog import configured_tables

from .fixtures.released_data import make_benchmark_table, write_benchmark_parquet

BLIP_L = "Salesforce/blip-itm-large-coco"
GENERATORS = ["flux-dev", "danceflux"]
N_PROMPTS = 10


@pytest.fixture(scope="module")
def rescored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rescore")
    cache = tmp / "hub"
    install_tiny_reward("blip", cache, BLIP_L)
    frame = make_benchmark_table(n_models=3, n_prompts=N_PROMPTS, image_size=16, duplicate_model=None)
    write_benchmark_parquet(frame, tmp / "benchmark")
    config = load_run("config/released.yaml")
    config["released"].update(local_dir=str(tmp / "benchmark"), images=True)
    config["generators"] = GENERATORS
    config["results_dir"] = str(tmp / "results")
    config["hub"] = {"cache_dir": str(cache), "offline": True}
    config["device"] = "cpu"
    run = tmp / "results" / config["run"]
    pipeline.ingest_released(config, [])
    for generator in GENERATORS:
        pipeline.score(config, "blip-l", run / layout.manifest(generator), run / layout.PROMPTS,
                       run / layout.scores("blip-l", generator), tmp / f"provenance-{generator}.json", threads=1)
    return config, run, frame


def test_images_on_leaves_blip_probability_to_the_score_stage():
    config = load_run("config/released.yaml")
    config["released"]["images"] = True
    spec = ReleasedSpec.from_config(config["released"])
    assert spec.rescore == ("blip-l",)
    provided = released_outputs(config)["rewards"]
    assert "blip-l" not in provided and "blip-l-logit" in provided  # computed, and read
    assert "fig_slopes" in configured_tables(config)


def test_rescored_blip_has_both_prompts_and_the_released_logit_stays(rescored):
    _, run, frame = rescored
    blip = contracts.read_table(run / layout.scores("blip-l", "flux-dev"), contracts.SCORES)
    assert len(blip) == 4 * N_PROMPTS and set(blip["status"]) == {"ok"}
    assert set(blip["prompt_kind"]) == {"o", "a"} and blip["score"].between(0, 1).all()
    # the logit reading is the released one, untouched by the rescoring
    logit = contracts.read_table(run / layout.scores("blip-l-logit", "flux-dev"), contracts.SCORES)
    first = frame[frame["model"] == "flux_dev"].set_index("index")
    expected = {(f"{i:04d}", kind): first.at[i, "blip_score"][k][1]
                for i in range(N_PROMPTS) for k, kind in enumerate(("o", "a"))}
    assert {(p, k): s for p, k, s in zip(logit["prompt_id"], logit["image_kind"], logit["score"])} == expected


def test_fig_slopes_on_rescored_blip_equals_an_independent_ols(rescored):
    config, run, frame = rescored
    table = compute_table("fig_slopes", run, config).frame
    blip = pd.concat([contracts.read_table(run / layout.scores("blip-l", g), contracts.SCORES) for g in GENERATORS])
    blip_o = {(g, p, k): s for g, p, k, s, pk in zip(blip["generator"], blip["prompt_id"], blip["image_kind"],
                                                       blip["score"], blip["prompt_kind"]) if pk == "o"}
    released = frame.set_index(["model", "index"])
    columns = {"hpsv2.1": ("hpsv2_reward", "hpsv2"), "imagereward": ("image_reward", "image_reward")}
    for reward, (column, prefix) in columns.items():
        rows, response = [], []
        for generator, model in zip(GENERATORS, ("flux_dev", "dance_flux")):
            for index in range(N_PROMPTS):
                record = released.loc[(model, index)]
                for kind, part, suffix in (("o", "original", "oiop"), ("a", "distorted", "diop")):
                    # rater scores are in alphabetical dimension order, as DIMENSIONS
                    rows.append([1.0, *record["rater"][part]["scores"], blip_o[(generator, f"{index:04d}", kind)]])
                    response.append(record[column][f"{prefix}_{suffix}"])
        coef, *_ = np.linalg.lstsq(np.array(rows), np.array(response), rcond=None)
        fitted = table[table["reward"] == reward].set_index("term")
        assert list(fitted.index) == ["intercept", *DIMENSIONS, "blip"]
        assert (fitted["n"] == 2 * N_PROMPTS * len(GENERATORS)).all()
        np.testing.assert_allclose(fitted["coef"].to_numpy(), coef, rtol=1e-6, atol=1e-9)
