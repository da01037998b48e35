"""Clip variants and preconditioning: `apply_variant` (time warp, mirror, heading), `precondition_clip` /
`precondition_joints` (with `_gaussian_smooth`), and `clip_timeline`: one clip and variant as the looped
reference that `rollout_clip` tracks and the learned tracker trains on.

Preconditioning
---------------
``generation.precondition`` (``precondition_clip``), applied before the variants and the loop, to
retargeted pickles only by default: a Gaussian low-pass of the joints and a clip to each range
shrunk by ``limit_margin`` (limit-clamped runs leave the balance feedback no room); optionally a
minimum knee bend (hip and ankle share it) and a slower playback. ``forward_progress`` (harness.py) measures the
walking the tracked robot does by itself between restarts.
"""
from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from reference.clips import Clip
from reference.rollout.config import GenerationConfig, PreconditionConfig
from reference.rollout.timeline import Timeline, build_timeline
from wildrobot_gym.robot import RobotSpec


# ----------------------------------------------------------------------------------------------
# Variants
# ----------------------------------------------------------------------------------------------
def apply_variant(clip: Clip, variant: dict, fps: float) -> Clip:
    """The clip augmented as `variant` says (time warp, mirror, heading), back at `fps`."""
    from reference import augment  # the augmentation module of the clip package
    from reference.clips import resample

    out = clip
    if variant.get("time_warp", 1.0) != 1.0:
        out = augment.time_warp(out, float(variant["time_warp"]))
    if variant.get("mirror", False):
        out = augment.mirror_clip(out)
    if variant.get("heading_deg", 0.0) != 0.0:
        out = augment.rotate_heading(out, math.radians(float(variant["heading_deg"])))
    if abs(out.fps - fps) > 1e-6:
        out = resample(out, fps)
    return out


def _gaussian_smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Low-pass each column of `x` (T, k) with a Gaussian of `sigma_frames`, edges padded by reflection."""
    if sigma_frames <= 0 or len(x) < 3:
        return x.copy()
    r = int(math.ceil(3 * sigma_frames))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma_frames) ** 2)
    k /= k.sum()
    pad = np.pad(x, ((r, r), (0, 0)), mode="reflect" if len(x) > r else "edge")
    return np.stack([np.convolve(pad[:, j], k, mode="valid") for j in range(x.shape[1])], axis=1)


def precondition_joints(joints: np.ndarray, cfg: PreconditionConfig, joint_range: np.ndarray,
                        fps: float) -> np.ndarray:
    """Repair limit-clamped, stiff-kneed joint targets (T, 8); the result lies within the ranges.

    Why: retargeted human clips sit exactly on joint limits for long runs (a servo target on its
    stop has no room for the balance feedback) and keep the knees straight (a straight-legged
    robot has no vertical compliance: every touchdown is an impact). Steps: Gaussian smoothing
    (rounds the clamped corners), a minimum knee bend shared by the hip (flexion, +/- per leg)
    and the ankle (dorsiflexion) so that the sole keeps its pitch and stays under the hip, then
    a clip to each range shrunk by `limit_margin`.
    """
    out = _gaussian_smooth(np.asarray(joints, dtype=np.float64), cfg.smooth_s * fps)
    for hip, knee, ankle, flex_sign in ((0, 2, 3, 1.0), (4, 6, 7, -1.0)):
        extra = np.maximum(cfg.knee_min - out[:, knee], 0.0)
        out[:, knee] += extra
        out[:, hip] += flex_sign * 0.5 * extra
        out[:, ankle] -= 0.5 * extra
    lo = joint_range[:, 0] + cfg.limit_margin
    hi = joint_range[:, 1] - cfg.limit_margin
    mid = 0.5 * (joint_range[:, 0] + joint_range[:, 1])
    return np.clip(out, np.minimum(lo, mid), np.maximum(hi, mid))


def precondition_clip(clip: Clip, cfg: PreconditionConfig, joint_range: np.ndarray) -> Clip:
    """`clip` with `precondition_joints` applied and time-warped by cfg.time_warp, if cfg.mode selects it."""
    from reference import augment

    retargeted = clip.metadata.get("source_format") == "retargeted_pickle"
    if cfg.mode == "off" or (cfg.mode == "retargeted" and not retargeted):
        return clip
    out = Clip(clip.name, clip.fps, np.array(clip.root_pos, dtype=np.float64), np.array(clip.root_quat),
               precondition_joints(clip.joint_pos, cfg, joint_range, clip.fps),
               dict(clip.metadata, preconditioned=dataclasses.asdict(cfg)))
    return augment.time_warp(out, cfg.time_warp) if cfg.time_warp != 1.0 else out


def clip_timeline(model: mujoco.MjModel, clip: Clip, cfg: GenerationConfig, variant: dict | None = None,
                  spec: RobotSpec | None = None) -> Timeline:
    """The looped reference of one clip (at cfg.fps, heading frame) and variant: preconditioned, augmented,
    looped with blends (what `rollout_clip` tracks and the learned tracker trains on)."""
    variant = variant or {"name": "base"}
    clip = precondition_clip(clip, cfg.precondition, model.actuator_ctrlrange)
    augmented = apply_variant(clip, variant, cfg.fps) if len(variant) > 1 else clip
    return build_timeline(model, augmented, cfg, spec)
