"""Clip augmentations: time warping, left-right mirroring and heading rotation.

Each function returns a new `Clip` (the input is not modified) with a note in its metadata.
Mirroring and heading rotation act in the world frame, so apply them to clips already brought
to their heading frame (`reference.clips.to_heading_frame`) when the result should walk along x.
"""
from __future__ import annotations

import numpy as np

from reference.clips import Clip, uniform_times, quat_mul, sample_clip, yaw_quat
from wildrobot_gym.robot import mirror_joints


def time_warp(clip: Clip, factor: float) -> Clip:
    """Play `clip` `factor` times faster (factor > 1: faster, shorter), resampled back to `clip.fps`.

    Output frame k shows the source at time k * factor / fps (linear/slerp interpolation, no
    extrapolation), so the motion's span (N-1)/fps becomes about (N-1)/(fps * factor). Intended for
    small warps (0.9 to 1.1) where the gait stays physically plausible; any factor > 0 is accepted.
    """
    factor = float(factor)
    if not np.isfinite(factor) or factor <= 0.0:
        raise ValueError(f"time_warp {clip.name!r}: factor must be a finite number > 0, got {factor}")
    span = (clip.num_frames - 1) / clip.fps
    source_times = uniform_times(span, factor / clip.fps)
    if source_times.size < 2:
        raise ValueError(f"time_warp {clip.name!r}: factor {factor} leaves fewer than 2 frames")
    pos, quat, joints = sample_clip(clip, source_times)
    meta = dict(clip.metadata, time_warp=float(factor) * float(clip.metadata.get("time_warp", 1.0)))
    return Clip(name=clip.name, fps=clip.fps, root_pos=pos, root_quat=quat, joint_pos=joints, metadata=meta)


def mirror_clip(clip: Clip) -> Clip:
    """Mirror `clip` left-right in the world x-z plane (y -> -y); applying it twice is the identity.

    Joints go through `wildrobot_gym.robot.mirror_joints` (legs swap, hip pitch/roll change sign).
    The root's y is negated and its orientation R becomes M R M with M = diag(1, -1, 1): the rotation
    axis is an axial vector, so it maps to -M axis and the quaternion (w, x, y, z) to (w, -x, y, -z).
    """
    pos = np.array(clip.root_pos, dtype=np.float64)
    pos[:, 1] *= -1.0
    quat = np.array(clip.root_quat, dtype=np.float64) * np.array([1.0, -1.0, 1.0, -1.0])
    joints = mirror_joints(np.asarray(clip.joint_pos, dtype=np.float64))
    meta = dict(clip.metadata, mirrored=not bool(clip.metadata.get("mirrored", False)))
    return Clip(name=clip.name, fps=clip.fps, root_pos=pos, root_quat=quat, joint_pos=joints, metadata=meta)


def rotate_heading(clip: Clip, delta_rad: float) -> Clip:
    """Rotate the root trajectory and orientation by `delta_rad` about the world z axis (through the origin).

    Positions (x, y) rotate about the origin (a clip in its heading frame starts there, so it turns
    in place); height and joints are unchanged; orientations are pre-multiplied by the yaw rotation.
    """
    delta = float(delta_rad)
    c, s = np.cos(delta), np.sin(delta)
    old = np.asarray(clip.root_pos, dtype=np.float64)
    pos = old.copy()
    pos[:, 0] = c * old[:, 0] - s * old[:, 1]
    pos[:, 1] = s * old[:, 0] + c * old[:, 1]
    quat = quat_mul(yaw_quat(delta), np.asarray(clip.root_quat, dtype=np.float64))
    meta = dict(clip.metadata, heading_rotated_rad=delta + float(clip.metadata.get("heading_rotated_rad", 0.0)))
    return Clip(name=clip.name, fps=clip.fps, root_pos=pos, root_quat=quat,
                joint_pos=np.array(clip.joint_pos, dtype=np.float64), metadata=meta)
