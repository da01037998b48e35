"""The robustness suite: a checkpoint's deterministic policy under named perturbations of the robot.

    python training/evaluate.py CHECKPOINT --suite robustness [--episodes 20] [--seed S] [--json-output FILE]

Each condition is a ``randomization:`` section (`wildrobot_gym.config.randomization`) with every range
fixed at its nominal value (`nominal_randomization`) except the one perturbed, plus env overrides (a
fixed command). The perturbation is then applied by the code that randomises training,
`wildrobot_gym.randomization.DomainRandomizer`, in a `BatchedWalkVecEnv`; every section is validated by
the config schema (`condition_section`, `condition_config`).

==================  ==========================================================================================
nominal             the nominal robot, commands drawn from the config's ``env.command_range``
command_0.5         fixed command 0.5 m/s (``env.fixed_command``)
command_0.65        fixed command 0.65 m/s
command_0.8         fixed command 0.8 m/s
command_0.9         fixed command 0.9 m/s (seed 002's Phase 3 row is 0.7-0.9 m/s; no suite target)
mass_-10%           every link's mass and inertia x 0.9 (``link_mass_scale: [0.9, 0.9]``)
mass_+10%           every link's mass and inertia x 1.1 (``link_mass_scale: [1.1, 1.1]``)
friction_0.5        sliding friction of every geom 0.5 (nominal 1.0; ``friction: [0.5, 0.5]``)
latency_20ms        servo targets 1 control step late (``action_latency_steps: [1, 1]``; 20 ms at 50 Hz)
latency_40ms        servo targets 2 control steps late (``action_latency_steps: [2, 2]``)
imu_latency_40ms    up vector and gyro 2 control steps old (``imu_latency_steps: [2, 2]``)
torque_x0.8         servo torque limit x 0.8 (``servo_torque_scale: [0.8, 0.8]``)
push_0.3_lateral    a 0.3 m/s sideways kick of the root every 2 s (``pushes``: interval [2, 2] s,
                    velocity [0.3, 0.3] m/s, ``direction: lateral``)
sensor_noise        Gaussian noise on the measured observations: ``observation_noise`` of
                    configs/phase2.yaml's randomization section if it has one, else `DEFAULT_SENSOR_NOISE`
==================  ==========================================================================================

(The latency names assume the 50 Hz control clock: the latencies are whole control steps; the JSON
records ``control_dt``.)

How a condition is run (`run_condition`): ``episodes`` envs of one `BatchedWalkVecEnv` built from the
checkpoint's saved config with the condition's section and env overrides (``randomize=True``; a config
without a ``randomization`` section works, the suite brings its own), seeded with ``--seed`` (env i:
seed + i, as the single-env evaluation; the randomiser's observation noise too), wrapped in the
checkpoint's VecNormalize statistics (training and reward normalisation off), deterministic actions.
The FIRST episode of every env is counted (the batch auto-resets; later episodes are ignored). Figures
per condition, from the end-of-episode infos:

* ``success_rate``: share of episodes that reached the time limit without a fall (``info["is_success"]``);
* ``forward_velocity_mean``: mean over episodes of the episode's mean forward velocity (m/s);
* ``velocity_error_mean``: mean over episodes of |episode mean forward velocity - its command| (m/s): the
  episode statistic ``velocity_error`` (`wildrobot_gym.episode_stats`, the one definition evaluate.py uses too);
* ``torque_saturation_pct``: mean over episodes of the % of actuator-steps at the torque limit (the
  condition's limit: `condition_env` scales the threshold with ``servo_torque_scale``);
* ``proper_contact_fraction_mean``: mean over episodes of the fraction of steps whose foot contacts match
  the gait clock (Phase 2's criterion), judged as `wildrobot_gym.rewards.foot_contact` does: against the
  command phase, the clock at which the applied servo targets were issued (under a latency condition the gait
  phase that many steps earlier; nominally the gait phase itself);
* ``fall_reasons``: count of each fall reason (``info["fall_reason"]``; successes are not listed);
* ``straight_line_speed_mean``: mean over episodes of the displacement along the episode's start heading /
  its duration (m/s; `wildrobot_gym.gait_metrics`: a policy that turns has it well below its forward velocity);
* ``yaw_rate_mean``, ``yaw_rate_abs_mean``: mean over episodes of the episode's mean yaw rate (deg/s, + = left)
  and of its magnitude (the heading drift).

``summary`` checks the issue's targets (`TARGETS`): >= 90 % success under latency_20ms, torque_x0.8,
mass_-10%, mass_+10%, friction_0.5 and push_0.3_lateral; 100 % nominal; nominal |v - command| <= 0.05
m/s; nominal torque saturation <= 15 %.

Phase 3 checkpoints run too: their policy reads the first ``policy_obs_dim`` columns, which are the
batch's observation without the AMP features, so the batch is built without them.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from pydantic import ValidationError

from wildrobot_gym.batch_env import BatchedWalkVecEnv
from wildrobot_gym.checkpoints import VECNORM_FILE, read_state
from wildrobot_gym.config import CONFIG_DIR, ConfigError, format_error, load_config, validate_config
from wildrobot_gym.config.randomization import RandomizationSection
from wildrobot_gym.policy_io import load_ppo, load_vecnormalize
from wildrobot_gym.wrappers import ContactCurriculum

#: Sensor noise when configs/phase2.yaml has no randomization section (std: unit vector, rad/s, rad, rad/s).
DEFAULT_SENSOR_NOISE = {"up_vector": 0.02, "gyro": 0.1, "joint_pos": 0.01, "joint_vel": 0.5, "heading": 0.02}
PUSH_INTERVAL_S = [2.0, 2.0]  # also the nominal section's (its kicks are 0 m/s: nothing happens)


def nominal_randomization() -> dict[str, Any]:
    """The ``randomization`` section of the nominal robot: enabled, every range at its nominal value
    (scales [1, 1], friction [1, 1] as the model's geoms, offsets 0, latencies [0, 0], no noise, kicks
    of 0 m/s). `DomainRandomizer` then reproduces the model's own parameters exactly."""
    return {
        "enabled": True,
        "friction": [1.0, 1.0],
        "link_mass_scale": [1.0, 1.0],
        "torso_mass_offset": [0.0, 0.0],
        "torso_com_offset": 0.0,
        "servo_kp_scale": [1.0, 1.0],
        "servo_kv_scale": [1.0, 1.0],
        "servo_torque_scale": [1.0, 1.0],
        "joint_damping_scale": [1.0, 1.0],
        "joint_armature_scale": [1.0, 1.0],
        "joint_frictionloss_scale": [1.0, 1.0],
        "joint_offset": 0.0,
        "action_latency_steps": [0, 0],
        "imu_latency_steps": [0, 0],
        "observation_noise": {"up_vector": 0.0, "gyro": 0.0, "joint_pos": 0.0, "joint_vel": 0.0, "heading": 0.0},
        "start_velocity": 0.0,
        "pushes": {"interval_s": list(PUSH_INTERVAL_S), "velocity": [0.0, 0.0], "direction": "any"},
    }


