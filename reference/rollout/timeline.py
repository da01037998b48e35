"""The reference timeline: a clip looped with neutral blends (`Timeline`, `build_timeline`), its
velocities (`reference_velocities`), the quaternion helpers and the sole pads' heights
(`standing_height`, `lowest_pad_z`, `pad_bottom_z`).

Timeline
--------
``[clip][blend][clip][blend]...[clip]``. A blend of ``blend_time`` seconds goes linearly from the
clip's last pose to the neutral pose (reached exactly at the blend's middle) and on toward the
clip's first pose. Successive cycles are chained in the plane (x, y, yaw): cycle c + 1 starts
where cycle c ended, so a walking clip keeps walking forward.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from reference.clips import Clip
from reference.rollout.config import GenerationConfig
from wildrobot_gym.robot import RobotSpec


# ----------------------------------------------------------------------------------------------
# Reference timeline
# ----------------------------------------------------------------------------------------------
@dataclass
class Timeline:
    """The looped reference: per-frame target joints and reference state (qpos, qvel)."""

    fps: float
    qpos: np.ndarray  # (T, 15) reference root pose + joints
    qvel: np.ndarray  # (T, 14) finite differences of qpos
    in_blend: np.ndarray  # (T,) bool
    cycle: np.ndarray  # (T,) int, -1 in blends

    @property
    def joint_pos(self) -> np.ndarray:
        return self.qpos[:, 7:]

    def __len__(self) -> int:
        return int(self.qpos.shape[0])


def _yaw_of(quat: np.ndarray) -> float:
    w, x, y, z = quat
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _quat_yaw(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty(4)
    mujoco.mju_mulQuat(out, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return out


def _nlerp(a: np.ndarray, b: np.ndarray, u: float) -> np.ndarray:
    if np.dot(a, b) < 0:  # same rotation, shorter path
        b = -b
    q = (1 - u) * a + u * b
    return q / np.linalg.norm(q)


def standing_height(model: mujoco.MjModel, spec: RobotSpec, joints: np.ndarray) -> float:
    """Root height at which the lowest pad of an upright robot in pose `joints` touches the floor."""
    qpos = spec.home_qpos.copy()
    qpos[:3] = (0.0, 0.0, 0.0)
    qpos[3:7] = (1.0, 0.0, 0.0, 0.0)
    qpos[spec.joint_qpos_adr] = joints
    return -lowest_pad_z(model, spec, qpos)


def lowest_pad_z(model: mujoco.MjModel, spec: RobotSpec, qpos: np.ndarray,
                 data: mujoco.MjData | None = None) -> float:
    """Height of the lowest corner of the four sole pads (boxes) for `qpos` (kinematics only)."""
    return float(np.min(pad_bottom_z(model, spec, qpos, data)))


def pad_bottom_z(model: mujoco.MjModel, spec: RobotSpec, qpos: np.ndarray,
                 data: mujoco.MjData | None = None) -> np.ndarray:
    """(4,) height of each sole pad's lowest corner (PAD_NAMES order) for `qpos` (kinematics only)."""
    data = data if data is not None else mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)
    g = spec.pad_geoms
    # A box's lowest corner lies sum_k |R[2, k]| * half_size_k below its centre.
    rz = data.geom_xmat[g].reshape(-1, 3, 3)[:, 2, :]
    return data.geom_xpos[g, 2] - np.abs(rz * model.geom_size[g]).sum(axis=1)


