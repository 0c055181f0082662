"""The analysis rules' environment (envs/analysis.yaml) has no model libraries: their code must not need them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
MODEL_LIBRARIES = {"torch", "torchvision", "transformers", "diffusers", "open_clip", "safetensors", "peft", "compel",
                   "timm", "accelerate"}


def test_tables_report_and_figures_import_without_model_libraries():
    code = textwrap.dedent(f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {sorted(MODEL_LIBRARIES)!r}:
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Block())
        import widespectrum.cli, widespectrum.figures, widespectrum.report, widespectrum.tables.build
        from widespectrum.tables import catalog
        for spec in catalog.TABLES.values():
            spec.function()
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]


def test_model_libraries_are_only_in_the_models_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    name = lambda pin: pin.split("==")[0].replace("_torch", "").replace("-", "_")  # noqa: E731
    base = {name(pin) for pin in project["dependencies"]}
    models = {name(pin) for pin in project["optional-dependencies"]["models"]}
    assert not base & MODEL_LIBRARIES
    assert models == MODEL_LIBRARIES | {"tokenizers"}
    analysis = yaml.safe_load((REPO / "envs" / "analysis.yaml").read_text())["dependencies"][-1]["pip"]
    model_env = yaml.safe_load((REPO / "envs" / "models.yaml").read_text())["dependencies"][-1]["pip"]
    assert analysis == ["-e .."] and "-e ..[models]" in model_env