def phase2_sensor_noise() -> dict[str, float]:
    """The ``observation_noise`` of configs/phase2.yaml's randomization section, else `DEFAULT_SENSOR_NOISE`."""
    rand = load_config(CONFIG_DIR / "phase2.yaml").get("randomization")
    return dict(rand["observation_noise"]) if rand else dict(DEFAULT_SENSOR_NOISE)


@dataclass(frozen=True)
class Condition:
    """What a condition changes: keys of the nominal randomization section replaced (a mapping, or a
    function returning one, read when the condition is built) and env arguments overridden."""

    description: str
    randomization: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)
    env: Mapping[str, Any] = field(default_factory=dict)

    def changes(self) -> dict[str, Any]:
        r = self.randomization() if callable(self.randomization) else self.randomization
        return {**{f"randomization.{k}": v for k, v in r.items()}, **{f"env.{k}": v for k, v in self.env.items()}}


#: The suite's conditions, in the order they run and print (module docstring).
CONDITIONS: dict[str, Condition] = {
    "nominal": Condition("nominal robot, commands from env.command_range"),
    "command_0.5": Condition("fixed command 0.5 m/s", env={"fixed_command": 0.5}),
    "command_0.65": Condition("fixed command 0.65 m/s", env={"fixed_command": 0.65}),
    "command_0.8": Condition("fixed command 0.8 m/s", env={"fixed_command": 0.8}),
    "command_0.9": Condition("fixed command 0.9 m/s", env={"fixed_command": 0.9}),
    "mass_-10%": Condition("link masses and inertias x 0.9", {"link_mass_scale": [0.9, 0.9]}),
    "mass_+10%": Condition("link masses and inertias x 1.1", {"link_mass_scale": [1.1, 1.1]}),
    "friction_0.5": Condition("sliding friction 0.5 (nominal 1.0)", {"friction": [0.5, 0.5]}),
    "latency_20ms": Condition("servo targets 1 control step (20 ms) late", {"action_latency_steps": [1, 1]}),
    "latency_40ms": Condition("servo targets 2 control steps (40 ms) late", {"action_latency_steps": [2, 2]}),
    "imu_latency_40ms": Condition("IMU (up vector, gyro) 2 control steps (40 ms) old", {"imu_latency_steps": [2, 2]}),
    "torque_x0.8": Condition("servo torque limit x 0.8", {"servo_torque_scale": [0.8, 0.8]}),
    "push_0.3_lateral": Condition("0.3 m/s sideways kick every 2 s", {"pushes": {
        "interval_s": list(PUSH_INTERVAL_S), "velocity": [0.3, 0.3], "direction": "lateral"}}),
    "sensor_noise": Condition("Gaussian observation noise (phase2.yaml's, else the default)",
                              lambda: {"observation_noise": phase2_sensor_noise()}),
}

