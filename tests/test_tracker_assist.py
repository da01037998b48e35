"""The training-only balance assist of the tracker (reference/tracker/assist.py): its torque, its schedule, and that
the batched env applies it exactly as the single env does."""
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from reference.tracker.assist import AssistSchedule, assist_scale, assist_torque, wants_assist
from reference.tracker.batch_env import BatchedTrackingVecEnv
from reference.tracker.env import TrackingEnv
from wildrobot_gym.config.tracker import load_tracker_config, validate_tracker_config

N_ENVS = 3


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).reshape(9)


def test_a_torso_pitched_forward_is_pushed_back_and_the_cap_holds() -> None:
    xmat = _rot_y(0.2)  # pitched 0.2 rad (nose down, as a forward lean)
    tau = assist_torque(xmat, np.zeros(3), np.zeros(2), kp=8.0, kd=0.8, cap=3.0, scale=1.0)
    np.testing.assert_allclose(tau, [0.0, -8.0 * 0.2, 0.0], atol=1e-12)  # about the pitch axis, against the pitch
    big = assist_torque(_rot_y(1.0), np.zeros(3), np.zeros(2), kp=8.0, kd=0.8, cap=3.0, scale=1.0)
    assert np.linalg.norm(big) == pytest.approx(3.0)  # capped per body axis: only pitch is loaded here
    held = assist_torque(xmat, np.zeros(3), np.array([0.0, 0.2]), kp=8.0, kd=0.8, cap=3.0, scale=1.0)
    np.testing.assert_allclose(held, 0.0, atol=1e-12)  # the reference's own lean is not resisted
    damped = assist_torque(np.eye(3).reshape(9), np.array([0.0, 1.0, 0.0]), np.zeros(2), 8.0, 0.8, 3.0, 0.5)
    assert damped[1] == pytest.approx(-0.4)  # damping, times the schedule's scale
    batch = assist_torque(np.stack([xmat, np.eye(3).reshape(9)]), np.zeros((2, 3)), np.zeros((2, 2)), 8.0, 0.8, 3.0, 1.0)
    np.testing.assert_allclose(batch[0], tau)


def test_the_schedule_fades_linearly_to_zero() -> None:
    assert assist_scale(0, 1000) == 1.0
    assert assist_scale(250, 1000) == pytest.approx(0.75)
    assert assist_scale(1000, 1000) == 0.0 and assist_scale(5000, 1000) == 0.0
    assert assist_scale(0, 0) == 0.0  # off


@pytest.fixture(scope="module")
def cfg() -> dict:
    c = load_tracker_config()
    c["reference"].update(clips=["walk_v030_l080", "walk_v060_l140"], human_like_clips=0, timeline_seconds=3.0,
                          variants=[{"name": "base"}], sampling="uniform")
    c["env"].update(assist_steps=10_000, max_episode_steps=60)
    c["training"].update(n_envs=N_ENVS, n_workers=1)
    return validate_tracker_config(c)


def test_the_config_switches_it_on_and_off(cfg) -> None:
    assert wants_assist(cfg["env"])
    assert not wants_assist(load_tracker_config()["env"])  # the default config: no assist
    assert not wants_assist({**cfg["env"], "assist_cap": 0.0})
    with pytest.raises(ValueError, match="assist_steps"):
        validate_tracker_config({**cfg, "env": {**cfg["env"], "assist_steps": -1}})


def test_batched_and_single_envs_apply_the_same_assist(cfg) -> None:
    """With the assist on (at a scale the schedule set), both envs step alike, and not as without it."""
    batched = BatchedTrackingVecEnv(cfg, N_ENVS, n_threads=1)
    single = DummyVecEnv([lambda: TrackingEnv(cfg) for _ in range(N_ENVS)])
    off_cfg = validate_tracker_config({**cfg, "env": {**cfg["env"], "assist_steps": 0}})
    off = BatchedTrackingVecEnv(off_cfg, N_ENVS, n_threads=1)
    for venv in (batched, single, off):
        venv.seed(3)
        venv.set_attr("assist_scale", 0.6)
        venv.reset()
    assert off.assist_scale == 0.6 and not off.base.assist  # the attribute alone does nothing when it is off
    rng = np.random.default_rng(0)
    differs = False
    for step in range(40):
        a = (rng.uniform(-1, 1, (N_ENVS, 8)) * 0.5).astype(np.float32)
        ob, rb, db, _ = batched.step(a)
        os_, rs, ds, _ = single.step(a)
        oo, _, _, _ = off.step(a)
        np.testing.assert_array_equal(db, ds, err_msg=f"step {step}")
        np.testing.assert_allclose(ob, os_, rtol=0, atol=1e-6, err_msg=f"step {step}")
        np.testing.assert_allclose(rb, rs, rtol=1e-6, atol=1e-6, err_msg=f"step {step}")
        differs |= not np.allclose(ob, oo, atol=1e-4)
    assert differs
    for venv in (batched, single, off):
        venv.close()


def test_the_callback_sets_the_scale_on_the_envs_once_per_rollout(cfg) -> None:
    class Logger:
        def record(self, *_a, **_k) -> None:
            pass

    class Model:
        num_timesteps = 2_500

        def get_env(self):
            return env

        logger = Logger()

    env = BatchedTrackingVecEnv(cfg, N_ENVS, n_threads=1)
    cb = AssistSchedule(cfg["env"]["assist_steps"])
    cb.init_callback(Model())
    cb.on_rollout_start()
    assert env.assist_scale == pytest.approx(0.75)
    Model.num_timesteps = 20_000
    cb.on_rollout_start()
    assert env.assist_scale == 0.0
    env.close()
