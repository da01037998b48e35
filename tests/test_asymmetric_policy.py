"""Asymmetric actor-critic (``ppo.actor_inputs: measured``, wildrobot_gym/policy.py): the actor reads only
the measured observation entries, so the privileged ones (root_lin_vel, root_height) cannot change the
action, while the critic reads them; it trains, checkpoints, evaluates and resumes; the config key
defaults to "all" so that policies saved before it load as they were."""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wildrobot_gym.config import CONFIG_DIR, ConfigError, load_config, validate_config  # noqa: E402
from wildrobot_gym.env import OBS_LAYOUT, obs_slices  # noqa: E402
from wildrobot_gym.policy import AsymmetricActorCriticPolicy, measured_columns  # noqa: E402
from wildrobot_gym.policy_io import actor_inputs, ppo_kwargs  # noqa: E402

PRIVILEGED = [name for name, _, privileged in OBS_LAYOUT if privileged]
MEASURED = [name for name, _, privileged in OBS_LAYOUT if not privileged]


def tiny_cfg(phase: str = "phase1e") -> dict:
    cfg = load_config(CONFIG_DIR / f"{phase}.yaml")
    cfg["ppo"].update(n_steps=32, batch_size=32, n_epochs=1, pi_net=[16, 16], vf_net=[16, 16])
    cfg["env"]["max_episode_steps"] = 50
    return cfg


#: The shipped configs' observation: with the heading entry (env.include_heading), 38 columns, 34 measured.
HEADING = bool(load_config(CONFIG_DIR / "phase1e.yaml")["env"].get("include_heading", False))
FULL = max(s.stop for s in obs_slices(True, HEADING).values())
MEAS = FULL - sum(s for _, s, p in OBS_LAYOUT if p)


def privileged_columns() -> np.ndarray:
    sl = obs_slices(include_privileged=True, include_heading=HEADING)
    return np.concatenate([np.arange(sl[n].start, sl[n].stop) for n in PRIVILEGED])


def real_observations(cfg: dict, n: int = 120, seed: int = 0) -> np.ndarray:
    """`n` observations of the phase's env under random actions (falls and resets included)."""
    from wildrobot_gym.wrappers import make_phase_env

    env = make_phase_env(cfg)
    rng = np.random.default_rng(seed)
    try:
        obs, _ = env.reset(seed=seed)
        out = []
        for _ in range(n):
            out.append(obs)
            obs, _, term, trunc, _ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
            if term or trunc:
                obs, _ = env.reset()
    finally:
        env.close()
    return np.asarray(out, np.float32)


@pytest.fixture(scope="module")
def model():
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from wildrobot_gym.wrappers import make_phase_env

    cfg = tiny_cfg()
    assert actor_inputs(cfg) == "measured"  # the shipped phase config
    venv = DummyVecEnv([lambda: make_phase_env(cfg)])
    m = PPO(env=venv, device="cpu", seed=0, **ppo_kwargs(cfg, policy=True))
    with torch.no_grad():  # non-trivial actions: the action head's init gain is 0.01
        m.policy.action_net.weight.mul_(100.0)
    yield m, cfg
    venv.close()


# ------------------------------------------------------------------------------------- the policy
@pytest.mark.parametrize("heading", [False, True])
def test_actor_columns_are_the_measured_entries_of_obs_layout(heading: bool):
    sl = obs_slices(include_privileged=True, include_heading=heading)
    want = np.concatenate([np.arange(sl[n].start, sl[n].stop) for n in MEASURED if n in sl])
    full = sum(s for n, s, _ in OBS_LAYOUT if n in sl)
    assert full == (38 if heading else 37) and len(want) == (34 if heading else 33)
    assert list(measured_columns(full)) == want.tolist()
    priv = np.concatenate([np.arange(sl[n].start, sl[n].stop) for n in PRIVILEGED])
    assert not set(measured_columns(full)) & set(priv.tolist())
    short = full - len(priv)  # include_privileged=False: every column is measured
    assert list(measured_columns(short)) == list(range(short))
    with pytest.raises(ValueError, match="not WildRobotWalk-v0's"):
        measured_columns(39)


