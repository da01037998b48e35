"""WildRobotWalk-v0: registration, API checks, determinism, falls, instability, bad input, rendering."""
import math

import gymnasium as gym
import numpy as np
import pytest

import wildrobot_gym
from wildrobot_gym.env import OBS_LAYOUT, WildRobotWalkEnv, obs_slices


def test_registered_and_makes():
    env = gym.make("WildRobotWalk-v0")
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape
    assert isinstance(env.unwrapped, WildRobotWalkEnv)
    assert wildrobot_gym.ENV_ID == "WildRobotWalk-v0"


def test_plugin_entry_point_registers_without_import():
    import subprocess
    import sys

    code = "import gymnasium as gym; e = gym.make('WildRobotWalk-v0'); print(type(e.unwrapped).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "WildRobotWalkEnv" in out.stdout


def test_gymnasium_check_env():
    from gymnasium.utils.env_checker import check_env

    check_env(WildRobotWalkEnv(), skip_render_check=True)


def test_sb3_check_env():
    from stable_baselines3.common.env_checker import check_env

    check_env(WildRobotWalkEnv(), warn=True)


def test_observation_layout_and_privileged_flag():
    full = obs_slices(True)
    assert list(full) == [name for name, _, _ in OBS_LAYOUT if name != "heading_error"]  # heading: opt-in
    assert full["root_height"].stop == WildRobotWalkEnv().observation_space.shape[0] == 37
    lean = WildRobotWalkEnv(include_privileged=False)
    assert lean.observation_space.shape[0] == sum(n for name, n, p in OBS_LAYOUT if not p and name != "heading_error")
    obs, _ = lean.reset(seed=0)
    assert obs.shape == lean.observation_space.shape
    with_heading = obs_slices(True, include_heading=True)
    assert list(with_heading) == [name for name, _, _ in OBS_LAYOUT]
    assert with_heading["heading_error"] == slice(33, 34) and with_heading["root_height"].stop == 38


def test_heading_error_is_minus_the_yaw_and_changes_nothing_else():
    """heading_error = commanded (start) heading - yaw; the other entries are where they were."""
    import mujoco

    env = WildRobotWalkEnv(include_heading=True, reset_noise_scale=0.0)
    plain = WildRobotWalkEnv(reset_noise_scale=0.0)
    obs, _ = env.reset(seed=0)
    assert obs[33] == 0.0  # every episode starts facing its commanded heading
    for e in (env, plain):
        e.reset(seed=0)
        e.data.qpos[3:7] = (np.cos(0.2), 0.0, 0.0, np.sin(0.2))  # turned 0.4 rad to the left
        mujoco.mj_forward(e.model, e.data)
    obs, p = env._observe(), plain._observe()
    assert obs[33] == pytest.approx(-0.4)
    np.testing.assert_array_equal(obs[:33], p[:33])
    np.testing.assert_array_equal(obs[34:], p[33:])


def test_observation_content_at_home():
    env = WildRobotWalkEnv(reset_noise_scale=0.0, fixed_command=0.65)
    obs, _ = env.reset(seed=0)
    sl = obs_slices()
    assert np.allclose(obs[sl["up_vector"]], (0, 0, 1), atol=1e-3)
    assert np.allclose(obs[sl["joint_pos"]], 0.0, atol=1e-6)
    assert obs[sl["command"]][0] == pytest.approx(0.65)
    assert obs[sl["root_height"]][0] == pytest.approx(0.4699, abs=1e-3)
    assert np.allclose(obs[sl["gait_clock"]], (0.0, 1.0))


def test_same_seed_same_trajectory():
    def rollout(seed):
        env = gym.make("WildRobotWalk-v0")
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        traj = [obs]
        for _ in range(60):
            obs, r, term, trunc, _ = env.step(env.action_space.sample())
            traj.append(np.append(obs, r))
            if term or trunc:
                obs, _ = env.reset()
        return np.concatenate(traj)

    assert np.array_equal(rollout(3), rollout(3))
    assert not np.array_equal(rollout(3), rollout(4))


def test_command_range_and_fixed_command():
    env = WildRobotWalkEnv(command_range=(0.5, 0.8))
    cmds = {env.reset(seed=s)[1]["command"] for s in range(20)}
    assert all(0.5 <= c <= 0.8 for c in cmds) and len(cmds) > 10
    env = WildRobotWalkEnv(fixed_command=0.6)
    assert env.reset(seed=1)[1]["command"] == 0.6
    assert env.reset(seed=1, options={"command": 0.3})[1]["command"] == 0.3


def test_standing_still_truncates_without_fall():
    env = WildRobotWalkEnv(max_episode_steps=100, reset_noise_scale=0.0)
    env.reset(seed=0)
    for i in range(100):
        _, _, term, trunc, info = env.step(np.zeros(8))
        assert not term
    assert trunc and info["fall_reason"] == ""
    assert info["foot_force"].sum() == pytest.approx(env.spec_.weight, rel=0.05)
    assert info["foot_contact"].all() and info["pad_contact"].all()
    assert abs(info["forward_velocity"]) < 0.05


