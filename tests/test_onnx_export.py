"""ONNX export: the graph reproduces SB3's deterministic action (with VecNormalize's normalisation) on
real env observations, carries the runtime's metadata, and runs with numpy + onnxruntime alone."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from training import export_policy  # noqa: E402
from training.common import resolve_checkpoint  # noqa: E402
from wildrobot_gym.onnx_export import read_metadata  # noqa: E402

BUNDLE = ROOT / "policies" / "phase2.zip"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "phase2.onnx"
    export_policy.main([str(BUNDLE), str(out), "--onnx"])
    return out


def graph_columns(meta: dict) -> np.ndarray:
    """The observation columns the graph takes (its input_layout), in order."""
    return np.concatenate([np.arange(e["obs_offset"], e["obs_offset"] + e["size"]) for e in meta["input_layout"]])


def test_onnx_matches_sb3_predict_on_real_observations(exported: Path):
    from training.evaluate import load_policy

    model, venv, _, _ = load_policy(resolve_checkpoint(BUNDLE), n_envs=2)
    sess = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    raw, rng = [], np.random.default_rng(0)
    try:
        venv.seed(7)
        obs = venv.reset()
        for i in range(200):
            raw.append(venv.get_original_obs().copy())
            action, _ = model.predict(obs, deterministic=True)
            if i % 3 == 0:  # also off the policy's own path: perturbed actions, so falls and odd states too
                action = np.clip(action + rng.normal(0, 0.5, action.shape), -1, 1)
            obs, _, _, _ = venv.step(action)
        raw_obs = np.concatenate(raw).astype(np.float32)  # 400 observations
        expected, _ = model.predict(venv.normalize_obs(raw_obs), deterministic=True)
    finally:
        venv.close()
    cols = graph_columns(read_metadata(exported))
    got = sess.run(["action"], {"obs": raw_obs[:, cols]})[0]
    assert got.shape == expected.shape == (400, 8)
    diff = float(np.abs(got - expected).max())
    print(f"max |onnx - sb3| over {len(raw_obs)} observations: {diff:.3g}")
    assert diff < 1e-5
    assert got.min() >= -1.0 and got.max() <= 1.0
    # the clip to the action space is in the graph: extreme observations saturate exactly at +-1
    far = np.full((4, raw_obs.shape[1]), 1e3, np.float32) * np.array([[1], [-1], [0.5], [-3]], np.float32)
    exp_far, _ = model.predict(venv.normalize_obs(far), deterministic=True)
    assert np.abs(sess.run(["action"], {"obs": far[:, cols]})[0] - exp_far).max() < 1e-5


def test_metadata_and_sidecar(exported: Path):
    from wildrobot_gym.checkpoints import read_state
    from wildrobot_gym.env import OBS_LAYOUT
    from wildrobot_gym.robot import JOINT_NAMES

    meta = read_metadata(exported)
    state = read_state(resolve_checkpoint(BUNDLE))
    assert json.loads(exported.with_suffix(".json").read_text()) == meta
    # the shipped phase2 policy: measured inputs (no root velocity or height) and the heading entry
    assert [e["name"] for e in meta["observation_layout"]] == [n for n, _, _ in OBS_LAYOUT]
    assert [e["privileged"] for e in meta["observation_layout"]] == [p for _, _, p in OBS_LAYOUT]
    assert meta["observation_dim"] == sum(s for _, s, _ in OBS_LAYOUT) == 38 and meta["include_heading"] is True
    assert meta["actor_inputs"] == "measured" and meta["input_dim"] == meta["inputs"]["obs"][1] == 34
    assert [e["name"] for e in meta["input_layout"]] == [n for n, _, p in OBS_LAYOUT if not p]
    assert graph_columns(meta).tolist() == list(range(34))  # the measured entries lead the observation
    assert meta["joint_names"] == list(JOINT_NAMES)
    assert meta["control_rate_hz"] == 50.0 and meta["gait_frequency_hz"] == 3.0
    assert len(meta["home_pose"]) == len(meta["action_scale"]) == len(meta["joint_range"]) == 8
    assert meta["action_offset"] == [0.0] * 8  # phase 2 acts about home
    assert all(lo <= q <= hi for q, (lo, hi) in zip(meta["home_pose"], meta["joint_range"]))
    assert meta["phase"] == "2" and meta["num_timesteps"] == state["num_timesteps"]


def test_shipped_onnx_is_the_shipped_bundle(exported: Path):
    shipped = ROOT / "policies" / "phase2.onnx"
    sess_a = ort.InferenceSession(str(shipped), providers=["CPUExecutionProvider"])
    sess_b = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(64, read_metadata(shipped)["input_dim"])).astype(np.float32)
    assert np.array_equal(sess_a.run(["action"], {"obs": x})[0], sess_b.run(["action"], {"obs": x})[0])


def test_cli_refuses_a_mismatched_output(tmp_path: Path):
    with pytest.raises(SystemExit, match=r"\.onnx file is written with --onnx"):
        export_policy.main([str(BUNDLE), str(tmp_path / "p.onnx")])
    with pytest.raises(SystemExit, match=r"\.onnx file is written with --onnx"):
        export_policy.main([str(BUNDLE), str(tmp_path / "p.zip"), "--onnx"])


def test_run_onnx_example_walks_without_torch_or_sb3():
    code = ("import json, runpy, sys; sys.argv = ['run_onnx.py', 'policies/phase2.onnx', '--steps', '250']; "
            "r = runpy.run_path('examples/run_onnx.py', run_name='not_main')['main'](sys.argv[1:]); "
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'stable_baselines3', 'imitation')); "
            "print('RESULT ' + json.dumps({'result': r, 'heavy': heavy}))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.split("RESULT ", 1)[1])
    assert out["heavy"] == []
    res = out["result"]
    assert not res["fell"] and res["steps"] == 250
    assert res["forward_velocity_mean"] > 0.5 and res["distance_m"] > 2.0


# ------------------------------------------------------------------------------------- asymmetric actor-critic
@pytest.fixture(scope="module")
def asym_exported(tmp_path_factory) -> tuple[Path, Path]:
    """(checkpoint, ONNX file) of a small ``actor_inputs: measured`` Phase 2 policy with real normalisation
    statistics (VecNormalize over random-action steps) and non-trivial weights."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from wildrobot_gym.checkpoints import save_checkpoint
    from wildrobot_gym.config import CONFIG_DIR, load_config
    from wildrobot_gym.policy import AsymmetricActorCriticPolicy
    from wildrobot_gym.policy_io import ppo_kwargs
    from wildrobot_gym.wrappers import make_phase_env

    tmp = tmp_path_factory.mktemp("onnx_asym")
    cfg = load_config(CONFIG_DIR / "phase2.yaml")
    assert cfg["ppo"]["actor_inputs"] == "measured"
    cfg["ppo"].update(n_steps=32, batch_size=64, n_epochs=1, pi_net=[32, 32], vf_net=[32, 32])
    cfg["env"]["max_episode_steps"] = 100
    venv = VecNormalize(DummyVecEnv([lambda: make_phase_env(cfg) for _ in range(2)]))
    model = PPO(env=venv, device="cpu", seed=0, **ppo_kwargs(cfg, policy=True))
    assert isinstance(model.policy, AsymmetricActorCriticPolicy)
    rng = np.random.default_rng(0)
    venv.seed(3)
    venv.reset()
    for _ in range(300):  # statistics of real observations
        venv.step(rng.uniform(-1, 1, (2, 8)).astype(np.float32))
    with torch.no_grad():  # weights away from the init: actions that reach the clip
        for p in model.policy.mlp_extractor.policy_net.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.3)
        model.policy.action_net.weight.mul_(100.0)
    ckpt = save_checkpoint(tmp / "checkpoints", model, venv, cfg)
    venv.close()
    out = tmp / "asym.onnx"
    export_policy.main([str(ckpt), str(out), "--onnx"])
    return ckpt, out


