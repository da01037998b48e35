"""Gait generator: IK against MuJoCo forward kinematics, limits, ZMP support, speed, symmetry."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from reference import make_clips
from reference.gait import (
    SIDE_SIGN,
    SIDES,
    GaitModel,
    GaitParams,
    _swing_profile,
    check_plan,
    generate_gait,
    leg_ik,
    plan_footsteps,
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
    # starts and ends standing still (the preview controller's anticipatory lateral shift moves the
    # hip roll by ~0.002 rad in the first 0.1 s)
    assert np.allclose(clip.joint_pos[0], clip.joint_pos[5], atol=3e-3)
    assert np.allclose(clip.joint_pos[-1], clip.joint_pos[-6], atol=3e-3)
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


# ------------------------------------------------------------------ gait-1.2: ramps, swing shape, validity


@pytest.fixture(scope="module")
def fast_plan(gm):
    """The library's 0.8 m/s gait (configs/gaits.yaml walk_v080_l160)."""
    (params,) = [p for p in make_clips.load_gait_config(make_clips.DEFAULT_CONFIG) if p.name == "walk_v080_l160"]
    return generate_gait(params, gm)


@pytest.mark.parametrize("which", ["plan", "fast_plan"])
def test_zmp_tracks_its_reference_in_single_support(which, request):
    """Preview control weighs ref[k+1] with gd[0] = -gi (a one-sample offset used to lag the ZMP
    by a control step: 12-25 mm off at each lift, outside the sole at 0.8 m/s)."""
    p = request.getfixturevalue(which)
    single = p.contact["left"] ^ p.contact["right"]
    assert np.abs(p.zmp - p.zmp_ref)[single].max() < 0.005
    assert support_polygon_margin(p).min() > 0.01


def test_ramp_steps_grow_and_shrink_the_step_length():
    p = GaitParams(name="ramp", speed=0.5, step_length=0.12, duration=5.0, ramp_steps=2)
    steps, _ = plan_footsteps(p)
    x = np.array([0.0] + [s.x1 for s in steps])  # footholds in order (the first: both feet at 0)
    adv = np.diff(x)
    np.testing.assert_allclose(adv[:3], [0.04, 0.08, 0.12], atol=1e-12)
    np.testing.assert_allclose(adv[-4:], [0.12, 0.08, 0.04, 0.0], atol=1e-12)  # the last step closes the feet
    assert np.all(adv[2:-3] == pytest.approx(0.12))
    plain = plan_footsteps(GaitParams(name="plain", speed=0.5, step_length=0.12, duration=5.0))[0]
    np.testing.assert_allclose(np.diff([0.0] + [s.x1 for s in plain])[:-1], 0.12)  # ramp 0: as before
    with pytest.raises(ValueError, match="ramp_steps"):
        GaitParams(name="bad", speed=0.5, step_length=0.12, ramp_steps=5).validate()


def test_steady_window_excludes_the_ramps(fast_plan):
    r = fast_plan.params.ramp_steps
    t0, t1 = steady_window(fast_plan)
    assert t0 == fast_plan.steps[1 + r].t_start and t1 == fast_plan.steps[-1 - r].t_start
    k0, k1 = int(round(t0 * 50)), int(round(t1 * 50))
    speed = (fast_plan.waist[k1, 0] - fast_plan.waist[k0, 0]) / (fast_plan.t[k1] - fast_plan.t[k0])
    assert abs(speed - 0.8) < 0.08


def test_swing_profile_peak():
    s = np.linspace(0.0, 1.0, 2001)
    _, h = _swing_profile(s)  # default: the symmetric bump of gait-1.1
    np.testing.assert_allclose(h, 64 * s**3 * (1 - s) ** 3, atol=1e-12)
    _, h = _swing_profile(s, peak=0.6)
    assert s[np.argmax(h)] == pytest.approx(0.6, abs=1e-3) and h.max() == pytest.approx(1.0, abs=1e-6)
    assert h[0] == 0.0 and h[-1] == 0.0 and np.all(h >= 0.0)


def test_check_plan_passes_the_fast_library_gait(fast_plan, gm):
    c = check_plan(fast_plan, gm)
    assert c.ok() and c.min_joint_margin > np.radians(3.0)
    assert c.ik_error < 1e-6 and c.foot_slip < 1e-6 and c.max_sole_pitch < 1e-6
    assert c.foot_gap > 0.05  # the soles never come near each other sideways
    assert 0.15 <= c.double_support <= 0.30
    assert np.isfinite(c.max_joint_speed).all()


