"""The tracker's observation: what the robot measures, the reference's upcoming frames, the phase, and
simulation-only (privileged) entries. One definition, used by `TrackingEnv` in training and by the learned
tracker in generation (`reference.tracker.controller`), so both see the same vector.

Layout (`obs_layout`; t is the frame of the current state, T the timeline length, t + k clamped to T - 1):

====================  =========  =====================================================================
name                  size       meaning
====================  =========  =====================================================================
up_vector             3          world z axis in the body frame (gravity direction, IMU orientation)
gyro                  3          chest IMU angular velocity, rad/s
joint_pos             8          joint angles, rad (servo encoders)
joint_vel             8          joint velocities, rad/s
prev_action           8          the last action (residual units)
ref_joints            8 x K      reference joint angles at t + k for k in env.ref_joint_offsets, rad
ref_joint_error       8          reference joints at t + 1 minus joint_pos, rad
ref_velocity          3 x Kv     reference forward / lateral root velocity (its heading frame, m/s) and
                                 yaw rate (rad/s) at t + k for k in env.ref_velocity_offsets
ref_height            1          reference root height (lowest pad on the floor) at t + 1, m
ref_roll_pitch        2          reference root roll and pitch at t + 1, rad
ref_contact           2          reference foot contact (left, right) at t + 1, 0/1
phase                 3          sin and cos of 2 pi x phase at t + 1 (position in clip + blend), in_blend
root_velocity         3          PRIVILEGED: forward, lateral (own heading frame) and vertical root velocity, m/s
root_height           1          PRIVILEGED: root height, m
tracking_error        4          PRIVILEGED: root position error (forward, lateral, in the anchored
                                 reference's heading frame, m), heading error (rad), height error (m)
====================  =========  =====================================================================

`ObservationWriter.write_arrays` is the one definition, for one env or for a batch (every state array with a
leading env axis, `reference.tracker.batch_env`); `write` is its single-env form.

The privileged entries are flagged as `wildrobot_gym.env.OBS_LAYOUT` flags its own, but the tracker's actor
and critic both see every entry (``ppo.actor_inputs: all``): the tracker runs in simulation only, to
generate reference data, and is never deployed.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from reference.tracker.reference_track import Anchor, ReferenceTrack
from wildrobot_gym.robot import NUM_JOINTS, RobotSpec


def obs_layout(env_cfg: Mapping[str, Any]) -> tuple[tuple[str, int, bool], ...]:
    """(name, size, privileged) of each observation entry, in order (module docstring)."""
    k, kv = len(env_cfg["ref_joint_offsets"]), len(env_cfg["ref_velocity_offsets"])
    return (
        ("up_vector", 3, False), ("gyro", 3, False), ("joint_pos", NUM_JOINTS, False),
        ("joint_vel", NUM_JOINTS, False), ("prev_action", NUM_JOINTS, False),
        ("ref_joints", NUM_JOINTS * k, False), ("ref_joint_error", NUM_JOINTS, False),
        ("ref_velocity", 3 * kv, False), ("ref_height", 1, False), ("ref_roll_pitch", 2, False),
        ("ref_contact", 2, False), ("phase", 3, False),
        ("root_velocity", 3, True), ("root_height", 1, True), ("tracking_error", 4, True),
    )


def obs_dim(env_cfg: Mapping[str, Any]) -> int:
    return sum(size for _, size, _ in obs_layout(env_cfg))


def robot_yaw(xmat_root: np.ndarray):
    """Heading of the root (ZYX yaw) from its row-major rotation matrix (9 numbers, or (N, 9): (N,))."""
    r = xmat_root.T
    return np.arctan2(r[3], r[0])


class ObservationWriter:
    """Fills observation vectors in `obs_layout` order from MuJoCo state and a `ReferenceTrack`: one
    (`write`) or a batch's (`write_arrays`, every argument with a leading env axis), with one definition."""

    def __init__(self, spec: RobotSpec, env_cfg: Mapping[str, Any]) -> None:
        self.spec = spec
        self.joint_offsets = np.asarray(env_cfg["ref_joint_offsets"], dtype=np.int64)
        self.vel_offsets = np.asarray(env_cfg["ref_velocity_offsets"], dtype=np.int64)
        self.dim = obs_dim(env_cfg)
        self.slices: dict[str, slice] = {}
        i = 0
        for name, size, _ in obs_layout(env_cfg):
            self.slices[name] = slice(i, i + size)
            i += size
        s = self.slices
        self._rj, self._rv = s["ref_joints"], s["ref_velocity"]
        self._tail = s["ref_height"].start  # ref_height .. tracking_error: 16 contiguous entries
        # `write_arrays` uses fixed offsets for speed; they must agree with obs_layout.
        assert (s["up_vector"], s["joint_vel"], s["prev_action"]) == (slice(0, 3), slice(14, 22), slice(22, 30))
        assert s["ref_joint_error"].start == self._rj.stop and self._tail + 16 == self.dim

    def write(self, o: np.ndarray, xmat_root: np.ndarray, sensordata: np.ndarray, qpos: np.ndarray,
              qvel: np.ndarray, action: np.ndarray, track: ReferenceTrack, t: int, anchor: Anchor) -> None:
        """Observation of the state (at timeline frame `t`) into `o` (float32, `self.dim`)."""
        self.write_arrays(o, xmat_root, sensordata, qpos, qvel, action, track, t, len(track) - 1, anchor)

    def write_arrays(self, o: np.ndarray, xmat_root: np.ndarray, sensordata: np.ndarray, qpos: np.ndarray,
                     qvel: np.ndarray, action: np.ndarray, track: ReferenceTrack, t, last, anchor: Anchor,
                     yaw=None) -> None:
        """Observations into `o` ((..., dim) float32) of states given as arrays with a leading env axis
        (none for one env): `t` the current row of `track` (an int, or (N,) ints), `last` the last row of
        that env's timeline (a batch's `track` is every reference one after the other:
        `reference_track.concatenate_tracks`), `anchor` one per env, `yaw` the robot's (`robot_yaw`) if
        already computed."""
        n1 = np.minimum(t + 1, last)
        rows = o.shape[:-1] + (-1,)  # () + (-1,) for one env
        imu = sensordata[..., self.spec.imu_block]  # gyro (3), joint pos (8), joint vel (8)
        o[..., 0:3] = xmat_root[..., 6:9]
        o[..., 3:22] = imu
        o[..., 22:30] = action
        # frames t + k clamped to the env's last one: (K,) for one env, (K, N) -> .T (N, K) for a batch
        ahead = np.minimum(np.add.outer(self.joint_offsets, t), last).T
        o[..., self._rj] = track.joints[ahead].reshape(rows)
        o[..., self._rj.stop:self._rj.stop + 8] = track.joints[n1] - imu[..., 3:11]
        ahead = np.minimum(np.add.outer(self.vel_offsets, t), last).T
        o[..., self._rv] = track.velocity[ahead].reshape(rows)
        i = self._tail
        o[..., i] = track.height[n1]
        o[..., i + 1:i + 3] = track.roll_pitch[n1]
        o[..., i + 3:i + 5] = track.contact[n1]
        ph = 2.0 * math.pi * track.phase[n1]
        o[..., i + 5] = np.sin(ph)
        o[..., i + 6] = np.cos(ph)
        o[..., i + 7] = track.in_blend[n1]
        if yaw is None:
            yaw = robot_yaw(xmat_root)
        c, s = np.cos(yaw), np.sin(yaw)
        v = qvel.T  # v[k]: a number for one env, (N,) for a batch
        o[..., i + 8] = c * v[0] + s * v[1]
        o[..., i + 9] = -s * v[0] + c * v[1]
        o[..., i + 10] = v[2]
        o[..., i + 11] = qpos[..., 2]
        ex, ey, eh = anchor.errors(track.pos_xy[t], track.yaw[t], qpos, yaw)
        o[..., i + 12] = ex
        o[..., i + 13] = ey
        o[..., i + 14] = eh
        o[..., i + 15] = qpos[..., 2] - track.height[t]
        # never hand a NaN to the policy (MuJoCo resets an unstable state); one sum checks every entry
        if not math.isfinite(float(o.sum())):
            np.nan_to_num(o, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