def test_networks_are_sb3s_with_a_narrower_actor(model):
    from stable_baselines3.common.policies import ActorCriticPolicy

    m, _ = model
    pol = m.policy
    assert isinstance(pol, AsymmetricActorCriticPolicy) and isinstance(pol, ActorCriticPolicy)
    n_meas, n_full = len(measured_columns(FULL)), FULL
    assert pol.mlp_extractor.policy_net[0].in_features == n_meas == MEAS
    assert pol.mlp_extractor.value_net[0].in_features == n_full
    assert [type(x).__name__ for x in pol.mlp_extractor.policy_net] == ["Linear", "ELU", "Linear", "ELU"]
    # MlpPolicy's state-dict keys; the column indices are derived, not saved
    assert "mlp_extractor.actor_columns" not in pol.state_dict()
    assert {k for k in pol.state_dict()} == {
        *(f"mlp_extractor.{net}.{i}.{p}" for net in ("policy_net", "value_net") for i in (0, 2) for p in ("weight", "bias")),
        "log_std", "action_net.weight", "action_net.bias", "value_net.weight", "value_net.bias"}
    assert torch.allclose(pol.log_std, torch.full((8,), -0.5))


def test_privileged_entries_do_not_change_the_action_but_change_the_value(model):
    m, cfg = model
    obs = real_observations(cfg)
    rng = np.random.default_rng(1)
    priv = privileged_columns()
    other = obs.copy()
    other[:, priv] = rng.normal(0, 5, (len(obs), len(priv))).astype(np.float32)  # arbitrary values
    a, _ = m.predict(obs, deterministic=True)
    b, _ = m.predict(other, deterministic=True)
    assert np.abs(a).max() > 0.05  # a real action, not a vanishing one
    assert np.array_equal(a, b)  # exactly
    pol = m.policy
    t, u = torch.as_tensor(obs), torch.as_tensor(other)
    with torch.no_grad():
        va, vb = pol.predict_values(t), pol.predict_values(u)
        assert float((va - vb).abs().max()) > 1e-4  # the critic reads them
        acts = torch.as_tensor(a)
        v1, lp1, ent1 = pol.evaluate_actions(t, acts)
        v2, lp2, ent2 = pol.evaluate_actions(u, acts)
        assert torch.equal(lp1, lp2) and torch.equal(ent1, ent2) and not torch.equal(v1, v2)
        assert torch.equal(pol.get_distribution(t).distribution.mean, pol.get_distribution(u).distribution.mean)
    # by construction: the action mean has no gradient path to a privileged column
    x = t.clone().requires_grad_(True)
    pol.get_distribution(x).distribution.mean.sum().backward()
    assert float(x.grad[:, priv].abs().max()) == 0.0 and float(x.grad[:, measured_columns(FULL)].abs().max()) > 0
    # stochastic actions too (same seed, same noise)
    torch.manual_seed(3)
    s1, _ = m.predict(obs, deterministic=False)
    torch.manual_seed(3)
    s2, _ = m.predict(other, deterministic=False)
    assert np.array_equal(s1, s2)


# ------------------------------------------------------------------------------------- config
def test_config_key_values_default_and_error():
    raw = yaml.safe_load((CONFIG_DIR / "phase1e.yaml").read_text())
    for phase in ("phase1e", "phase2", "phase3"):
        assert load_config(CONFIG_DIR / f"{phase}.yaml")["ppo"]["actor_inputs"] == "measured"
    bad = copy.deepcopy(raw)
    bad["ppo"]["actor_inputs"] = "foo"
    with pytest.raises(ConfigError, match=r"^ppo\.actor_inputs"):
        validate_config(bad)
    old = copy.deepcopy(raw)
    del old["ppo"]["actor_inputs"]  # a config saved before the key
    cfg = validate_config(old)
    assert "actor_inputs" not in cfg["ppo"] and actor_inputs(cfg) == "all"
    from wildrobot_gym.config.ppo import PPOSection

    assert PPOSection.model_validate(old["ppo"]).actor_inputs == "all"
    assert ppo_kwargs(cfg, policy=True)["policy"] == "MlpPolicy"
    assert ppo_kwargs(validate_config(raw), policy=True)["policy"] is AsymmetricActorCriticPolicy
    assert "policy" not in ppo_kwargs(cfg)  # callers passing "MlpPolicy" themselves keep working


