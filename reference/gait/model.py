"""Walking-gait generator for WildRobot: footstep plan -> LIPM/ZMP preview COM -> leg IK -> `Clip`.

Why this exists: retargeted human clips gave 0 s of trackable reference (the robot fell in 1-3 s of
open-loop PD tracking). These gaits are built from the robot's own kinematics and masses so that a
PD servo can follow them: a crouched posture, a flat foot, a centre of mass (COM) that follows a
linear-inverted-pendulum plan whose zero-moment point (ZMP) stays inside the support polygon.

Pipeline (`generate_gait`):
  1. `plan_footsteps`: alternating footholds (first swing: left), step length L, step time T = L / v,
     a double-support fraction of T; a standing hold before and after; first and last steps are
     half strides so the feet start and end side by side. With `ramp_steps` = r > 0 the first and
     last r footholds advance by L/(r+1), 2L/(r+1), ... so the COM accelerates and brakes over
     several steps (a fast gait started in one step needs joints beyond their limits).
  2. `zmp_reference` + `preview_control`: Kajita's ZMP preview control on the cart-table model at
     height z_c gives the COM path; the ZMP reference sits on the support foot's centre in x and is
     moved `zmp_inset` inwards from the foot centre in y (the robot has no ankle roll, see below).
  3. Swing feet: minimum-jerk (quintic) progression in x, a smooth 64 s^3 (1-s)^3 height bump of
     `clearance`; the sole stays parallel to the floor in pitch, unless the gait rolls its feet:
     with `heel_off` the trailing sole pitches toe down about its toe pad's front edge over the double
     support before a lift (the edge stays on the floor) and is level again by mid-swing; with
     `heel_strike` the swing sole pitches toe up from mid-swing, lands on its heel pad's back edge and
     rolls flat over the next double support. Why: a flat trailing foot caps the step at ~0.17 m (the
     ankle's dorsiflexion stop behind, the leading leg's reach in front), and at that step length a
     0.8 m/s walk needs 4.7-5 steps/s; a heel-toe step of 0.20-0.21 m makes it at 3.8-4 steps/s.
  4. Waist from COM: the waist carries only 38 % of the mass, so "waist = COM + constant" is wrong
     by the legs' motion. Each frame the waist's horizontal position is corrected by a fixed-point
     iteration on the model's true whole-body COM (MuJoCo `subtree_com` after leg IK), so the model's
     COM follows the LIPM plan with the real link masses. `level_com` = a in [0, 1] applies the same
     iteration to the height with gain a: the waist bobs against the swing leg's lift and the
     whole-body COM's bob shrinks to about (1 - a) of what a constant waist height (a = 0, gait-1.2)
     gives. At a = 0 the lifting legs moved the COM 11-16 mm peak to peak at 3-5 steps/s: up to
     +-0.7 g of vertical acceleration on the fast clips, so following them exactly left the feet
     unloaded (< 0.6 m g) in 20-24 % of the frames, twice the Tier 0+ `unloaded_fraction` gate.
     a = 1 levels the COM but needs the waist to bob 20-32 mm, past the knee's and hip roll's
     ranges on most gaits. The shipped library keeps a = 0: a levelled one (docs/results/tracker_v5/
     gaits_level.yaml) did not mine more walking (docs/results/tracker.md). The standing waist height
     gives the requested COM height in the crouched standing pose.
  5. `leg_ik`: analytic IK of the hip pitch - hip roll - knee - ankle pitch leg (kinematics.py).

Kinematic limits this robot imposes (documented because they shape the gaits): with no ankle roll
the foot's roll equals the leg's frontal tilt, so a flat-footed stance keeps each hip above its
ankle and the pelvis cannot shift sideways over the stance foot. Lateral balance is therefore
dynamic. Measured in MuJoCo: commanding the LIPM's lateral waist sway (legs tilted in parallel by
hip roll) does not move the pelvis sideways; the floor keeps the soles flat, so the whole robot
rolls the other way and loads the foot that should swing (the robot then shuffles in place or
falls). Commanding the opposite sway (`lateral_sway` < 0) rolls the robot onto the stance foot's
outer edge and unloads the swing foot: a rocking gait, which is what these clips use. So the
lateral COM/ZMP of the plan is nominal (used for the timing and amplitude of the rocking); the
sagittal plan (x) is realised: the model's COM follows it.

The steps live in plan.py (1), zmp.py (2), trajectories.py (3), this file (4) and kinematics.py (5);
checks.py checks a plan, tracking.py plays its clip.
"""
from __future__ import annotations

from functools import lru_cache

import mujoco
import numpy as np

from reference.clips import Clip
from reference.gait.kinematics import (
    SIDE_SIGN,
    SIDES,
    LegGeometry,
    _quat_pitch,
    _rot_y,
    leg_fk,
    leg_ik,
)
from reference.gait.plan import GaitParams, GaitPlan, plan_footsteps
from reference.gait.trajectories import foot_trajectories
from reference.gait.zmp import preview_control, zmp_reference
from wildrobot_gym.robot import NUM_JOINTS, RobotSpec, load_model