def test_check_plan_refuses_a_gait_beyond_the_hip_stop(gm):
    """gait-1.1's walk_v060_l140 (upright, no lean, no ramp) needs the hip ~20 deg past its -5 deg stop."""
    old = GaitParams(name="old_v060", speed=0.6, step_length=0.14, com_height=0.298, duration=5.0)
    c = check_plan(generate_gait(old, gm), gm)
    assert not c.ok()
    assert c.joint_margin[[0, 4]].min() < -np.radians(10.0)  # a hip pitch
    assert c.ik_error > 0.005  # and a foot out of reach: the clipped clip would slide its feet


def test_make_clips_refuses_invalid_gaits_and_reads_degrees(tmp_path):
    cfg = tmp_path / "gaits.yaml"
    cfg.write_text("defaults: {duration: 5.0, ramp_steps: 2}\n"
                   "gaits:\n  - {name: ok, speed: 0.3, step_length: 0.08, torso_pitch_deg: 7.5}\n")
    (params,) = make_clips.load_gait_config(cfg)
    assert params.torso_pitch == pytest.approx(np.radians(7.5))
    assert make_clips.main(["--config", str(cfg), "--output-dir", str(tmp_path / "out"), "--no-track"]) == 0
    assert (tmp_path / "out" / "ok.npz").exists()
    cfg.write_text("gaits:\n  - {name: bad, speed: 0.6, step_length: 0.14, com_height: 0.298, duration: 5.0}\n")
    with pytest.raises(SystemExit, match="bad: joint margins"):
        make_clips.main(["--config", str(cfg), "--output-dir", str(tmp_path / "out2"), "--no-track"])
    assert not (tmp_path / "out2").exists()
    cfg.write_text("gaits:\n  - {name: both, speed: 0.3, step_length: 0.08, torso_pitch: 0.1, torso_pitch_deg: 5}\n")
    with pytest.raises(ValueError, match="not both"):
        make_clips.load_gait_config(cfg)


# ------------------------------------------------------------------ gait-1.3: the level whole-body COM
@pytest.mark.parametrize("level", [0.0, 0.5, 1.0])
def test_level_com_cancels_that_share_of_the_com_bob(gm, level):
    """level_com = a leaves about (1 - a) of the constant-waist COM bob; a = 1 levels it, and the waist moves."""
    base = GaitParams(name="lvl", speed=0.5, step_length=0.12, com_height=0.29, torso_pitch=np.radians(10.0),
                      ramp_steps=3, duration=5.0, lateral_sway=-0.4, clearance=0.035)
    flat, leveled = (generate_gait(GaitParams(**{**base.__dict__, "level_com": a}), gm) for a in (0.0, level))
    t0, t1 = steady_window(flat)
    sel = (flat.t >= t0) & (flat.t < t1)
    bob0 = np.ptp(flat.model_com[sel, 2])
    bob = np.ptp(leveled.model_com[sel, 2])
    assert bob0 > 0.008  # the swinging legs lift the COM by millimetres at this cadence
    assert bob == pytest.approx((1.0 - level) * bob0, abs=0.15 * bob0)
    if level == 0.0:
        assert np.ptp(flat.waist[:, 2]) == 0.0  # gait-1.2: a constant waist height
    else:
        assert np.ptp(leveled.waist[sel, 2]) > 0.5 * level * bob0


def test_check_plan_reports_the_foot_load_the_clip_asks_for(gm):
    """The COM bob of a constant waist asks the floor to pull; a level COM asks for about m g throughout."""
    base = GaitParams(name="lvl", speed=0.5, step_length=0.12, com_height=0.29, torso_pitch=np.radians(10.0),
                      ramp_steps=3, duration=5.0, lateral_sway=-0.4, clearance=0.035)
    bobbing = check_plan(generate_gait(base, gm), gm)
    level = check_plan(generate_gait(GaitParams(**{**base.__dict__, "level_com": 1.0}), gm), gm)
    assert bobbing.implied_load_p10 < 0.6 and bobbing.implied_unloaded > 0.1
    assert level.implied_load_p10 > 0.9 and level.implied_unloaded == 0.0


def test_level_com_outside_its_range_is_refused():
    with pytest.raises(ValueError, match="level_com"):
        GaitParams(name="bad", speed=0.3, step_length=0.09, level_com=1.5).validate()




# ------------------------------------------------------------------ gait-1.4: heel-toe steps
HEEL_TOE = GaitParams(name="ht", speed=0.7, step_length=0.20, com_height=0.29, torso_pitch=np.radians(12.5),
                      ramp_steps=3, swing_peak=0.6, duration=6.0, double_support=0.2, lateral_sway=-0.4, clearance=0.04,
                      heel_off=np.radians(25.0), heel_strike=np.radians(10.0), level_com=0.5)


