"""Checks: trackability of a clip.

Trackability (`track_clip`): plays a clip on the model with PD servos only (no harness, qpos never
overwritten) and reports survival time, achieved speed and actuator saturation.
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from reference.clips import Clip
from reference.gait.model import GaitModel


@dataclass(frozen=True)
class TrackResult:
    """Open-loop PD tracking of one clip (no harness)."""

    name: str
    duration_s: float
    survived_s: float
    fell: bool
    planned_speed: float
    achieved_speed: float  # mean forward root speed over the walking window (up to a fall)
    saturation: float  # fraction of actuator substeps at the torque limit
    max_abs_roll_deg: float
    max_abs_pitch_deg: float


def _roll_pitch(quat: np.ndarray) -> tuple[float, float]:
    w, x, y, z = quat
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    return float(roll), float(pitch)


def track_clip(clip: Clip, gm: GaitModel | None = None, substeps: int = 10, min_height: float = 0.25,
               max_tilt_deg: float = 45.0) -> TrackResult:
    """Play `clip` with PD servos only: ctrl = joint targets, `substeps` physics steps per frame.

    Starts from the first frame as qpos with zero velocity and never writes qpos again. A fall is
    root height < `min_height` or |roll| or |pitch| > `max_tilt_deg`.
    """
    gm = gm if gm is not None else GaitModel()
    m = gm.model
    d = mujoco.MjData(m)
    spec = gm.spec
    d.qpos[:3] = clip.root_pos[0]
    d.qpos[3:7] = clip.root_quat[0]
    d.qpos[spec.joint_qpos_adr] = clip.joint_pos[0]
    d.qvel[:] = 0.0
    mujoco.mj_forward(m, d)
    limit = m.actuator_forcerange[:, 1]
    dt_frame = 1.0 / clip.fps
    sat = 0
    total = 0
    fell = False
    t_fall = clip.duration
    xs = np.zeros(clip.num_frames)
    max_roll = max_pitch = 0.0
    for k in range(clip.num_frames):
        d.ctrl[:] = np.clip(clip.joint_pos[k], m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1])
        for _ in range(substeps):
            mujoco.mj_step(m, d)
            sat += int(np.sum(np.abs(d.actuator_force) >= limit - 1e-6))
            total += m.nu
        xs[k] = d.qpos[0]
        roll, pitch = _roll_pitch(d.qpos[3:7])
        max_roll, max_pitch = max(max_roll, abs(roll)), max(max_pitch, abs(pitch))
        if d.qpos[2] < min_height or max(abs(roll), abs(pitch)) > np.radians(max_tilt_deg):
            fell = True
            t_fall = (k + 1) * dt_frame
            break
    t0 = float(clip.metadata.get("walk_start_s", 0.0))
    t1 = min(float(clip.metadata.get("walk_end_s", clip.duration)), t_fall)
    k0, k1 = int(round(t0 * clip.fps)), max(int(round(t1 * clip.fps)) - 1, 0)
    speed = float((xs[k1] - xs[k0]) / max(t1 - t0, 1e-9)) if k1 > k0 else 0.0
    return TrackResult(
        name=clip.name,
        duration_s=clip.duration,
        survived_s=t_fall,
        fell=fell,
        planned_speed=float(clip.metadata.get("speed", np.nan)),
        achieved_speed=speed,
        saturation=sat / max(total, 1),
        max_abs_roll_deg=float(np.degrees(max_roll)),
        max_abs_pitch_deg=float(np.degrees(max_pitch)),
    )