#: The issue's targets: (condition, metric, "min"/"max", bound, label).
TARGETS: tuple[tuple[str, str, str, float, str], ...] = (
    ("nominal", "success_rate", "min", 1.0, "success 100 % nominal"),
    ("nominal", "velocity_error_mean", "max", 0.05, "|v - command| <= 0.05 m/s nominal"),
    ("nominal", "torque_saturation_pct", "max", 15.0, "torque saturation <= 15 % nominal"),
    *((c, "success_rate", "min", 0.9, f"success >= 90 % {c}") for c in (
        "latency_20ms", "torque_x0.8", "mass_-10%", "mass_+10%", "friction_0.5", "push_0.3_lateral")),
)


# ---------------------------------------------------------------------------- sections and envs
def condition_section(name: str) -> dict[str, Any]:
    """The validated ``randomization`` section of condition `name` (ConfigError naming the bad key)."""
    if name not in CONDITIONS:
        raise KeyError(f"condition: expected one of {list(CONDITIONS)}, got {name!r}")
    c = CONDITIONS[name]
    section = nominal_randomization()
    section.update(copy.deepcopy(dict(c.randomization() if callable(c.randomization) else c.randomization)))
    try:
        return RandomizationSection.model_validate(section).model_dump()
    except ValidationError as e:
        raise format_error(e, RandomizationSection, "randomization") from None


def condition_config(cfg: Mapping[str, Any], name: str, seed: int | None = None) -> dict[str, Any]:
    """The phase config `cfg` under condition `name`: its randomization section replaced, its env
    overrides applied (and ``training.seed`` = `seed`: the randomiser's noise follows the suite's
    seed), validated as a whole."""
    out = copy.deepcopy(dict(cfg))
    out["randomization"] = condition_section(name)
    out["env"] = {**(out.get("env") or {}), **CONDITIONS[name].env}
    if seed is not None:
        out["training"] = {**out["training"], "seed": int(seed)}
    return validate_config(out)


def condition_env(cfg: Mapping[str, Any], name: str, n_envs: int, n_threads: int = 0,
                  seed: int | None = None) -> BatchedWalkVecEnv:
    """A `BatchedWalkVecEnv` of `n_envs` envs of `cfg` under condition `name` (randomize=True); its
    torque-saturation threshold follows each env's drawn torque limit (`BatchedWalkVecEnv._restart`)."""
    return BatchedWalkVecEnv(condition_config(cfg, name, seed), n_envs, n_threads=n_threads, randomize=True)