@pytest.mark.parametrize("sole_pitch", [-0.2, 0.3])
def test_ik_gives_the_requested_sole_pitch(gm, sole_pitch):
    target = np.array([0.02, gm.geo.foot_y, -0.30])
    for torso in (0.0, 0.2):
        q = leg_ik(gm.geo, "left", target, torso, sole_pitch)
        joints = np.zeros(8)
        joints[:4] = q
        gm.set_pose(np.zeros(3), _pitch_quat(torso), joints)
        foot = gm.data.body("left_foot")
        rot = np.array([[np.cos(torso), 0, np.sin(torso)], [0, 1, 0], [-np.sin(torso), 0, np.cos(torso)]])
        assert np.linalg.norm(foot.xpos - rot @ target) < 1e-6
        assert np.arcsin(-foot.xmat.reshape(3, 3)[2, 0]) == pytest.approx(sole_pitch, abs=1e-6)  # + toe down


@pytest.fixture(scope="module")
def heel_toe_plan(gm):
    return generate_gait(HEEL_TOE, gm)


def test_heel_off_rolls_the_trailing_foot_about_its_toe_edge(gm, heel_toe_plan):
    """At every lift the sole is pitched toe down by heel_off, its toe edge still on the floor where it stood."""
    plan = heel_toe_plan
    geo = gm.geo
    toe_edge = np.array([geo.pad_x[1], 0.0, -geo.sole_depth])
    quat = _pitch_quat(plan.params.torso_pitch)
    for st in plan.steps[2:-2]:
        k = int(round(st.t_lift * plan.params.fps)) - 1  # the last frame on the floor
        j = int(round(st.t_start * plan.params.fps)) + 1  # early in the double support: still nearly flat
        edges = []
        for frame in (j, k):
            gm.set_pose(plan.waist[frame], quat, plan.joints[frame])
            foot = gm.data.body(f"{st.swing}_foot")
            edges.append(foot.xpos + foot.xmat.reshape(3, 3) @ toe_edge)
        assert plan.sole_pitch[st.swing][k] >= 0.45 * HEEL_TOE.heel_off  # halfway: the double support is 3 frames
        assert edges[1][2] == pytest.approx(0.0, abs=1e-4)  # the toe edge is on the floor ...
        assert abs(edges[1][0] - edges[0][0]) < 1e-3  # ... where it was: the foot rolled, it did not slide


def test_heel_toe_steps_reach_further_than_flat_feet(gm, heel_toe_plan):
    """A 0.20 m step at 0.7 m/s: valid with heel-off and heel-strike, beyond the joints or the reach with flat feet."""
    c = check_plan(heel_toe_plan, gm)
    assert c.ok() and c.min_joint_margin > np.radians(3.0) and c.ik_error < 1e-6
    assert c.foot_slip < 1e-3  # the still point of each foot (ankle, or the edge it rolls about) does not move
    assert 0.15 <= c.double_support <= 0.25
    flat = GaitParams(**{**HEEL_TOE.__dict__, "heel_off": 0.0, "heel_strike": 0.0})
    cf = check_plan(generate_gait(flat, gm), gm)
    assert not (cf.ok() and cf.min_joint_margin > np.radians(3.0))


def test_heel_toe_angles_outside_their_range_are_refused():
    for field in ("heel_off", "heel_strike"):
        with pytest.raises(ValueError, match=field):
            GaitParams(name="bad", speed=0.3, step_length=0.09, **{field: 1.0}).validate()


def test_make_clips_reads_heel_toe_angles_in_degrees(tmp_path):
    cfg = tmp_path / "gaits.yaml"
    cfg.write_text("defaults: {heel_strike_deg: 10.0}\n"
                   "gaits:\n  - {name: ht, speed: 0.6, step_length: 0.2, heel_off_deg: 25.0}\n")
    (params,) = make_clips.load_gait_config(cfg)
    assert params.heel_off == pytest.approx(np.radians(25.0)) and params.heel_strike == pytest.approx(np.radians(10.0))


@pytest.mark.parametrize("name", ["walk_v030_l080", "walk_v080_l170"])
def test_the_generator_reproduces_the_shipped_clips_exactly(gm, name):
    """configs/gaits.yaml + reference.gait give the committed library (heel-toe off, COM unlevelled) to rounding: bit
    for bit on the machine that made it, within 1e-13 on a fresh install (numpy 2.4.6), so the bound is 1e-9."""
    from reference.clips import load_clip
    from wildrobot_gym.paths import CLIP_LIBRARY, CONFIG_DIR

    params = {p.name: p for p in make_clips.load_gait_config(CONFIG_DIR / "gaits.yaml")}[name]
    clip = plan_to_clip(generate_gait(params, gm))
    shipped = load_clip(CLIP_LIBRARY / f"{name}.npz")
    np.testing.assert_allclose(clip.joint_pos, shipped.joint_pos, rtol=0, atol=1e-9)
    np.testing.assert_allclose(clip.root_pos, shipped.root_pos, rtol=0, atol=1e-9)
