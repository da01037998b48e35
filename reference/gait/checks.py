"""Checks: support polygon and kinematic validity of a plan.

Validity (`check_plan`): the IK is solved without limits first; the clip is only acceptable when
every joint stays inside its range and every ankle target is reachable (`GaitPlan.joints_raw`,
`GaitPlan.ik_error`); `check_plan` also reports the ZMP support margin, stance-foot slip, sole
tilt, the lateral gap between the feet and the double-support fraction of the clip's kinematics.
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from reference.gait.kinematics import SIDES, LegGeometry, _quat_pitch
from reference.gait.model import GaitModel, _default_model, steady_window
from reference.gait.plan import GaitPlan
from wildrobot_gym.config.reference import GateConfig
from wildrobot_gym.robot import GRAVITY


def support_polygon_margin(plan: GaitPlan, points: np.ndarray | None = None) -> np.ndarray:
    """Signed distance (m, + inside) of the planned ZMP (or of `points`, (N, 2)) to the support polygon, per frame.

    The polygon is the convex hull of the soles in contact (each sole a rectangle around its ankle).
    """
    points = plan.zmp if points is None else points
    geo = plan_geometry()
    out = np.zeros(len(plan.t))
    x0, x1 = geo.pad_x
    hw = geo.pad_half_width
    for k in range(len(plan.t)):
        pts = []
        for side in SIDES:
            if plan.contact[side][k]:
                ax, ay = plan.feet[side][k, :2]
                pts += [(ax + x0, ay - hw), (ax + x1, ay - hw), (ax + x1, ay + hw), (ax + x0, ay + hw)]
        out[k] = _convex_margin(np.array(pts), points[k])
    return out


@dataclass(frozen=True)
class PlanCheck:
    """Kinematic validity of one plan (`check_plan`); angles in rad, lengths in m.

    joint_margin: per joint (actuator order), the smallest distance of the UNCLIPPED IK solution to
    the joint's range (negative = the gait needs the joint beyond its limit). ik_error: worst ankle
    miss of the unclipped IK (> 0 = a target out of the leg's reach). zmp_margin: smallest distance
    of the planned ZMP inside the support polygon. com_over_support: fraction of frames in which the
    model's whole-body COM (after IK) projects inside the support polygon; laterally the waist rocks
    against the LIPM sway (`lateral_sway` < 0, model.py's docstring), so in single support the kinematic
    COM lies between the feet, and this is about 0.5 for the library. foot_slip: largest horizontal
    motion of a foot's toe edge between two frames where it is planned down (FK of the clip). max_sole_pitch /
    max_sole_roll: sole tilt of feet that are down. foot_gap: smallest lateral gap between the two
    soles (pad boxes, FK). double_support: fraction of the steady window's frames in which both feet
    are down (FK: sole on its standing height and not moving); step frames quantise it to
    1 / (fps T). steady_speed: mean forward waist speed over the steady window. max_joint_speed: per
    joint, the largest frame-to-frame joint speed of the clip (rad/s).
    """

    joint_margin: np.ndarray
    ik_error: float
    zmp_margin: float
    com_over_support: float
    foot_slip: float
    max_sole_pitch: float
    max_sole_roll: float
    foot_gap: float
    double_support: float
    steady_speed: float
    max_joint_speed: np.ndarray
    implied_load_p10: float = float("nan")
    implied_unloaded: float = float("nan")

    @property
    def min_joint_margin(self) -> float:
        return float(self.joint_margin.min())

    def ok(self, joint_margin: float = 0.0, ik_error: float = 1e-4) -> bool:
        """No joint beyond its range (by `joint_margin`), every target reached, ZMP inside the support."""
        return self.min_joint_margin >= joint_margin and self.ik_error <= ik_error and self.zmp_margin > 0.0


def check_plan(plan: GaitPlan, gm: GaitModel | None = None) -> PlanCheck:
    """Measure a plan's kinematic validity (see `PlanCheck`) with MuJoCo FK of its clipped joints."""
    gm = gm if gm is not None else _default_model()
    m, d = gm.model, gm.data
    lo, hi = gm.spec.joint_range[:, 0], gm.spec.joint_range[:, 1]
    margin = np.minimum(plan.joints_raw.min(axis=0) - lo, hi - plan.joints_raw.max(axis=0))
    quat = _quat_pitch(plan.params.torso_pitch)
    n = len(plan.t)
    foot_ids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"{s}_foot") for s in SIDES]
    pads = {s: [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"{s}_{g}") for g in ("toe", "heel")] for s in SIDES}
    # The point of each foot that stays put while it is down: the ankle of a level foot (the rocking rolls the
    # sole about it), the toe pad's front bottom edge in a heel-off, the heel pad's back edge after a heel-strike
    # (the foot rolls about that edge; its roll moves the edge sideways, so only x counts there).
    ankle = np.zeros((n, 2, 3))
    edge = {+1: np.zeros((n, 2, 3)), -1: np.zeros((n, 2, 3))}
    edge_pt = {sgn: np.array([gm.geo.pad_x[i], 0.0, -gm.geo.sole_depth]) for sgn, i in ((+1, 1), (-1, 0))}
    tilt = np.zeros((n, 2, 2))  # pitch, roll of each sole
    gap = np.inf
    for k in range(n):
        gm.set_pose(plan.waist[k], quat, plan.joints[k])
        for i, b in enumerate(foot_ids):
            rm = d.xmat[b].reshape(3, 3)
            ankle[k, i] = d.xpos[b]
            for sgn in (+1, -1):
                edge[sgn][k, i] = d.xpos[b] + rm @ edge_pt[sgn]
            tilt[k, i] = np.arcsin(np.clip(-rm[2, 0], -1, 1)), np.arctan2(rm[2, 1], rm[2, 2])
        ys = {}
        for s in SIDES:
            corners = []
            for g in pads[s]:
                rg = d.geom_xmat[g].reshape(3, 3)
                for sx in (-1, 1):
                    for sy in (-1, 1):
                        for sz in (-1, 1):
                            corners.append(d.geom_xpos[g] + rg @ (m.geom_size[g] * np.array([sx, sy, sz])))
            ys[s] = np.array(corners)[:, 1]
        gap = min(gap, float(ys["left"].min() - ys["right"].max()))
    sole = np.stack([plan.sole_pitch.get(s, np.zeros(n)) for s in SIDES], axis=1)
    step = np.diff(ankle, axis=0)[:, :, :2]  # (n - 1, 2, 2) horizontal motion of the still point per frame pair
    height = ankle[:, :, 2] - ankle[0, :, 2]
    for sgn in (+1, -1):
        on = sgn * sole > 0.0
        pair = on[1:] | on[:-1]
        dx = np.diff(edge[sgn][:, :, 0], axis=0)
        step = np.where(pair[:, :, None], np.stack([dx, np.zeros_like(dx)], axis=2), step)
        height = np.where(on, edge[sgn][:, :, 2] - ankle[0, :, 2] + gm.geo.sole_depth, height)
    down = np.stack([plan.contact[s] for s in SIDES], axis=1)
    slip = 0.0
    for i in range(2):
        both = down[1:, i] & down[:-1, i]
        if both.any():
            slip = max(slip, float(np.max(np.linalg.norm(step[both, i], axis=1))))
    # kinematic contact: on the standing height (0.1 mm; 1 mm for a rolling edge, which the sole's roll lifts a
    # little) and still (0.1 mm per frame)
    on_floor = np.abs(height) < np.where(sole != 0.0, 1e-3, 1e-4)
    still = np.ones((n, 2), dtype=bool)
    still[1:] = np.linalg.norm(step, axis=2) < 1e-4
    kin_down = on_floor & still
    t0, t1 = steady_window(plan)
    sel = (plan.t >= t0 - 1e-9) & (plan.t < t1 - 1e-9)
    ds = float(np.mean(kin_down[sel].all(axis=1)))
    k0, k1 = int(round(t0 * plan.params.fps)), int(round(t1 * plan.params.fps))
    speed = float((plan.waist[k1, 0] - plan.waist[k0, 0]) / (plan.t[k1] - plan.t[k0]))
    fps = plan.params.fps
    load = 1.0 + np.gradient(np.gradient(plan.model_com[:, 2])) * fps * fps / GRAVITY
    return PlanCheck(
        joint_margin=margin,
        ik_error=float(plan.ik_error.max()),
        zmp_margin=float(support_polygon_margin(plan).min()),
        com_over_support=float(np.mean(support_polygon_margin(plan, plan.model_com[:, :2]) > 0.0)),
        foot_slip=slip,
        max_sole_pitch=float(np.max(np.abs(tilt[:, :, 0][down]))),
        max_sole_roll=float(np.max(np.abs(tilt[:, :, 1][down]))),
        foot_gap=gap,
        double_support=ds,
        steady_speed=speed,
        max_joint_speed=np.abs(np.diff(plan.joints, axis=0)).max(axis=0) * plan.params.fps,
        implied_load_p10=float(np.percentile(load[sel], 10)),
        implied_unloaded=float(np.mean(load[sel] < GateConfig().unloaded_load_threshold)),
    )


def plan_geometry() -> LegGeometry:
    return _default_model().geo


def _convex_margin(points: np.ndarray, q: np.ndarray) -> float:
    """Signed distance of q to the convex hull of points (+ inside); exact inside, edge-based outside."""
    hull = _hull(points)
    m = len(hull)
    d_in = np.inf
    outside = False
    best_out = np.inf
    for i in range(m):
        a, b = hull[i], hull[(i + 1) % m]
        e = b - a
        nrm = np.array([e[1], -e[0]]) / np.linalg.norm(e)  # outward for a counter-clockwise hull
        dist = float(nrm @ (q - a))
        if dist > 0:
            outside = True
        d_in = min(d_in, -dist)
        t_ = np.clip((q - a) @ e / (e @ e), 0.0, 1.0)
        best_out = min(best_out, float(np.linalg.norm(q - (a + t_ * e))))
    return -best_out if outside else d_in


def _hull(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull (Andrew's monotone chain)."""
    pts = sorted(set(map(tuple, np.round(points, 12))))
    if len(pts) < 3:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])
