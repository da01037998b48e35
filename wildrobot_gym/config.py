"""Phase configs: load a YAML file and check it before any training starts.

A bad config (an unknown reward term, a missing key, a wrong type) raises `ConfigError` naming the
key's dotted path, e.g. ``ppo.batch_size: expected an integer, got '2048'``.

Sections (see ``configs/phase1e.yaml`` for the documented defaults)
    phase             "1e", "2" or "3"
    env               `WildRobotWalkEnv` keyword arguments
    reward_weights    every term of `wildrobot_gym.rewards.TERMS`, a number >= 0
    reward_params     shape parameters of `wildrobot_gym.rewards.DEFAULT_PARAMS` (optional entries)
    ppo               SB3 PPO hyperparameters and the policy network
    training          run length, vectorisation, normalisation, checkpoints
    success_criteria  the seed's table for the phase (rows the evaluator prints with PASS/FAIL)
    checkpoint_checks the seed's checks at fractions of training (monitor_training.py)
    decision          the seed's decision point after the phase (monitor_training.py)
    curriculum        Phase 2 only: the contact-weight stages and the velocity rules
    amp               Phase 3 only: task weight and the style weight schedule
"""
from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from wildrobot_gym.paths import CONFIG_DIR
from wildrobot_gym.rewards import DEFAULT_PARAMS, TERMS

