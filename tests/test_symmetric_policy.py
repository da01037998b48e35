"""The left-right mirror of the observation (wildrobot_gym/obs_mirror.py) and the mirror-symmetric actor
(``ppo.actor_inputs: measured_symmetric``, wildrobot_gym/policy.py): the mirror rules agree with the physics
(the env's observation of a mirrored state is the mirrored observation), the actor's action mean is exactly
equivariant, the normalisation statistics stay symmetric, the policy trains, checkpoints, loads as its own
class and exports to an ONNX graph that matches it."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wildrobot_gym.config import CONFIG_DIR, load_config, validate_config  # noqa: E402
from wildrobot_gym.env import OBS_LAYOUT, WildRobotWalkEnv, obs_slices  # noqa: E402
from wildrobot_gym.obs_mirror import (  # noqa: E402
    ENTRY_MIRROR, MirroredRunningMeanStd, action_mirror, mirror_normalizer, observation_mirror, observation_mirror_for_dim,
    restrict,
)
from wildrobot_gym.policy import MirrorSymmetricActorCriticPolicy, measured_columns  # noqa: E402
from wildrobot_gym.policy_io import ppo_kwargs  # noqa: E402
from wildrobot_gym.robot import mirror_joints  # noqa: E402

FLAGS = [(p, h) for p in (True, False) for h in (True, False)]


def mirror(x: np.ndarray, index: np.ndarray, sign: np.ndarray) -> np.ndarray:
    return x[..., index] * sign


def symmetric_cfg() -> dict:
    cfg = load_config(CONFIG_DIR / "phase2.yaml")
    cfg["ppo"].update(actor_inputs="measured_symmetric", n_steps=32, batch_size=32, n_epochs=1, pi_net=[16, 16],
                      vf_net=[16, 16])
    cfg["env"]["max_episode_steps"] = 50
    return validate_config(cfg)


@pytest.mark.parametrize("include_privileged,include_heading", FLAGS)
def test_observation_mirror_is_an_involution_covering_every_entry(include_privileged, include_heading):
    assert set(ENTRY_MIRROR) == {name for name, _, _ in OBS_LAYOUT}
    index, sign = observation_mirror(include_privileged, include_heading)
    dim = max(s.stop for s in obs_slices(include_privileged, include_heading).values())
    assert sorted(index) == list(range(dim)) and set(np.abs(sign)) == {1.0}
    x = np.random.default_rng(0).normal(size=(5, dim))
    assert np.array_equal(mirror(mirror(x, index, sign), index, sign), x)
    # the measured columns are closed under the mirror: the actor's input mirrors within itself
    cols = np.asarray(measured_columns(dim))
    sub_index, sub_sign = restrict(index, sign, cols)
    assert np.array_equal(mirror(x[:, cols], sub_index, sub_sign), mirror(x, index, sign)[:, cols])
    with pytest.raises(ValueError, match="not in it"):
        restrict(index, sign, np.array([6]))  # left hip pitch without the right one
    assert np.array_equal(observation_mirror_for_dim(dim)[0], index)
    with pytest.raises(ValueError, match="5 columns is not WildRobotWalk-v0's"):
        observation_mirror_for_dim(5)


def _set_state(env: WildRobotWalkEnv, root: np.ndarray, quat: np.ndarray, joints: np.ndarray, lin_vel: np.ndarray,
               ang_vel: np.ndarray, joint_vel: np.ndarray) -> None:
    d, s = env.data, env.spec_
    d.qpos[:3], d.qpos[3:7] = root, quat / np.linalg.norm(quat)
    d.qpos[s.joint_qpos_adr] = joints
    d.qvel[:3], d.qvel[3:6] = lin_vel, ang_vel
    d.qvel[s.joint_dof_adr] = joint_vel
    mujoco.mj_forward(env.model, d)


def test_the_env_observes_a_mirrored_state_as_the_mirrored_observation():
    """The rules checked against MuJoCo: the robot's state and its mirror image (y -> -y: the root's lateral
    position and velocity, roll and yaw flip; the legs swap), the action mirrored and the clock half a cycle
    on, observed by the env itself. Catches a wrong sign of any entry (e.g. the gyro's axes)."""
    env = WildRobotWalkEnv(include_privileged=True, include_heading=True)
    rng = np.random.default_rng(3)
    index, sign = observation_mirror(True, True)
    a_index, a_sign = action_mirror()
    try:
        env.reset(seed=0)
        for _ in range(5):
            root = np.array([0.1, rng.uniform(-0.2, 0.2), 0.45])
            quat = np.array([1.0, *rng.normal(0, 0.15, 3)])
            joints = rng.uniform(-0.5, 0.5, 8)  # set, not simulated: the ranges do not matter here
            lin, ang, jvel = rng.normal(0, 0.5, 3), rng.normal(0, 1.0, 3), rng.normal(0, 2.0, 8)
            action, command, phase = rng.uniform(-1, 1, 8), 0.65, rng.uniform()
            _set_state(env, root, quat, joints, lin, ang, jvel)
            obs = np.zeros(env.observation_space.shape)
            env.write_observation(obs, env.data.xmat[env.spec_.root_body], env.data.sensordata, env.data.qpos,
                                  action, command, phase)
            flip = np.array([1.0, -1.0, 1.0])
            _set_state(env, root * flip, quat * np.array([1.0, -1.0, 1.0, -1.0]), mirror_joints(joints), lin * flip,
                       -ang * flip, mirror_joints(jvel))
            mirrored = np.zeros_like(obs)
            env.write_observation(mirrored, env.data.xmat[env.spec_.root_body], env.data.sensordata, env.data.qpos,
                                  mirror(action, a_index, a_sign), command, (phase + 0.5) % 1.0)
            np.testing.assert_allclose(mirrored, mirror(obs, index, sign), atol=1e-6)
    finally:
        env.close()


def test_mirrored_statistics_are_symmetric_and_commute_with_normalisation():
    index, sign = observation_mirror(True, True)
    rng = np.random.default_rng(1)
    rms = MirroredRunningMeanStd(index, sign, shape=(len(index),))
    for _ in range(3):
        rms.update(rng.normal(0.3, 1.0, (50, len(index))) * np.linspace(0.5, 2.0, len(index)))
    np.testing.assert_allclose(mirror(rms.mean, index, sign), rms.mean, atol=1e-12)
    np.testing.assert_allclose(rms.var[index], rms.var, atol=1e-12)
    x = rng.normal(size=(4, len(index)))
    norm = lambda v: (v - rms.mean) / np.sqrt(rms.var + 1e-8)  # noqa: E731
    np.testing.assert_allclose(norm(mirror(x, index, sign)), mirror(norm(x), index, sign), atol=1e-12)
    with pytest.raises(ValueError, match="mirror of 3 columns"):
        MirroredRunningMeanStd(index[:3], sign[:3], shape=(len(index),))


def test_mirror_normalizer_symmetrises_loaded_statistics():
    """Statistics of an ordinary run are replaced by those of its data and its mirror image together."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from wildrobot_gym.wrappers import make_phase_env

    cfg = symmetric_cfg()
    vn = VecNormalize(DummyVecEnv([lambda: make_phase_env(cfg)]))
    try:
        index, sign = observation_mirror(True, True)
        rng = np.random.default_rng(2)
        data = rng.normal(0.5, 1.0, (200, len(index))) * np.linspace(0.5, 2.0, len(index))
        vn.obs_rms.update(data)
        mirror_normalizer(vn)
        both = np.concatenate([data, mirror(data, index, sign)])
        assert isinstance(vn.obs_rms, MirroredRunningMeanStd)
        np.testing.assert_allclose(vn.obs_rms.mean, both.mean(axis=0), atol=1e-3)
        np.testing.assert_allclose(vn.obs_rms.var, both.var(axis=0), rtol=1e-2)
    finally:
        vn.close()


@pytest.fixture(scope="module")
def symmetric_run(tmp_path_factory):
    """A tiny training of the symmetric policy (checkpoints with their normalisation statistics)."""
    from tiny_training import train_tiny

    cfg = symmetric_cfg()
    return train_tiny(cfg, tmp_path_factory.mktemp("sym"), "sym"), cfg


def test_the_action_mean_is_equivariant_and_loads_an_asymmetric_policys_weights():
    from stable_baselines3 import PPO

    from wildrobot_gym.checkpoints import resolve_checkpoint
    from wildrobot_gym.policy_io import SpacesEnv, set_policy_weights
    from gymnasium import spaces

    cfg = load_config(CONFIG_DIR / "phase3.yaml")
    cfg["ppo"]["actor_inputs"] = "measured_symmetric"
    cfg["ppo"]["batch_size"] = cfg["ppo"]["n_steps"]
    env = SpacesEnv(spaces.Box(-np.inf, np.inf, (38,), np.float32), spaces.Box(-1, 1, (8,), np.float32))
    model = PPO(env=env, device="cpu", seed=0, **ppo_kwargs(cfg, policy=True))
    assert isinstance(model.policy, MirrorSymmetricActorCriticPolicy)
    # the shipped (asymmetric) Phase 3 weights fit: same state dict
    set_policy_weights(model, resolve_checkpoint(ROOT / "policies" / "phase3.zip"), optimizer=False)
    index, sign = observation_mirror(True, True)
    a_index, a_sign = action_mirror()
    x = np.random.default_rng(4).normal(size=(64, 38)).astype(np.float32)
    with torch.no_grad():
        mean = model.policy.get_distribution(torch.as_tensor(x)).distribution.mean.numpy()
        mean_m = model.policy.get_distribution(torch.as_tensor(mirror(x, index, sign).astype(np.float32))).distribution.mean.numpy()
    assert np.abs(mean).max() > 0.3  # a real policy's actions, not the init's near-zero ones
    np.testing.assert_allclose(mean_m, mirror(mean, a_index, a_sign), atol=1e-5)
    # the privileged columns still cannot move the action
    y = x.copy()
    y[:, 34:] += 5.0
    with torch.no_grad():
        assert torch.equal(model.policy.get_distribution(torch.as_tensor(y)).distribution.mean,
                           torch.as_tensor(mean))


def test_tiny_training_saves_symmetric_statistics_and_loads_as_its_class(symmetric_run):
    from wildrobot_gym.checkpoints import read_state
    from wildrobot_gym.policy_io import load_ppo, read_vecnormalize
    from gymnasium import spaces

    final, cfg = symmetric_run
    state = read_state(final)
    assert state["model"]["policy"] == "MirrorSymmetricActorCriticPolicy"
    stats = read_vecnormalize(final / "vecnormalize.npz")
    index, sign = observation_mirror(True, True)
    np.testing.assert_allclose(mirror(stats["obs_mean"], index, sign), stats["obs_mean"], atol=1e-9)
    np.testing.assert_allclose(stats["obs_var"][index], stats["obs_var"], rtol=1e-9)
    # state.json decides the class, also under a config that says otherwise
    other = copy.deepcopy(state["config"])
    other["ppo"]["actor_inputs"] = "measured"
    model = load_ppo(final, None, validate_config(other), observation_space=spaces.Box(-np.inf, np.inf, (38,), np.float32),
                     action_space=spaces.Box(-1, 1, (8,), np.float32))
    assert isinstance(model.policy, MirrorSymmetricActorCriticPolicy)


def test_onnx_of_the_symmetric_policy_matches_sb3_and_is_equivariant(symmetric_run, tmp_path: Path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from training import export_policy
    from training.evaluate import load_policy
    from wildrobot_gym.checkpoints import resolve_checkpoint, save_checkpoint
    from wildrobot_gym.onnx_export import read_metadata

    final, cfg = symmetric_run
    model, venv, _, _ = load_policy(resolve_checkpoint(final), n_envs=1)
    try:
        with torch.no_grad():  # weights away from the init: actions that matter
            for p in model.policy.mlp_extractor.policy_net.parameters():
                p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.3)
            model.policy.action_net.weight.mul_(100.0)
        ckpt = save_checkpoint(tmp_path / "checkpoints", model, venv, cfg)
        raw = np.random.default_rng(5).normal(size=(50, 38)).astype(np.float32)
        expected, _ = model.predict(venv.normalize_obs(raw), deterministic=True)
    finally:
        venv.close()
    out = tmp_path / "sym.onnx"
    export_policy.main([str(ckpt), str(out), "--onnx"])
    meta = read_metadata(out)
    assert meta["actor_inputs"] == "measured_symmetric" and meta["input_dim"] == 34
    cols = np.asarray(measured_columns(38))
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(["action"], {"obs": raw[:, cols]})[0]
    assert np.abs(expected).max() > 0.3
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # the graph is equivariant on raw observations: the statistics inside it are symmetric
    index, sign = observation_mirror(True, True)
    a_index, a_sign = action_mirror()
    got_m = sess.run(["action"], {"obs": mirror(raw, index, sign).astype(np.float32)[:, cols]})[0]
    np.testing.assert_allclose(got_m, mirror(got, a_index, a_sign), atol=1e-5)