def test_fall_is_detected_and_reported():
    env = WildRobotWalkEnv()
    env.reset(seed=0)
    # both hips flexed hard: the robot sits down backwards and falls
    action = np.array([1, 0, 1, -1, -1, 0, 1, -1], dtype=np.float32)
    for i in range(300):
        _, _, term, trunc, info = env.step(action)
        if term:
            break
    assert term and not trunc
    assert info["fall_reason"] in ("root_height", "tilt", "body_contact")


def test_body_contact_is_a_fall():
    import mujoco

    env = WildRobotWalkEnv()
    env.reset(seed=0)
    d = env.data
    # the robot lying on its back: torso on the floor, pads in the air
    d.qpos[2] = 0.045
    d.qpos[3:7] = (math.cos(math.pi / 4), 0.0, -math.sin(math.pi / 4), 0.0)
    mujoco.mj_forward(env.model, d)
    assert env.tracker.body_touches_floor(d)
    _, _, term, _, info = env.step(np.zeros(8))
    assert term and info["fall_reason"] in ("root_height", "tilt", "body_contact")
    # upright on its pads is no body contact
    env.reset(seed=0)
    assert not env.tracker.body_touches_floor(env.data)


def test_sim_unstable_ends_episode_without_exception_or_nan():
    env = WildRobotWalkEnv()
    env.reset(seed=0)
    env.data.qvel[:] = 1e30  # blow the state up
    obs, r, term, trunc, info = env.step(np.zeros(8))
    assert info["sim_unstable"] is True and term
    assert info["fall_reason"] == "sim_unstable"
    assert np.isfinite(obs).all() and math.isfinite(r)


def test_info_metrics_present_and_shaped():
    env = WildRobotWalkEnv()
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.action_space.sample())
    shapes = {"pad_force": (4,), "pad_contact": (4,), "foot_force": (2,), "foot_contact": (2,),
              "foot_slip_speed": (2,), "foot_air_time": (2,), "actuator_torque": (8,),
              "torque_saturated": (8,), "joint_pos": (8,), "joint_vel": (8,), "root_ang_vel": (3,)}
    for k, shape in shapes.items():
        assert np.shape(info[k]) == shape, k
    for k in ("forward_velocity", "lateral_velocity", "root_height", "roll", "pitch", "command"):
        assert isinstance(info[k], float), k
    assert np.all(np.abs(info["actuator_torque"]) <= 4.0 + 1e-9)
    assert "reward_terms" in info and "forward_velocity_bonus" in info["reward_terms"]


def test_yaw_rate_filter_follows_a_steady_turn_and_resets():
    """yaw_rate_filtered is a first-order low-pass of the body yaw rate with yaw_rate_filter_s."""
    import mujoco

    env = WildRobotWalkEnv(reset_noise_scale=0.0, yaw_rate_filter_s=0.2)
    env.reset(seed=0)
    env.model.opt.gravity[:] = 0.0  # float 5 cm above the floor: nothing stops the spin
    env.data.qpos[2] += 0.05
    rates, filtered = [], []
    for _ in range(40):  # spin the robot about z at 1 rad/s (0.8 s, four time constants)
        env.data.qvel[3:6] = [0.0, 0.0, 1.0]
        mujoco.mj_forward(env.model, env.data)
        _, _, _, _, info = env.step(np.zeros(8))
        rates.append(info["root_ang_vel"][2])
        filtered.append(info["yaw_rate_filtered"])
    alpha = 1.0 - math.exp(-env.dt / 0.2)
    expected = 0.0
    for r in rates:
        expected += alpha * (r - expected)
    assert filtered[-1] == pytest.approx(expected)
    assert rates[-1] == pytest.approx(1.0, abs=0.05)
    assert 0.95 < filtered[-1] < 1.0  # after four time constants, 1 - e^-4 of the rate
    assert filtered[0] < 0.1 * rates[0]  # it builds up; one step of turning is mostly filtered out
    env.reset(seed=1)
    assert env.step(np.zeros(8))[4]["yaw_rate_filtered"] == pytest.approx(alpha * env.data.qvel[5], abs=1e-12)
    with pytest.raises(ValueError, match="yaw_rate_filter_s"):
        WildRobotWalkEnv(yaw_rate_filter_s=-1.0)


