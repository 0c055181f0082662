"""Registries of generators, reward models and judges, kept as data.

An entry is a mapping in ``config/generators.yaml`` (or ``rewards.yaml``,
``judges.yaml``)::

    flux-dev:
      loader: flux                 # a name from LOADERS below, or "package.module:Class";
                                   # null for an entry known only from released data
      display_name: Flux Dev
      options: {model_id: black-forest-labs/FLUX.1-dev, revision: main, dtype: float16}

The loader class is built as ``Class(name=..., runtime=..., **options)``. Class
paths are strings so that listing or validating a registry never imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from .runtime import Runtime

LOADERS: dict[str, dict[str, str]] = {
    "generators": {
        "flux": "widespectrum.generation.diffusers_backend:FluxGenerator",
        "sdxl": "widespectrum.generation.diffusers_backend:StableDiffusionXLGenerator",
        "sd3": "widespectrum.generation.diffusers_backend:StableDiffusion3Generator",
        "diffusers": "widespectrum.generation.diffusers_backend:DiffusersPipelineGenerator",
        "oracle": "widespectrum.generation.procedural:OracleGenerator",
        "sugarwater": "widespectrum.generation.procedural:SugarwaterGenerator",
        "flux_vsf": "widespectrum.generation.vsf:FluxVSFGenerator",
        "flux_nag": "widespectrum.generation.vsf:FluxNAGGenerator",
        "flux_img2img": "widespectrum.generation.img2img:FluxImg2ImgGenerator",
        "openrouter_image": "widespectrum.generation.api:OpenRouterImageGenerator",
        "openai_images": "widespectrum.generation.api:OpenAIImagesGenerator",
        "replicate": "widespectrum.generation.api:ReplicateGenerator",
    },
    "rewards": {
        "clip": "widespectrum.scoring.clip:CLIPReward",
        "blip_itm": "widespectrum.scoring.blip:BLIPITMReward",
        "hpsv2": "widespectrum.scoring.hpsv2:HPSv2Reward",
        "hpsv3": "widespectrum.scoring.hpsv3:HPSv3Reward",
        "imagereward": "widespectrum.scoring.imagereward:ImageRewardReward",
        "hps_v1": "widespectrum.scoring.hps_v1:HPSv1Reward",
        "mps": "widespectrum.scoring.mps:MPSReward",
        "probe": "widespectrum.scoring.probes:ProbeReward",
    },
    "judges": {
        "openai_pairwise": "widespectrum.judging.llm:OpenAICompatiblePairwiseJudge",
        "probe_pairwise": "widespectrum.judging.probes:ProbePairwiseJudge",
        "probe_rater": "widespectrum.judging.probes:ProbeDimensionRater",
        "qwen_vl_rater": "widespectrum.judging.dimension_judge:QwenVLDimensionJudge",
    },
    "croppers": {
        "grounding": "widespectrum.experiments.emotion_generation.faces:GroundingFaceCropper",
        "centre": "widespectrum.experiments.emotion_generation.faces:CentreCropper",
    },
}


class RegistryError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def resolve_class(kind: str, loader: str) -> type:
    """Import the class a registry entry names."""
    target = LOADERS.get(kind, {}).get(loader, loader)
    if ":" not in target:
        known = sorted(LOADERS.get(kind, {}))
        raise RegistryError(
            f"unknown {kind} loader {loader!r}: use one of {known} or 'package.module:Class'"
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name)
    except (ImportError, AttributeError) as err:
        raise RegistryError(f"{kind} loader {loader!r} -> {target!r} cannot be imported: {err}") from err


def entry(registry: Mapping[str, Any], kind: str, name: str) -> dict:
    try:
        return dict(registry[kind][name])
    except KeyError:
        known = sorted(registry.get(kind, {}))
        raise RegistryError(f"no {kind[:-1]} named {name!r} in the registry; known: {known}") from None


def build(registry: Mapping[str, Any], kind: str, name: str, runtime: Runtime) -> Any:
    """Instantiate the registry entry ``name`` of ``kind`` ('generators', 'rewards', 'judges')."""
    spec = entry(registry, kind, name)
    if spec.get("loader") is None:
        raise RegistryError(
            f"{kind[:-1]} {name!r} has no loader in this repository yet; its numbers can come only from "
            f"released data (source: released)")
    cls = resolve_class(kind, spec["loader"])
    return cls(name=name, runtime=runtime, **spec.get("options", {}))


def display_name(registry: Mapping[str, Any], kind: str, name: str) -> str:
    return registry.get(kind, {}).get(name, {}).get("display_name", name)


def _pin(node: Any, revisions: Mapping[str, str]) -> Any:
    if isinstance(node, list):
        return [_pin(value, revisions) for value in node]
    if not isinstance(node, Mapping):
        return node
    from .lock import ID_KEYS, is_commit

    pinned = {key: _pin(value, revisions) for key, value in node.items()}
    repo = next((node[key] for key in ID_KEYS if node.get(key)), None)
    if repo in revisions and "revision" in node and not is_commit(node["revision"]):
        pinned["revision"] = revisions[repo]
    for key, value in node.items():
        role = key.removesuffix("_id")
        # a companion model (processor_id) without its own revision key loads "main"
        if key.endswith("_id") and key not in ID_KEYS and value in revisions:
            if not is_commit(node.get(f"{role}_revision")):
                pinned[f"{role}_revision"] = revisions[value]
    return pinned


def apply_lock(registry: Mapping[str, Any], revisions: Mapping[str, str]) -> dict[str, dict]:
    """A copy of ``registry`` whose branch revisions (``revision: main``) of locked hub ids
    are replaced by the locked commits; revisions already pinned to a sha are kept."""
    return {kind: {name: _pin(spec, revisions) for name, spec in entries.items()}
            for kind, entries in registry.items()}
