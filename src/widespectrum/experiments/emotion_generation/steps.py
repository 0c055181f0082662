"""E6 generation: the prompts to render (templates file or released set) and the face-crop scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ... import contracts
from ...config import resolve_path
from ..common import released_table, render_prompts
from ..emotion.measure import emotion_generation_prompts, load_emotion_templates, score_faces
from . import build_cropper
from .released import emotion_generation_prompts as released_prompts


def build_prompts(config: Mapping, spec: Mapping) -> pd.DataFrame:
    if spec["source"] == "templates_file":
        templates = load_emotion_templates(resolve_path(spec["templates_file"]))
        frame = emotion_generation_prompts(templates[:spec["n_templates"]] if spec.get("n_templates") else templates)
    else:
        released = released_prompts(released_table(config, spec["released"]))
        keep = list(dict.fromkeys(released["template_id"]))[:spec.get("n_templates") or None]
        rows = [{"prompt_id": f"t{row.template_id}-{row.emotion}", "caption_id": f"t{row.template_id}",
                 "prompt": row.prompt, "seed_key": f"t{row.template_id}", "template_id": f"t{row.template_id}",
                 "emotion": row.emotion, "prompt_template": row.prompt_template}
                for row in released.itertuples(index=False) if row.template_id in keep]
        frame = render_prompts(rows, rewriter=f"released:{spec['released']['dataset']}")
    return with_reference_images(frame, spec.get("reference_images"))


def with_reference_images(frame: pd.DataFrame, references: Sequence[str] | None) -> pd.DataFrame:
    """Template i gets references[i mod n], so a template's four emotions start from one picture."""
    if not references:
        return frame
    resolved = [str(resolve_path(r)) if resolve_path(r).is_file() else r for r in references]
    order = {template: i for i, template in enumerate(dict.fromkeys(frame["caption_id"]))}
    return frame.assign(reference_image=[resolved[order[t] % len(resolved)] for t in frame["caption_id"]])


def score(spec: Mapping, model, runtime, run_dir: Path, prompts: pd.DataFrame, manifests: Mapping):
    cropper = build_cropper(spec["cropper"], runtime)
    frame = contracts.concat_validated(
        [score_faces(model, cropper, manifests[g], prompts, run_dir) for g in sorted(manifests)],
        contracts.FACE_SCORES)
    return frame, contracts.FACE_SCORES, {"cropper": {"name": cropper.name, **cropper.provenance()}}
