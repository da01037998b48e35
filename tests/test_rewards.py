"""Every reward term on hand-made inputs, the composer, and the phase wrapper's bookkeeping."""
from __future__ import annotations

import math

import numpy as np
import pytest

from wildrobot_gym import rewards as R
from wildrobot_gym.rewards import DEFAULT_PARAMS, TERMS, RewardComposer

P = DEFAULT_PARAMS


def make_info(**kw) -> dict:
    """A neutral info: standing upright on both feet at the commanded 0.6 m/s."""
    info = {
        "forward_velocity": 0.6, "lateral_velocity": 0.0, "vertical_velocity": 0.0, "command": 0.6,
        "root_ang_vel": np.zeros(3), "roll": 0.0, "pitch": 0.0, "joint_pos": np.zeros(8),
        "joint_vel": np.zeros(8), "joint_acc": np.zeros(8), "action": np.zeros(8), "prev_action": np.zeros(8),
        "actuator_torque": np.zeros(8), "joint_range_mid": np.zeros(8), "joint_range_half": np.ones(8),
        "gait_phase": 0.25, "command_phase": 0.25, "foot_contact": np.array([True, False]), "foot_slip_speed": np.zeros(2),
        "foot_force": np.array([30.0, 0.0]), "robot_weight": 33.0,
        "foot_touchdown": np.array([False, False]), "foot_last_air_time": np.zeros(2),
        "torque_saturated": np.zeros(8, dtype=bool), "sim_unstable": False, "yaw_rate_filtered": 0.0, "yaw": 0.0,
        "foot_height": np.zeros(2),
    }
    info.update(kw)
    return info


def test_every_term_has_a_docstring_formula():
    for name, f in TERMS.items():
        assert f.__doc__ and len(f.__doc__) > 5, name
        assert name in R.__doc__, f"{name} missing from the module's table"


def test_tracking_terms():
    assert R.tracking_exp_xy(make_info(), P) == pytest.approx(1.0)
    assert R.tracking_exp_xy(make_info(forward_velocity=0.1), P) == pytest.approx(math.exp(-0.25 / 0.25))
    assert R.tracking_lin_xy(make_info(), P) == pytest.approx(1.0)
    assert R.tracking_lin_xy(make_info(forward_velocity=0.35), P) == pytest.approx(0.5)
    assert R.tracking_lin_xy(make_info(forward_velocity=-1.0), P) == 0.0


@pytest.mark.parametrize("v, expected", [(-0.5, 0.0), (0.0, 0.0), (0.7, 0.7)])
def test_forward_velocity_bonus_pays_forward_only(v, expected):
    # Backward motion and standing still earn no bonus (seed 002's fix for the backward local minimum).
    assert R.forward_velocity_bonus(make_info(forward_velocity=v), P) == pytest.approx(expected)


def test_forward_bonus_weighted_matches_seed():
    comp = RewardComposer({"forward_velocity_bonus": 10.0})
    assert comp(make_info(forward_velocity=0.7))[0] == pytest.approx(7.0)
    assert comp(make_info(forward_velocity=-0.7))[0] == 0.0


def test_stability_terms():
    assert R.orientation(make_info(roll=0.1, pitch=-0.2), P) == pytest.approx(-0.05)
    leaning = {**P, "orientation_pitch_target": 0.3}  # pays for a forward lean of 0.3 rad, not for upright
    assert R.orientation(make_info(roll=0.0, pitch=0.3), leaning) == pytest.approx(0.0)
    assert R.orientation(make_info(roll=0.1, pitch=0.1), leaning) == pytest.approx(-0.05)
    assert R.vertical_velocity(make_info(vertical_velocity=0.3), P) == pytest.approx(-0.09)
    assert R.angular_velocity(make_info(root_ang_vel=np.array([1.0, 2.0, 5.0])), P) == pytest.approx(-5.0)


def test_smoothness_terms():
    q = np.zeros(8)
    q[0] = 0.95  # beyond 0.9 of the half range 1.0
    assert R.joint_limit(make_info(joint_pos=q), P) == pytest.approx(-0.05)
    assert R.joint_limit(make_info(joint_pos=np.full(8, 0.5)), P) == 0.0
    assert R.joint_velocity(make_info(joint_vel=np.ones(8)), P) == pytest.approx(-8.0)
    assert R.joint_acceleration(make_info(joint_acc=np.full(8, 10.0)), P) == pytest.approx(-800.0)
    assert R.action_rate(make_info(action=np.ones(8), prev_action=np.zeros(8)), P) == pytest.approx(-8.0)
    assert R.torque(make_info(actuator_torque=np.full(8, 2.0)), P) == pytest.approx(-32.0)
    assert R.existential(make_info(), P) == -5.0


