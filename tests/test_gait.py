"""Gait generator: IK against MuJoCo forward kinematics, limits, ZMP support, speed, symmetry."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from reference.gait import (
    SIDE_SIGN,
    SIDES,
    GaitModel,
    GaitParams,
    generate_gait,
    leg_ik,
    plan_to_clip,
    steady_window,
    support_polygon_margin,
)
from wildrobot_gym.robot import mirror_joints


@pytest.fixture(scope="module")
def gm() -> GaitModel:
    return GaitModel()


@pytest.fixture(scope="module")
def plan(gm):
    return generate_gait(GaitParams(name="test_walk", speed=0.3, step_length=0.09, duration=5.0), gm)


def _pitch_quat(pitch: float) -> np.ndarray:
    return np.array([np.cos(pitch / 2), 0.0, np.sin(pitch / 2), 0.0])


@pytest.mark.parametrize("pitch", [0.0, 0.08])
def test_ik_round_trip_through_mujoco(gm, pitch):
    """Over a grid of reachable ankle targets, MuJoCo FK puts the ankle within 5 mm, sole level in pitch."""
    geo = gm.geo
    rot = np.array([[np.cos(pitch), 0, np.sin(pitch)], [0, 1, 0], [-np.sin(pitch), 0, np.cos(pitch)]])
    worst = 0.0
    for side in SIDES:
        body = mujoco.mj_name2id(gm.model, mujoco.mjtObj.mjOBJ_BODY, f"{side}_foot")
        for x in np.linspace(-0.08, 0.10, 5):
            for dy in np.linspace(-0.02, 0.02, 3):
                for z in np.linspace(-0.36, -0.28, 4):
                    target = np.array([x, SIDE_SIGN[side] * geo.foot_y + dy, z])
                    q = leg_ik(geo, side, target, pitch)
                    joints = np.zeros(8)
                    joints[4 * SIDES.index(side) : 4 * SIDES.index(side) + 4] = q
                    gm.set_pose(np.zeros(3), _pitch_quat(pitch), joints)
                    worst = max(worst, float(np.linalg.norm(gm.data.xpos[body] - rot @ target)))
                    # foot x axis horizontal: sole parallel to the floor in pitch
                    assert abs(gm.data.xmat[body].reshape(3, 3)[2, 0]) < 1e-9
    assert worst < 0.005


def test_planned_feet_land_where_planned(gm, plan):
    """MuJoCo FK of the clip's frames reproduces the planned ankle positions (< 5 mm)."""
    clip = plan_to_clip(plan)
    bodies = [mujoco.mj_name2id(gm.model, mujoco.mjtObj.mjOBJ_BODY, f"{s}_foot") for s in SIDES]
    worst = 0.0
    for k in range(0, clip.num_frames, 3):
        gm.set_pose(clip.root_pos[k], clip.root_quat[k], clip.joint_pos[k])
        for side, b in zip(SIDES, bodies):
            worst = max(worst, float(np.linalg.norm(gm.data.xpos[b] - plan.feet[side][k])))
    assert worst < 0.005


def test_clip_fps_finite_and_in_joint_range(gm, plan):
    clip = plan_to_clip(plan)
    assert clip.fps == 50.0
    assert clip.joint_pos.shape == (clip.num_frames, 8)
    for arr in (clip.root_pos, clip.root_quat, clip.joint_pos):
        assert np.all(np.isfinite(arr))
    lo, hi = gm.spec.joint_range[:, 0], gm.spec.joint_range[:, 1]
    assert np.all(clip.joint_pos >= lo - 1e-9) and np.all(clip.joint_pos <= hi + 1e-9)
    np.testing.assert_allclose(np.linalg.norm(clip.root_quat, axis=1), 1.0, atol=1e-12)
    # starts and ends standing still
    assert np.allclose(clip.joint_pos[0], clip.joint_pos[5], atol=2e-3)
    assert np.allclose(clip.joint_pos[-1], clip.joint_pos[-6], atol=2e-3)
    for key in ("speed", "step_length", "step_time", "com_height", "clearance", "generator_version"):
        assert key in clip.metadata


def test_planned_zmp_inside_support_polygon(plan):
    assert support_polygon_margin(plan).min() > 0.0


def test_model_com_follows_sagittal_plan(plan):
    """The waist correction makes the real model's COM follow the LIPM plan in x."""
    assert np.max(np.abs(plan.model_com[:, 0] - plan.com[:, 0])) < 0.003


def test_mean_root_speed_matches_request(plan):
    t0, t1 = steady_window(plan)
    k0, k1 = int(round(t0 * 50)), int(round(t1 * 50))
    speed = (plan.waist[k1, 0] - plan.waist[k0, 0]) / (plan.t[k1] - plan.t[k0])
    assert abs(speed - plan.params.speed) < 0.1 * plan.params.speed


def test_left_and_right_steps_alternate(plan):
    swings = [s.swing for s in plan.steps]
    assert all(a != b for a, b in zip(swings, swings[1:]))
    # and in the clip: the lifted foot (FK) alternates
    lifted = []
    for k in range(len(plan.t)):
        up = [s for s in SIDES if plan.feet[s][k, 2] - plan.feet[s][0, 2] > 0.5 * plan.params.clearance]
        if up and (not lifted or lifted[-1] != up[0]):
            lifted.append(up[0])
    assert lifted == swings


def test_mirrored_gait_is_half_a_cycle_later(plan):
    """mirror(q(t)) ~ q(t + T) in the steady part of the walk (T = step time = half a cycle)."""
    T = plan.params.step_time
    shift = int(round(T * 50))
    assert abs(shift / 50 - T) < 1e-9  # the test gait's step time is a whole number of frames
    # skip a stride after the start and before the stop, where the preview controller is in transit
    t0, t1 = plan.steps[2].t_start, plan.steps[-2].t_start
    ks = np.arange(int(np.ceil(t0 * 50)), int(t1 * 50) - shift)
    assert len(ks) > 10
    err = np.abs(mirror_joints(plan.joints[ks]) - plan.joints[ks + shift])
    assert err.max() < np.radians(3.0)
