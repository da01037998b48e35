"""The tracker's training references: every clip x every variant, looped exactly as generation loops them.

Clips: the library (``reference.clips_dir``, default wildrobot_gym/assets/clips) plus
``reference.human_like_clips`` synthetic retargeted-like stand-ins (`reference.human_like.synthesize`,
written as pickles to a temporary folder and read back through the clip loader, like a user's clips).
Every clip goes through what `reference.generate` does to it: admission limits, resampling to 50 Hz,
the heading frame (`generate.prepare_clips`), then per variant the preconditioning (retargeted pickles
only, by default), the augmentation and the loop with neutral blends (`rollout.clip_timeline`, with the
``generation:`` section of reference.yaml and ``timeline_seconds`` as the looped length).

Built once per process and kept (`training_references`): every env of a worker shares it.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import mujoco

from reference.clips import Clip
from reference.rollout import GenerationConfig, Timeline, clip_timeline, load_generation_config
from reference.tracker.reference_track import ReferenceTrack
from wildrobot_gym.config.reference import DEFAULT_REFERENCE_CONFIG
from wildrobot_gym.paths import CLIP_LIBRARY
from wildrobot_gym.robot import RobotSpec


@dataclass
class TrainingReference:
    """One looped reference the tracker trains on."""

    clip: str
    variant: str
    timeline: Timeline
    track: ReferenceTrack
    source: str = "clips"  # "clips" (the clip folder) or "human_like" (the synthetic stand-ins)


def generation_config(ref_cfg: Mapping[str, Any]) -> GenerationConfig:
    """The ``generation:`` settings the training timelines are built with (blend, neutral pose,
    preconditioning: generation's own), looped for ``timeline_seconds``."""
    path = ref_cfg.get("generation_config") or DEFAULT_REFERENCE_CONFIG
    return load_generation_config(path, {"duration_s": float(ref_cfg["timeline_seconds"]), "cycles": None})


def training_clips(ref_cfg: Mapping[str, Any], gen: GenerationConfig) -> list[tuple[Clip, str]]:
    """(clip, source) of the ``reference:`` section at gen.fps in their heading frame (bad files are skipped);
    source is "clips" for the clip folder's, "human_like" for the synthetic stand-ins."""
    from reference.generate import clip_limits, prepare_clips
    from reference.human_like import synthesis_options, synthesize

    limits = clip_limits(gen)
    wanted = ref_cfg.get("clips")  # null: every clip of the folder; []: none (the stand-ins alone)
    clips = [] if wanted == [] else prepare_clips(ref_cfg.get("clips_dir") or CLIP_LIBRARY, gen.fps, limits)[0]
    if wanted is not None:
        names = set(wanted)
        clips = [c for c in clips if c.name in names]
    out = [(c, "clips") for c in clips]
    n = int(ref_cfg.get("human_like_clips", 0))
    if n > 0:
        with tempfile.TemporaryDirectory(prefix="tracker_human_like_") as tmp:
            synthesize(tmp, n, float(ref_cfg["human_like_seconds"]), int(ref_cfg["human_like_seed"]),
                       **synthesis_options(ref_cfg.get("human_like_variety", "default")))
            human, _ = prepare_clips(Path(tmp), gen.fps, limits)
        out += [(c, "human_like") for c in human]
    if not out:
        raise ValueError(f"reference: no usable clip (clips_dir {ref_cfg.get('clips_dir') or CLIP_LIBRARY}, "
                         f"clips {ref_cfg.get('clips')}, human_like_clips {n})")
    return out


def build_references(model: mujoco.MjModel, spec: RobotSpec, ref_cfg: Mapping[str, Any],
                     env_cfg: Mapping[str, Any]) -> list[TrainingReference]:
    """Every clip x variant of the config as a looped timeline with its `ReferenceTrack`."""
    gen = generation_config(ref_cfg)
    out = []
    for clip, source in training_clips(ref_cfg, gen):
        for variant in ref_cfg["variants"]:
            timeline = clip_timeline(model, clip, gen, dict(variant), spec)
            track = ReferenceTrack.from_timeline(model, spec, timeline, **ReferenceTrack.options(env_cfg))
            out.append(TrainingReference(clip.name, str(variant["name"]), timeline, track, source))
    return out


_CACHE: dict[str, list[TrainingReference]] = {}


def training_references(model: mujoco.MjModel, spec: RobotSpec, ref_cfg: Mapping[str, Any],
                        env_cfg: Mapping[str, Any]) -> list[TrainingReference]:
    """`build_references`, built once per process for a given configuration and shared by its envs."""
    key = json.dumps([dict(ref_cfg), ReferenceTrack.options(env_cfg)], sort_keys=True, default=str)
    if key not in _CACHE:
        _CACHE[key] = build_references(model, spec, ref_cfg, env_cfg)
    return _CACHE[key]
