"""Per-step metrics: the one place they are computed from MuJoCo state.

The env puts them in `info`; reward wrappers, the reference rollout recorder and the evaluator read
them and never recompute them. Keys (all floats are Python floats, arrays are float64 unless noted):

=====================  =======  ==============================================================
key                    shape    meaning
=====================  =======  ==============================================================
forward_velocity       ()       root velocity along the heading (yaw-only) frame's x, m/s
lateral_velocity       ()       root velocity along the heading frame's y (left), m/s
vertical_velocity      ()       root world z velocity, m/s
root_ang_vel           (3,)     root angular velocity in the body frame, rad/s (= ideal gyro)
yaw_rate_filtered      ()       body yaw rate (root_ang_vel z) low-passed over yaw_rate_filter_s, rad/s:
                                the turning that outlasts a stride (0 at an episode start)
root_height            ()       root (waist origin) height above the floor, m
roll, pitch, yaw       ()       root attitude, rad (ZYX Euler)
pad_force              (4,)     normal force on each pad (PAD_NAMES order), N
pad_contact            (4,)     bool, pad_force > contact_threshold
foot_force             (2,)     normal force per foot, summed over its pads (left, right), N
foot_contact           (2,)     bool, any pad of the foot in contact
foot_slip_speed        (2,)     horizontal speed where the foot bears on the floor, m/s (slip when loaded): the
                                toe pad's front edge when only the toe pad is in contact (a heel-off rolls about
                                it), the heel pad's back edge when only the heel pad is (a heel-strike), else
                                the sole point
foot_height            (2,)     sole point height, m
foot_air_time          (2,)     time since the foot last left the ground (0 while in contact), s
foot_touchdown         (2,)     bool, the foot touched down this step
foot_last_air_time     (2,)     on a touchdown step: the swing's air time that just ended; else 0
joint_pos, joint_vel   (8,)     joint angles (rad) and velocities (rad/s), actuator order
joint_acc              (8,)     finite-difference joint acceleration over the control step, rad/s^2
actuator_torque        (8,)     servo torques, N m
torque_saturated       (8,)     bool, |torque| >= saturation_fraction * limit
fall_reason            str      "" or one of "root_height", "tilt", "body_contact", "sim_unstable"
fall_code              int      0, or 1 + the index of fall_reason in FALL_REASONS
sim_unstable           bool     a MuJoCo warning fired or the state went non-finite
=====================  =======  ==============================================================

One definition for one env and for a batch: `MetricsTracker.compute_arrays` takes the state arrays of
one MjData (qpos (nq,), ...) or of N simulations with a leading env axis (qpos (N, nq), ...; the
batched env, `wildrobot_gym.batch_env`) and returns the same keys, with that leading axis. For a batch
the per-env ``fall_reason`` strings are left out (``fall_code`` holds them); `compute` (one MjData)
returns Python numbers and the string.
"""
from __future__ import annotations

import math
from typing import Any

import mujoco
import numpy as np

from wildrobot_gym.robot import RobotSpec

FALL_REASONS = ("root_height", "tilt", "body_contact", "sim_unstable")


def attitude(xmat: np.ndarray) -> tuple[float, float, float]:
    """(roll, pitch, yaw) of a row-major 3x3 rotation matrix given as 9 numbers (ZYX Euler)."""
    r20 = min(1.0, max(-1.0, float(xmat[6])))
    return math.atan2(xmat[7], xmat[8]), -math.asin(r20), math.atan2(xmat[3], xmat[0])