@pytest.mark.parametrize("bundle", ["phase1e.zip", "phase2.zip"])
def test_shipped_policies_load_as_their_config_says_and_act_as_sb3s_own_load(bundle):
    """A shipped bundle rebuilds as the policy class of its config's ppo.actor_inputs (a config without
    the key: MlpPolicy) and acts exactly as SB3's own (unpickling) load of the same trusted file."""
    import io

    from stable_baselines3 import PPO
    from stable_baselines3.common.policies import ActorCriticPolicy

    from training.evaluate import load_policy
    from wildrobot_gym.checkpoints import read_state, resolve_checkpoint

    ckpt = resolve_checkpoint(ROOT / "policies" / bundle)
    inputs = read_state(ckpt)["config"]["ppo"].get("actor_inputs", "all")
    model, venv, _, _ = load_policy(ckpt)
    venv.close()
    assert type(model.policy) is (AsymmetricActorCriticPolicy if inputs == "measured" else ActorCriticPolicy)
    trusted = PPO.load(io.BytesIO((ckpt / "model.zip").read_bytes()), device="cpu")  # our own shipped file
    x = np.random.default_rng(0).normal(size=(64, model.observation_space.shape[0])).astype(np.float32)
    assert np.array_equal(model.predict(x, deterministic=True)[0], trusted.predict(x, deterministic=True)[0])


def test_one_episode_gives_the_raw_observations_and_infos_of_a_deterministic_episode():
    """evaluate.one_episode (the motion probes' rollout): raw (not normalised) observations and the step infos,
    one per step; the same seed gives the same episode."""
    from training.evaluate import load_policy, one_episode
    from wildrobot_gym.checkpoints import resolve_checkpoint

    ckpt = resolve_checkpoint(ROOT / "policies" / "phase2.zip")
    obs, infos = one_episode(ckpt, steps=20)
    assert obs.shape[0] == len(infos) == 20
    model, venv, _, _ = load_policy(ckpt)
    venv.close()
    assert obs.shape[1] == venv.observation_space.shape[0]
    # raw, not normalised: the observed joint angles (encoders, about home) follow the simulated ones to within
    # a few hundredths of a radian; normalised ones (units of a running std of ~0.1 rad) would not
    q_obs, q_sim = obs[:, obs_slices()["joint_pos"]], np.array([i["joint_pos"] for i in infos])
    assert np.abs((q_obs - q_obs[0]) - (q_sim - q_sim[0])).max() < 0.05
    assert np.abs(q_sim - q_sim[0]).max() > 0.1  # and the joints did move
    assert all(i["foot_height"].shape == (2,) for i in infos)
    again, _ = one_episode(ckpt, steps=20)
    np.testing.assert_array_equal(obs, again)


