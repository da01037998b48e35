"""Leg geometry and IK: `LegGeometry` (offsets read from the MJCF), the analytic `leg_ik` of the hip pitch -
hip roll - knee - ankle pitch leg and its inverse `leg_fk`, the rotations they use, and the side convention
(`SIDES`, `SIDE_SIGN`) the whole generator shares.
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

SIDES = ("left", "right")
SIDE_SIGN = {"left": 1.0, "right": -1.0}


@dataclass(frozen=True)
class LegGeometry:
    """Offsets of the left leg's chain in the waist frame (the right leg mirrors y), read from the MJCF.

    hip: hip-pitch anchor; roll: hip-roll anchor relative to the hip-pitch anchor; knee: knee
    relative to the roll anchor; shank: ankle below the knee (length); sole_depth: sole below the
    ankle axis; pad_x / pad_y: sole rectangle relative to the ankle (x min/max, half width).
    """

    hip: np.ndarray
    roll: np.ndarray
    knee: np.ndarray
    shank: float
    sole_depth: float
    pad_x: tuple[float, float]
    pad_half_width: float

    @staticmethod
    def from_model(model: mujoco.MjModel) -> "LegGeometry":
        def body(name: str) -> np.ndarray:
            return model.body_pos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)].copy()

        foot = body("left_foot")
        if abs(foot[0]) > 1e-9 or abs(foot[1]) > 1e-9:
            raise ValueError("leg_ik assumes the ankle lies straight below the knee")
        sole = model.site_pos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "left_sole")]
        xs, half_w = [], []
        for pad in ("left_toe", "left_heel"):
            g = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, pad)
            xs += [model.geom_pos[g][0] - model.geom_size[g][0], model.geom_pos[g][0] + model.geom_size[g][0]]
            half_w.append(model.geom_size[g][1])
        return LegGeometry(
            hip=body("left_hip"),
            roll=body("left_upper_leg"),
            knee=body("left_lower_leg"),
            shank=float(-foot[2]),
            sole_depth=float(-sole[2]),
            pad_x=(float(min(xs)), float(max(xs))),
            pad_half_width=float(min(half_w)),
        )

    @property
    def foot_y(self) -> float:
        """Lateral position of the hip-roll anchor: a foot there hangs with zero hip roll."""
        return float(self.hip[1] + self.roll[1])

    @property
    def sole_center_x(self) -> float:
        """Middle of the sole in x relative to the ankle axis."""
        return 0.5 * (self.pad_x[0] + self.pad_x[1])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _quat_pitch(pitch: float) -> np.ndarray:
    return np.array([np.cos(pitch / 2), 0.0, np.sin(pitch / 2), 0.0])


def leg_ik(geo: LegGeometry, side: str, ankle_in_waist: np.ndarray, torso_pitch: float = 0.0,
           sole_pitch: float = 0.0) -> np.ndarray:
    """Joint angles (hip_pitch, hip_roll, knee, ankle) that put `side`'s ankle axis at `ankle_in_waist`.

    The target is in the waist frame. The sole is pitched by `sole_pitch` in the world (rad, positive
    toe down: a heel-off; 0 level) for a waist pitched by `torso_pitch` (rad, rotation about +y,
    positive leans forward). Its roll cannot be chosen (no ankle roll): it equals the hip roll. Angles
    follow robot.md's signs: left hip pitch + and right hip pitch - are flexion; left hip roll - and
    right hip roll + are abduction.

    Derivation, with flexion f (R_y(-f)), roll rotation a = -q_roll about +x, knee k, ankle b:
      p = R_y(-f) [roll + R_x(a) (knee + R_y(k) (0, 0, -shank))]  (relative to the hip-pitch anchor)
    The y component and the norm do not depend on f, which gives k in closed form, then a, then f.
    """
    s = SIDE_SIGN[side]
    p = np.asarray(ankle_in_waist, dtype=float) - geo.hip * np.array([1.0, s, 1.0])
    ox, oy = geo.roll[0], s * geo.roll[1]
    kx, kz, ls = geo.knee[0], geo.knee[2], geo.shank
    e = oy - p[1]  # lateral distance the roll joint must produce
    d2 = p[0] ** 2 + p[2] ** 2 + e**2
    # |(ox + kx - ls sin k, kz - ls cos k)|^2 = d2  ->  A cos k + B sin k = C
    c0 = ox + kx
    A, B = -2.0 * kz * ls, -2.0 * c0 * ls
    C = d2 - c0**2 - kz**2 - ls**2
    r = np.hypot(A, B)
    phi = np.arctan2(B, A)
    knee = phi + np.arccos(np.clip(C / r, -1.0, 1.0))  # the bent-backwards (positive) branch
    knee = float(np.clip(knee, 0.0, np.pi))
    vz = kz - ls * np.cos(knee)  # knee-to-ankle chain z before the roll (negative)
    a = float(np.arcsin(np.clip(e / vz, -1.0, 1.0)))  # from p_y = oy - vz sin(a)
    inner_x = c0 - ls * np.sin(knee)
    inner_z = vz * np.cos(a)
    f = float(np.arctan2(p[2], p[0]) - np.arctan2(inner_z, inner_x))
    f = (f + np.pi) % (2 * np.pi) - np.pi
    # Sole pitch: the z component of the foot x axis, R_y(pitch - f) R_x(a) R_y(k + b) (1, 0, 0), is
    # sin(fw) cos(beta) - cos(fw) cos(a) sin(beta) with fw = f - pitch, beta = k + b; it must equal
    # -sin(sole_pitch) (0: level). The branch is the one that gives the level solution at 0.
    fw = f - torso_pitch
    ca, cb = np.sin(fw), np.cos(fw) * np.cos(a)
    if sole_pitch == 0.0:  # level: the closed form of gait-1.3, so its clips are reproduced bit for bit
        beta = float(np.arctan2(ca, cb))
    else:
        cos_arg = np.clip(-np.sin(sole_pitch) / np.hypot(ca, cb), -1.0, 1.0)
        beta = -float(np.arctan2(cb, ca)) + float(np.arccos(cos_arg))
        beta = (beta + np.pi) % (2 * np.pi) - np.pi
    ankle = beta - knee
    hip_pitch = f if side == "left" else -f
    hip_roll = -a
    return np.array([hip_pitch, hip_roll, knee, ankle])


def leg_fk(geo: LegGeometry, side: str, q: np.ndarray, torso_pitch: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Ankle position (waist frame) and foot rotation (world axes, waist pitched) of one leg: IK's inverse."""
    s = SIDE_SIGN[side]
    f = q[0] if side == "left" else -q[0]
    a = -q[1]
    r_hip = _rot_y(-f)
    r_roll = r_hip @ _rot_x(a)
    r_knee = r_roll @ _rot_y(q[2])
    r_foot = r_knee @ _rot_y(q[3])
    mirror = np.array([1.0, s, 1.0])
    ankle = geo.hip * mirror + r_hip @ (geo.roll * mirror) + r_roll @ geo.knee + r_knee @ np.array([0, 0, -geo.shank])
    return ankle, _rot_y(torso_pitch) @ r_foot