def test_yaw_rate_charges_the_steady_turn_not_the_raw_gyro():
    assert R.yaw_rate(make_info(), P) == 0.0
    # Only the low-passed rate counts: a stride's twist in the raw gyro costs nothing by itself.
    assert R.yaw_rate(make_info(root_ang_vel=np.array([0.0, 0.0, 2.0])), P) == 0.0
    assert R.yaw_rate(make_info(yaw_rate_filtered=0.3), P) == pytest.approx(-0.09)
    assert R.yaw_rate(make_info(yaw_rate_filtered=-0.3), P) == pytest.approx(-0.09)


def test_heading_charges_the_squared_error_from_the_start_heading():
    assert R.heading(make_info(), P) == 0.0
    assert R.heading(make_info(yaw=0.5), P) == pytest.approx(-0.25)
    assert R.heading(make_info(yaw=-0.5), P) == pytest.approx(-0.25)
    np.testing.assert_allclose(R.heading({"yaw": np.array([0.0, 0.1, -3.0])}, P), [0.0, -0.01, -9.0])


def test_torque_saturation_is_the_saturated_fraction():
    assert R.torque_saturation(make_info(), P) == 0.0
    sat = np.array([True, True, False, False, False, False, False, False])
    assert R.torque_saturation(make_info(torque_saturated=sat), P) == pytest.approx(-0.25)
    batch = {"torque_saturated": np.stack([sat, np.ones(8, dtype=bool)])}
    np.testing.assert_allclose(R.torque_saturation(batch, P), [-0.25, -1.0])


def test_configs_without_the_later_terms_still_validate():
    """A config saved before yaw_rate / torque_saturation existed loads, with weight 0 for them."""
    import yaml

    from wildrobot_gym.config import validate_config
    from wildrobot_gym.paths import CONFIG_DIR

    cfg = yaml.safe_load((CONFIG_DIR / "phase1e.yaml").read_text())
    for name in R.LATER_TERMS:
        cfg["reward_weights"].pop(name, None)
    weights = validate_config(cfg)["reward_weights"]
    assert all(weights.get(name, 0.0) == 0.0 for name in R.LATER_TERMS)
    cfg["reward_weights"].pop("torque")
    with pytest.raises(Exception, match="torque"):
        validate_config(cfg)


def test_foot_contact_follows_gait_clock():
    left_stance = make_info(command_phase=0.2, foot_contact=np.array([True, False]))
    assert R.foot_contact(left_stance, P) == 1.0
    assert R.foot_contact(make_info(command_phase=0.7, foot_contact=np.array([True, False])), P) == 0.0
    assert R.foot_contact(make_info(command_phase=0.7, foot_contact=np.array([True, True])), P) == 0.5


def test_foot_contact_is_judged_on_the_clock_of_the_applied_command():
    # Under action latency the body's clock has moved on (0.55) while the applied targets were issued at
    # 0.45: the contact is judged against the latter.
    late = make_info(gait_phase=0.55, command_phase=0.45, foot_contact=np.array([True, False]))
    assert R.foot_contact(late, P) == 1.0


def test_stance_expectation_is_a_smooth_alternation():
    e = R.stance_expectation(np.array([0.25, 0.75, 0.0]), P)
    assert e[0, 0] > 0.99 and e[0, 1] < 0.01  # mid left stance
    assert e[1, 0] < 0.01 and e[1, 1] > 0.99  # mid right stance
    np.testing.assert_allclose(e[2], [0.5, 0.5])  # the switch: half way for both
    overlap = R.stance_expectation(0.0, {**P, "clock_overlap": 0.3})
    assert (overlap > 0.85).all()  # double support expected around the switch


