"""Physics reference generation: loop a clip, track it with the servos, record every frame at 50 Hz.

The protocol is the data-first plan's (seed 000): each clip (50 Hz, heading frame) is looped for
N cycles with linear blends through a neutral standing pose between repetitions; at every control
step the servo targets are the reference joint angles (plus a small balance feedback), MuJoCo
advances 10 substeps of 2 ms, and the state is NEVER overwritten except at a (re)start. A capped,
orientation-gated harness on the waist may assist; its force and torque are recorded so that the
miner can reject windows that lean on it.

Timeline
--------
``[clip][blend][clip][blend]...[clip]``. A blend of ``blend_time`` seconds goes linearly from the
clip's last pose to the neutral pose (reached exactly at the blend's middle) and on toward the
clip's first pose. Successive cycles are chained in the plane (x, y, yaw): cycle c + 1 starts
where cycle c ended, so a walking clip keeps walking forward.

Restarts (multi-start)
----------------------
The physics starts from the reference state at frame 0 and restarts from the reference state at
every ``multi_start_interval``-th frame (root pose and joints from the timeline, velocities from
its finite differences, the root lowered or raised so that the lowest pad sits at
``restart_clearance``: by default the soft contact's static penetration, 0.15 mm, so the feet
carry the weight from the restart frame on instead of dropping onto the floor).
After a fall (MetricsTracker's ``fall_reason`` non-empty) nothing is recorded until the next
multi-start point. Each restart begins a separate stretch of record: ``restart`` is True on its
first frame, and no window may span one.

Harness
-------
A wrench on the waist through ``data.xfrc_applied``, recomputed at 50 Hz and held over the
substeps. ``mode`` is one of
  * ``stabilizer`` (default, the seed's recommendation): torque ``Kp (att_ref - att) - Kd omega``
    on roll and pitch only (yaw is free), in the body frame, rotated to the world;
  * ``height_spring``: vertical force ``Kp_z (z_ref - z) - Kd_z vz``;
  * ``both``; or ``off``.
It is switched off when the torso tilts more than ``gate_deg`` (25 deg) from vertical (a harness
must not hold up a falling robot), optionally low-pass filtered, and capped: its *equivalent
force* ``|F| + |tau| / lever_arm`` never exceeds ``cap_fraction * m g``. The lever arm is the
whole-body COM height, 0.30 m (robot.md: 0.303 m): a torque tau about the waist does the
balancing work of a horizontal force tau / 0.30 m pushing at the COM, so a torque-only harness is
judged by the same ``|F_stab| / mg`` gates as a force harness.

Learned tracker
---------------
With ``generation.tracker: learned`` the servo targets are the reference joints plus the deterministic
residual of a trained tracking policy (`reference.tracker`, trained by ``python -m reference.train_tracker``;
``generation.tracker_path``, default the shipped ``wildrobot_gym/assets/trackers/tracker.zip``) instead of the
balance and speed feedback below; the harness is off unless ``generation.tracker_harness``. Restarts and
the records are unchanged (``harness_mode`` records "off" when the harness was off). With
``generation.fast_tracker_min_speed`` set, a timeline whose steady speed reaches it (`timeline_speed`) is tracked
by ``generation.fast_tracker_path`` instead (default the shipped ``tracker_fast.zip``, a specialist; `tracker_for`).

Balance feedback
----------------
Added to the joint targets before clipping to ctrlrange (on by default; the robot's earlier
open-loop attempt fell in 1 to 3 s). With e = measured - reference attitude and w the body rate:
  * ankles (both):            + (ka_p e_pitch + ka_d w_pitch)
  * hip pitch, left / right:  -/+ (kh_p e_pitch + kh_d w_pitch)
  * hip roll (both):          - (kr_p e_roll + kr_d w_roll)
Each term acts like extra stiffness and damping of the torso's world attitude (signs derived
from the joint axes in robot.md), and is clipped to ``max_correction`` rad.
A forward-speed feedback (`speed_correction`, off by default) adds swing-hip and stance-hip /
ankle terms proportional to the reference - measured forward speed: joint targets alone leave the
tracked robot stepping nearly in place (26 % of the clips' distance).

Preconditioning
---------------
``generation.precondition`` (``precondition_clip``), applied before the variants and the loop, to
retargeted pickles only by default: a Gaussian low-pass of the joints and a clip to each range
shrunk by ``limit_margin`` (limit-clamped runs leave the balance feedback no room); optionally a
minimum knee bend (hip and ankle share it) and a slower playback. ``forward_progress`` measures the
walking the tracked robot does by itself between restarts.

Records contract (one dict per clip and variant; the miner ``reference/miner/`` reads it)
-------------------------------------------------------------------------------------------
Per-frame arrays, T frames at 50 Hz (frames skipped after a fall are absent; see frame_index):

======================  ========  ================================================================
key                     shape     meaning
======================  ========  ================================================================
qpos                    (T, 15)   MuJoCo qpos: root pos (3), root quat wxyz (4), 8 joints
qvel                    (T, 14)   MuJoCo qvel: root lin vel world (3), ang vel body (3), 8 joints
foot_force              (T, 2)    normal force per foot (left, right), N
pad_force               (T, 4)    normal force per pad (left_toe, left_heel, right_toe, right_heel)
pad_contact             (T, 4)    bool, pad in contact
foot_contact            (T, 2)    bool, any pad of the foot in contact
foot_slip_speed         (T, 2)    horizontal foot speed where it bears on the floor, m/s (wildrobot_gym.metrics)
foot_height             (T, 2)    sole height, m
harness_force           (T, 3)    harness force on the waist COM, world frame, N
harness_torque          (T, 3)    harness torque on the waist, world frame, N m
harness_equiv_force     (T,)      |F| + |tau| / lever_arm, N: the |F_stab| of the harness gates
harness_saturated       (T,)      bool, the harness command was clipped at the cap
actuator_torque         (T, 8)    servo torques, N m
torque_saturated        (T, 8)    bool, |torque| >= 99 % of the limit
roll, pitch             (T,)      root attitude, rad
root_height             (T,)      m
forward_velocity        (T,)      root velocity along the heading frame's x (the env's), m/s
root_ang_vel            (T, 3)    body-frame angular velocity, rad/s
ref_joint_pos           (T, 8)    the reference joint targets (before feedback), rad
ctrl                    (T, 8)    the servo targets actually sent (feedback added, clipped), rad
ref_root_pos            (T, 3)    the reference root position, m
ref_root_quat           (T, 4)    the reference root orientation, wxyz
frame_index             (T,)      int, index into the looped reference timeline
cycle                   (T,)      int, loop repetition (-1 in blends)
in_blend                (T,)      bool, the frame lies in a neutral blend
restart                 (T,)      bool, the physics was (re)started at this frame
fallen                  (T,)      bool, a fall was detected at this frame (the stretch ends here)
fall_reason             (T,)      str, MetricsTracker's fall_reason ("" when none)
======================  ========  ================================================================

Scalars: ``format_version`` (1), ``clip`` (str, clip name), ``variant`` (str), ``fps`` (50.0),
``weight`` (m g, N), ``lever_arm`` (m), ``harness_cap`` (N), ``harness_mode`` (str),
``saturation_rate`` (fraction of actuator samples saturated, sampled at 50 Hz),
``sim_seconds`` (recorded frames / fps), ``num_falls`` (int), ``config_json`` (str, the
generation config used). ``save_records`` writes them to .npz (0-d arrays), ``load_records``
turns them back into Python scalars.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import mujoco
import numpy as np

from reference.clips import Clip
from wildrobot_gym.atomic_io import atomic_write
from wildrobot_gym.config.reference import (  # noqa: F401  (re-exported: the rest of reference/ imports them here)
    DEFAULT_REFERENCE_CONFIG,
    BalanceConfig,
    GenerationConfig,
    HarnessConfig,
    PreconditionConfig,
    load_generation_config,
    section_from_dict,
)
from wildrobot_gym.metrics import MetricsTracker, attitude
from wildrobot_gym.robot import NUM_JOINTS, RobotSpec, load_model

log = logging.getLogger(__name__)

RECORDS_FORMAT_VERSION = 1
DEFAULT_CONFIG = DEFAULT_REFERENCE_CONFIG
#: Per-frame keys of a records dict (the contract above); everything else is a scalar.
FRAME_KEYS: tuple[str, ...] = (
    "qpos", "qvel", "foot_force", "pad_force", "pad_contact", "foot_contact", "foot_slip_speed",
    "foot_height", "harness_force", "harness_torque", "harness_equiv_force", "harness_saturated",
    "actuator_torque", "torque_saturated", "roll", "pitch", "root_height", "forward_velocity",
    "root_ang_vel", "ref_joint_pos", "ctrl", "ref_root_pos", "ref_root_quat", "frame_index", "cycle",
    "in_blend", "restart", "fallen", "fall_reason",
)


# ----------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------
# The `generation:` schema (HarnessConfig, BalanceConfig, PreconditionConfig, GenerationConfig: frozen
# pydantic dataclasses with ranges, imported above) and `load_generation_config` live in
# wildrobot_gym/config/reference.py, the one place of the reference pipeline's settings.


def config_from_dict(section: Mapping[str, Any] | None) -> GenerationConfig:
    """GenerationConfig from the `generation:` mapping; missing keys take the seed's defaults. A bad value
    raises `ConfigError` (a ValueError) naming its dotted key (``generation.harness.mode: ...``)."""
    return section_from_dict(GenerationConfig, section, "generation")


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


# ----------------------------------------------------------------------------------------------
# Harness and balance feedback
# ----------------------------------------------------------------------------------------------
class Harness:
    """The capped, gated, optionally filtered assist wrench on the waist (module docstring)."""

    def __init__(self, cfg: HarnessConfig, weight: float, dt: float) -> None:
        self.cfg = cfg
        self.cap = cfg.cap_fraction * weight  # N, cap on the equivalent force
        self.alpha = 1.0 if cfg.filter_tau <= 0 else dt / (cfg.filter_tau + dt)
        self.gate = math.radians(cfg.gate_deg)
        self.force = np.zeros(3)
        self.torque = np.zeros(3)
        self.saturated = False

    def reset(self) -> None:
        self.force[:] = 0.0
        self.torque[:] = 0.0
        self.saturated = False

    def equivalent_force(self, force: np.ndarray, torque: np.ndarray) -> float:
        """|F| + |tau| / lever arm, N: what the harness gates compare with m g."""
        return float(np.linalg.norm(force) + np.linalg.norm(torque) / self.cfg.lever_arm)

    def update(self, xmat: np.ndarray, ang_vel_body: np.ndarray, height: float, vz: float,
               ref_roll: float, ref_pitch: float, ref_height: float) -> tuple[np.ndarray, np.ndarray]:
        """New (force, torque) in the world frame from the current state; stores them and the cap flag."""
        c = self.cfg
        force, torque = np.zeros(3), np.zeros(3)
        if c.mode in ("stabilizer", "both"):
            roll, pitch, _ = attitude(xmat)
            tb = np.array([c.rot_kp * (ref_roll - roll) - c.rot_kd * ang_vel_body[0],
                           c.rot_kp * (ref_pitch - pitch) - c.rot_kd * ang_vel_body[1], 0.0])
            torque = xmat.reshape(3, 3) @ tb  # body -> world
        if c.mode in ("height_spring", "both"):
            force[2] = c.height_kp * (ref_height - height) - c.height_kd * vz
        eq = self.equivalent_force(force, torque)
        self.saturated = eq > self.cap
        if self.saturated:  # scale the whole wrench down to the cap
            force, torque = force * (self.cap / eq), torque * (self.cap / eq)
        self.force += self.alpha * (force - self.force)
        self.torque += self.alpha * (torque - self.torque)
        tilt = math.acos(min(1.0, max(-1.0, float(xmat[8]))))  # body z vs world z
        if tilt > self.gate or c.mode == "off":
            # Gate after the filter: the harness lets go at once, and the filter restarts from zero.
            self.force[:] = 0.0
            self.torque[:] = 0.0
            self.saturated = False
        return self.force, self.torque


def balance_correction(cfg: BalanceConfig, roll_err: float, pitch_err: float,
                       ang_vel_body: np.ndarray, foot_force: np.ndarray | None = None) -> np.ndarray:
    """Joint-target offsets (8,) from the torso's attitude error and rate (signs in the docstring).

    With `foot_force` (left, right) and ``stance_weighted``, each leg's share is its share of the
    load: only a leg pushing on the floor can turn the torso, and a correction on a swing leg
    just tilts its sole into the ground (more slip).
    """
    out = np.zeros(NUM_JOINTS)
    if not cfg.enabled:
        return out
    m = cfg.max_correction
    ankle = np.clip(cfg.ankle_kp * pitch_err + cfg.ankle_kd * ang_vel_body[1], -m, m)
    hip_p = np.clip(cfg.hip_pitch_kp * pitch_err + cfg.hip_pitch_kd * ang_vel_body[1], -m, m)
    hip_r = np.clip(cfg.hip_roll_kp * roll_err + cfg.hip_roll_kd * ang_vel_body[0], -m, m)
    share = np.ones(2)
    if cfg.stance_weighted and foot_force is not None:
        total = float(foot_force[0] + foot_force[1])
        share = np.asarray(foot_force, dtype=np.float64) / total if total > 1e-6 else np.zeros(2)
    out[3], out[7] = ankle * share[0], ankle * share[1]
    out[0], out[4] = -hip_p * share[0], hip_p * share[1]  # hip pitch axes are -y (left) and +y (right)
    out[1], out[5] = -hip_r * share[0], -hip_r * share[1]  # both hip roll axes are -x
    return out


def speed_correction(cfg: BalanceConfig, speed_err: float, foot_force: np.ndarray) -> np.ndarray:
    """Joint-target offsets (8,) that make the tracked robot keep the reference's forward speed.

    `speed_err` = reference - measured forward root speed (m/s; > 0: too slow). Joint targets alone
    leave the robot stepping in place (the swing foot lands short, the body falls back over it), so:
      * Raibert-style foot placement on the unloaded (swing) leg: too slow -> less hip flexion, the
        foot lands further back under the body, which then vaults over it and speeds up;
      * push-off on the loaded (stance) leg: too slow -> more hip extension and ankle plantarflexion.
    Each leg's share is its share of the load (stance) or the rest (swing); signs from robot.md
    (left hip pitch + and right hip pitch - are flexion; ankle - points the toes down).
    """
    out = np.zeros(NUM_JOINTS)
    total = float(foot_force[0] + foot_force[1])
    if total <= 1e-6:
        return out
    m = cfg.max_speed_correction
    stance = np.asarray(foot_force, dtype=np.float64) / total
    swing = 1.0 - stance
    # scalars: plain min/max (np.clip on a float costs microseconds per frame of the rollout)
    place = min(m, max(-m, cfg.swing_placement_kp * speed_err))
    push = min(m, max(-m, cfg.stance_push_kp * speed_err))
    ankle = min(m, max(-m, cfg.ankle_push_kp * speed_err))
    ext = place * swing + push * stance  # hip extension of each leg (both terms extend when too slow)
    out[0], out[4] = -ext[0], ext[1]
    out[3], out[7] = -ankle * stance[0], -ankle * stance[1]
    return out


def forward_progress(records: dict) -> tuple[float, float]:
    """(tracked, reference) root displacement along the reference heading, m, summed over stretches.

    Each stretch (restart to restart) counts from its first to its last frame, so a restart, which
    puts the robot back on the reference, adds no progress of its own: the ratio tracked / reference
    says how much of the clip's walking the tracked robot does by itself.
    """
    restart = np.asarray(records["restart"], dtype=bool)
    if restart.size == 0:
        return 0.0, 0.0
    q, ref_p, ref_q = records["qpos"], records["ref_root_pos"], records["ref_root_quat"]
    starts = np.flatnonzero(restart)
    ends = np.append(starts[1:], restart.size) - 1
    tracked = reference = 0.0
    for a, b in zip(starts, ends):
        yaw = _yaw_of(ref_q[a])
        d = np.array([math.cos(yaw), math.sin(yaw)])
        tracked += float(d @ (q[b, :2] - q[a, :2]))
        reference += float(d @ (ref_p[b, :2] - ref_p[a, :2]))
    return tracked, reference


# ----------------------------------------------------------------------------------------------
# Rollout
# ----------------------------------------------------------------------------------------------
def _quat_roll_pitch(q: np.ndarray) -> tuple[float, float]:
    m = np.empty(9)
    mujoco.mju_quat2Mat(m, q)
    r, p, _ = attitude(m)
    return r, p


def reference_forward_speed(timeline: Timeline, smooth_s: float = 0.1) -> np.ndarray:
    """Reference root speed along its own heading (m/s), Gaussian-smoothed over `smooth_s`.

    The smoothing removes the within-step surge of the planned waist so that the speed feedback
    tracks the walking speed, not the stride's oscillation.
    """
    yaw = np.array([_yaw_of(q) for q in timeline.qpos[:, 3:7]])
    v = np.cos(yaw) * timeline.qvel[:, 0] + np.sin(yaw) * timeline.qvel[:, 1]
    return _gaussian_smooth(v[:, None], smooth_s * timeline.fps)[:, 0]


def rollout(model: mujoco.MjModel, timeline: Timeline, cfg: GenerationConfig, *, clip_name: str = "",
            variant: str = "base", spec: RobotSpec | None = None, data: mujoco.MjData | None = None) -> dict:
    """Track `timeline` with PD servos (qpos set only at restarts) and record every frame."""
    spec = spec or RobotSpec.from_model(model)
    data = data if data is not None else mujoco.MjData(model)
    scratch = mujoco.MjData(model)  # kinematics for restart heights, leaves `data` alone
    dt = 1.0 / cfg.fps
    if abs(model.opt.timestep * cfg.substeps - dt) > 1e-9:
        raise ValueError(f"timestep {model.opt.timestep} x {cfg.substeps} substeps != 1/fps = {dt}")
    tracker = MetricsTracker(model, spec, control_dt=dt, contact_threshold=cfg.contact_threshold)
    controller = learned_controller(model, spec, timeline, cfg)  # None: the feedback tracker
    harness_cfg = cfg.harness if controller is None or cfg.tracker_harness else dataclasses.replace(cfg.harness, mode="off")
    harness = Harness(harness_cfg, spec.weight, dt)
    lo, hi = model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1]
    root = spec.root_body
    T = len(timeline)
    k = cfg.multi_start_interval
    ref_q = timeline.qpos
    ref_att = np.array([_quat_roll_pitch(q) for q in ref_q[:, 3:7]])  # (T, 2) roll, pitch
    ref_speed = reference_forward_speed(timeline)  # (T,) m/s, what the speed feedback tracks

    buf: dict[str, list] = {key: [] for key in FRAME_KEYS}
    num_falls = 0

    def record(t: int, m: dict, ctrl: np.ndarray, restart: bool, fallen: bool) -> None:
        buf["qpos"].append(data.qpos.copy())
        buf["qvel"].append(data.qvel.copy())
        for key in ("foot_force", "pad_force", "pad_contact", "foot_contact", "foot_slip_speed", "foot_height",
                    "actuator_torque", "torque_saturated", "roll", "pitch", "root_height", "forward_velocity",
                    "root_ang_vel", "fall_reason"):
            v = m[key]
            buf[key].append(v.copy() if isinstance(v, np.ndarray) else v)
        buf["harness_force"].append(harness.force.copy())
        buf["harness_torque"].append(harness.torque.copy())
        buf["harness_equiv_force"].append(harness.equivalent_force(harness.force, harness.torque))
        buf["harness_saturated"].append(harness.saturated)
        buf["ref_joint_pos"].append(ref_q[t, 7:].copy())
        buf["ctrl"].append(ctrl.copy())
        buf["ref_root_pos"].append(ref_q[t, :3].copy())
        buf["ref_root_quat"].append(ref_q[t, 3:7].copy())
        buf["frame_index"].append(t)
        buf["cycle"].append(int(timeline.cycle[t]))
        buf["in_blend"].append(bool(timeline.in_blend[t]))
        buf["restart"].append(restart)
        buf["fallen"].append(fallen)

    t = 0
    m: dict = {}
    while t < T:
        if t % k == 0 or not m:
            # (Re)start: the only place qpos is written. Root height so the lowest pad just touches.
            ctrl = restart_state(model, data, spec, timeline, t, cfg.restart_clearance, scratch)
            harness.reset()
            data.xfrc_applied[root] = 0.0
            mujoco.mj_forward(model, data)
            if controller is not None:
                controller.restart(data, t)
            tracker.reset(data)
            m = tracker.compute(data)
            fell = bool(m["fall_reason"])  # the reference state itself may count as fallen
            record(t, m, ctrl, restart=True, fallen=fell)
            t += 1
            if fell:
                num_falls += 1
                t = ((t + k - 1) // k) * k
                m = {}
            continue
        # Feedback from the current state (the metrics of the last recorded frame).
        w = m["root_ang_vel"]
        if controller is not None:  # the learned tracker: reference joints + the policy's residual
            ctrl = controller.targets(data, t)
        else:
            corr = balance_correction(cfg.balance, m["roll"] - ref_att[t, 0], m["pitch"] - ref_att[t, 1], w,
                                      m["foot_force"])
            if cfg.balance.enabled:
                corr = corr + speed_correction(cfg.balance, ref_speed[t] - m["forward_velocity"], m["foot_force"])
            ctrl = np.clip(ref_q[t, 7:] + corr, lo, hi)
        data.ctrl[:] = ctrl
        f, tau = harness.update(data.xmat[root], w, m["root_height"], m["vertical_velocity"],
                                ref_att[t, 0], ref_att[t, 1], ref_q[t, 2])
        data.xfrc_applied[root, :3] = f
        data.xfrc_applied[root, 3:] = tau
        mujoco.mj_step(model, data, cfg.substeps)
        m = tracker.compute(data)
        fell = bool(m["fall_reason"])
        record(t, m, ctrl, restart=False, fallen=fell)
        t += 1
        if fell:
            num_falls += 1
            t = ((t + k - 1) // k) * k  # skip to the next multi-start point
            m = {}

    return _finish_records(buf, spec, cfg, harness, clip_name, variant, num_falls)


def learned_controller(model: mujoco.MjModel, spec: RobotSpec, timeline: Timeline, cfg: GenerationConfig):
    """With ``generation.tracker: learned``, a `reference.tracker.controller.TrackerController` for `timeline`
    (the policy `tracker_for` picks, loaded once per process without unpickling); None with ``feedback``."""
    if cfg.tracker != "learned":
        return None
    from reference.tracker.controller import TrackerController
    from reference.tracker.policy import load_tracker_policy

    key, path = tracker_for(cfg, timeline)
    try:
        policy = load_tracker_policy(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"generation.{key}: cannot load the learned tracker {str(path)!r}: {exc}") from None
    return TrackerController(policy, model, spec, timeline)


def timeline_speed(timeline: Timeline) -> float | None:
    """The steady forward speed of a looped reference (m/s): the walking label's clip speed
    (`reference.walking.clip_speed`, p90 of its Hann-weighted 1 s averages outside the blends); None if it cannot say."""
    from reference.walking import clip_speed

    return clip_speed({"ref_root_pos": timeline.qpos[:, :3], "ref_root_quat": timeline.qpos[:, 3:7],
                       "fps": timeline.fps, "in_blend": timeline.in_blend}, window_frames=int(round(timeline.fps)))


def tracker_for(cfg: GenerationConfig, timeline: Timeline) -> tuple[str, str | Path]:
    """(config key, path) of the learned tracker for `timeline`: the fast tracker when
    ``generation.fast_tracker_min_speed`` is set and the timeline's speed reaches it, else ``tracker_path``
    (null: the shipped trackers, `DEFAULT_FAST_TRACKER_PATH` / `DEFAULT_TRACKER_PATH`)."""
    from wildrobot_gym.config.tracker import DEFAULT_FAST_TRACKER_PATH, DEFAULT_TRACKER_PATH

    if cfg.fast_tracker_min_speed is not None:
        speed = timeline_speed(timeline)
        if speed is not None and speed >= cfg.fast_tracker_min_speed:
            return "fast_tracker_path", cfg.fast_tracker_path or DEFAULT_FAST_TRACKER_PATH
    return "tracker_path", cfg.tracker_path or DEFAULT_TRACKER_PATH


def restart_state(model: mujoco.MjModel, data: mujoco.MjData, spec: RobotSpec, timeline: Timeline, t: int,
                  clearance: float, scratch: mujoco.MjData | None = None) -> np.ndarray:
    """Put `data` in the reference state of frame `t` (the only place qpos is written): root pose and
    joints from the timeline, the root shifted vertically so that the lowest pad sits at `clearance`,
    velocities from the timeline's finite differences, servo targets = the reference joints (returned)."""
    mujoco.mj_resetData(model, data)
    qpos = timeline.qpos[t].copy()
    qpos[2] += clearance - lowest_pad_z(model, spec, qpos, scratch)
    data.qpos[:] = qpos
    data.qvel[:] = timeline.qvel[t]
    ctrl = np.clip(timeline.qpos[t, 7:], model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1])
    data.ctrl[:] = ctrl
    return ctrl