def build_timeline(model: mujoco.MjModel, clip: Clip, cfg: GenerationConfig,
                   spec: RobotSpec | None = None) -> Timeline:
    """Loop `clip` (must be at cfg.fps) with neutral blends; chain cycles in (x, y, yaw)."""
    spec = spec or RobotSpec.from_model(model)
    if abs(clip.fps - cfg.fps) > 1e-6:
        raise ValueError(f"clip {clip.name!r}: fps {clip.fps}, expected {cfg.fps} (resample first)")
    n = clip.num_frames
    if n < 2:
        raise ValueError(f"clip {clip.name!r}: needs at least 2 frames, has {n}")
    nb = int(round(cfg.blend_time * cfg.fps))
    cycles = cfg.cycles if cfg.cycles is not None else max(
        1, math.ceil(cfg.duration_s * cfg.fps / (n + nb)) if cfg.duration_s > 0 else 1)
    neutral = np.asarray(cfg.neutral_pose, dtype=np.float64)
    neutral_h = standing_height(model, spec, neutral)
    root_pos = np.asarray(clip.root_pos, dtype=np.float64)
    root_quat = np.asarray(clip.root_quat, dtype=np.float64)
    root_quat = root_quat / np.linalg.norm(root_quat, axis=1, keepdims=True)
    joints = np.asarray(clip.joint_pos, dtype=np.float64)

    # Each cycle turns the heading by the clip's own yaw change (a curving clip keeps curving).
    yaw0, yaw1 = _yaw_of(root_quat[0]), _yaw_of(root_quat[-1])
    step_yaw = yaw1 - yaw0

    rows_q: list[np.ndarray] = []
    in_blend: list[bool] = []
    cyc: list[int] = []
    off_xy, off_yaw = np.zeros(2), 0.0  # the world transform applied to the current cycle

    def place(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply the cycle's planar transform: rotate by off_yaw about the clip's start, then shift."""
        c, s = math.cos(off_yaw), math.sin(off_yaw)
        rel = p[:2] - root_pos[0, :2]
        xy = root_pos[0, :2] + off_xy + np.array([c * rel[0] - s * rel[1], s * rel[0] + c * rel[1]])
        return np.array([xy[0], xy[1], p[2]]), _quat_mul(_quat_yaw(off_yaw), q)

    for c in range(cycles):
        for i in range(n):
            p, q = place(root_pos[i], root_quat[i])
            rows_q.append(np.concatenate([p, q, joints[i]]))
            in_blend.append(False)
            cyc.append(c)
        if c == cycles - 1:
            break
        end_p, end_q = place(root_pos[-1], root_quat[-1])
        # Next cycle's transform: its first frame lands on this cycle's last frame (x, y, yaw).
        off_xy = end_p[:2] - root_pos[0, :2]
        off_yaw = off_yaw + step_yaw
        start_p, start_q = place(root_pos[0], root_quat[0])
        neutral_q = _quat_yaw(_yaw_of(end_q))
        n_out = (nb + 1) // 2  # frames going to neutral; the last of them IS the neutral pose
        n_in = nb - n_out
        for k in range(1, n_out + 1):
            u = k / n_out
            z = (1 - u) * end_p[2] + u * neutral_h
            rows_q.append(np.concatenate([[end_p[0], end_p[1], z], _nlerp(end_q, neutral_q, u),
                                          (1 - u) * joints[-1] + u * neutral]))
            in_blend.append(True)
            cyc.append(-1)
        for k in range(1, n_in + 1):
            u = k / (n_in + 1)
            z = (1 - u) * neutral_h + u * start_p[2]
            xy = (1 - u) * end_p[:2] + u * start_p[:2]
            rows_q.append(np.concatenate([[xy[0], xy[1], z], _nlerp(neutral_q, start_q, u),
                                          (1 - u) * neutral + u * joints[0]]))
            in_blend.append(True)
            cyc.append(-1)

    qpos = np.array(rows_q)
    return Timeline(fps=cfg.fps, qpos=qpos, qvel=reference_velocities(model, qpos, cfg.fps),
                    in_blend=np.array(in_blend), cycle=np.array(cyc))


def reference_velocities(model: mujoco.MjModel, qpos: np.ndarray, fps: float) -> np.ndarray:
    """qvel of a qpos sequence by central differences (one-sided at the ends), MuJoCo conventions."""
    t = qpos.shape[0]
    qvel = np.zeros((t, model.nv))
    if t < 2:
        return qvel
    for i in range(t):
        a, b = max(i - 1, 0), min(i + 1, t - 1)
        # mj_differentiatePos handles the free joint: world linear velocity, body angular velocity.
        mujoco.mj_differentiatePos(model, qvel[i], (b - a) / fps, qpos[a], qpos[b])
    return qvel
