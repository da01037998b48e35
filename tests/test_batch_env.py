"""The batched in-process VecEnv steps exactly as the single env wrapped in its phase wrapper."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the training/ scripts' package

from training.common import make_vec_env  # noqa: E402
from wildrobot_gym.batch_env import BatchedWalkVecEnv  # noqa: E402
from wildrobot_gym.config import load_config  # noqa: E402
from wildrobot_gym.config.errors import ConfigError  # noqa: E402
from wildrobot_gym.config.phase import validate_config  # noqa: E402
from wildrobot_gym.vec_env import BatchedSubprocVecEnv  # noqa: E402


def _phase(name: str, **env) -> dict:
    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / f"{name}.yaml")
    cfg["env"].update(env)
    return cfg


@pytest.mark.parametrize("phase, env", [("phase1e", {}), ("phase2", {}), ("phase3", {}),
                                        ("phase3", {"max_step_length": 0.15})])  # a clock that quickens with the command
def test_batched_env_matches_the_single_env_step_for_step(phase: str, env: dict) -> None:
    """Same seeds, same actions: the same observations (Phase 3: with the AMP features), rewards, dones
    and end-of-episode infos (statistics, fall reasons, terminal observations), over several episodes
    with auto-resets."""
    cfg = _phase(phase, max_episode_steps=60, **env)  # short episodes: time limits and falls both happen
    n = 5
    amp = ("clip", 1.5) if phase == "phase3" else None
    batched = BatchedWalkVecEnv(cfg, n, n_threads=2, amp_features=amp, randomize=False)  # the nominal robot
    single = make_vec_env(cfg, n, 0, kind="dummy", amp_features=amp)
    assert batched.observation_space == single.observation_space
    if phase == "phase2":  # the contact terms weigh 0 at the base level: switch every one on
        contact = {"foot_contact": 5.0, "gait_clock": 10.0, "foot_sliding": 2.0, "foot_air_time": 5.0}
        for env in (batched, single):
            env.env_method("set_reward_weights", contact)
    for env in (batched, single):  # symmetry reads each env's joint history; swing_height the sole heights;
        # pose_reference the clock's phase and the command; pose_velocity the clock's frequency too
        env.env_method("set_reward_weights", {"symmetry": 10.0, "swing_height": 5.0, "pose_reference": 7.0,
                                              "pose_velocity": 4.0})
    batched.seed(7)
    single.seed(7)
    batched.set_options([{"command": 0.65}, None, None, None, None])
    single.set_options([{"command": 0.65}, None, None, None, None])
    np.testing.assert_array_equal(batched.reset(), single.reset())
    rng = np.random.default_rng(1)
    endings = set()
    for t in range(200):
        # Actions that sometimes topple the robot, so falls and time limits both end episodes.
        actions = (rng.uniform(-1, 1, (n, 8)) * (0.2 if t % 50 < 40 else 1.0)).astype(np.float32)
        ob, rb, db, ib = batched.step(actions)
        os_, rs, ds, is_ = single.step(actions)
        np.testing.assert_array_equal(db, ds, err_msg=f"step {t}")
        np.testing.assert_allclose(ob, os_, rtol=0, atol=1e-6, err_msg=f"step {t}")
        np.testing.assert_allclose(rb, rs, rtol=1e-6, atol=1e-6, err_msg=f"step {t}")
        for i in np.flatnonzero(ds):
            a, b = ib[i], is_[i]
            assert a["fall_reason"] == b["fall_reason"] and a["is_success"] == b["is_success"]
            assert a["TimeLimit.truncated"] == b["TimeLimit.truncated"]
            np.testing.assert_allclose(a["terminal_observation"], b["terminal_observation"], atol=1e-6)
            assert a["episode_stats"].keys() == b["episode_stats"].keys()
            for k, v in b["episode_stats"].items():
                assert a["episode_stats"][k] == pytest.approx(v, rel=1e-9, abs=1e-9), k
            assert a["episode"]["l"] == b["episode"]["l"]
            assert a["episode"]["r"] == pytest.approx(b["episode"]["r"], rel=1e-6)
            endings.add(b["fall_reason"] or "time_limit")
    assert "time_limit" in endings and len(endings) >= 2, endings  # both kinds of ending were compared
    batched.close()
    single.close()


def test_reward_weights_reach_the_batch_and_per_env_model_fields() -> None:
    """env_method('set_reward_weights') (the Phase 2 curriculum) changes the reward of every env, and
    model_field gives per-env model parameters that the physics uses (domain randomisation)."""
    cfg = _phase("phase2", reset_noise_scale=0.0, fixed_command=0.6)  # three identical starts
    env = BatchedWalkVecEnv(cfg, 3, n_threads=1, randomize=False)
    env.seed(0)
    env.reset()
    env.env_method("set_reward_weights", {"foot_contact": 7.0})
    assert env.get_attr("composer")[0].weights["foot_contact"] == 7.0
    mass = env.model_field("body_mass")
    assert mass.shape[0] == 3
    mass[1] *= 3.0  # a much heavier robot sags on the same servo targets
    for _ in range(25):
        env.step(np.zeros((3, 8), np.float32))
    z = env._qpos[:, 2]
    assert z[0] == z[2] and z[1] < z[0] - 2e-4, z


def test_make_vec_env_picks_the_configured_kind() -> None:
    cfg = _phase("phase1e")
    venv = make_vec_env(cfg, 2, 1)
    assert isinstance(venv, BatchedWalkVecEnv)  # the default
    venv.close()
    cfg["training"]["vec_env"] = "subprocess"
    venv = make_vec_env(validate_config(cfg), 2, 1, start_method="fork")
    assert isinstance(venv, BatchedSubprocVecEnv)
    venv.close()
    cfg["training"]["vec_env"] = "threads"
    with pytest.raises(ConfigError, match=r"^training\.vec_env: expected one of"):
        validate_config(cfg)


def test_bad_actions_are_refused_naming_the_env() -> None:
    env = BatchedWalkVecEnv(_phase("phase1e"), 2, n_threads=1)
    env.reset()
    actions = np.zeros((2, 8), np.float32)
    actions[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"envs \[1\]"):
        env.step(actions)
