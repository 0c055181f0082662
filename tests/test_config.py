import copy

import pytest
import yaml

from widespectrum.config import ConfigError, generation_settings, load_registry, load_yaml
from widespectrum.runconfig import load_run, validate_run


@pytest.fixture()
def demo(repo_root):
    return yaml.safe_load((repo_root / "config" / "demo.yaml").read_text())


def test_shipped_configs_validate(repo_root):
    for name in ("demo.yaml", "config.yaml"):
        config = load_run(repo_root / "config" / name)
        assert config["run"] in ("demo", "paper")


def test_defaults_are_filled(demo):
    del demo["analysis"]["tables"], demo["seed"]
    config = validate_run(demo)
    assert config["seed"] == 0
    assert config["results_dir"] == "results"
    assert config["prompts"]["k_choices"] == [2, 3, 4]
    assert config["analysis"]["tables"] == ["tab_gen", "tab_reward_model", "tab_align_p"]
    # offline models without a cache folder are kept inside the run folder
    assert config["hub"]["cache_dir"] == "results/demo/models/hub"


@pytest.mark.parametrize("mutate,needle", [
    (lambda c: c["generation"].update(chunk_size=0), "generation.chunk_size: 0 is less than the minimum of 1"),
    (lambda c: c.update(run="bad/name"), "run: 'bad/name' does not match"),
    (lambda c: c.update(colour="blue"), "Additional properties are not allowed ('colour' was unexpected)"),
    (lambda c: c["prompts"].pop("captions_file"), "'captions_file' is a required property"),
    (lambda c: c["generators"].append("no-such-model"), "generators[5]: 'no-such-model' is not in the generators registry"),
    (lambda c: c["roles"].update(hpsv3="clip-l"), "roles.hpsv3: 'clip-l' is not one of the run's rewards"),
    (lambda c: c["analysis"]["align_pairs"].append({"aligned": "flux-dev", "base": "oracle"}),
     "analysis.align_pairs[1].aligned: 'flux-dev' is not one of the run's generators"),
    (lambda c: c["judges"].update(rater=["probe-judge"]), "judges.rater[0]: 'probe-judge' is a pairwise judge"),
    (lambda c: c["offline_models"].pop("tiny-clip"), "loads the offline model 'tiny-clip'"),
])
def test_invalid_configs_name_the_key(demo, mutate, needle):
    broken = copy.deepcopy(demo)
    mutate(broken)
    with pytest.raises(ConfigError) as err:
        validate_run(broken)
    assert needle in str(err.value)


def test_settings_for_the_rewrite_override_the_original(repo_root):
    registry = load_registry(load_run(repo_root / "config" / "config.yaml"))
    original = generation_settings(registry, "sd3.5m", "o")
    anti = generation_settings(registry, "sd3.5m", "a")
    assert (original["num_inference_steps"], original["guidance_scale"]) == (40, 4.0)
    assert (anti["num_inference_steps"], anti["guidance_scale"]) == (32, 6.0)
    assert anti["height"] == anti["width"] == 1024


def test_released_run_needs_images_for_rewards_the_release_lacks(repo_root):
    config = yaml.safe_load((repo_root / "config" / "released.yaml").read_text())
    validate_run(config)
    config["rewards"].append("pickscore")
    with pytest.raises(ConfigError, match="rewards: 'pickscore' is not in the released data; set released.images"):
        validate_run(config)
    config["released"]["images"] = True
    validate_run(config)


def test_released_block_is_checked(repo_root):
    config = yaml.safe_load((repo_root / "config" / "released.yaml").read_text())
    config["released"]["duplicates"] = "both"
    with pytest.raises(ConfigError, match="released.duplicates: 'both' is not one of"):
        validate_run(config)


def test_prompt_sources(repo_root):
    config = load_run(repo_root / "config" / "config.yaml")
    assert config["prompts"]["source"] == "released"
    assert config["prompts"]["released"]["local_dir"] is None  # default filled
    raw = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    del raw["prompts"]["released"]
    with pytest.raises(ConfigError, match="prompts: 'released' is a required property"):
        validate_run(raw)


def test_load_yaml_reads_an_edited_file_again_and_hands_out_copies(tmp_path):
    path = tmp_path / "entries.yaml"
    path.write_text("a: {x: 1}\n")
    first = load_yaml(path)
    first["a"]["x"] = 99  # a caller changing its copy
    assert load_yaml(path) == {"a": {"x": 1}}
    path.write_text("a: {x: 2}\nb: 3\n")
    assert load_yaml(path) == {"a": {"x": 2}, "b": 3}
    path.unlink()
    with pytest.raises(ConfigError, match="file not found"):
        load_yaml(path)
