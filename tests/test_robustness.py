"""The robustness suite (training/robustness.py, evaluate.py --suite robustness): its conditions are valid
randomization sections that really change the physics, every condition runs, and its nominal condition
steps the same physics as the single-env evaluation."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the training/ scripts' package

from training import evaluate, robustness  # noqa: E402
from wildrobot_gym.config import CONFIG_DIR, ConfigError, load_config, validate_config  # noqa: E402
from wildrobot_gym.config.randomization import RandomizationSection  # noqa: E402

EPISODE_STEPS = 120  # 2.4 s: long enough for push_0.3_lateral's first kick (at 2 s)


def _make_checkpoint(path: Path, phase: str) -> Path:
    """A directly built checkpoint (model.zip, vecnormalize.npz, state.json) of `phase` with a small net
    whose action head is scaled up, so the deterministic policy moves (and sometimes falls)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from wildrobot_gym import policy_io
    from wildrobot_gym.policy_io import save_vecnormalize
    from wildrobot_gym.wrappers import make_phase_env

    cfg = load_config(CONFIG_DIR / f"{phase}.yaml")
    cfg["ppo"].update(pi_net=[16], vf_net=[16])
    cfg["env"]["max_episode_steps"] = EPISODE_STEPS
    cfg.pop("randomization", None)  # a config without the section: the suite brings its own
    venv = VecNormalize(DummyVecEnv([lambda: make_phase_env(cfg)]))
    try:  # the config's policy class (ppo.actor_inputs), as training builds it
        kwargs = policy_io.ppo_kwargs(cfg, policy=True)
    except TypeError:  # a tree without actor_inputs: SB3's MlpPolicy
        kwargs = {"policy": "MlpPolicy", **policy_io.ppo_kwargs(cfg)}
    kwargs.update(n_steps=64, batch_size=64)
    model = PPO(env=venv, device="cpu", seed=0, **kwargs)
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        model.policy.action_net.weight.copy_(torch.randn(model.policy.action_net.weight.shape, generator=g) * 0.06)
    path.mkdir(parents=True, exist_ok=True)
    model.save(path / "model.zip")
    save_vecnormalize(venv, path / "vecnormalize.npz")
    venv.close()
    (path / "state.json").write_text(json.dumps({"num_timesteps": 0, "phase": cfg["phase"], "config": cfg}))
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return _make_checkpoint(tmp_path_factory.mktemp("robust") / "ckpt", "phase2")


@pytest.fixture(scope="module")
def cli_result(checkpoint: Path, tmp_path_factory) -> tuple[dict, dict]:
    out = tmp_path_factory.mktemp("robust_json") / "suite.json"
    result = evaluate.main([str(checkpoint), "--suite", "robustness", "--episodes", "2", "--seed", "3",
                            "--json-output", str(out)])
    return result, json.loads(out.read_text())


def _cfg(checkpoint: Path) -> dict:
    return validate_config(json.loads((checkpoint / "state.json").read_text())["config"])


def test_every_condition_section_validates_and_perturbs_one_thing() -> None:
    nominal = robustness.nominal_randomization()
    assert RandomizationSection.model_validate(nominal).model_dump() == nominal
    for name, cond in robustness.CONDITIONS.items():
        section = robustness.condition_section(name)
        RandomizationSection.model_validate(section)  # the schema accepts it
        changed = {k for k in section if section[k] != nominal[k]}
        expected = set(cond.randomization() if callable(cond.randomization) else cond.randomization)
        assert changed == expected, name
        assert len(changed) + len(cond.env) == (0 if name == "nominal" else 1), name
    assert robustness.condition_section("push_0.3_lateral")["pushes"] == {
        "interval_s": [2.0, 2.0], "velocity": [0.3, 0.3], "direction": "lateral"}
    rand = load_config(CONFIG_DIR / "phase2.yaml").get("randomization")
    noise = rand["observation_noise"] if rand else robustness.DEFAULT_SENSOR_NOISE
    assert robustness.condition_section("sensor_noise")["observation_noise"] == noise
    with pytest.raises(KeyError, match="expected one of"):
        robustness.condition_section("moon_gravity")


def test_a_bad_condition_is_refused_by_the_schema(monkeypatch) -> None:
    monkeypatch.setitem(robustness.CONDITIONS, "bad", robustness.Condition("x", {"friction": [0.5, 0.2]}))
    with pytest.raises(ConfigError, match=r"randomization.*friction"):
        robustness.condition_section("bad")