def test_gait_clock_pays_the_clock_pattern_and_charges_load_in_swing_and_sliding_in_stance():
    right = make_info(command_phase=0.25, foot_force=np.array([30.0, 0.0]))
    assert R.gait_clock(right, P) == pytest.approx(1.0, abs=0.01)
    swapped = make_info(command_phase=0.25, foot_force=np.array([0.0, 30.0]))
    assert R.gait_clock(swapped, P) == pytest.approx(0.0, abs=0.01)
    half_loaded_swing = make_info(command_phase=0.25, foot_force=np.array([30.0, 5.0]))
    assert R.gait_clock(half_loaded_swing, P) == pytest.approx(0.75, abs=0.01)  # 0.5 of the swing foot's pay
    sliding_stance = make_info(command_phase=0.25, foot_force=np.array([30.0, 0.0]), foot_slip_speed=np.array([0.2, 0.0]))
    assert R.gait_clock(sliding_stance, P) == pytest.approx(0.5 * (math.exp(-1.0) + 1.0), abs=0.01)
    # Smooth in the timing: the swing foot landing just before the switch costs less than landing mid-swing.
    def cost(phase: float) -> float:
        lifted = make_info(command_phase=phase, foot_force=np.array([30.0, 0.0]))
        landed = make_info(command_phase=phase, foot_force=np.array([30.0, 30.0]))
        return R.gait_clock(lifted, P) - R.gait_clock(landed, P)
    assert 0.0 < cost(0.48) < 0.5 * cost(0.25)
    # One formula for one env and for a batch.
    batch = make_info(command_phase=np.array([0.25, 0.25]), foot_force=np.array([[30.0, 0.0], [0.0, 30.0]]),
                      foot_slip_speed=np.zeros((2, 2)))
    np.testing.assert_allclose(R.gait_clock(batch, P), [R.gait_clock(right, P), R.gait_clock(swapped, P)])


def test_flight_charges_the_steps_with_no_foot_loaded_above_a_tenth_of_the_weight():
    assert R.flight(make_info(foot_force=np.array([30.0, 0.0])), P) == 0.0  # single support
    assert R.flight(make_info(foot_force=np.array([20.0, 13.0])), P) == 0.0  # double support
    assert R.flight(make_info(foot_force=np.array([0.0, 0.0])), P) == -1.0  # both feet in the air
    assert R.flight(make_info(foot_force=np.array([3.0, 3.2])), P) == -1.0  # grazing: each under 0.1 x 33 N
    batch = make_info(foot_force=np.array([[0.0, 0.0], [3.4, 0.0], [0.0, 30.0]]))
    np.testing.assert_array_equal(R.flight(batch, P), [-1.0, 0.0, 0.0])


def test_double_support_pays_both_feet_loaded_only_where_the_clock_expects_both_down():
    p = {**P, "clock_overlap": 0.5, "clock_smoothing": 0.1}  # both expected down near phases 0 and 0.5
    both, one = np.array([20.0, 13.0]), np.array([30.0, 0.0])
    at_switch = R.double_support(make_info(command_phase=0.5, foot_force=both), p)
    assert at_switch == pytest.approx(1.0, abs=0.02)
    assert R.double_support(make_info(command_phase=0.5, foot_force=one), p) == 0.0  # single support
    assert R.double_support(make_info(command_phase=0.5, foot_force=np.array([30.0, 3.0])), p) == 0.0  # grazing
    assert R.double_support(make_info(command_phase=0.25, foot_force=both), p) < 0.01  # mid-stance: a shuffle
    # no overlap window in a clock without overlap
    assert R.double_support(make_info(command_phase=0.5, foot_force=both), {**P, "clock_overlap": 0.0}) <= 0.25
    batch = make_info(command_phase=np.array([0.5, 0.25]), foot_force=np.array([both, both]))
    np.testing.assert_allclose(R.double_support(batch, p), [at_switch, R.double_support(
        make_info(command_phase=0.25, foot_force=both), p)])


