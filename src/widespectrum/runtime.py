"""Where and how models run: device, dtype, Hugging Face cache, threads.

One ``Runtime`` is built per job from the run config and handed to every
loader, so no loader reads environment variables or global state itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Runtime:
    device: str = "auto"  # auto: cuda when available, else cpu
    cache_dir: str | None = None  # Hugging Face hub cache; None: the library default
    offline: bool = False  # never reach a hub; load only what the cache holds
    threads: int | None = None  # CPU threads for torch; None: leave torch's default

    @classmethod
    def from_config(cls, config: dict, threads: int | None = None) -> "Runtime":
        hub = config.get("hub", {})
        return cls(
            device=config.get("device", "auto"),
            cache_dir=hub.get("cache_dir"),
            offline=bool(hub.get("offline", False)),
            threads=threads,
        )

    def torch_device(self):
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def torch_dtype(self, name: str | None):
        """The dtype a checkpoint should load in on this device.

        Checkpoints name the dtype they were run in (fp16, bf16); on CPU those are
        slow and lose precision, so CPU runs use float32.
        """
        import torch

        if name is None:
            return torch.float32
        dtype = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
                 "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}[name]
        if self.torch_device().type == "cpu":
            return torch.float32
        return dtype

    def hub_kwargs(self) -> dict:
        """Keyword arguments for every ``from_pretrained`` / ``hf_hub_download`` call."""
        kwargs: dict = {}
        if self.cache_dir:
            kwargs["cache_dir"] = os.fspath(self.cache_dir)
        if self.offline:
            kwargs["local_files_only"] = True
        return kwargs