# ---------------------------------------------------------------------------- running
def first_episodes(model: Any, venv: Any, batch: BatchedWalkVecEnv, seed: int, deterministic: bool = True) -> list[dict]:
    """The first episode of every env of `batch` (`venv`: it, normalised): its end-of-episode stats
    (`wildrobot_gym.episode_stats`: ``command`` and ``velocity_error`` among them) with ``is_success`` and
    ``fall_reason``."""
    if batch.max_episode_steps is None:
        raise ValueError("env.max_episode_steps: the suite needs a time limit (episodes that never end)")
    n = batch.num_envs
    venv.seed(seed)
    obs = venv.reset()
    out: list[dict | None] = [None] * n
    while any(e is None for e in out):
        action, _ = model.predict(obs, deterministic=deterministic)
        obs, _, dones, infos = venv.step(action)
        for i in np.flatnonzero(dones):
            if out[i] is None:
                info = infos[i]
                out[i] = {**info["episode_stats"], "is_success": bool(info["is_success"]),
                          "fall_reason": info["fall_reason"]}
    return out  # type: ignore[return-value]


def condition_figures(episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The suite's figures of one condition's episodes (module docstring)."""
    falls: dict[str, int] = {}
    for e in episodes:
        if e["fall_reason"]:
            falls[e["fall_reason"]] = falls.get(e["fall_reason"], 0) + 1
    v = np.array([e["forward_velocity"] for e in episodes])
    return {
        "episodes": len(episodes),
        "success_rate": float(np.mean([e["is_success"] for e in episodes])),
        "forward_velocity_mean": float(v.mean()),
        "command_mean": float(np.mean([e["command"] for e in episodes])),
        "velocity_error_mean": float(np.mean([e["velocity_error"] for e in episodes])),
        "torque_saturation_pct": float(np.mean([e["torque_saturation_pct"] for e in episodes])),
        "episode_length_mean": float(np.mean([e["length"] for e in episodes])),
        "proper_contact_fraction_mean": float(np.mean([e["proper_contact_fraction"] for e in episodes])),
        "fall_reasons": falls,
        "straight_line_speed_mean": float(np.mean([e["gait/straight_line_speed"] for e in episodes])),
        "yaw_rate_mean": float(np.mean([e["gait/yaw_rate"] for e in episodes])),
        "yaw_rate_abs_mean": float(np.mean([e["gait/yaw_rate_abs"] for e in episodes])),
    }


def run_condition(model: Any, ckpt: Any, cfg: Mapping[str, Any], state: Mapping[str, Any], name: str,
                  episodes: int, seed: int, deterministic: bool = True, n_threads: int = 0) -> dict[str, Any]:
    """Figures of condition `name`: `episodes` first episodes of the checkpoint's policy `model`."""
    batch = condition_env(cfg, name, episodes, n_threads=n_threads, seed=seed)
    try:
        if cfg.get("curriculum") and "curriculum" in state:  # the weights at save time (as evaluate.load_policy)
            cur = ContactCurriculum.from_config(cfg)
            cur.load_state_dict(state["curriculum"])
            batch.set_reward_weights(cur.state().weights)
        venv = load_vecnormalize(ckpt / VECNORM_FILE, batch)
        venv.training = False
        venv.norm_reward = False
        eps = first_episodes(model, venv, batch, seed, deterministic)
    finally:
        batch.close()
    return {"description": CONDITIONS[name].description, "changes": CONDITIONS[name].changes(),
            **condition_figures(eps), "per_episode": [
                {**{k: e[k] for k in ("command", "forward_velocity", "is_success", "fall_reason", "length",
                                      "torque_saturation_pct")},
                 "straight_line_speed": e["gait/straight_line_speed"], "yaw_rate": e["gait/yaw_rate"]} for e in eps]}


def judge_targets(results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per target of `TARGETS`: value, PASS/FAIL (n/a when its condition was not run)."""
    rows = []
    for cond, metric, kind, bound, label in TARGETS:
        value = results.get(cond, {}).get(metric)
        if value is None:
            result = "n/a"
        else:
            result = "PASS" if (value >= bound - 1e-12 if kind == "min" else value <= bound + 1e-12) else "FAIL"
        rows.append({"condition": cond, "metric": metric, "label": label,
                     "threshold": f"{'>=' if kind == 'min' else '<='} {bound:g}", "value": value, "result": result})
    return rows


def run_suite(ckpt: Any, episodes: int = 20, seed: int = 12345, deterministic: bool = True,
              conditions: Sequence[str] | None = None, n_threads: int = 0,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The suite on checkpoint `ckpt` (a directory or bundle, `resolve_checkpoint`): every condition of
    `conditions` (default all), `episodes` episodes each. ValueError naming a file that does not load."""
    state = read_state(ckpt)
    cfg = validate_config(state["config"])
    names = list(conditions or CONDITIONS)
    unknown = [c for c in names if c not in CONDITIONS]
    if unknown:
        raise KeyError(f"conditions: unknown {unknown}; known: {list(CONDITIONS)}")
    model = None
    results: dict[str, dict] = {}
    control_dt = None
    for name in names:
        if model is None:  # built against the first condition's spaces (all conditions share them)
            probe = condition_env(cfg, name, 1, n_threads=1)
            control_dt = float(probe.base.dt)
            model = load_ppo(ckpt, None, cfg, device="cpu", observation_space=probe.observation_space,
                             action_space=probe.action_space)
            probe.close()
        results[name] = run_condition(model, ckpt, cfg, state, name, episodes, seed, deterministic, n_threads)
        if progress:
            progress(name)
    targets = judge_targets(results)
    return {"suite": "robustness", "phase": cfg["phase"], "num_timesteps": state.get("num_timesteps"),
            "episodes": episodes, "seed": seed, "deterministic": deterministic, "control_dt": control_dt,
            "conditions": results,
            "summary": {"targets": targets,
                        "all_pass": all(r["result"] == "PASS" for r in targets if r["result"] != "n/a")}}


# ---------------------------------------------------------------------------- output
def print_suite(result: Mapping[str, Any]) -> None:
    print(f"\nRobustness suite ({result['episodes']} episodes per condition, "
          f"{'deterministic' if result['deterministic'] else 'stochastic'} policy, seed {result['seed']})")
    print(f"{'condition':18s} {'success':>8s} {'v (m/s)':>8s} {'cmd':>6s} {'|v-cmd|':>8s} {'sat %':>6s} "
          f"{'length':>7s} {'v_line':>7s} {'yaw/s':>6s} {'proper':>6s}  falls")
    for name, r in result["conditions"].items():
        falls = ", ".join(f"{k} {v}" for k, v in sorted(r["fall_reasons"].items())) or "-"
        print(f"{name:18s} {100 * r['success_rate']:7.0f}% {r['forward_velocity_mean']:8.3f} {r['command_mean']:6.2f} "
              f"{r['velocity_error_mean']:8.3f} {r['torque_saturation_pct']:6.1f} {r['episode_length_mean']:7.0f} "
              f"{r['straight_line_speed_mean']:7.3f} {r['yaw_rate_abs_mean']:6.1f} "
              f"{r['proper_contact_fraction_mean']:6.2f}  {falls}")
    print("v_line: displacement along each episode's start heading / duration (m/s); yaw/s: mean |yaw rate| "
          "(deg/s) per episode; proper: fraction of steps whose contacts match the gait clock")
    print("\nTargets")
    for t in result["summary"]["targets"]:
        v = "" if t["value"] is None else f"{t['value']:.3f}"
        print(f"  {t['result']:4s}  {t['label']:40s} {v:>8s}  ({t['metric']} {t['threshold']})")
    print(f"all targets pass: {result['summary']['all_pass']}")


def write_json(result: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, path)


def main_suite(checkpoint: Path, ckpt: Any, episodes: int, seed: int, deterministic: bool,
               json_output: Path | None) -> dict[str, Any]:
    """`training/evaluate.py --suite robustness`: run, print, write the JSON."""
    try:
        result = run_suite(ckpt, episodes, seed, deterministic)
    except (ValueError, ConfigError) as e:  # a file of the checkpoint that does not load, a bad config
        raise SystemExit(f"checkpoint {checkpoint}: {e}") from None
    result = {"checkpoint": str(checkpoint), **result}
    print(f"checkpoint {checkpoint} (phase {result['phase']}, {result['num_timesteps']} steps)")
    print_suite(result)
    if json_output is not None:
        write_json(result, json_output)
    return result
