"""Local text-to-image generators on diffusers pipelines: Flux, SDXL, SD3.

Registry entries build them as ``Class(name=..., runtime=..., **options)``; the
options are the checkpoint (``model_id``, ``revision``, ``dtype``, ``variant``,
``scheduler``) plus one family-specific option each:

- Flux: ``transformer``, a bare transformer state dict from another repo that
  replaces the base transformer (DanceFlux);
- SDXL: ``long_prompts``, prompts past CLIP's 77 tokens encoded through Compel
  as the authors did (Playground v2.5 uses this class too);
- SD3: ``lora``, a LoRA merged into the transformer (SD3.5M-GenEval / -PickScore).

Pipelines that need none of these (Qwen-Image, FLUX.2-klein, Z-Image, GLM-Image,
LongCat-Image) use ``DiffusersPipelineGenerator``, which names its pipeline
class and the call arguments an entry may set in the registry entry itself:
adding such a model is a YAML entry.

Every load goes through ``from_pretrained`` / ``hf_hub_download`` with the
runtime's hub arguments, so an offline run reads the same repo ids from a cache.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any, ClassVar

from ..hub import explaining_missing, hub_file
from ..hub import resolved_revision
from ..runtime import Runtime
from .base import GenerationRequest, Generator

logger = logging.getLogger(__name__)

COMMON_SETTINGS = frozenset({"num_inference_steps", "guidance_scale", "height", "width"})
PEFT_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


class DiffusersGenerator(Generator):
    """Loads one diffusers pipeline and renders one seeded image per request."""

    pipeline_class: ClassVar[str]  # name of the diffusers pipeline class
    extra_settings: ClassVar[frozenset[str]] = frozenset()
    fixed_arguments: ClassVar[dict[str, Any]] = {}  # passed to every pipeline call; never changed in place

    def __init__(
        self,
        name: str,
        runtime: Runtime,
        model_id: str,
        revision: str = "main",
        dtype: str | None = None,
        variant: str | None = None,
        scheduler: str | None = None,
    ) -> None:
        super().__init__(name, runtime)
        self.model_id = model_id
        self.revision = revision
        self.dtype_name = dtype
        self.variant = variant
        self.device = runtime.torch_device()
        self.torch_dtype = runtime.torch_dtype(dtype)
        scheduler_class = _scheduler_class(scheduler) if scheduler is not None else None
        self._fetch_extras()
        self.pipe = self._load_pipeline(**self._pipeline_components())
        if scheduler_class is not None:
            self.pipe.scheduler = scheduler_class.from_config(self.pipe.scheduler.config)
        self.pipe.to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self._after_load()
        self._takes_negative = "negative_prompt" in inspect.signature(type(self.pipe).__call__).parameters

    # ------------------------------------------------------------ loading

    def _fetch_extras(self) -> None:
        """Download extra files before the pipeline loads, so a missing one fails fast."""

    def _pipeline_components(self) -> dict[str, Any]:
        """Components that replace the repo's own at load time (none by default)."""
        return {}

    def _after_load(self) -> None:
        """Changes to the pipeline once it sits on its device (none by default)."""

    def _load_pipeline(self, **components: Any):
        import diffusers

        pipeline_class = getattr(diffusers, self.pipeline_class)
        kwargs: dict[str, Any] = {"revision": self.revision, "dtype": self.torch_dtype}
        if self.variant is not None:
            kwargs["variant"] = self.variant
        logger.info("loading %s %s@%s (%s, %s)", self.pipeline_class, self.model_id, self.revision,
                    self.torch_dtype, self.device)
        with explaining_missing(self.runtime, self.model_id, self.revision):
            return pipeline_class.from_pretrained(
                self.model_id, **kwargs, **components, **self.runtime.hub_kwargs()
            )

    # ------------------------------------------------------------ generating

    @property
    def allowed_settings(self) -> frozenset[str]:
        return COMMON_SETTINGS | self.extra_settings

    def check_settings(self, settings: dict) -> None:
        for key in settings:
            if key not in self.allowed_settings:
                raise ValueError(
                    f"generator {self.name!r}: unknown setting {key!r}; "
                    f"allowed: {sorted(self.allowed_settings)}"
                )

    def generate(self, request: GenerationRequest):
        import torch

        self.check_settings(request.settings)
        if request.seed is None:
            raise ValueError(f"generator {self.name!r} needs a seed: local models are always seeded")
        # The initial noise is drawn on the CPU and then moved: a CPU generator gives
        # the same noise on every device, where CUDA's RNG differs from the CPU's.
        generator = torch.Generator(device="cpu").manual_seed(int(request.seed))
        with torch.inference_mode():
            prompt_kwargs = self._prompt_kwargs(request.prompt, request.negative_prompt)
            result = self.pipe(**prompt_kwargs, **self.fixed_arguments, **request.settings, generator=generator,
                               output_type="pil")
        return result.images[0]

    def _prompt_kwargs(self, prompt: str, negative_prompt: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"prompt": prompt}
        if negative_prompt is not None:
            if not self._takes_negative:
                raise ValueError(f"{self.pipeline_class} takes no negative prompt")
            kwargs["negative_prompt"] = negative_prompt
        return kwargs

    # ------------------------------------------------------------ provenance

    def provenance(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline_class,
            "model_id": self.model_id,
            "revision": self.revision,
            "resolved_revision": resolved_revision(self.runtime.cache_dir, self.model_id, self.revision),
            "dtype": str(self.torch_dtype).removeprefix("torch."),
            "requested_dtype": self.dtype_name,
            "variant": self.variant,
            "device": str(self.device),
            "scheduler": type(self.pipe.scheduler).__name__,
        }

    def _source_provenance(self, source: dict[str, Any]) -> dict[str, Any]:
        return {**source, "resolved_revision": resolved_revision(
            self.runtime.cache_dir, source["repo"], source["revision"])}