def attitude_array(xmat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`attitude` of (..., 9) rotation matrices: (roll, pitch, yaw), each of shape (...)."""
    r20 = np.clip(xmat[..., 6], -1.0, 1.0)
    return np.arctan2(xmat[..., 7], xmat[..., 8]), -np.arcsin(r20), np.arctan2(xmat[..., 3], xmat[..., 0])


def trouble_warnings(warning_number: np.ndarray) -> np.ndarray:
    """Count of the warnings that mean trouble, from MjData.warning.number-shaped (..., mjNWARNING) counts."""
    return warning_number[..., _TROUBLE].sum(axis=-1)


class MetricsTracker:
    """Computes the per-step metrics and keeps the per-foot air-time clocks, of one MjData (`batch`
    None) or of `batch` simulations (every state array with a leading env axis)."""

    def __init__(
        self,
        model: mujoco.MjModel,
        spec: RobotSpec,
        control_dt: float,
        contact_threshold: float = 1.0,
        min_root_height: float = 0.25,
        max_tilt: float = math.radians(45.0),
        saturation_fraction: float = 0.99,
        yaw_rate_filter_s: float = 1.0,
        batch: int | None = None,
    ) -> None:
        self.model = model
        self.spec = spec
        self.dt = control_dt
        self.contact_threshold = contact_threshold
        self.min_root_height = min_root_height
        self.max_tilt = max_tilt
        lead = () if batch is None else (int(batch),)
        self.saturation_fraction = float(saturation_fraction)
        # Per env in a batch: domain randomisation draws each env's torque limit (`set_torque_limits`).
        self.saturation_level = np.broadcast_to(
            self.saturation_fraction * np.abs(model.actuator_forcerange).max(axis=1), lead + (model.nu,)).copy()
        self.air_time = np.zeros(lead + (2,))
        self.prev_contact = np.zeros(lead + (2,), dtype=bool)
        self.prev_joint_vel = np.zeros(lead + (len(spec.joint_dof_adr),))
        self.warning_count = np.zeros(lead, dtype=np.int64)
        # First-order low-pass of the yaw rate: a stride's twist (2-5 Hz) averages out, a steady turn stays.
        self.yaw_rate_filter_s = float(yaw_rate_filter_s)
        self._yaw_alpha = 1.0 if yaw_rate_filter_s <= 0 else 1.0 - math.exp(-control_dt / yaw_rate_filter_s)
        self.yaw_rate_filtered = np.zeros(lead)

    # ------------------------------------------------------------------ one MjData
    def reset(self, data: mujoco.MjData) -> None:
        """Start a new episode: clocks at zero, contacts from the current state."""
        self.reset_arrays(..., data.sensordata, data.qvel, _total_warnings(data))

    def compute(self, data: mujoco.MjData) -> dict:
        """Metrics of the state after a control step (call once per step: it advances the clocks).

        Hot path: everything is read from sensordata / state slices, a few numpy calls in all.
        """
        # One private copy of each state array per step; everything handed out is a view of these, so
        # values kept in an info never change under the caller when the simulation moves on.
        out = self.compute_arrays(data.sensordata.copy(), data.qpos.copy(), data.qvel.copy(),
                                  data.xmat[self.spec.root_body], data.site_xpos[self.spec.sole_sites, 2],
                                  data.actuator_force.copy(), _total_warnings(data))
        for key in _SCALARS:
            out[key] = float(out[key])
        code = int(out["fall_code"])
        out["fall_code"] = code
        out["sim_unstable"] = bool(out["sim_unstable"])
        out["fall_reason"] = FALL_REASONS[code - 1] if code else ""
        return out

    def body_touches_floor(self, data: mujoco.MjData) -> bool:
        """A non-pad robot geom is in contact with the floor (from the floor-contact sensors)."""
        return bool(self._body_contact(data.sensordata))

    # ------------------------------------------------------------------ arrays (one env or a batch)
    def reset_arrays(self, index, sensordata: np.ndarray, qvel: np.ndarray, warnings: np.ndarray | int) -> None:
        """Start new episodes for the envs `index` (``...``: all) from their state arrays (rows of index)."""
        pad_force = sensordata[..., self.spec.pad_force]
        contact = pad_force > self.contact_threshold
        self.prev_contact[index] = contact[..., 0::2] | contact[..., 1::2]
        self.air_time[index] = 0.0
        self.prev_joint_vel[index] = qvel[..., self.spec.qvel_joints]
        self.warning_count[index] = warnings
        self.yaw_rate_filtered[index] = 0.0

    def compute_arrays(self, sensors: np.ndarray, qpos: np.ndarray, qvel: np.ndarray, xmat_root: np.ndarray,
                       sole_z: np.ndarray, torque: np.ndarray, warnings: np.ndarray | int, index: Any = ...) -> dict:
        """The metrics of states given as arrays (see the module docstring); advances the clocks of the
        envs `index` (``...``: all; else the state arrays are those envs' rows, in that order)."""
        s = self.spec
        roll, pitch, yaw = attitude_array(xmat_root)
        cy, sy = np.cos(yaw), np.sin(yaw)
        vx, vy = qvel[..., 0], qvel[..., 1]
        root_height = qpos[..., 2]

        pad_force = sensors[..., s.pad_force]  # left_toe, left_heel, right_toe, right_heel
        pad_contact = pad_force > self.contact_threshold
        foot_force = pad_force[..., 0::2] + pad_force[..., 1::2]  # toe + heel, per foot
        foot_contact = pad_contact[..., 0::2] | pad_contact[..., 1::2]
        sole_vel = sensors[..., s.sole_vel]  # (vx, vy, vz) left then right
        edge_vel = sensors[..., s.edge_vel]  # (vx, vy, vz) of the pads' outer edges, pad order
        sole_speed = np.hypot(sole_vel[..., 0::3], sole_vel[..., 1::3])
        edge_speed = np.hypot(edge_vel[..., 0::3], edge_vel[..., 1::3])
        # Slip is the speed where the foot bears on the floor: a foot on one pad only rolls about that pad's outer
        # edge (a heel-off, a heel-strike), and its sole point then moves while nothing slides.
        toe_only = pad_contact[..., 0::2] & ~pad_contact[..., 1::2]
        heel_only = pad_contact[..., 1::2] & ~pad_contact[..., 0::2]
        slip = np.where(toe_only, edge_speed[..., 0::2], np.where(heel_only, edge_speed[..., 1::2], sole_speed))

        # Air time: a clock per foot that runs while the foot is off the ground.
        # The clocks are updated in place (the batch's rows), never handed out: infos get new arrays.
        touchdown = foot_contact & ~self.prev_contact[index]
        clock = self.air_time[index] + self.dt
        last_air = clock * touchdown
        air_time = clock * ~foot_contact
        self.air_time[index] = air_time
        self.prev_contact[index] = foot_contact

        yaw_rate = self.yaw_rate_filtered[index]
        yaw_rate = yaw_rate + self._yaw_alpha * (qvel[..., 5] - yaw_rate)
        self.yaw_rate_filtered[index] = yaw_rate

        joint_vel = qvel[..., s.qvel_joints]
        joint_acc = (joint_vel - self.prev_joint_vel[index]) / self.dt
        self.prev_joint_vel[index] = joint_vel

        # MuJoCo checks the state at every substep: a NaN, infinite or huge qpos/qvel/qacc makes it
        # warn (BADQPOS/BADQVEL/BADQACC) and reset, so a new trouble warning is the instability signal
        # and the state handed out is always finite.
        unstable = warnings != self.warning_count[index]
        self.warning_count[index] = warnings
        tilted = (np.abs(roll) > self.max_tilt) | (np.abs(pitch) > self.max_tilt)
        # The first true condition wins, in this order: FALL_REASONS index + 1, 0 for none.
        fall_code = np.select([unstable, root_height < self.min_root_height, tilted, self._body_contact(sensors)],
                              [4, 1, 2, 3], 0)

        return {
            "forward_velocity": cy * vx + sy * vy,
            "lateral_velocity": -sy * vx + cy * vy,
            "vertical_velocity": qvel[..., 2],
            "root_ang_vel": qvel[..., 3:6],
            "yaw_rate_filtered": yaw_rate,
            "root_height": root_height,
            "roll": roll,
            "pitch": pitch,
            "yaw": yaw,
            "pad_force": pad_force,
            "pad_contact": pad_contact,
            "foot_force": foot_force,
            "foot_contact": foot_contact,
            "foot_slip_speed": slip,
            "foot_height": sole_z,
            "foot_air_time": air_time,
            "foot_touchdown": touchdown,
            "foot_last_air_time": last_air,
            "joint_pos": qpos[..., s.qpos_joints],
            "joint_vel": joint_vel,
            "joint_acc": joint_acc,
            "actuator_torque": torque,
            "torque_saturated": np.abs(torque) >= self.saturation_level[index],
            "fall_code": fall_code,
            "sim_unstable": unstable,
        }

    def set_torque_limits(self, index: Any, forcerange: np.ndarray) -> None:
        """The torque limits of envs `index` (their rows of a model's ``actuator_forcerange``, (..., nu, 2)):
        a torque counts as saturated at ``saturation_fraction`` of its own env's limit."""
        self.saturation_level[index] = self.saturation_fraction * np.abs(forcerange).max(axis=-1)

    def _body_contact(self, sensordata: np.ndarray) -> np.ndarray:
        return (sensordata[..., self.spec.fall_contacts] != 0).any(axis=-1)


#: Keys that are numbers for one env (Python floats in `MetricsTracker.compute`).
_SCALARS = ("forward_velocity", "lateral_velocity", "vertical_velocity", "yaw_rate_filtered", "root_height", "roll",
            "pitch", "yaw")
FALL_CODES = {name: i + 1 for i, name in enumerate(FALL_REASONS)}
assert FALL_CODES == {"root_height": 1, "tilt": 2, "body_contact": 3, "sim_unstable": 4}  # np.select above


# The warnings that mean trouble (indices into data.warning).
_TROUBLE: tuple[int, ...] = tuple(int(w) for w in (
    mujoco.mjtWarning.mjWARN_BADQACC, mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_CONTACTFULL, mujoco.mjtWarning.mjWARN_CNSTRFULL))


def _total_warnings(data: mujoco.MjData) -> int:
    """Count of the warnings that mean trouble: bad accelerations/state, contact/constraint overflow."""
    # Plain Python ints: an int32 @ float64 product costs ~3 us per step, this well under 1 us.
    n = data.warning.number.tolist()
    return sum(n[i] for i in _TROUBLE)