DEFAULT_CONFIG_PATH = CONFIG_DIR / "phase1e.yaml"
PHASES = ("1e", "2", "3")
ACTIVATIONS = ("elu", "relu", "tanh", "leaky_relu")
CONTACT_TERMS = ("foot_contact", "foot_sliding", "foot_air_time")


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type; the message starts with its key."""


# ---------------------------------------------------------------------------- type checks
def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _pos_int(v: Any) -> bool:
    return _int(v) and v > 0


def _nonneg(v: Any) -> bool:
    return _num(v) and v >= 0


def _pos(v: Any) -> bool:
    return _num(v) and v > 0


def _unit(v: Any) -> bool:
    return _num(v) and 0 <= v <= 1


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _int_list(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(_pos_int(x) for x in v)


def _opt(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


_DESCR = {
    _int: "an integer", _num: "a finite number", _pos_int: "a positive integer", _nonneg: "a number >= 0",
    _pos: "a number > 0", _unit: "a number in [0, 1]", _bool: "true or false", _str: "a non-empty string",
    _int_list: "a list of positive integers",
}

PPO_SCHEMA: dict[str, Callable[[Any], bool]] = {
    "learning_rate": _pos, "n_steps": _pos_int, "batch_size": _pos_int, "n_epochs": _pos_int,
    "gamma": _unit, "gae_lambda": _unit, "clip_range": _pos, "ent_coef": _nonneg, "vf_coef": _nonneg,
    "max_grad_norm": _pos, "target_kl": _opt(_pos), "pi_net": _int_list, "vf_net": _int_list,
    "activation": _str, "log_std_init": _num, "ortho_init": _bool,
}
TRAINING_SCHEMA: dict[str, Callable[[Any], bool]] = {
    "total_timesteps": _pos_int, "n_envs": _pos_int, "n_workers": _int, "seed": _int, "logdir": _str,
    "checkpoint_interval": _pos_int, "norm_obs": _bool, "norm_reward": _bool, "clip_obs": _pos,
    "torch_threads": _int, "start_method": _str, "device": _str,
}
CURRICULUM_SCHEMA: dict[str, Callable[[Any], bool]] = {
    "advance_velocity": _num, "degrade_velocity": _num, "degrade_scale": _unit, "fail_velocity": _num,
    "cooldown_steps": lambda v: _int(v) and v >= 0, "velocity_window": _pos_int,
}
AMP_SCHEMA: dict[str, Callable[[Any], bool]] = {
    "task_weight": _nonneg, "style_weights": lambda v: isinstance(v, list) and len(v) == 3 and all(map(_nonneg, v)),
    "schedule_boundaries": lambda v: isinstance(v, list) and len(v) == 2 and all(map(_unit, v)) and v[0] <= v[1],
    "diversity_weight": _nonneg, "style_reward_clip": _pos,
}
CRITERION_KEYS = {"metric": _str, "label": _str, "target_min": _opt(_num), "target_max": _opt(_num),
                  "pass_min": _opt(_num), "pass_max": _opt(_num), "note": _opt(_str)}
CHECK_KEYS = {"fraction": _unit, "min_velocity": _opt(_num), "never_backward": _bool, "stable_reward": _bool,
              "min_success_rate": _opt(_unit), "label": _str}
DECISION_SCHEMA: dict[str, Callable[[Any], bool]] = {"proceed_min_velocity": _num, "stable_tolerance": _unit}


def _fail(key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{key}: expected {expected}, got {value!r}")


def _check_section(cfg: Mapping, section: str, schema: Mapping[str, Callable[[Any], bool]],
                   descr: Mapping[str, str] | None = None) -> None:
    """Every schema key present and of its type; no unknown keys."""
    sec = cfg.get(section)
    if not isinstance(sec, dict):
        raise ConfigError(f"{section}: missing section (expected a mapping)" if sec is None
                          else f"{section}: expected a mapping, got {sec!r}")
    for key, check in schema.items():
        if key not in sec:
            raise ConfigError(f"{section}.{key}: missing key")
        if not check(sec[key]):
            raise _fail(f"{section}.{key}", (descr or {}).get(key) or _DESCR.get(check, "a valid value"), sec[key])
    unknown = sorted(set(sec) - set(schema))
    if unknown:
        raise ConfigError(f"{section}.{unknown[0]}: unknown key; known: {sorted(schema)}")


def _env_kwargs() -> dict[str, inspect.Parameter]:
    from wildrobot_gym.env import WildRobotWalkEnv

    params = dict(inspect.signature(WildRobotWalkEnv.__init__).parameters)
    for name in ("self", "render_mode", "reward_weights", "reward_params", "model_path"):
        params.pop(name, None)
    return params


def _check_env(cfg: Mapping) -> None:
    env = cfg.get("env")
    if not isinstance(env, dict):
        raise ConfigError("env: missing section (expected a mapping)" if env is None else f"env: expected a mapping, got {env!r}")
    known = _env_kwargs()
    for key, value in env.items():
        if key not in known:
            raise ConfigError(f"env.{key}: unknown key; known: {sorted(known)}")
        default = known[key].default
        # The env's own defaults give the expected type (a bool stays a bool, a number a number).
        if isinstance(default, bool):
            ok, what = _bool(value), "true or false"
        elif isinstance(default, (int, float)) and key != "action_scale":
            ok, what = _num(value), "a finite number"
        elif isinstance(default, tuple) or key == "command_range":
            ok, what = isinstance(value, list) and len(value) == 2 and all(map(_num, value)), "a list [min, max]"
        elif key == "action_scale":
            ok, what = _pos(value) or (isinstance(value, list) and all(map(_pos, value))), "a number > 0 or a list"
        else:
            ok, what = value is None or _num(value), "a number or null"
        if not ok:
            raise _fail(f"env.{key}", what, value)


def _check_rewards(cfg: Mapping) -> None:
    w = cfg.get("reward_weights")
    if not isinstance(w, dict):
        raise ConfigError("reward_weights: missing section (expected a mapping)")
    for key in w:
        if key not in TERMS:
            raise ConfigError(f"reward_weights.{key}: unknown reward term; known: {sorted(TERMS)}")
    for key in TERMS:
        if key not in w:
            raise ConfigError(f"reward_weights.{key}: missing key (every term needs a weight, 0 disables it)")
        if not _nonneg(w[key]):
            raise _fail(f"reward_weights.{key}", "a number >= 0", w[key])
    p = cfg.get("reward_params") or {}
    if not isinstance(p, dict):
        raise _fail("reward_params", "a mapping", p)
    for key, value in p.items():
        if key not in DEFAULT_PARAMS:
            raise ConfigError(f"reward_params.{key}: unknown parameter; known: {sorted(DEFAULT_PARAMS)}")
        if not _num(value):
            raise _fail(f"reward_params.{key}", "a finite number", value)


def _check_rows(cfg: Mapping, section: str, keys: Mapping[str, Callable[[Any], bool]], required: tuple[str, ...]) -> None:
    rows = cfg.get(section)
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{section}: missing section (expected a list)" if rows is None else f"{section}: expected a non-empty list")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise _fail(f"{section}[{i}]", "a mapping", row)
        for key in required:
            if key not in row:
                raise ConfigError(f"{section}[{i}].{key}: missing key")
        for key, value in row.items():
            if key not in keys:
                raise ConfigError(f"{section}[{i}].{key}: unknown key; known: {sorted(keys)}")
            if not keys[key](value):
                raise _fail(f"{section}[{i}].{key}", _DESCR.get(keys[key], "a valid value"), value)


def _check_curriculum(cfg: Mapping) -> None:
    cur = cfg.get("curriculum")
    if not isinstance(cur, dict):
        raise ConfigError("curriculum: missing section (Phase 2 needs the contact-weight stages)")
    stages = cur.get("stages")
    if not isinstance(stages, list) or not stages:
        raise ConfigError("curriculum.stages: missing key (expected a non-empty list)")
    last = -1
    for i, st in enumerate(stages):
        if not isinstance(st, dict):
            raise _fail(f"curriculum.stages[{i}]", "a mapping", st)
        for key in ("name", "start_step", "weights"):
            if key not in st:
                raise ConfigError(f"curriculum.stages[{i}].{key}: missing key")
        if not _str(st["name"]):
            raise _fail(f"curriculum.stages[{i}].name", "a non-empty string", st["name"])
        if not (_int(st["start_step"]) and st["start_step"] > last):
            raise _fail(f"curriculum.stages[{i}].start_step", "an integer, increasing over the stages", st["start_step"])
        last = st["start_step"]
        if not isinstance(st["weights"], dict):
            raise _fail(f"curriculum.stages[{i}].weights", "a mapping", st["weights"])
        for key, value in st["weights"].items():
            if key not in TERMS:
                raise ConfigError(f"curriculum.stages[{i}].weights.{key}: unknown reward term; known: {sorted(TERMS)}")
            if not _nonneg(value):
                raise _fail(f"curriculum.stages[{i}].weights.{key}", "a number >= 0", value)
        extra = sorted(set(st) - {"name", "start_step", "weights"})
        if extra:
            raise ConfigError(f"curriculum.stages[{i}].{extra[0]}: unknown key")
    _check_section({"curriculum": {k: v for k, v in cur.items() if k != "stages"}}, "curriculum", CURRICULUM_SCHEMA)


def validate_config(cfg: Any) -> dict:
    """Check a parsed config; return it unchanged. Raises `ConfigError` naming the first bad key."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"config: expected a mapping at the top level, got {type(cfg).__name__}")
    phase = cfg.get("phase")
    if phase is None:
        raise ConfigError("phase: missing key")
    if str(phase).lower() not in PHASES:
        raise _fail("phase", f"one of {PHASES}", phase)
    cfg["phase"] = str(phase).lower()
    known = {"phase", "env", "reward_weights", "reward_params", "ppo", "training", "success_criteria",
             "checkpoint_checks", "decision", "curriculum", "amp"}
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section; known: {sorted(known)}")
    _check_env(cfg)
    _check_rewards(cfg)
    _check_section(cfg, "ppo", PPO_SCHEMA, {"activation": f"one of {ACTIVATIONS}"})
    if cfg["ppo"]["activation"] not in ACTIVATIONS:
        raise _fail("ppo.activation", f"one of {ACTIVATIONS}", cfg["ppo"]["activation"])
    _check_section(cfg, "training", TRAINING_SCHEMA)
    if cfg["training"]["n_workers"] < 0:
        raise _fail("training.n_workers", "an integer >= 0 (0: all envs in this process)", cfg["training"]["n_workers"])
    _check_rows(cfg, "success_criteria", CRITERION_KEYS, ("metric", "label"))
    _check_rows(cfg, "checkpoint_checks", CHECK_KEYS, ("fraction", "label"))
    _check_section(cfg, "decision", DECISION_SCHEMA)
    if cfg["phase"] == "2":
        _check_curriculum(cfg)
    elif "curriculum" in cfg:
        raise ConfigError("curriculum: only Phase 2 has a curriculum")
    if cfg["phase"] == "3":
        _check_section(cfg, "amp", AMP_SCHEMA)
    elif "amp" in cfg:
        raise ConfigError("amp: only Phase 3 has an amp section")
    return cfg


def load_config(path: str | Path = DEFAULT_CONFIG_PATH) -> dict:
    """Read and validate a phase config."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config: no such file {str(path)!r}")
    with open(path) as f:
        try:
            cfg = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"config: {path} is not valid YAML: {e}") from e
    return validate_config(cfg)