# 1.1: default clearance 0.045 m. 1.2: preview control weighs ref[k+1] with gd[0] (the ZMP lagged a
# control step), ramp_steps, swing_peak, unclipped IK + check_plan, steady window in the metadata.
# 1.3: level_com (the whole-body COM held at the LIPM height) and check_plan's implied foot load; level_com 0
# gives the 1.2 clips exactly.
# 1.4: heel_off / heel_strike (the sole rolls about its toe edge before a lift, about its heel edge after a
# touchdown), leg_ik's sole pitch; both 0 give the 1.3 clips exactly.
GENERATOR_VERSION = "gait-1.4"


class GaitModel:
    """The compiled model plus scratch data used for COM corrections, IK checks and tracking."""

    def __init__(self, model: mujoco.MjModel | None = None) -> None:
        self.model = model if model is not None else load_model()
        self.data = mujoco.MjData(self.model)
        self.spec = RobotSpec.from_model(self.model)
        self.geo = LegGeometry.from_model(self.model)

    def whole_ik(self, waist: np.ndarray, feet: dict[str, np.ndarray], pitch: float,
                 sole_pitch: dict[str, float] | None = None) -> np.ndarray:
        """Joint vector (actuator order) for a waist position/pitch, world ankle positions and sole pitches
        (level when None)."""
        rot_t = _rot_y(pitch).T
        q = np.zeros(NUM_JOINTS)
        for i, side in enumerate(SIDES):
            tilt = 0.0 if sole_pitch is None else float(sole_pitch[side])
            q[4 * i : 4 * i + 4] = leg_ik(self.geo, side, rot_t @ (feet[side] - waist), pitch, tilt)
        return q

    def ik_reach_error(self, waist: np.ndarray, feet: dict[str, np.ndarray], pitch: float, q: np.ndarray) -> float:
        """Worst distance (m) between the ankles of `q` (leg FK) and their targets: > 0 when out of reach."""
        rot_t = _rot_y(pitch).T
        err = 0.0
        for i, side in enumerate(SIDES):
            ankle, _ = leg_fk(self.geo, side, q[4 * i : 4 * i + 4], pitch)
            err = max(err, float(np.linalg.norm(ankle - rot_t @ (feet[side] - waist))))
        return err

    def set_pose(self, waist: np.ndarray, quat: np.ndarray, joints: np.ndarray) -> None:
        """Write a pose into the scratch data and run forward kinematics (+ subtree COMs)."""
        self.data.qpos[:3] = waist
        self.data.qpos[3:7] = quat
        self.data.qpos[self.spec.joint_qpos_adr] = joints
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)

    def com(self) -> np.ndarray:
        return self.data.subtree_com[self.spec.root_body].copy()

    def waist_height_for_com(self, com_height: float, width: float, pitch: float = 0.0) -> float:
        """Waist height whose crouched stance (feet under the hips, level soles) has this COM height."""
        lo, hi = 0.30, 0.4699
        quat = _quat_pitch(pitch)
        for _ in range(50):  # bisection: the COM rises monotonically with the waist
            mid = 0.5 * (lo + hi)
            waist = np.array([0.0, 0.0, mid])
            feet = {s: np.array([0.0, SIDE_SIGN[s] * width, self.geo.sole_depth]) for s in SIDES}
            feet = self._centre_feet_under_com(waist, feet, quat, pitch)
            self.set_pose(waist, quat, self.whole_ik(waist, feet, pitch))
            if self.com()[2] < com_height:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def _centre_feet_under_com(self, waist, feet, quat, pitch):
        """Shift both feet in x so that the standing COM is over the sole centres (a few iterations)."""
        feet = {k: v.copy() for k, v in feet.items()}
        for _ in range(5):
            self.set_pose(waist, quat, self.whole_ik(waist, feet, pitch))
            dx = self.com()[0] - (feet["left"][0] + self.geo.sole_center_x)
            for v in feet.values():
                v[0] += dx
        return feet