def test_symmetry_pays_a_leg_repeating_the_other_leg_mirrored_half_a_cycle_later():
    from wildrobot_gym.robot import mirror_joints
    q_half = np.array([0.5, 0.02, 0.7, -0.4, -0.3, -0.01, 0.2, -0.2])  # left leg forward, right behind
    walk = make_info(joint_pos=mirror_joints(q_half), joint_pos_half_cycle=q_half)
    assert R.symmetry(walk, P) == pytest.approx(1.0)
    # a limp: the right knee always 0.3 rad more bent than the left one at the same point of its step
    limp_now = mirror_joints(q_half)
    limp_now[6] += 0.3
    limp_half = q_half.copy()
    limp_half[6] += 0.3  # the error is 0.3 rad on both knees
    limp = R.symmetry(make_info(joint_pos=limp_now, joint_pos_half_cycle=limp_half), P)
    assert limp == pytest.approx(math.exp(-2 * 0.3 ** 2 / P["symmetry_sigma"]))
    # the same pose half a cycle later is no step at all: it pays only as much as the legs' mirror error
    still = R.symmetry(make_info(joint_pos=q_half, joint_pos_half_cycle=q_half), P)
    assert still < limp < 1.0
    batch = make_info(joint_pos=np.stack([mirror_joints(q_half), q_half]), joint_pos_half_cycle=np.stack([q_half, q_half]))
    np.testing.assert_allclose(R.symmetry(batch, P), [1.0, still])


def test_swing_height_pays_a_lifted_foot_where_the_clock_expects_swing_only():
    p = {**P, "clock_overlap": 0.0, "clock_smoothing": 0.1, "swing_height_target": 0.07}
    # phase 0.25: left expected down, right in swing (stance_expectation)
    right_up = R.swing_height(make_info(command_phase=0.25, foot_height=np.array([0.0, 0.07])), p)
    assert right_up == pytest.approx(0.5, abs=1e-3)  # one of two feet pays in full
    half = R.swing_height(make_info(command_phase=0.25, foot_height=np.array([0.0, 0.035])), p)
    assert half == pytest.approx(0.25, abs=1e-3)
    # a shuffle (the swing foot on the floor) earns nothing; lifting the stance foot earns nothing either
    assert R.swing_height(make_info(command_phase=0.25, foot_height=np.array([0.0, 0.0])), p) == pytest.approx(0.0, abs=1e-3)
    assert R.swing_height(make_info(command_phase=0.25, foot_height=np.array([0.07, 0.0])), p) == pytest.approx(0.0, abs=1e-3)
    # above the target pays no more; a sole below the floor (penetration) pays nothing
    assert R.swing_height(make_info(command_phase=0.25, foot_height=np.array([0.0, 0.2])), p) == pytest.approx(right_up)
    assert R.swing_height(make_info(command_phase=0.25, foot_height=np.array([0.0, -0.01])), p) == pytest.approx(0.0, abs=1e-3)
    batch = make_info(command_phase=np.array([0.25, 0.75]), foot_height=np.array([[0.0, 0.07], [0.0, 0.07]]))
    np.testing.assert_allclose(R.swing_height(batch, p), [right_up, 0.0], atol=1e-3)  # at 0.75 the right foot stands


def test_pose_reference_pays_the_clips_pose_at_the_phase_and_decays_with_the_squared_error():
    from wildrobot_gym.pose_template import load_pose_template

    ref = load_pose_template().target(0.25, 0.6)  # the shipped template at make_info's phase and command
    p = {**P, "pose_sigma": 0.5}
    assert R.pose_reference(make_info(joint_pos=ref.copy()), p) == pytest.approx(1.0)
    off = ref + np.array([0.5, 0, 0, 0, 0, 0, 0, 0.5])  # squared error 0.5 = pose_sigma
    assert R.pose_reference(make_info(joint_pos=off), p) == pytest.approx(math.exp(-1.0))
    # half a cycle later the clips' legs have swapped: the same joints no longer match
    assert R.pose_reference(make_info(joint_pos=ref.copy(), command_phase=0.75), p) < 0.3  # 0.72 rad^2 off
    batch = make_info(joint_pos=np.stack([ref, off]), command_phase=np.array([0.25, 0.25]), command=np.array([0.6, 0.6]))
    np.testing.assert_allclose(R.pose_reference(batch, p), [1.0, math.exp(-1.0)])