def test_conditions_change_the_physics(checkpoint: Path) -> None:
    cfg = _cfg(checkpoint)

    def env(name: str, base_cfg: dict = cfg):
        e = robustness.condition_env(base_cfg, name, 2, n_threads=1, seed=0)
        e.seed(0)
        e.reset()
        return e

    e = env("torque_x0.8")
    model = e.base.model
    np.testing.assert_allclose(e.model_field("actuator_forcerange"), np.broadcast_to(0.8 * model.actuator_forcerange, (2, 8, 2)))
    np.testing.assert_array_equal(e.randomizer.action_latency, 0)
    # saturation counted at the weaker servo's limit (99 % of it), not the nominal one it never reaches
    np.testing.assert_allclose(e.tracker.saturation_level,  # per env, from its drawn torque limit
                               np.broadcast_to(0.99 * 0.8 * np.abs(model.actuator_forcerange).max(axis=1), (2, 8)))
    e.close()
    e = env("latency_20ms")
    np.testing.assert_array_equal(e.randomizer.action_latency, 1)
    np.testing.assert_array_equal(e.model_field("actuator_forcerange")[0], model.actuator_forcerange)
    e.close()
    e = env("latency_40ms")
    np.testing.assert_array_equal(e.randomizer.action_latency, 2)
    e.close()
    e = env("imu_latency_40ms")
    np.testing.assert_array_equal(e.randomizer.imu_latency, 2)
    e.close()
    e = env("mass_+10%")
    np.testing.assert_allclose(e.model_field("body_mass"), np.broadcast_to(1.1 * model.body_mass, (2, model.nbody)))
    e.close()
    e = env("friction_0.5")
    np.testing.assert_array_equal(e.model_field("geom_friction")[:, :, 0], 0.5)
    e.close()
    e = env("command_0.65")
    np.testing.assert_array_equal(e.command, 0.65)
    e.close()
    # The nominal section reproduces the model; a checkpoint config's own randomization is replaced.
    wide = {**robustness.nominal_randomization(), "servo_torque_scale": [0.5, 1.5], "action_latency_steps": [0, 3]}
    for base_cfg in (cfg, validate_config({**cfg, "randomization": wide})):
        e = env("nominal", base_cfg)
        np.testing.assert_array_equal(e.model_field("actuator_forcerange")[1], model.actuator_forcerange)
        np.testing.assert_array_equal(e.model_field("body_mass")[1], model.body_mass)
        np.testing.assert_array_equal(e.model_field("geom_friction")[1], model.geom_friction)
        np.testing.assert_array_equal(e.randomizer.action_latency, 0)
        np.testing.assert_allclose(e.tracker.saturation_level,
                                   np.broadcast_to(0.99 * np.abs(model.actuator_forcerange).max(axis=1), (2, 8)))
        e.close()
    # A lateral push: at 2 s (step 100) the root's horizontal velocity changes by 0.3 m/s, sideways.
    e = env("push_0.3_lateral")
    assert (e.randomizer.next_push == 100).all()
    push, kicks = e.randomizer.push, []

    def recorded(steps, qvel, rngs, quat):
        before = qvel[:, :2].copy()
        due = push(steps, qvel, rngs, quat)
        kicks.append((int(steps[0]), due.tolist(), qvel[:, :2] - before, quat.copy()))
        return due

    e.randomizer.push = recorded
    for _ in range(100):
        e.step(np.zeros((2, 8), np.float32))
    step, due, dv, quat = kicks[-1]
    assert step == 100 and due == [0, 1] and all(k[1] == [] for k in kicks[:-1])
    np.testing.assert_allclose(np.linalg.norm(dv, axis=1), 0.3, rtol=1e-9)
    w, x, y, z = quat.T
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    heading = np.stack([np.cos(yaw), np.sin(yaw)], axis=1)
    np.testing.assert_allclose((dv * heading).sum(axis=1), 0.0, atol=1e-9)  # perpendicular to the heading
    e.close()


def test_every_condition_runs_with_figures_in_range(cli_result) -> None:
    result, data = cli_result
    assert list(data["conditions"]) == list(robustness.CONDITIONS)
    for name, r in data["conditions"].items():
        assert r["episodes"] == 2, name
        assert 0.0 <= r["success_rate"] <= 1.0, name
        assert math.isfinite(r["forward_velocity_mean"]) and abs(r["forward_velocity_mean"]) < 5.0, name
        assert 0.0 <= r["velocity_error_mean"] < 5.0, name
        assert 0.0 <= r["torque_saturation_pct"] <= 100.0, name
        assert 1 <= r["episode_length_mean"] <= EPISODE_STEPS, name
        assert sum(r["fall_reasons"].values()) == round(2 * (1 - r["success_rate"])), name
        assert r["description"] == robustness.CONDITIONS[name].description
    for c in ("command_0.5", "command_0.65", "command_0.8", "command_0.9"):
        assert data["conditions"][c]["command_mean"] == pytest.approx(float(c.split("_")[1]))
        assert data["conditions"][c]["velocity_error_mean"] == pytest.approx(np.mean([
            abs(e["forward_velocity"] - e["command"]) for e in data["conditions"][c]["per_episode"]]))
    # the perturbations matter: this policy (nominal: all successes) is not unaffected by every one
    fig = lambda r: (r["success_rate"], round(r["forward_velocity_mean"], 6))  # noqa: E731
    assert any(fig(r) != fig(data["conditions"]["nominal"]) for r in data["conditions"].values())
    lo, hi = _cfg_range()
    assert lo <= data["conditions"]["nominal"]["command_mean"] <= hi
    targets = data["summary"]["targets"]
    assert {t["condition"] for t in targets} == {"nominal", "latency_20ms", "torque_x0.8", "mass_-10%", "mass_+10%",
                                                 "friction_0.5", "push_0.3_lateral"}
    assert all(t["result"] in ("PASS", "FAIL") for t in targets)
    assert data["summary"]["all_pass"] == all(t["result"] == "PASS" for t in targets)
    assert data["episodes"] == 2 and data["seed"] == 3 and data["deterministic"] is True
    assert data["control_dt"] == pytest.approx(0.02)
    assert result["conditions"]["nominal"]["success_rate"] == data["conditions"]["nominal"]["success_rate"]