def test_asymmetric_onnx_takes_the_measured_entries_and_matches_sb3(asym_exported):
    from training.evaluate import load_policy
    from wildrobot_gym.env import OBS_LAYOUT
    from wildrobot_gym.policy import measured_columns

    ckpt, exported = asym_exported
    meta = read_metadata(exported)
    assert json.loads(exported.with_suffix(".json").read_text()) == meta
    measured = [n for n, _, p in OBS_LAYOUT if not p]  # the shipped configs observe the heading
    assert meta["actor_inputs"] == "measured" and meta["format"] == 2 and meta["include_heading"] is True
    assert [e["name"] for e in meta["input_layout"]] == measured and "heading_error" in measured
    assert not any(e["privileged"] for e in meta["input_layout"])
    assert meta["input_dim"] == meta["inputs"]["obs"][1] == 34 and meta["observation_dim"] == 38
    assert [e["name"] for e in meta["observation_layout"]] == [n for n, _, _ in OBS_LAYOUT]
    cols = np.concatenate([np.arange(e["obs_offset"], e["obs_offset"] + e["size"]) for e in meta["input_layout"]])
    assert cols.tolist() == list(measured_columns(38))
    sess = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape[1] == 34  # the graph has no place for a privileged value

    model, venv, _, _ = load_policy(resolve_checkpoint(ckpt), n_envs=2)
    raw, rng = [], np.random.default_rng(0)
    try:
        venv.seed(7)
        obs = venv.reset()
        for i in range(200):
            raw.append(venv.get_original_obs().copy())
            action, _ = model.predict(obs, deterministic=True)
            if i % 3 == 0:
                action = np.clip(action + rng.normal(0, 0.5, action.shape), -1, 1)
            obs, _, _, _ = venv.step(action)
        raw_obs = np.concatenate(raw).astype(np.float32)  # 400 real observations, all 38 entries
        expected, _ = model.predict(venv.normalize_obs(raw_obs), deterministic=True)
        far = np.full((4, 38), 1e3, np.float32) * np.array([[1], [-1], [0.5], [-3]], np.float32)
        exp_far, _ = model.predict(venv.normalize_obs(far), deterministic=True)
    finally:
        venv.close()
    got = sess.run(["action"], {"obs": raw_obs[:, cols]})[0]
    assert got.shape == expected.shape == (400, 8)
    diff = float(np.abs(got - expected).max())
    print(f"asymmetric: max |onnx - sb3| over {len(raw_obs)} observations: {diff:.3g}")
    assert diff < 1e-5
    assert np.abs(expected).max() > 0.5 and got.min() >= -1.0 and got.max() <= 1.0
    assert np.abs(sess.run(["action"], {"obs": far[:, cols]})[0] - exp_far).max() < 1e-5


def test_run_onnx_example_feeds_an_asymmetric_graph_the_measured_entries(asym_exported):
    import runpy

    _, exported = asym_exported
    main = runpy.run_path(str(ROOT / "examples" / "run_onnx.py"), run_name="not_main")["main"]
    res = main([str(exported), "--steps", "20"])
    assert 1 <= res["steps"] <= 20
    assert main.__globals__["input_columns"](read_metadata(exported)).tolist() == list(range(34))
    assert main.__globals__["input_columns"](read_metadata(ROOT / "policies" / "phase2.onnx")).tolist() == list(range(34))