def generate_gait(params: GaitParams, gm: GaitModel | None = None, com_iterations: int = 4) -> GaitPlan:
    """Plan one gait (see the module docstring); the result's `joints` are the clip's targets."""
    params.validate()
    gm = gm if gm is not None else _default_model()
    geo = gm.geo
    width = params.stance_width if params.stance_width is not None else geo.foot_y
    dt_plan = 1.0 / (2 * params.fps)  # preview control at twice the frame rate, then sampled
    steps, t_end = plan_footsteps(params)
    n_plan = int(round(params.duration / dt_plan))
    t_plan = np.arange(n_plan) * dt_plan
    zref_plan = zmp_reference(params, geo, steps, t_plan, width)
    com_plan, zmp_plan = preview_control(zref_plan, params.com_height, dt_plan)
    t = t_plan[::2]
    com_xy, zmp, zref = com_plan[::2], zmp_plan[::2], zref_plan[::2]
    feet, contact, sole_pitch = foot_trajectories(params, geo, steps, t, width)

    pitch = params.torso_pitch
    quat = _quat_pitch(pitch)
    z_w = gm.waist_height_for_com(params.com_height, width, pitch)
    # The standing pose puts the COM over the sole centre: remember the waist-COM x offset there,
    # as the first guess of every frame's correction.
    stand_feet = {s: np.array([0.0, SIDE_SIGN[s] * width, geo.sole_depth]) for s in SIDES}
    stand_feet = gm._centre_feet_under_com(np.array([0.0, 0.0, z_w]), stand_feet, quat, pitch)
    gm.set_pose(np.array([0.0, 0.0, z_w]), quat, gm.whole_ik(np.array([0.0, 0.0, z_w]), stand_feet, pitch))
    offset = np.array([0.0 - gm.com()[0], 0.0 - gm.com()[1]])

    n = len(t)
    waist = np.zeros((n, 3))
    joints = np.zeros((n, NUM_JOINTS))
    joints_raw = np.zeros((n, NUM_JOINTS))
    ik_error = np.zeros(n)
    model_com = np.zeros((n, 3))
    for k in range(n):
        w = np.array([com_xy[k, 0] + offset[0], com_xy[k, 1] + offset[1], z_w])
        fk = {s: feet[s][k] for s in SIDES}
        tilt = {s: sole_pitch[s][k] for s in SIDES}
        for _ in range(com_iterations):  # fixed point: move the waist until the model COM is on plan
            q = gm.whole_ik(w, fk, pitch, tilt)
            gm.set_pose(w, quat, q)
            w[:2] += com_xy[k] - gm.com()[:2]
        if params.level_com > 0.0:  # then the height: (1 - a) of the constant-waist COM bob is left
            z_target = params.com_height + (1.0 - params.level_com) * (gm.com()[2] - params.com_height)
            for _ in range(com_iterations):
                gm.set_pose(w, quat, gm.whole_ik(w, fk, pitch, tilt))
                c = gm.com()
                w[:2] += com_xy[k] - c[:2]
                w[2] += z_target - c[2]
        w[1] *= params.lateral_sway
        # Targets outside the joint ranges would be clipped by the servos' ctrlrange anyway; the
        # unclipped solution and its reach error are kept for `check_plan`.
        q_raw = gm.whole_ik(w, fk, pitch, tilt)
        joints_raw[k] = q_raw
        ik_error[k] = gm.ik_reach_error(w, fk, pitch, q_raw)
        q = np.clip(q_raw, gm.spec.joint_range[:, 0], gm.spec.joint_range[:, 1])
        gm.set_pose(w, quat, q)
        waist[k], joints[k], model_com[k] = w, q, gm.com()
    com = np.column_stack([com_xy, np.full(n, params.com_height)])
    return GaitPlan(
        params=params,
        t=t,
        steps=steps,
        com=com,
        zmp=zmp,
        zmp_ref=zref,
        feet=feet,
        contact=contact,
        waist=waist,
        joints=joints,
        walk_window=(steps[0].t_lift, steps[-1].t_land),
        model_com=model_com,
        joints_raw=joints_raw,
        ik_error=ik_error,
        sole_pitch=sole_pitch,
    )


@lru_cache(maxsize=1)
def _default_model() -> GaitModel:
    return GaitModel()


def plan_to_clip(plan: GaitPlan) -> Clip:
    """Package a plan as a project `Clip` (50 Hz, waist pose, joint targets, descriptive metadata)."""
    p = plan.params
    n = len(plan.t)
    quat = np.tile(_quat_pitch(p.torso_pitch), (n, 1))
    meta = {
        "source": "reference.gait",
        "generator": "lipm_zmp_preview",
        "generator_version": GENERATOR_VERSION,
        "speed": p.speed,
        "step_length": p.step_length,
        "step_time": p.step_time,
        "double_support": p.double_support,
        "com_height": p.com_height,
        "waist_height": float(plan.waist[0, 2]),
        "clearance": p.clearance,
        "swing_peak": p.swing_peak,
        "heel_off": p.heel_off,
        "heel_strike": p.heel_strike,
        "zmp_inset": p.zmp_inset,
        "torso_pitch": p.torso_pitch,
        "stance_width": float(abs(plan.feet["left"][0, 1])),
        "num_steps": len(plan.steps),
        "first_swing": plan.steps[0].swing,
        "walk_start_s": plan.walk_window[0],
        "walk_end_s": plan.walk_window[1],
        "steady_start_s": steady_window(plan)[0],
        "steady_end_s": steady_window(plan)[1],
        "ramp_steps": p.ramp_steps,
        "cadence_steps_per_s": 1.0 / p.step_time,
        "direction": "+x",
    }
    return Clip(name=p.name, fps=p.fps, root_pos=plan.waist.copy(), root_quat=quat, joint_pos=plan.joints.copy(), metadata=meta)


def steady_window(plan: GaitPlan) -> tuple[float, float]:
    """Time window of full strides (excludes the half first and last steps and the ramps), s."""
    r = plan.params.ramp_steps
    return plan.steps[1 + r].t_start, plan.steps[len(plan.steps) - 1 - r].t_start