def test_every_condition_has_straight_line_speed_and_yaw_rate(cli_result) -> None:
    """Each condition's row: the mean over its episodes of the straight-line speed and of the yaw rate."""
    data = cli_result[1]
    for name, r in data["conditions"].items():
        per = r["per_episode"]
        assert r["straight_line_speed_mean"] == pytest.approx(np.mean([e["straight_line_speed"] for e in per])), name
        assert r["yaw_rate_mean"] == pytest.approx(np.mean([e["yaw_rate"] for e in per])), name
        assert r["yaw_rate_abs_mean"] == pytest.approx(np.mean([abs(e["yaw_rate"]) for e in per])), name
        assert abs(r["straight_line_speed_mean"]) < 5.0 and abs(r["yaw_rate_mean"]) < 360.0, name


def test_evaluation_json_has_the_gait_block(checkpoint: Path, tmp_path: Path, capsys) -> None:
    """evaluate.py: the JSON's ``gait`` block holds the means over the episodes of their gait figures; the
    keys it had before are still there; the printed table has the gait rows with the human figures."""
    from wildrobot_gym.gait_metrics import GAIT_KEYS, HUMAN_REFERENCE

    out = tmp_path / "eval.json"
    evaluate.main([str(checkpoint), "--episodes", "2", "--seed", "3", "--json-output", str(out)])
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert {"episodes", "forward_velocity_mean", "success_rate", "episode_length_mean", "air_time",
            "torque_saturation_pct", "fall_reasons", "reward_terms", "criteria", "all_pass"} <= data.keys()
    g = data["gait"]
    assert list(g) == [*GAIT_KEYS, "torque_saturation_pct"]
    assert g["double_support"] + g["single_support"] + g["flight"] == pytest.approx(1.0)
    assert g["torque_saturation_pct"] == data["torque_saturation_pct"]
    assert set(data["gait_human_reference"]) == set(HUMAN_REFERENCE)
    model, venv, _, _ = evaluate.load_policy(checkpoint, n_envs=2)
    try:
        eps = evaluate.run_episodes(model, venv, 2, deterministic=True, seed=3)
    finally:
        venv.close()
    for k in ("double_support", "touchdowns_per_s", "peak_foot_force_max", "yaw_rate", "straight_line_speed"):
        assert g[k] == pytest.approx(np.mean([e[f"gait/{k}"] for e in eps])), k
    assert "double support" in printed and "straight-line speed" in printed and "human" in printed


def _cfg_range() -> tuple[float, float]:
    lo, hi = load_config(CONFIG_DIR / "phase2.yaml")["env"]["command_range"]
    return lo, hi


def test_nominal_condition_matches_the_single_env_evaluation(checkpoint: Path, cli_result) -> None:
    """Same policy, same seed: the batch under the nominal section and evaluate's DummyVecEnv of single
    envs step the same physics (2 envs, one episode each: the first episodes in both)."""
    model, venv, _, _ = evaluate.load_policy(checkpoint, n_envs=2)
    try:
        single = evaluate.run_episodes(model, venv, 2, deterministic=True, seed=3)
    finally:
        venv.close()
    suite = cli_result[1]["conditions"]["nominal"]["per_episode"]
    key = lambda e: e["length"]  # noqa: E731  (the two list their episodes in the order they end)
    single, suite = sorted(single, key=key), sorted(suite, key=key)
    assert [e["success"] for e in single] == [float(e["is_success"]) for e in suite]
    assert [e["length"] for e in single] == [e["length"] for e in suite]
    np.testing.assert_allclose([e["forward_velocity"] for e in suite], [e["forward_velocity"] for e in single],
                               atol=1e-4)
    np.testing.assert_allclose([e["torque_saturation_pct"] for e in suite],
                               [e["torque_saturation_pct"] for e in single], atol=1e-6)


def test_phase3_checkpoint_runs(tmp_path: Path) -> None:
    ckpt = _make_checkpoint(tmp_path / "p3", "phase3")
    result = robustness.run_suite(ckpt, episodes=2, seed=0, conditions=["nominal", "latency_20ms"], n_threads=1)
    assert list(result["conditions"]) == ["nominal", "latency_20ms"]
    assert [t["result"] for t in result["summary"]["targets"] if t["condition"] == "torque_x0.8"] == ["n/a"]


def test_video_is_refused_with_the_suite(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--video"):
        evaluate.main([str(checkpoint), "--suite", "robustness", "--video", str(tmp_path / "v.mp4")])
