"""Build the offline models a run config asks for into its hub cache."""

from __future__ import annotations

import logging
from pathlib import Path

from tqdm.auto import tqdm

log = logging.getLogger(__name__)

PIPELINE_BUILDERS = ("flux", "sdxl", "sd3")
REWARD_BUILDERS = ("clip", "blip", "hpsv2")


def build_offline_models(offline_models: dict[str, dict], cache_dir: str | Path) -> dict[str, dict]:
    """Build each ``{name: {builder, repo_id}}`` into ``cache_dir``; return name -> {repo_id, revision}."""
    from .diffusers_models import install_tiny_pipeline
    from .reward_models import install_tiny_reward

    built = {}
    for name, spec in tqdm(sorted(offline_models.items()), desc="offline models", unit="model"):
        builder, repo_id = spec["builder"], spec["repo_id"]
        if builder in PIPELINE_BUILDERS:
            sha = install_tiny_pipeline(builder, cache_dir, repo_id)
        elif builder in REWARD_BUILDERS:
            sha = install_tiny_reward(builder, cache_dir, repo_id)
        else:
            raise ValueError(f"offline model {name!r}: unknown builder {builder!r}")
        log.info("built %s as %s@%s", name, repo_id, sha[:12])
        built[name] = {"builder": builder, "repo_id": repo_id, "revision": sha}
    return built
