"""Swing and foot trajectories (pipeline step 3 in model.py's docstring): the minimum-jerk swing progression and
height bump (`_swing_profile`), the heel-off / heel-strike sole pitch (`_heel_toe_pitch`) and the ankle
displacement of a sole rolling about its edge (`_edge_pivot_offset`), put together by `foot_trajectories`.
"""
from __future__ import annotations

import numpy as np

from reference.gait.kinematics import SIDE_SIGN, SIDES, LegGeometry
from reference.gait.plan import GaitParams, Step


def _minimum_jerk(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return 10 * u**3 - 15 * u**4 + 6 * u**5


def _swing_profile(s: np.ndarray, peak: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Progress (minimum-jerk quintic) and normalised height s^a (1-s)^3 / max: both smooth to 2nd order.

    a = 3 peak / (1 - peak) puts the highest point at the fraction `peak` of the swing (0.5: the
    symmetric 64 s^3 (1-s)^3). A later peak lifts the foot less while it is still behind the body
    (less knee bend and ankle dorsiflexion there) and keeps it low for a shorter time in front.
    """
    s = np.clip(s, 0.0, 1.0)
    prog = _minimum_jerk(s)
    a = 3.0 * peak / (1.0 - peak)
    height = s**a * (1.0 - s) ** 3 / (peak**a * (1.0 - peak) ** 3)
    return prog, height


def _heel_toe_pitch(p: GaitParams, st: Step, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sole pitch (rad, + toe down) of step `st`'s swing foot at times `t`, as (heel-off part, heel-strike part).

    Heel-off: rises (minimum jerk) from 0 at the start of the double support before the lift to `heel_off`
    at the lift, back to 0 by mid-swing. Heel-strike: from 0 at mid-swing to -`heel_strike` at the
    touchdown, back to 0 at the end of the double support that follows (as long as the one before)."""
    t_ds = max(st.t_lift - st.t_start, 1e-9)
    half = 0.5 * (st.t_land - st.t_lift)
    rise, fall = _minimum_jerk((t - st.t_start) / t_ds), _minimum_jerk((t - st.t_lift) / half)
    off = np.where(t <= st.t_lift, rise, 1.0 - fall)
    off = p.heel_off * off * (t >= st.t_start) * (t < st.t_lift + half)
    tilt, roll = _minimum_jerk((t - st.t_lift - half) / half), _minimum_jerk((t - st.t_land) / t_ds)
    strike = np.where(t <= st.t_land, tilt, 1.0 - roll)
    strike = -p.heel_strike * strike * (t > st.t_lift + half) * (t < st.t_land + t_ds)
    return off, strike


def _edge_pivot_offset(geo: LegGeometry, pitch: np.ndarray, edge_x: float) -> np.ndarray:
    """(N, 2) x, z displacement of the ankle axis when the foot rolls by `pitch` (+ toe down) about the sole's
    bottom edge at `edge_x` (relative to the ankle; the toe pad's front edge or the heel pad's back edge),
    which stays put."""
    rx, rz = -edge_x, geo.sole_depth  # ankle relative to that edge
    c, s = np.cos(pitch), np.sin(pitch)
    return np.column_stack([c * rx + s * rz - rx, -s * rx + c * rz - rz])


def foot_trajectories(p: GaitParams, geo: LegGeometry, steps: list[Step], t: np.ndarray,
                      width: float) -> tuple[dict, dict, dict]:
    """Ankle-axis positions (world), contact flags and sole pitches (rad, + toe down) of both feet over time."""
    feet = {side: np.zeros((len(t), 3)) for side in SIDES}
    contact = {side: np.ones(len(t), dtype=bool) for side in SIDES}
    sole_pitch = {side: np.zeros(len(t)) for side in SIDES}
    for side in SIDES:
        feet[side][:, 1] = SIDE_SIGN[side] * width
        feet[side][:, 2] = geo.sole_depth
    for st in steps:
        f = feet[st.swing]
        f[t >= st.t_land, 0] = st.x1
        sw = (t > st.t_lift) & (t < st.t_land)
        prog, h = _swing_profile((t[sw] - st.t_lift) / (st.t_land - st.t_lift), p.swing_peak)
        f[sw, 0] = st.x0 + prog * (st.x1 - st.x0)
        f[sw, 2] = geo.sole_depth + p.clearance * h
        contact[st.swing][sw] = False
        if p.heel_off > 0.0 or p.heel_strike > 0.0:  # each roll about its edge, carried by the swing path
            off, strike = _heel_toe_pitch(p, st, t)
            on = (off != 0.0) | (strike != 0.0)
            sole_pitch[st.swing][on] = off[on] + strike[on]
            shift = _edge_pivot_offset(geo, off[on], geo.pad_x[1]) + _edge_pivot_offset(geo, strike[on], geo.pad_x[0])
            f[on, 0] += shift[:, 0]
            f[on, 2] += shift[:, 1]
    return feet, contact, sole_pitch