def _finish_records(buf: dict, spec: RobotSpec, cfg: GenerationConfig, harness: Harness, clip_name: str,
                    variant: str, num_falls: int) -> dict:
    """Stack the per-frame lists into arrays and add the scalars of the contract."""
    rec: dict[str, Any] = {}
    for key, values in buf.items():
        if key == "fall_reason":
            rec[key] = np.array(values, dtype="<U16")
        elif key in ("pad_contact", "foot_contact", "torque_saturated", "harness_saturated", "in_blend",
                     "restart", "fallen"):
            rec[key] = np.array(values, dtype=bool)
        elif key in ("frame_index", "cycle"):
            rec[key] = np.array(values, dtype=np.int64)
        else:
            rec[key] = np.array(values, dtype=np.float64)
    frames = len(buf["qpos"])
    rec.update(
        format_version=RECORDS_FORMAT_VERSION,
        clip=clip_name,
        variant=variant,
        fps=float(cfg.fps),
        weight=float(spec.weight),
        lever_arm=float(harness.cfg.lever_arm),
        harness_cap=float(harness.cap),
        harness_mode=harness.cfg.mode,  # "off" with the learned tracker unless generation.tracker_harness
        saturation_rate=saturation_rate(rec),
        sim_seconds=frames / cfg.fps,
        num_falls=int(num_falls),
        config_json=json.dumps(cfg.to_dict()),
    )
    return rec