def test_pose_velocity_pays_the_clips_joint_velocities_at_the_clock_and_ignores_the_posture():
    from wildrobot_gym.pose_template import load_pose_template

    template = load_pose_template()
    f = 2.0  # Hz
    qd_ref = template.rate(0.25, 0.6) * f
    assert np.abs(qd_ref).max() > 1.0  # the clips do move at this phase (rad/s)
    p = {**P, "pose_velocity_sigma": 2.0}
    info = make_info(joint_vel=qd_ref.copy(), clock_frequency=f)
    assert R.pose_velocity(info, p) == pytest.approx(1.0)
    # any posture: the term reads velocities only
    assert R.pose_velocity({**info, "joint_pos": np.full(8, 0.7)}, p) == pytest.approx(1.0)
    off = qd_ref + np.array([1.0, 0, 0, 0, 0, 0, 0, 1.0])  # squared error 2 = pose_velocity_sigma
    assert R.pose_velocity(make_info(joint_vel=off, clock_frequency=f), p) == pytest.approx(math.exp(-1.0))
    # a clock twice as fast asks for twice the velocity; a robot holding still is far off
    assert R.pose_velocity(make_info(joint_vel=qd_ref.copy(), clock_frequency=2 * f), p) < 0.5
    assert R.pose_velocity(make_info(clock_frequency=f), p) < 0.5
    batch = make_info(joint_vel=np.stack([qd_ref, off]), command_phase=np.array([0.25, 0.25]),
                      command=np.array([0.6, 0.6]), clock_frequency=np.array([f, f]))
    np.testing.assert_allclose(R.pose_velocity(batch, p), [1.0, math.exp(-1.0)])


def test_pose_joint_weights_scale_each_joints_squared_error_in_both_pose_terms():
    from wildrobot_gym.pose_template import load_pose_template

    template, f = load_pose_template(), 2.0
    ankles = np.array([0, 0, 0, 1.0, 0, 0, 0, 1.0])  # 1 rad (rad/s) off at both ankles: squared error 2
    pose = make_info(joint_pos=template.target(0.25, 0.6) + ankles)
    vel = make_info(joint_vel=template.rate(0.25, 0.6) * f + ankles, clock_frequency=f)
    p = {**P, "pose_sigma": 2.0, "pose_velocity_sigma": 2.0}
    assert R.pose_reference(pose, p) == pytest.approx(math.exp(-1.0))  # default: 1 each
    blind = {**p, "pose_joint_weights": np.array([1.0, 1, 1, 0, 1, 1, 1, 0])}
    assert R.pose_reference(pose, blind) == pytest.approx(1.0) == R.pose_velocity(vel, blind)
    heavy = {**p, "pose_joint_weights": np.array([1.0, 1, 1, 3, 1, 1, 1, 3])}
    assert R.pose_reference(pose, heavy) == pytest.approx(math.exp(-3.0)) == pytest.approx(R.pose_velocity(vel, heavy))
    # a list from YAML reaches the terms through the composer; a wrong one is named
    comp = RewardComposer({"pose_reference": 1.0}, {"pose_sigma": 2.0, "pose_joint_weights": [1, 1, 1, 3, 1, 1, 1, 3]})
    assert comp(pose)[0] == pytest.approx(math.exp(-3.0))
    for bad in ([1.0] * 7, [1, 1, 1, -1, 1, 1, 1, 1], [1, 1, 1, float("nan"), 1, 1, 1, 1]):
        with pytest.raises(ValueError, match=r"reward_params\.pose_joint_weights: expected a list of 8"):
            RewardComposer({"pose_reference": 1.0}, {"pose_joint_weights": bad})


def test_sliding_loaded_foot_is_penalised_swinging_foot_is_not():
    sliding_loaded = make_info(foot_contact=np.array([True, False]), foot_slip_speed=np.array([0.5, 0.0]))
    assert R.foot_sliding(sliding_loaded, P) == pytest.approx(-0.25)
    swinging = make_info(foot_contact=np.array([True, False]), foot_slip_speed=np.array([0.0, 2.0]))
    assert R.foot_sliding(swinging, P) == 0.0


def test_air_time_pays_once_on_touchdown():
    # A 0.35 s swing: nothing while in the air, (0.35 - 0.15) on the touchdown step, nothing after.
    in_air = make_info(foot_touchdown=np.array([False, False]), foot_last_air_time=np.zeros(2))
    touchdown = make_info(foot_touchdown=np.array([False, True]), foot_last_air_time=np.array([0.0, 0.35]))
    after = make_info(foot_touchdown=np.array([False, False]), foot_last_air_time=np.zeros(2))
    paid = [R.foot_air_time(i, P) for i in (in_air, touchdown, after)]
    assert paid == pytest.approx([0.0, 0.2, 0.0])
    # Short shuffling steps pay negative, long ones are capped, no command no reward.
    assert R.foot_air_time(make_info(foot_touchdown=np.array([True, False]), foot_last_air_time=np.array([0.05, 0])), P) < 0
    assert R.foot_air_time(make_info(foot_touchdown=np.array([True, False]), foot_last_air_time=np.array([5.0, 0])), P) == pytest.approx(0.3)
    assert R.foot_air_time(make_info(command=0.0, foot_touchdown=np.array([True, False]), foot_last_air_time=np.array([0.4, 0])), P) == 0.0