# ------------------------------------------------------------------------------------- train / evaluate / resume
def test_tiny_training_checkpoint_evaluates_and_resumes(tmp_path: Path):
    from tiny_training import train_tiny
    from training import evaluate, train_ppo
    from wildrobot_gym.checkpoints import list_checkpoints, read_state, resolve_checkpoint
    from wildrobot_gym.policy_io import load_ppo

    final = train_tiny(tiny_cfg(), tmp_path)
    state = read_state(final)
    assert state["num_timesteps"] == 2048
    assert state["config"]["ppo"]["actor_inputs"] == "measured"
    assert state["model"]["policy"] == "AsymmetricActorCriticPolicy"
    model = load_ppo(final, None, validate_config(state["config"]), observation_space=_space(FULL),
                     action_space=_space(8, 1.0))
    assert isinstance(model.policy, AsymmetricActorCriticPolicy)

    result = evaluate.main([str(tmp_path / "run"), "--episodes", "2"])
    assert result["episodes"] == 2

    train_ppo.main(["--logdir", str(tmp_path / "run"), "--resume", "--total-timesteps", "2560", "--n-workers", "1",
                    "--no-progress-bar", "--log-every", "0"])
    last = list_checkpoints(tmp_path / "run" / "checkpoints")[-1]
    s2 = read_state(last)
    assert s2["num_timesteps"] == 2560 and s2["model"]["policy"] == "AsymmetricActorCriticPolicy"
    assert s2["model"]["n_updates"] > state["model"]["n_updates"]
    resumed = load_ppo(resolve_checkpoint(last), None, validate_config(s2["config"]), observation_space=_space(FULL),
                       action_space=_space(8, 1.0))
    assert isinstance(resumed.policy, AsymmetricActorCriticPolicy)
    # the resumed run changed the weights it continued from
    a = model.policy.state_dict()["mlp_extractor.policy_net.0.weight"]
    b = resumed.policy.state_dict()["mlp_extractor.policy_net.0.weight"]
    assert a.shape == b.shape == (16, MEAS) and not torch.equal(a, b)


def test_weights_of_the_other_kind_are_refused_naming_actor_inputs(tmp_path: Path):
    """--init-from a measured-inputs policy (the shipped phase2.zip) into a full-observation one: the error says why."""
    from stable_baselines3 import PPO

    from wildrobot_gym.checkpoints import resolve_checkpoint
    from wildrobot_gym.policy_io import set_policy_weights

    cfg = load_config(CONFIG_DIR / "phase2.yaml")
    cfg["ppo"]["batch_size"] = cfg["ppo"]["n_steps"]  # one env here
    cfg["ppo"]["actor_inputs"] = "all"
    model = PPO(env=_spaces_env(), device="cpu", seed=0, **ppo_kwargs(cfg, policy=True))
    with pytest.raises(ValueError, match=r"do not fit.*actor_inputs: measured, this policy has all"):
        set_policy_weights(model, resolve_checkpoint(ROOT / "policies" / "phase2.zip"), optimizer=False)


def test_load_rebuilds_the_class_it_was_saved_as(tmp_path: Path):
    """state.json model.policy names the class; without it the config's actor_inputs decides."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.policies import ActorCriticPolicy

    from wildrobot_gym.policy_io import load_ppo, model_meta

    cfg = tiny_cfg()
    env = _spaces_env()
    x = torch.as_tensor(real_observations(cfg, 20))
    for kind in ("measured", "all"):
        c = copy.deepcopy(cfg)
        c["ppo"]["actor_inputs"] = kind
        m = PPO(env=env, device="cpu", seed=0, **ppo_kwargs(c, policy=True))
        for with_meta in (True, False):
            d = tmp_path / f"{kind}_{with_meta}"
            d.mkdir()
            m.save(d / "model.zip")
            meta = model_meta(m) if with_meta else {}
            (d / "state.json").write_text(json.dumps({"num_timesteps": 0, "config": c, "model": meta}))
            got = load_ppo(d, env, c)
            assert (type(got.policy) is AsymmetricActorCriticPolicy) == (kind == "measured")
            assert isinstance(got.policy, ActorCriticPolicy)
            with torch.no_grad():
                assert torch.equal(got.policy.predict_values(x), m.policy.predict_values(x))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "state.json").write_text(json.dumps({"config": cfg, "model": {"policy": "os.system"}}))
    with pytest.raises(ValueError, match="unknown policy class 'os.system'"):
        load_ppo(bad, env, cfg)


def _space(n: int, bound: float = np.inf):
    import gymnasium as gym

    return gym.spaces.Box(-bound, bound, (n,), np.float32)


def _spaces_env():
    from wildrobot_gym.policy_io import SpacesEnv

    return SpacesEnv(_space(FULL), _space(8, 1.0))