class DiffusersPipelineGenerator(DiffusersGenerator):
    """Any diffusers text-to-image pipeline, configured by its registry entry.

    Options are the checkpoint's (``model_id``, ``revision``, ``dtype``,
    ``variant``, ``scheduler``) plus:

    - ``pipeline``: the diffusers class name, e.g. ``QwenImagePipeline``;
      FLUX.2-klein loads as ``Flux2KleinPipeline``, and ``Flux2Pipeline`` (what
      the authors called on it) is the same entry with another name here;
    - ``call_arguments``: further ``__call__`` arguments the entry's settings may
      give beyond steps, guidance and size (``true_cfg_scale``,
      ``max_sequence_length``, ...);
    - ``fixed_arguments``: arguments every call gets (LongCat-Image:
      ``enable_prompt_rewrite: false``); settings may not override them;
    - ``negative_prompt``: ``false`` refuses negative prompts; by default they
      are accepted exactly when ``__call__`` has a ``negative_prompt`` argument
      (GLM-Image and FLUX.2-klein have none).

    Every name is checked against the class's ``__call__`` signature before any
    weight is read, so a misspelt entry fails at once.
    """

    def __init__(self, name: str, runtime: Runtime, model_id: str, pipeline: str,
                 call_arguments: list[str] | tuple[str, ...] = (), fixed_arguments: dict[str, Any] | None = None,
                 negative_prompt: bool | None = None, **options: Any) -> None:
        self.pipeline_class = pipeline
        parameters = _call_parameters(pipeline)
        self.extra_settings = frozenset(call_arguments)
        self.fixed_arguments = dict(fixed_arguments or {})
        unknown = sorted((COMMON_SETTINGS | self.extra_settings | set(self.fixed_arguments)) - parameters)
        if unknown:
            raise ValueError(f"generator {name!r}: {pipeline}.__call__ takes no {unknown}")
        overlap = sorted(self.extra_settings & set(self.fixed_arguments))
        if overlap:
            raise ValueError(f"generator {name!r}: {overlap} are both fixed and settable")
        if negative_prompt and "negative_prompt" not in parameters:
            raise ValueError(f"generator {name!r}: {pipeline} takes no negative prompt")
        self.negative_prompt_option = negative_prompt
        super().__init__(name, runtime, model_id, **options)
        if negative_prompt is False:
            self._takes_negative = False

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "call_arguments": sorted(self.extra_settings),
                "fixed_arguments": self.fixed_arguments, "takes_negative_prompt": self._takes_negative}


def _call_parameters(pipeline: str) -> set[str]:
    import diffusers
    from diffusers import DiffusionPipeline

    cls = getattr(diffusers, pipeline, None)
    if not (isinstance(cls, type) and issubclass(cls, DiffusionPipeline)):
        raise ValueError(f"pipeline {pipeline!r} is not a diffusers pipeline class")
    return set(inspect.signature(cls.__call__).parameters) - {"self"}