def test_composer_skips_zero_weights_and_rejects_unknown():
    comp = RewardComposer({"tracking_exp_xy": 2.0, "foot_sliding": 0.0, "existential": 1.0})
    total, terms = comp(make_info())
    assert set(terms) == {"tracking_exp_xy", "existential"}
    assert total == pytest.approx(2.0 - 5.0)
    with pytest.raises(ValueError, match="unknown reward term"):
        RewardComposer({"bogus": 1.0})
    comp.set_weights({"foot_sliding": 1.0})
    assert "foot_sliding" in comp(make_info())[1]


def test_phase_wrapper_replaces_reward_and_aggregates_episode_stats():
    from wildrobot_gym.config import load_config
    from wildrobot_gym.wrappers import EPISODE_STAT_KEYS, PhaseRewardWrapper, make_phase_env

    cfg = load_config()
    cfg["env"]["max_episode_steps"] = 20
    env = make_phase_env(cfg)
    assert isinstance(env, PhaseRewardWrapper)
    env.reset(seed=0)
    total = 0.0
    for _ in range(20):
        _, r, term, trunc, info = env.step(np.zeros(8, dtype=np.float32))
        # The wrapper's reward is the sum of its weighted terms; the base env's composer is off.
        assert r == pytest.approx(sum(info["reward_terms"].values()))
        assert set(info["reward_terms"]) == {k for k, w in cfg["reward_weights"].items() if w}
        total += r
        if term or trunc:
            break
    assert trunc and not term
    stats = info["episode_stats"]
    assert set(EPISODE_STAT_KEYS) <= set(stats)
    assert stats["length"] == 20 and stats["success"] == 1.0 and info["is_success"]
    assert stats["return"] == pytest.approx(total)
    assert info["episode"]["l"] == 20
    # Weights can be pushed in (the curriculum's mechanism).
    env.set_reward_weights({"foot_sliding": 0.5})
    assert env.get_reward_weights()["foot_sliding"] == 0.5


def test_pose_template_param_picks_the_template_file_of_both_pose_terms(tmp_path):
    from wildrobot_gym.pose_template import PoseTemplate, load_pose_template

    table = np.zeros((1, 4, 8))
    table[0, :, 2] = [0.5, 0.7, 0.5, 0.3]  # a knee that bends through the cycle; every other joint at 0
    PoseTemplate(np.array([0.6]), table).save(tmp_path / "mine.npz")
    mine = {**P, "pose_template": str(tmp_path / "mine.npz")}
    pose = make_info(joint_pos=np.array([0, 0, 0.7, 0, 0, 0, 0, 0.0]))  # make_info's phase 0.25: bin 1
    assert R.pose_reference(pose, mine) == pytest.approx(1.0)
    assert R.pose_reference(pose, P) < 0.9  # the shipped template is not that pose
    knee_rate = np.array([0, 0, 0.0, 0, 0, 0, 0, 0])  # d q / d phase at bin 1: (0.5 - 0.5) / 2 bins x 4 = 0
    assert R.pose_velocity(make_info(joint_vel=knee_rate, clock_frequency=2.0), mine) == pytest.approx(1.0)
    # through the composer: the file is read when the composer is made, and a missing one is named there
    comp = RewardComposer({"pose_reference": 1.0}, {"pose_template": str(tmp_path / "mine.npz")})
    assert comp(pose)[0] == pytest.approx(1.0)
    assert load_pose_template(str(tmp_path / "mine.npz")).speeds.tolist() == [0.6]
    with pytest.raises(ValueError, match=r"reward_params.pose_template: no file .*nofile.npz"):
        RewardComposer({"pose_reference": 1.0}, {"pose_template": "nofile.npz"})
    with pytest.raises(ValueError, match="reward_params.pose_template: expected a file name or null"):
        RewardComposer({"pose_reference": 1.0}, {"pose_template": 3})
