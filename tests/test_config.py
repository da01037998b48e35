"""Config validation (wildrobot_gym.config, the AMP dataclasses): every bad value fails at load time with a
`ConfigError` whose message starts with its dotted key; the shipped configs load unchanged."""
from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from wildrobot_gym import amp
from wildrobot_gym.config import (CONFIG_DIR, NOT_FROM_CONFIG, ConfigError, EnvSection, RewardParams, load_config,
                                  validate_config)
from wildrobot_gym.rewards import DEFAULT_PARAMS

REPO_ROOT = Path(__file__).resolve().parent.parent
PHASE_FILES = {"1e": "phase1e.yaml", "2": "phase2.yaml", "3": "phase3.yaml"}


def raw(phase: str) -> dict:
    """The phase's YAML as parsed, before validation."""
    return yaml.safe_load((CONFIG_DIR / PHASE_FILES[phase]).read_text())


def edited(phase: str, dotted: str, value) -> dict:
    """A copy of the phase's config with `dotted` (``a.b[2].c``) set to `value` (DELETE: removed)."""
    cfg = copy.deepcopy(raw(phase))
    parts = dotted.replace("[", ".[").split(".")
    node = cfg
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = int(parts[-1][1:-1]) if parts[-1].startswith("[") else parts[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return cfg


DELETE = object()


def _typed(x):
    """x with every leaf paired with its type: equal only when keys, values and types all agree."""
    if isinstance(x, dict):
        return {k: _typed(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_typed(v) for v in x]
    return type(x).__name__, x


# ------------------------------------------------------------------------------------- shipped files
@pytest.mark.parametrize("phase", sorted(PHASE_FILES))
def test_shipped_phase_configs_load_unchanged(phase: str) -> None:
    cfg = load_config(CONFIG_DIR / PHASE_FILES[phase])
    expected = {**raw(phase), "phase": phase}  # YAML reads `phase: 2` as an int: normalised to "2"
    assert _typed(cfg) == _typed(expected)
    assert list(cfg) == list(expected)  # same order, so a run's saved config.yaml reads like its source
    assert validate_config(cfg) == cfg  # idempotent: a checkpoint's saved config validates again
    json.dumps(cfg)  # plain dicts / lists / scalars (it is saved in state.json)


def test_shipped_amp_config_loads() -> None:
    cfg = amp.load_amp_config()
    # The yaml departs from the dataclass defaults (the seed's and the AMP paper's) where Phase 3 on the walking
    # reference needed it (its comments say why): history frames, walking-only sampling, a stronger gradient
    # penalty, the velocity direction, a style scale and the ramp by steps.
    d = amp.AMPConfig()
    assert cfg == dataclasses.replace(
        d, discriminator=dataclasses.replace(d.discriminator, history_frames=2, grad_penalty_weight=200.0),
        reference=dataclasses.replace(d.reference, walking_only=True),
        features=dataclasses.replace(d.features, lin_vel_mode="direction"),
        reward=dataclasses.replace(d.reward, style_scale=20.0), ramp=dataclasses.replace(d.ramp, gate="always"))
    saved = json.loads(json.dumps(dataclasses.asdict(cfg)))  # as state.json stores it
    assert amp.config_from_dict(amp.AMPConfig, saved, "amp") == cfg


# ------------------------------------------------------------------------------------- bad values
PROBES = [
    # the probe's findings
    ("1e", "reward_params.tracking_sigma", -1, "expected a number > 0, got -1"),
    ("1e", "reward_params.tracking_sigma", 0, "expected a number > 0, got 0"),
    ("1e", "env.command_range", [0.8, 0.5], "min <= max"),
    ("1e", "env.max_episode_steps", -10, "expected a positive integer, got -10"),
    ("1e", "training.start_method", "thread", "expected one of ('fork', 'spawn', 'forkserver')"),
    ("1e", "training.device", "gpu", "expected cpu, cuda, cuda:N, auto or mps, got 'gpu'"),
    ("1e", "ppo.batch_size", 1, "expected a positive integer >= 2, got 1"),
    ("1e", "ppo.batch_size", 8191, "= 32 * 256 = 8192 split into minibatches of 8191 leaves a last minibatch of 1"),
    # strict types
    ("1e", "ppo.batch_size", "2048", "expected a positive integer >= 2, got '2048'"),
    ("1e", "ppo.n_epochs", 3.5, "expected a positive integer, got 3.5"),
    ("1e", "ppo.n_steps", True, "expected a positive integer, got True"),
    ("1e", "training.norm_obs", 1, "expected true or false, got 1"),
    ("1e", "ppo.learning_rate", float("nan"), "expected a number > 0, got nan"),
    ("1e", "reward_weights.torque", float("inf"), "expected a number >= 0, got inf"),
    ("1e", "reward_params.existential_value", "-5", "expected a finite number, got '-5'"),
    # ranges of the other sections
    ("1e", "reward_params.tracking_lin_scale", 0, "expected a number > 0"),
    ("1e", "reward_params.joint_limit_soft", 1.5, "expected a number in [0, 1]"),
    ("1e", "reward_params.air_time_target", -0.1, "expected a number >= 0"),
    ("1e", "reward_params.air_time_cap", -0.1, "expected a number >= 0"),
    ("1e", "reward_params.sigma", 1.0, "unknown parameter"),
    ("1e", "reward_params.pose_joint_weights", [1.0] * 7, "expected 8 numbers >= 0"),
    ("1e", "reward_weights.orientation", -5.0, "expected a number >= 0"),
    ("1e", "env.frame_skip", 0, "expected a positive integer"),
    ("1e", "env.action_scale", [0.5, 0.5], "expected a number > 0 or a list of 8 of them"),
    ("1e", "env.action_offset", [0.5, 0.5], "expected a finite number or a list of 8 of them"),
    ("1e", "env.max_tilt_deg", 200, "expected a number in (0, 180]"),
    ("1e", "env.gait_frequency", -1.5, "expected a number >= 0"),
    ("1e", "env.fixed_command", "fast", "expected a finite number"),
    ("1e", "env.width", 0, "expected a positive integer"),
    ("1e", "ppo.gamma", 0, "expected a number in (0, 1]"),
    ("1e", "ppo.gae_lambda", 1.01, "expected a number in (0, 1]"),
    ("1e", "ppo.clip_range", 0, "expected a number > 0"),
    ("1e", "ppo.target_kl", -0.01, "expected a number > 0"),
    ("1e", "ppo.pi_net", [], "expected a non-empty list of positive integers"),
    ("1e", "ppo.vf_net[1]", 0, "expected a positive integer, got 0"),
    ("1e", "ppo.activation", "gelu", "expected one of ('elu', 'relu', 'tanh', 'leaky_relu')"),
    ("1e", "training.n_workers", -1, "expected an integer >= 0 (0: all envs in this process)"),
    ("1e", "training.seed", -1, "expected an integer in [0, 4294967295]"),
    ("1e", "training.torch_threads", -2, "expected an integer >= 0"),
    ("1e", "training.logdir", "", "expected a non-empty string"),
    ("1e", "training.clip_obs", 0, "expected a number > 0"),
    ("1e", "success_criteria[2].metric", DELETE, "missing key"),
    ("1e", "success_criteria[0].pass_max", 0.1, "expected >= pass_min (0.3), got 0.1"),
    ("1e", "success_criteria[0].target_max", 0.1, "expected >= target_min (0.5), got 0.1"),
    ("1e", "checkpoint_checks[0].fraction", 1.5, "expected a number in [0, 1]"),
    ("1e", "checkpoint_checks", [], "expected a non-empty list of checks"),
    ("1e", "decision.stable_tolerance", 2, "expected a number in [0, 1]"),
    ("1e", "phase", "4", "expected one of ('1e', '2', '3'), got '4'"),
    ("1e", "curriculum", {}, "only Phase 2 and Phase 3 have a curriculum"),
    ("1e", "amp", {}, "only Phase 3 has an amp section"),
    ("1e", "ppo", DELETE, "missing section"),
    ("1e", "phase", DELETE, "missing key"),
    ("1e", "env", [1], "expected a mapping, got [1]"),
    ("2", "curriculum", DELETE, "missing section"),
    ("2", "curriculum.stages[1].start_step", 0, "expected > stages[0].start_step (0), got 0"),
    ("2", "curriculum.stages[0].start_step", -1, "expected an integer >= 0"),
    ("2", "curriculum.stages[1].weights.foot_kick", 1.0, "unknown reward term"),
    ("2", "curriculum.stages[1].weights.foot_contact", -1.0, "expected a number >= 0"),
    ("2", "curriculum.degrade_scale", 1.5, "expected a number in [0, 1]"),
    ("2", "curriculum.fail_velocity", 0.45, "expected <= degrade_velocity (0.4)"),
    ("2", "curriculum.degrade_velocity", 0.6, "expected <= advance_velocity (0.5)"),
    ("2", "curriculum.cooldown_steps", -1, "expected an integer >= 0"),
    ("2", "curriculum.velocity_window", 0, "expected a positive integer"),
    ("3", "amp", DELETE, "missing section"),
    ("3", "amp.style_weights", [0.1, 0.5], "expected a list of 3 numbers >= 0"),
    ("3", "amp.style_weights[2]", -1.0, "expected a number >= 0"),
    ("3", "amp.schedule_boundaries", [0.7, 0.3], "in order"),
    ("3", "amp.schedule_boundaries[0]", 1.5, "expected a number in [0, 1]"),
    ("3", "amp.diversity_weight", 0.1, "expected 0 (no diversity bonus is implemented)"),
    ("3", "amp.style_reward_clip", 0, "expected a number > 0"),
]


@pytest.mark.parametrize("phase, key, value, expected", PROBES, ids=[f"{p}-{k}=" + ("<deleted>" if v is DELETE else repr(v)) for p, k, v, _ in PROBES])
def test_bad_value_names_its_key(phase: str, key: str, value, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(edited(phase, key, value))
    message = str(info.value)
    assert message.startswith(f"{key}: "), message
    assert expected in message, message
    assert "\n" not in message


def test_batch_size_may_not_leave_a_one_sample_minibatch() -> None:
    """SB3 only warns when batch_size does not divide n_steps * n_envs; a short last minibatch trains
    fine, but one of a single sample gives NaN advantages: that is an error naming batch_size (also when
    --n-envs changed training.n_envs); a rollout smaller than batch_size (one minibatch) is accepted."""
    cfg = edited("1e", "training.n_envs", 8)
    cfg["ppo"]["n_steps"] = 257  # 2056 samples = 2048 + 8: fine
    assert validate_config(cfg)["ppo"]["n_steps"] == 257
    cfg = edited("1e", "training.n_envs", 1)
    cfg["ppo"]["n_steps"] = 2049  # 2049 samples = 2048 + 1
    with pytest.raises(ConfigError, match=r"^ppo\.batch_size: the rollout ppo\.n_steps \* training\.n_envs = "
                                          r"2049 \* 1 = 2049 split into minibatches of 2048 leaves a last minibatch of 1"):
        validate_config(cfg)
    assert validate_config(edited("1e", "training.n_envs", 4))["training"]["n_envs"] == 4  # 1024 < 2048: one minibatch
    assert validate_config(edited("1e", "training.n_envs", 31))["training"]["n_envs"] == 31


def test_first_error_is_named_and_the_others_counted() -> None:
    cfg = edited("1e", "ppo.n_steps", "256")
    cfg["ppo"]["gamma"] = 2.0
    cfg["training"]["device"] = "gpu"
    with pytest.raises(ConfigError, match=r"^ppo\.n_steps: expected a positive integer, got '256' \(and 2 more errors\)$"):
        validate_config(cfg)


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="^config: expected a mapping at the top level, got list"):
        validate_config([1, 2])


def test_optional_env_keys_stay_optional() -> None:
    cfg = edited("1e", "env", {})
    assert validate_config(cfg)["env"] == {}  # the env's own defaults apply
    cfg = edited("1e", "env.fixed_command", None)
    assert validate_config(cfg)["env"]["fixed_command"] is None
    cfg = edited("1e", "reward_params", DELETE)
    assert "reward_params" not in validate_config(cfg)


def test_validate_config_returns_plain_values() -> None:
    cfg = edited("2", "training.clip_obs", 10)  # an int where a float is usual stays an int
    out = validate_config(cfg)
    assert out["training"]["clip_obs"] == 10 and type(out["training"]["clip_obs"]) is int
    assert type(out["ppo"]["pi_net"]) is list and type(out["curriculum"]["stages"][0]["weights"]) is dict
    assert out["phase"] == "2" and cfg["phase"] == 2  # the input is not modified


# ------------------------------------------------------------------------------------- one list each
def test_env_section_lists_the_env_constructor_parameters() -> None:
    from wildrobot_gym.env import WildRobotWalkEnv

    params = inspect.signature(WildRobotWalkEnv.__init__).parameters
    assert set(EnvSection.model_fields) == set(params) - set(NOT_FROM_CONFIG)
    # the env's own defaults pass the section's ranges
    defaults = {k: list(p.default) if isinstance(p.default, tuple) else p.default
                for k, p in params.items() if k in EnvSection.model_fields}
    EnvSection.model_validate(defaults)


def test_activations_are_the_policy_activations() -> None:
    sys.path.insert(0, str(REPO_ROOT))  # the training/ scripts' package
    from training.common import ACTIVATIONS as POLICY_ACTIVATIONS

    from wildrobot_gym.config import ACTIVATIONS

    assert set(ACTIVATIONS) == set(POLICY_ACTIVATIONS)


def test_reward_params_are_the_reward_defaults() -> None:
    assert set(RewardParams.model_fields) == set(DEFAULT_PARAMS)
    RewardParams.model_validate(DEFAULT_PARAMS)


# ------------------------------------------------------------------------------------- files
def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes((CONFIG_DIR / "phase1e.yaml").read_bytes() + "# caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"^config: .*latin1\.yaml is not UTF-8 text"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"^amp config: .*latin1\.yaml is not UTF-8 text"):
        amp.load_amp_config(path)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^config: no such file"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("ppo: [1, 2\n")
    with pytest.raises(ConfigError, match=r"^config: .*bad\.yaml is not valid YAML"):
        load_config(bad)


def test_train_ppo_cli_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    cfg = edited("1e", "reward_params.tracking_sigma", -1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg, sort_keys=False))
    logdir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "training/train_ppo.py", "--config", str(bad), "--logdir", str(logdir),
                           "--no-progress-bar"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "config error: reward_params.tracking_sigma: expected a number > 0, got -1"
    assert not logdir.exists()  # failed before the run directory, let alone any worker


# ------------------------------------------------------------------------------------- AMP config
AMP_PROBES = [
    ({"discriminator": {"hidden_sizes": [32, 0]}}, "amp.discriminator.hidden_sizes[1]: expected an integer > 0, got 0"),
    ({"discriminator": {"hidden_sizes": []}}, "amp.discriminator.hidden_sizes: expected a non-empty list"),
    ({"discriminator": {"activation": "gelu"}}, "amp.discriminator.activation: expected one of ['elu', 'relu']"),
    ({"discriminator": {"learning_rate": 0.0}}, "amp.discriminator.learning_rate: expected a number > 0, got 0.0"),
    ({"discriminator": {"batch_size": "512"}}, "amp.discriminator.batch_size: expected an integer > 0, got '512'"),
    ({"discriminator": {"min_style_reward": 2}}, "amp.discriminator.min_style_reward: expected a number in [0, 1], got 2"),
    ({"replay": {"fresh_fraction": 2.0}}, "amp.replay.fresh_fraction: expected a number in [0, 1], got 2.0"),
    ({"reference": {"temperature": float("nan")}}, "amp.reference.temperature: expected a number > 0, got nan"),
    ({"features": {"lin_vel_mode": "fast"}}, "amp.features.lin_vel_mode: expected one of ('clip', 'direction')"),
    ({"features": {"stages": [{"name": "a", "start_step": 0, "max_fall_rate": 1.5}]}},
     "amp.features.stages[0].max_fall_rate: expected a number in [0, 1]"),
    ({"features": {"stages": [{"name": "a", "start_step": 5}]}}, "amp.features: feature schedule: the first stage"),
    ({"ramp": {"ramp_start": 10, "ramp_end": 5}}, "amp.ramp: need 0 <= ramp_start < ramp_end"),
    ({"smoke_test": {"auc_min": 0.95}}, "amp.smoke_test: need 0 <= auc_min <= auc_max <= 1"),
    ({"phase3": {"dataset": ""}}, "amp.phase3.dataset: expected a non-empty path"),
    ({"phase3": {"pretrain_updates": -1}}, "amp.phase3.pretrain_updates: expected an integer >= 0"),
    ({"replay": 3}, "amp.replay: expected a mapping, got 3"),
]


@pytest.mark.parametrize("doc, expected", AMP_PROBES)
def test_amp_config_errors_name_the_key(doc: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        amp.config_from_dict(amp.AMPConfig, doc, "amp")
    assert str(info.value).startswith(expected), str(info.value)


def test_amp_dataclasses_still_behave_as_dataclasses() -> None:
    d = amp.DiscriminatorConfig(hidden_sizes=[32, 32])  # a YAML-style list becomes the tuple
    assert d.hidden_sizes == (32, 32)
    assert dataclasses.replace(d, batch_size=64).batch_size == 64
    stage = amp.FeatureStageConfig("s", 0, ("root_height",), None)  # positional, as _default_stages builds them
    assert dataclasses.asdict(stage) == {"name": "s", "start_step": 0, "drop": ("root_height",), "max_fall_rate": None}
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.batch_size = 1
    with pytest.raises(ValueError, match="auc_min"):  # direct construction is checked too
        amp.RampConfig(auc_min=0.9, auc_max=0.8)
    with pytest.raises(ValueError):
        dataclasses.replace(d, batch_size=0)
