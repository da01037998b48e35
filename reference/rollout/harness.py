"""The assist harness and the balance feedback: `Harness` (the capped, gated wrench on the waist),
`balance_correction` and `speed_correction` (offsets added to the servo targets), and `forward_progress`
(how much of the clip's walking the tracked robot does by itself).

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
"""
from __future__ import annotations

import math

import numpy as np

from reference.rollout.config import BalanceConfig, HarnessConfig
from reference.rollout.timeline import _yaw_of
from wildrobot_gym.metrics import attitude
from wildrobot_gym.robot import NUM_JOINTS


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