class FluxGenerator(DiffusersGenerator):
    """FluxPipeline; ``transformer={repo, filename, revision}`` swaps in a fine-tuned transformer."""

    pipeline_class = "FluxPipeline"
    extra_settings = frozenset({"max_sequence_length"})

    def __init__(self, name: str, runtime: Runtime, model_id: str, transformer: dict | None = None,
                 **options: Any) -> None:
        self.transformer_source = _source(transformer, ("repo", "filename"), "transformer")
        super().__init__(name, runtime, model_id, **options)

    def _pipeline_components(self) -> dict[str, Any]:
        if self.transformer_source is None:
            return {}
        return {"transformer": self._load_transformer_file(self.transformer_source)}

    def _load_transformer_file(self, source: dict[str, Any]):
        """A transformer with the base repo's config and the weights of one safetensors file.

        Built on the meta device and filled by assignment, so the base repo's own
        transformer weights are never read and no random init is paid for.
        """
        from accelerate import init_empty_weights
        from diffusers import FluxTransformer2DModel
        from safetensors.torch import load_file

        config_path = hub_file(self.runtime, self.model_id, self.revision, "transformer/config.json")
        path = hub_file(self.runtime, source["repo"], source["revision"], source["filename"])
        logger.info("replacing the %s transformer with %s", self.model_id, path)
        with init_empty_weights():
            transformer = FluxTransformer2DModel.from_config(
                FluxTransformer2DModel.load_config(Path(config_path).parent)
            )
        state = load_file(path)
        _check_state_dict(transformer, state, f"{source['repo']}/{source['filename']}", self.model_id)
        for key in list(state):  # one tensor at a time: a 12B-parameter file is not held twice
            state[key] = state.pop(key).to(self.torch_dtype)
        transformer.load_state_dict(state, strict=True, assign=True)
        return transformer.eval()

    def provenance(self) -> dict[str, Any]:
        record = super().provenance()
        if self.transformer_source is not None:
            record["transformer"] = self._source_provenance(self.transformer_source)
        return record


class StableDiffusionXLGenerator(DiffusersGenerator):
    """StableDiffusionXLPipeline (SDXL, Playground v2.5).

    With ``long_prompts`` every prompt goes through Compel's SDXL wrapper, as in
    the authors' code: both CLIP encoders read the whole text in 75-token chunks
    and the pooled embedding comes from the second encoder's first 77 tokens;
    on short prompts this equals the pipeline's own encoding. Without it the
    pipeline truncates at 77 tokens. Compel also reads its weighting syntax
    ("word++", "(a b)-"), as it did for the authors.
    """

    pipeline_class = "StableDiffusionXLPipeline"

    def __init__(self, name: str, runtime: Runtime, model_id: str, long_prompts: bool = True,
                 **options: Any) -> None:
        self.long_prompts = long_prompts
        super().__init__(name, runtime, model_id, **options)

    def _after_load(self) -> None:
        self.compel = None
        if self.long_prompts:
            from compel import CompelForSDXL

            self.compel = CompelForSDXL(self.pipe)

    def _prompt_kwargs(self, prompt: str, negative_prompt: str | None) -> dict[str, Any]:
        if self.compel is None:
            return super()._prompt_kwargs(prompt, negative_prompt)
        conditioning = self.compel(prompt, negative_prompt=negative_prompt)
        kwargs = {"prompt_embeds": conditioning.embeds, "pooled_prompt_embeds": conditioning.pooled_embeds}
        if negative_prompt is not None:
            kwargs["negative_prompt_embeds"] = conditioning.negative_embeds
            kwargs["negative_pooled_prompt_embeds"] = conditioning.negative_pooled_embeds
        return kwargs

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "long_prompts": self.long_prompts}