def saturation_rate(records: dict) -> float:
    """Fraction of actuator samples (frames x 8, at 50 Hz) at the torque limit."""
    sat = np.asarray(records["torque_saturated"])
    return float(sat.mean()) if sat.size else 0.0


def check_saturation(records: dict, warn_rate: float) -> float:
    """The seed's actuator saturation check: return the rate, warn above `warn_rate`."""
    rate = saturation_rate(records)
    if rate > warn_rate:
        log.warning("%s/%s: actuators saturated in %.1f %% of samples (> %.0f %%): consider a slower "
                    "time warp or a shorter step", records.get("clip"), records.get("variant"),
                    100 * rate, 100 * warn_rate)
    return rate


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


def rollout_clip(model: mujoco.MjModel, clip: Clip, cfg: GenerationConfig, variant: dict | None = None,
                 spec: RobotSpec | None = None) -> dict:
    """Precondition, augment (variant), loop, track and record one clip at cfg.fps in its heading frame."""
    variant = variant or {"name": "base"}
    spec = spec or RobotSpec.from_model(model)
    timeline = clip_timeline(model, clip, cfg, variant, spec)
    rec = rollout(model, timeline, cfg, clip_name=clip.name, variant=str(variant["name"]), spec=spec)
    check_saturation(rec, cfg.saturation_warn_rate)
    return rec


# ----------------------------------------------------------------------------------------------
# Records on disk
# ----------------------------------------------------------------------------------------------
def save_records(records: dict, path: str | Path) -> Path:
    """Write a records dict as .npz atomically (temp file in the same folder, then rename)."""
    return atomic_write(path, lambda f: np.savez_compressed(f, **{k: np.asarray(v) for k, v in records.items()}))


def load_records(path: str | Path) -> dict:
    """Read a records .npz (no pickle); 0-d arrays come back as Python scalars."""
    with np.load(path, allow_pickle=False) as z:
        out: dict[str, Any] = {}
        for k in z.files:
            v = z[k]
            out[k] = v.item() if v.ndim == 0 else v
    return out


def records_filename(clip: str, variant: str) -> str:
    """`<clip>__<variant>.npz` with path-unsafe characters replaced."""
    safe = "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in f"{clip}__{variant}")
    return f"{safe}.npz"


def default_model() -> mujoco.MjModel:
    """The project's scene (robot + floor)."""
    return load_model()
