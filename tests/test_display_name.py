"""The name a registry entry is printed under: its display_name, else its own name."""

from widespectrum.cli import main
from widespectrum.registry import display_name
from widespectrum.report import display_names

REGISTRY = {"generators": {"danceflux": {"display_name": "DanceFlux v1.2"}, "bare": {}},
            "rewards": {"blip-l": {"display_name": "BLIP-L", "aliases": ["BLIP"]}}, "judges": {}}


def test_display_name_falls_back_to_the_entry_name():
    assert display_name(REGISTRY, "generators", "danceflux") == "DanceFlux v1.2"
    assert display_name(REGISTRY, "generators", "bare") == "bare"


def test_report_matches_the_name_the_display_name_and_the_aliases():
    assert display_names(REGISTRY) == {"danceflux": {"danceflux", "dancefluxv1.2"}, "bare": {"bare"},
                                       "blip-l": {"blipl", "blip"}}


def test_registry_command_prints_each_display_name(repo_root, capsys):
    assert main(["registry", "--config", str(repo_root / "config" / "config.yaml"), "rewards"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.split()[0] == "pickscore")
    assert line.endswith(" PickScore")  # config/rewards.yaml: pickscore's display_name