class StableDiffusion3Generator(DiffusersGenerator):
    """StableDiffusion3Pipeline; ``lora={repo, revision, scale, format, weight_name}`` merges a LoRA.

    ``format: peft`` (the default) reads a PEFT adapter folder, the layout of the
    Flow-GRPO releases, and merges it as the authors did (``PeftModel`` then
    ``merge_and_unload``); ``format: diffusers`` reads a diffusers LoRA file
    through ``load_lora_weights`` and fuses it. The two are not interchangeable:
    ``load_lora_weights`` finds no keys in a PEFT adapter and would change nothing.
    """

    pipeline_class = "StableDiffusion3Pipeline"
    extra_settings = frozenset({"max_sequence_length"})

    def __init__(self, name: str, runtime: Runtime, model_id: str, lora: dict | None = None,
                 **options: Any) -> None:
        self.lora_source = _source(lora, ("repo",), "lora", defaults={"scale": 1.0, "format": "peft"})
        if self.lora_source is not None and self.lora_source["format"] not in ("peft", "diffusers"):
            raise ValueError(f"lora format {self.lora_source['format']!r}: use 'peft' or 'diffusers'")
        self.lora_file: Path | None = None
        super().__init__(name, runtime, model_id, **options)

    def _fetch_extras(self) -> None:
        if self.lora_source is None:
            return
        from diffusers.loaders.lora_base import LORA_WEIGHT_NAME_SAFE

        source = self.lora_source
        # A PEFT adapter is a config next to its weights; diffusers' file name can only be
        # guessed online, so it is fetched here by its default name.
        names = PEFT_ADAPTER_FILES if source["format"] == "peft" else (
            source.get("weight_name") or LORA_WEIGHT_NAME_SAFE,)
        paths = [Path(hub_file(self.runtime, source["repo"], source["revision"], name)) for name in names]
        self.lora_file = paths[-1]  # the weights; a PEFT adapter's config lies beside them

    def _after_load(self) -> None:
        if self.lora_source is None:
            return
        if self.lora_source["format"] == "peft":
            self._merge_peft_lora(self.lora_source)
        else:
            self._fuse_diffusers_lora(self.lora_source)

    def _merge_peft_lora(self, source: dict[str, Any]) -> None:
        from peft import PeftModel
        from peft.tuners.lora import LoraLayer

        adapter = PeftModel.from_pretrained(self.pipe.transformer, self.lora_file.parent)
        for module in adapter.modules():
            if isinstance(module, LoraLayer):
                module.set_scale("default", float(source["scale"]))
        self.pipe.transformer = adapter.merge_and_unload()
        logger.info("merged PEFT LoRA %s (scale %s)", source["repo"], source["scale"])

    def _fuse_diffusers_lora(self, source: dict[str, Any]) -> None:
        self.pipe.load_lora_weights(self.lora_file.parent, weight_name=self.lora_file.name)
        if not getattr(self.pipe.transformer, "peft_config", None):
            raise ValueError(
                f"LoRA {source['repo']} holds no diffusers-format transformer weights; "
                "for a PEFT adapter (adapter_config.json) set format: peft"
            )
        self.pipe.fuse_lora(lora_scale=float(source["scale"]))
        self.pipe.unload_lora_weights()
        logger.info("fused diffusers LoRA %s (scale %s)", source["repo"], source["scale"])

    def provenance(self) -> dict[str, Any]:
        record = super().provenance()
        if self.lora_source is not None:
            record["lora"] = self._source_provenance(self.lora_source)
        return record


def _source(value: dict | None, required: tuple[str, ...], option: str,
            defaults: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Validate a ``{repo, ..., revision}`` option; None stays None."""
    if value is None:
        return None
    missing = [key for key in required if key not in value]
    if missing:
        raise ValueError(f"option {option!r} lacks {missing}; got {sorted(value)}")
    return {"revision": "main", **(defaults or {}), **value}


def _scheduler_class(name: str):
    import diffusers
    from diffusers import SchedulerMixin

    scheduler = getattr(diffusers, name, None)
    if not (isinstance(scheduler, type) and issubclass(scheduler, SchedulerMixin)):
        raise ValueError(f"scheduler {name!r} is not a diffusers scheduler class")
    return scheduler


def _check_state_dict(model, state: dict, source: str, base: str) -> None:
    """Raise, naming the keys, unless ``state`` fits ``model`` exactly (names and shapes)."""
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    wrong_shape = sorted(k for k in expected.keys() & state.keys() if tuple(state[k].shape) != expected[k])
    if missing or unexpected or wrong_shape:
        problems = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape)):
            if keys:
                problems.append(f"{len(keys)} {label} (e.g. {keys[:3]})")
        raise ValueError(
            f"{source} does not fit the transformer of {base}: " + "; ".join(problems)
            + ". It must be a diffusers-format state dict of the same architecture."
        )