def test_air_time_and_touchdown_when_dropped():
    import mujoco

    env = WildRobotWalkEnv(reset_noise_scale=0.0)
    env.reset(seed=0)
    env.data.qpos[2] += 0.05  # 5 cm above the floor: about 0.1 s of free fall
    mujoco.mj_forward(env.model, env.data)
    env.tracker.reset(env.data)
    touchdowns, air = [], []
    for _ in range(15):
        _, _, term, _, info = env.step(np.zeros(8))
        touchdowns.append(info["foot_touchdown"].copy())
        air.append(info["foot_last_air_time"].copy())
        assert not term
    touchdowns, air = np.array(touchdowns), np.array(air)
    assert touchdowns.sum(axis=0).tolist() == [1, 1]  # each foot lands exactly once
    landed = air[touchdowns]
    assert np.all((landed > 0.06) & (landed < 0.16))  # ~ sqrt(2 h / g) = 0.10 s
    assert np.all(air[~touchdowns] == 0.0)  # reported on the touchdown step only
    assert np.all(info["foot_air_time"] == 0.0) and info["foot_contact"].all()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"max_episode_steps": -5}, "max_episode_steps"),
        ({"max_episode_steps": 0}, "max_episode_steps"),
        ({"command_range": (0.9, 0.5)}, "command_range"),
        ({"model_path": "/nonexistent/robot.xml"}, "model_path"),
        ({"action_scale": -1.0}, "action_scale"),
        ({"action_offset": [0.1, 0.2]}, "action_offset"),
        ({"action_offset": float("nan")}, "action_offset"),
        ({"frame_skip": 0}, "frame_skip"),
        ({"render_mode": "human"}, "render_mode"),
        ({"reward_weights": {"no_such_term": 1.0}}, "no_such_term"),
        ({"max_step_length": 0.0}, "max_step_length"),
        ({"max_step_length": float("nan")}, "max_step_length"),
    ],
)
def test_bad_constructor_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        WildRobotWalkEnv(**kwargs)


def test_action_offset_moves_the_target_of_action_zero_and_the_range_with_it():
    offset = np.array([0.6, 0.0, 0.7, -0.3, -0.6, 0.0, 0.7, -0.3])
    env = WildRobotWalkEnv(action_offset=offset)
    plain = WildRobotWalkEnv()
    home = plain.servo_targets(np.zeros(8))
    np.testing.assert_allclose(env.servo_targets(np.zeros(8)), home + offset)
    lo, hi = env.spec_.joint_range[:, 0], env.spec_.joint_range[:, 1]
    np.testing.assert_allclose(env.servo_targets(np.ones(8)), np.clip(home + offset + 0.5, lo, hi))
    # the knee reaches 1.2 rad (0.5 without the offset); the hip roll, offset 0, is unchanged
    assert env.servo_targets(np.ones(8))[2] == pytest.approx(1.2) and plain.servo_targets(np.ones(8))[2] == pytest.approx(0.5)
    assert env.servo_targets(-np.ones(8))[1] == plain.servo_targets(-np.ones(8))[1]
    env.reset(seed=0)
    env.step(np.zeros(8, dtype=np.float32))
    np.testing.assert_allclose(env.data.ctrl, home + offset)  # what the servos are sent
    env.close()
    plain.close()


def test_the_clock_quickens_where_the_step_would_exceed_max_step_length():
    """f = max(gait_frequency, command / (2 max_step_length)): 2 Hz up to 0.72 m/s for 0.18 m steps, 2.5 Hz at
    0.9 m/s; the observed clock advances at that rate."""
    fixed = WildRobotWalkEnv(gait_frequency=2.0)
    env = WildRobotWalkEnv(gait_frequency=2.0, max_step_length=0.18)
    np.testing.assert_allclose(env.clock_frequency(np.array([0.5, 0.72, 0.9])), [2.0, 2.0, 2.5])
    assert fixed.clock_frequency(0.9) == 2.0
    for command, hz in ((0.6, 2.0), (0.9, 2.5)):
        env.reset(seed=0, options={"command": command})
        for _ in range(5):
            _, _, _, _, info = env.step(np.zeros(8))
        assert info["gait_phase"] == pytest.approx(5 * hz * env.dt)
        assert info["command_phase"] == info["gait_phase"]
    env.close()
    fixed.close()


def test_bad_actions():
    env = WildRobotWalkEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(7))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(8, np.nan))


def test_render_rgb_array():
    env = WildRobotWalkEnv(render_mode="rgb_array", width=160, height=120)
    env.reset(seed=0)
    try:
        frame = env.render()
    except Exception as exc:  # no GL backend on this machine
        pytest.skip(f"offscreen rendering unavailable ({type(exc).__name__}: {exc}); set MUJOCO_GL=egl or osmesa")
    finally:
        pass
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    assert frame.std() > 5  # not a blank image
    env.close()


def test_reward_can_be_switched_off_for_wrappers():
    env = WildRobotWalkEnv(reward_enabled=False)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.zeros(8))
    assert reward == 0.0 and "reward_terms" not in info
    assert "forward_velocity" in info  # the metrics are still there for the wrapper


def test_infos_are_not_changed_by_later_steps():
    env = WildRobotWalkEnv()
    env.reset(seed=0)
    _, _, _, _, first = env.step(np.full(8, 0.3))
    kept = {k: np.array(v, copy=True) for k, v in first.items() if isinstance(v, np.ndarray)}
    for _ in range(3):
        env.step(np.full(8, -0.3))
    for k, v in kept.items():
        assert np.array_equal(first[k], v), k
