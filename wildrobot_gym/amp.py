"""Adversarial Motion Priors (AMP) for Phase 3, on top of `imitation` 1.0.1.

Design: where the discriminator's observation comes from
--------------------------------------------------------
The discriminator judges AMP feature pairs (Phi(s), Phi(s')) with the ONE feature function
`wildrobot_gym.amp_features.compute_features`, the same one the reference miner uses. imitation's
`AdversarialTrainer` records the *observations* of its VecEnv (`BufferingWrapper`) and hands them to a
`RewardNet`. So the features travel in the observation, and are hidden from the policy again above the
recorder::

    gym env (per worker) : make_phase_env(cfg) -> AMPFeatureObservation     obs = [policy obs | Phi]
    VecEnv (trainer side): venv -> BufferingWrapper (imitation: records [obs | Phi] for the replay)
                                -> AMPRewardVecEnvWrapper  (task + w_style * style, style from Phi only)
                                -> StripAMPFeatures        (obs = policy obs, also terminal_observation)
                                -> policy_venv_fn(...)     (e.g. VecNormalize: policy side only)
                                -> PPO

* Features are computed inside each env process (`AMPFeatureObservation`), from the MuJoCo state and the
  env's metrics (`info`), so they work with any VecEnv, including `BatchedSubprocVecEnv`, which drops
  per-step infos.
* The policy's observation space is unchanged, so a Phase 2 checkpoint (and its VecNormalize
  statistics) loads as is. No VecNormalize sits between the env and the discriminator: the
  discriminator normalises its inputs itself (`RunningNorm`, updated from real + fake batches).
* The discriminator reads only the feature columns of an observation (`feature_start`); reference
  transitions are given to imitation as observations [zeros | Phi], actions 0, dones 0.

Discriminator (AMP paper, Peng et al. 2021, eq. 6 and 7)
--------------------------------------------------------
D(s, s') = MLP([n(Phi(s)) * m, n(Phi(s')) * m]); n the running normaliser (clipped to +-norm_clip),
m the stage mask (1 for kept feature components, 0 for dropped: `FeatureSchedule`).

    loss  = E_real[(D - 1)^2] + E_fake[(D + 1)^2] + (w_gp / 2) E_real[ |grad_x D(x)|^2 ]
    style = max(0, 1 - 0.25 (D - 1)^2)

x is the normalised, masked discriminator input (with input noise); the gradient is taken over the kept
columns only. Fake samples are a mix of the latest rollout and a replay of older ones
(`PolicyReplay`); real samples come from `ReferenceSampler` (softmax(score / T) weights, at least
min(3, motions) distinct motion ids per batch, optional mirroring).

Reward: total = w_task * task + style_weight * amp_weight * style (`AMPRewardVecEnvWrapper`).
The AMP weight follows `AMPWeightRamp`; the feature set follows `FeatureSchedule`; both advance on the
global env step count of the AMP run (`StepClock`), never on SB3's per-learn() progress.

Metrics (`AMPTrainer.last_metrics`, TensorBoard ``amp/...``): disc_loss, lsq_loss, grad_penalty,
accuracy, auc, expert_logit_mean, policy_logit_mean, max_abs_logit, style_reward_mean,
style_reward_var (on the policy samples of the discriminator batch), env_style_reward_mean (what the
policy was paid), amp_weight, feature_stage, fall_rate.

Every number lives in ``configs/amp.yaml`` (`load_amp_config`).
"""
from __future__ import annotations

import collections
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Mapping, Optional, Sequence

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from imitation.algorithms.adversarial import common as adv_common
from imitation.data import rollout as im_rollout
from imitation.rewards import reward_nets
from imitation.rewards.reward_wrapper import RewardVecEnvWrapper
from stable_baselines3.common import base_class
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from annotated_types import MinLen
from pydantic import TypeAdapter, ValidationError, field_validator, model_validator
from torch import nn

from wildrobot_gym.config import ConfigError, format_error, read_yaml
from wildrobot_gym.config.base import config_dataclass
from wildrobot_gym.config.values import expect, flag, integer, one_of, real, text
from wildrobot_gym.paths import CONFIG_DIR
from wildrobot_gym.amp_features import LAYOUT, LIN_VEL_MODES, FeatureLayout, compute_features, mirror_features

DEFAULT_AMP_CONFIG = CONFIG_DIR / "amp.yaml"

#: The seed's "contacts": the flags and their continuous proxies (dropped / reintroduced together).
CONTACT_COMPONENTS: tuple[str, ...] = ("foot_contact", "foot_height", "foot_z_vel")
HEIGHT_COMPONENTS: tuple[str, ...] = ("root_height",)


# ================================================================================================
# Configuration (configs/amp.yaml)
# ================================================================================================
# Pydantic dataclasses: attribute access, positional construction, `dataclasses.asdict` / `replace`, equality
# and hashing work as for the plain frozen dataclasses they were; the field types carry the ranges
# (wildrobot_gym.config.values), so YAML (`config_from_dict`) and direct construction are checked alike.
# A bad value raises pydantic's ValidationError (a ValueError) on construction, `ConfigError` naming the
# dotted key from `config_from_dict` / `load_amp_config`.
_config = config_dataclass

_PosInt = integer(gt=0)
_NonNegInt = integer(ge=0)
_Pos = real(gt=0)
_NonNeg = real(ge=0)
_Unit = real(ge=0, le=1)
_Flag = flag("true/false")  # amp.yaml's old wording, kept (tests match it); phase configs say "true or false"
_Name = text()  # a feature component's or a stage's name


@_config
class DiscriminatorConfig:
    """Network, optimiser and regularisation of the discriminator."""

    hidden_sizes: Annotated[tuple[_PosInt, ...], MinLen(1),
                            expect("a non-empty list of integers > 0", keep_item_errors=True)] = (256, 256)
    activation: str = "relu"  # a key of _ACTIVATIONS
    learning_rate: _Pos = 1e-4
    weight_decay: _NonNeg = 0.0
    batch_size: _PosInt = 512
    updates_per_round: _PosInt = 4
    grad_penalty_weight: _NonNeg = 10.0
    input_noise_std: _NonNeg = 0.05
    norm_clip: _Pos = 5.0
    norm_eps: _Pos = 1e-5

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, value: str) -> str:
        if value not in _ACTIVATIONS:  # the discriminator's own table, defined with the network below
            raise ValueError(f"expected one of {sorted(_ACTIVATIONS)}, got {value!r}")
        return value


@_config
class ReplayConfig:
    """Policy-sample replay: capacity and the fresh / old mix."""

    capacity: _PosInt = 100_000
    fresh_fraction: _Unit = 0.5


@_config
class ReferenceConfig:
    """Reference minibatch sampling."""

    temperature: _Pos = 1.0
    min_motions_per_batch: _NonNegInt = 3
    mirror_prob: _Unit = 0.0
    weight_by_length: _Flag = True


@_config
class FeatureStageConfig:
    """One stage of the feature reintroduction schedule (`FeatureSchedule` checks the order and the names)."""

    name: _Name = "stage0"
    start_step: _NonNegInt = 0
    drop: tuple[_Name, ...] = ()
    max_fall_rate: Optional[_Unit] = None  # a fraction of episodes; None: no fall-rate gate


def _default_stages() -> tuple[FeatureStageConfig, ...]:
    return (
        FeatureStageConfig("stage0", 0, HEIGHT_COMPONENTS + CONTACT_COMPONENTS, None),
        FeatureStageConfig("height", 50_000, CONTACT_COMPONENTS, 0.2),
        FeatureStageConfig("contacts", 100_000, (), 0.2),
    )


@_config
class FeaturesConfig:
    """Feature parameters (must match the dataset's) and the reintroduction schedule."""

    lin_vel_mode: one_of(*LIN_VEL_MODES) = "clip"
    lin_vel_clip: _Pos = 1.5
    fall_window: _PosInt = 100
    stages: tuple[FeatureStageConfig, ...] = field(default_factory=_default_stages)

    @model_validator(mode="after")
    def _schedule(self) -> "FeaturesConfig":
        try:
            FeatureSchedule(self.stages)  # validates names, order and droppability
        except KeyError as exc:  # pydantic turns only ValueErrors into errors that name the key
            raise ValueError(str(exc)) from exc
        return self


@_config
class RewardConfig:
    """total = task_weight * task + style_weight * amp_weight * style."""

    task_weight: _NonNeg = 1.0
    style_weight: _NonNeg = 1.0
    diversity_weight: real("0 (no diversity bonus is implemented)", ge=0, le=0) = 0.0


@_config
class RampConfig:
    """AMP weight ramp and its discriminator-health gate (seed 000)."""

    initial: _NonNeg = 0.05
    final: _NonNeg = 1.0
    ramp_start: _NonNegInt = 5000
    ramp_end: _PosInt = 50_000
    auc_min: _Unit = 0.60
    auc_max: _Unit = 0.85
    max_abs_logit: _Pos = 5.0

    @model_validator(mode="after")
    def _ordered(self) -> "RampConfig":
        # two keys together: the message names the section and both
        if not self.ramp_start < self.ramp_end:
            raise ValueError(f"need 0 <= ramp_start < ramp_end, got {self.ramp_start}, {self.ramp_end}")
        if not self.auc_min <= self.auc_max:
            raise ValueError(f"need 0 <= auc_min <= auc_max <= 1, got {self.auc_min}, {self.auc_max}")
        return self


@_config
class SmokeTestConfig:
    """Micro-train smoke test gates (seed 000) and sizes."""

    auc_min: _Unit = 0.6
    auc_max: _Unit = 0.9
    min_reward_variance: _NonNeg = 0.05
    policy_steps: _PosInt = 3000
    eval_fraction: _Unit = 0.2
    eval_size: _PosInt = 1000
    log_interval: _PosInt = 100

    @model_validator(mode="after")
    def _ordered(self) -> "SmokeTestConfig":
        if not self.auc_min <= self.auc_max:  # an empty band would fail every smoke test
            raise ValueError(f"need 0 <= auc_min <= auc_max <= 1, got {self.auc_min}, {self.auc_max}")
        return self


@_config
class Phase3RunConfig:
    """How training/train_ppo.py runs Phase 3 (and training/run_pipeline.py its decision tree)."""

    dataset: text("a non-empty path") = "data/tier0plus"
    pretrain_updates: _NonNegInt = 1000
    pretrain_policy_steps: _PosInt = 8192
    path_b_initial_weight: _NonNeg = 0.1
    smoke_test_updates: _PosInt = 5000


@_config
class AMPConfig:
    """Everything of configs/amp.yaml."""

    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    reference: ReferenceConfig = field(default_factory=ReferenceConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    ramp: RampConfig = field(default_factory=RampConfig)
    smoke_test: SmokeTestConfig = field(default_factory=SmokeTestConfig)
    phase3: Phase3RunConfig = field(default_factory=Phase3RunConfig)


@functools.lru_cache(maxsize=None)
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def config_from_dict(cls: type, data: Mapping[str, Any] | None, section: str = "amp") -> Any:
    """Config dataclass `cls` (e.g. `AMPConfig`) from a mapping (YAML, or `dataclasses.asdict` of one as
    saved with a checkpoint); missing keys keep the defaults. An unknown key, a wrong type or a value out
    of range raises `ConfigError` (a ValueError) naming the dotted key, e.g. ``amp.ramp.auc_min: ...``."""
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{section}: expected a mapping, got {type(data).__name__}")
    try:
        return _adapter(cls).validate_python(dict(data))
    except ValidationError as exc:
        raise format_error(exc, cls, section) from None


def load_amp_config(path: str | Path = DEFAULT_AMP_CONFIG, section: str | None = None) -> AMPConfig:
    """`AMPConfig` from a YAML file (its top level, or the mapping under `section`, e.g. ``amp``)."""
    doc = read_yaml(path, "amp config") or {}
    if section is not None:
        if not isinstance(doc, Mapping) or section not in doc:
            raise ConfigError(f"amp config: {path} has no section {section!r}")
        doc = doc[section]
    return config_from_dict(AMPConfig, doc, section or "amp")


# ================================================================================================
# Policy-side features: the env's state through compute_features
# ================================================================================================
def features_from_env(
    env: gym.Env,
    info: Mapping[str, Any],
    foot_z_vel: np.ndarray,
    *,
    lin_vel_mode: str = "clip",
    lin_vel_clip: float = 1.5,
) -> np.ndarray:
    """Full-layout AMP features (LAYOUT.dim,) of the env's current state.

    qpos / qvel come from the MuJoCo state (`env.unwrapped.data`), pad contacts and foot heights from
    the env's metrics (`info`, the same `MetricsTracker` the reference recorder uses), and `foot_z_vel`
    is the backward difference of foot heights (0 after a reset), exactly as
    `amp_features.foot_z_velocity` does on the reference side.
    """
    data = env.unwrapped.data
    f = compute_features(
        data.qpos, data.qvel, np.asarray(info["pad_contact"]), np.asarray(info["foot_height"]), foot_z_vel,
        lin_vel_mode=lin_vel_mode, lin_vel_clip=lin_vel_clip,
    )[0]
    # A sim_unstable step may carry non-finite state; the discriminator must never see NaN.
    return np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)


class AMPFeatureObservation(gym.Wrapper):
    """Appends the full-layout AMP features to the observation: obs' = [obs | Phi(state)].

    Runs inside each env (worker) process. `StripAMPFeatures` removes the columns again above
    imitation's recorder, so the policy never sees them. ``policy_obs_dim`` is the split point.
    """

    def __init__(self, env: gym.Env, lin_vel_mode: str = "clip", lin_vel_clip: float = 1.5) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"AMPFeatureObservation needs a 1-D Box observation space, got {space}")
        self.policy_obs_dim = int(space.shape[0])
        self.lin_vel_mode, self.lin_vel_clip = lin_vel_mode, float(lin_vel_clip)
        self.fps = 1.0 / float(env.unwrapped.dt)
        low = np.concatenate([space.low, np.full(LAYOUT.dim, -np.inf)]).astype(np.float32)
        high = np.concatenate([space.high, np.full(LAYOUT.dim, np.inf)]).astype(np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self._prev_foot_height = np.zeros(2)

    def _features(self, info: Mapping[str, Any], restart: bool) -> np.ndarray:
        fh = np.asarray(info["foot_height"], dtype=np.float64)
        fz = np.zeros(2) if restart else (fh - self._prev_foot_height) * self.fps
        self._prev_foot_height = fh.copy()
        return features_from_env(self.env, info, fz, lin_vel_mode=self.lin_vel_mode, lin_vel_clip=self.lin_vel_clip)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return np.concatenate([obs, self._features(info, True)]).astype(np.float32), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        feats = self._features(info, False)
        return np.concatenate([obs, feats]).astype(np.float32), reward, terminated, truncated, info


class StripAMPFeatures(VecEnvWrapper):
    """Keeps the first `policy_obs_dim` observation columns (also in ``terminal_observation``)."""

    def __init__(self, venv: VecEnv, policy_obs_dim: int) -> None:
        space = venv.observation_space
        assert isinstance(space, spaces.Box)
        self.policy_obs_dim = int(policy_obs_dim)
        obs_space = spaces.Box(space.low[: self.policy_obs_dim], space.high[: self.policy_obs_dim], dtype=space.dtype)
        super().__init__(venv, observation_space=obs_space)

    def reset(self):
        return self.venv.reset()[:, : self.policy_obs_dim]

    def step_wait(self):
        obs, rews, dones, infos = self.venv.step_wait()
        out = []
        for info in infos:
            if "terminal_observation" in info:
                # A new dict: the recorder below may still hold the original one with the features.
                info = {**info, "terminal_observation": info["terminal_observation"][: self.policy_obs_dim]}
            out.append(info)
        return obs[:, : self.policy_obs_dim], rews, dones, out


# ================================================================================================
# Discriminator
# ================================================================================================
_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "elu": nn.ELU}


class RunningNorm(nn.Module):
    """Per-column running mean / variance (parallel Welford merge), saved with the net's state_dict."""

    def __init__(self, dim: int, eps: float = 1e-5, clip: float = 5.0) -> None:
        super().__init__()
        self.eps, self.clip = float(eps), float(clip)
        self.register_buffer("mean", th.zeros(dim, dtype=th.float64))
        self.register_buffer("var", th.ones(dim, dtype=th.float64))
        self.register_buffer("count", th.zeros((), dtype=th.float64))

    @th.no_grad()
    def update(self, x: th.Tensor) -> None:
        """Merge the statistics of a (N, dim) batch."""
        x = x.detach().to(th.float64).reshape(-1, self.mean.shape[0])
        n = x.shape[0]
        if n == 0:
            return
        b_mean, b_var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = b_mean - self.mean
        self.mean += delta * (n / total)
        self.var.copy_((self.var * self.count + b_var * n + delta.pow(2) * self.count * n / total) / total)
        self.count.copy_(total)

    def forward(self, x: th.Tensor) -> th.Tensor:
        mean, std = self.mean.to(x.dtype), th.sqrt(self.var + self.eps).to(x.dtype)
        return th.clamp((x - mean) / std, -self.clip, self.clip)


class AMPDiscriminatorNet(reward_nets.RewardNet):
    """D(s, s') over AMP feature pairs: a `RewardNet` whose output is the discriminator's logit.

    Reads only the feature columns ``[feature_start, feature_start + layout.dim)`` of the
    observations; ignores action and done. Inputs are normalised inside the net (`normalizer`, updated
    by the trainer from real + fake batches, not by forward) and masked by the feature stage
    (`set_drop`): dropped components are zeros, so the input size never changes when a stage changes.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        *,
        feature_start: int = 0,
        layout: FeatureLayout = LAYOUT,
        hidden_sizes: Sequence[int] = (256, 256),
        activation: str = "relu",
        drop: Iterable[str] = (),
        norm_clip: float = 5.0,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__(observation_space, action_space, normalize_images=False)
        if observation_space.shape is None or observation_space.shape[-1] < feature_start + layout.dim:
            raise ValueError(f"observation space {observation_space} has no feature columns at {feature_start}:+{layout.dim}")
        self.layout = layout
        self.feature_slice = slice(int(feature_start), int(feature_start) + layout.dim)
        self.normalizer = RunningNorm(layout.dim, norm_eps, norm_clip)
        self.register_buffer("mask", th.ones(layout.dim))
        act = _ACTIVATIONS[activation]
        layers: list[nn.Module] = []
        width = 2 * layout.dim
        for h in hidden_sizes:
            layers += [nn.Linear(width, int(h)), act()]
            width = int(h)
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)
        self.drop: tuple[str, ...] = ()
        self.set_drop(drop)

    def set_drop(self, drop: Iterable[str]) -> None:
        """Mask out the named (droppable) components; validated by the layout."""
        drop = tuple(drop)
        kept = self.layout.without(drop)
        mask = th.zeros(self.layout.dim)
        mask[th.as_tensor(self.layout.columns(kept.names), dtype=th.long)] = 1.0
        self.mask.copy_(mask)
        self.drop = drop

    def features(self, obs: th.Tensor) -> th.Tensor:
        """The raw feature columns of (N, obs_dim) observations."""
        return obs[..., self.feature_slice]

    def update_normalizer(self, *obs: th.Tensor) -> None:
        """Update the running statistics from observation batches (real and fake, s and s')."""
        for o in obs:
            self.normalizer.update(self.features(o))

    def disc_input(self, state: th.Tensor, next_state: th.Tensor) -> th.Tensor:
        """The MLP's input: normalised, masked features of s and s', concatenated."""
        fs = self.normalizer(self.features(state).float()) * self.mask
        fn = self.normalizer(self.features(next_state).float()) * self.mask
        return th.cat([fs, fn], dim=-1)

    def input_mask(self) -> th.Tensor:
        """(2 dim,) mask of the MLP input (kept columns of s and s')."""
        return th.cat([self.mask, self.mask])

    def head(self, x: th.Tensor) -> th.Tensor:
        """Logits (N,) of an MLP input (N, 2 dim)."""
        return self.mlp(x).squeeze(-1)

    def logits(self, state: th.Tensor, next_state: th.Tensor, noise_std: float = 0.0) -> th.Tensor:
        """D(s, s'); `noise_std` > 0 adds Gaussian input noise on the kept columns (training only)."""
        x = self.disc_input(state, next_state)
        if noise_std > 0:
            x = x + noise_std * th.randn_like(x) * self.input_mask()
        return self.head(x)

    def forward(self, state: th.Tensor, action: th.Tensor, next_state: th.Tensor, done: th.Tensor) -> th.Tensor:
        del action, done  # AMP judges state transitions only
        return self.logits(state, next_state)


def style_reward(logits: th.Tensor) -> th.Tensor:
    """AMP style reward r = max(0, 1 - 0.25 (d - 1)^2): 1 at d = +1 (real), 0 at d <= -1 (fake)."""
    return th.clamp(1.0 - 0.25 * (logits - 1.0) ** 2, min=0.0)


class AMPStyleRewardNet(reward_nets.ForwardWrapper):
    """The style reward of an `AMPDiscriminatorNet` (imitation's reward_train for the policy)."""

    def __init__(self, base: AMPDiscriminatorNet) -> None:
        super().__init__(base)

    def forward(self, state: th.Tensor, action: th.Tensor, next_state: th.Tensor, done: th.Tensor) -> th.Tensor:
        return style_reward(self.base(state, action, next_state, done))


def make_discriminator(
    observation_space: gym.Space,
    action_space: gym.Space,
    cfg: DiscriminatorConfig,
    feature_start: int = 0,
    drop: Iterable[str] = (),
) -> AMPDiscriminatorNet:
    """An `AMPDiscriminatorNet` with the config's architecture and normaliser."""
    return AMPDiscriminatorNet(
        observation_space, action_space, feature_start=feature_start, hidden_sizes=cfg.hidden_sizes,
        activation=cfg.activation, drop=drop, norm_clip=cfg.norm_clip, norm_eps=cfg.norm_eps,
    )


# ================================================================================================
# Loss, gradient penalty, metrics
# ================================================================================================
def least_squares_loss(logits_real: th.Tensor, logits_fake: th.Tensor) -> th.Tensor:
    """LSGAN loss with targets +1 (real) and -1 (fake): E[(d_r - 1)^2] + E[(d_f + 1)^2]."""
    return ((logits_real - 1.0) ** 2).mean() + ((logits_fake + 1.0) ** 2).mean()


def gradient_penalty(logits: th.Tensor, inputs: th.Tensor, mask: th.Tensor | None = None) -> th.Tensor:
    """E[|grad_x D(x)|^2] over a batch; `inputs` must require grad and have produced `logits`.

    `mask` restricts the norm to kept columns (dropped ones carry no signal and need no penalty).
    The graph is kept (create_graph) so that the penalty trains the discriminator.
    """
    (grad,) = th.autograd.grad(logits.sum(), inputs, create_graph=True)
    if mask is not None:
        grad = grad * mask
    return grad.pow(2).sum(dim=-1).mean()


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Rank-based ROC AUC (Mann-Whitney U; ties count 1/2): P(score_pos > score_neg)."""
    pos, neg = np.asarray(pos, dtype=np.float64).ravel(), np.asarray(neg, dtype=np.float64).ravel()
    n_pos, n_neg = len(pos), len(neg)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    scores = np.concatenate([pos, neg])
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts  # 0-based first rank of each distinct value
    avg_rank = starts + (counts + 1) / 2.0  # 1-based average rank of a tie group
    r_pos = avg_rank[inverse[:n_pos]].sum()
    return float((r_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def disc_metrics(logits_real: th.Tensor, logits_fake: th.Tensor, saturation: float = 5.0) -> dict[str, float]:
    """Classification statistics of one batch (threshold 0: the midpoint of the +-1 targets)."""
    lr = logits_real.detach().cpu().double().numpy()
    lf = logits_fake.detach().cpu().double().numpy()
    both = np.concatenate([lr, lf])
    style = np.clip(1.0 - 0.25 * (lf - 1.0) ** 2, 0.0, None)
    return {
        "amp/accuracy": float(0.5 * ((lr > 0).mean() + (lf < 0).mean())),
        "amp/auc": roc_auc(lr, lf),
        "amp/expert_logit_mean": float(lr.mean()),
        "amp/policy_logit_mean": float(lf.mean()),
        "amp/max_abs_logit": float(np.abs(both).max()),
        "amp/saturated_fraction": float((np.abs(both) >= saturation).mean()),
        "amp/style_reward_mean": float(style.mean()),
        "amp/style_reward_var": float(style.var()),
    }


def discriminator_update(
    net: AMPDiscriminatorNet,
    optimizer: th.optim.Optimizer,
    real_state: th.Tensor,
    real_next: th.Tensor,
    fake_state: th.Tensor,
    fake_next: th.Tensor,
    *,
    grad_penalty_weight: float = 10.0,
    input_noise_std: float = 0.0,
    saturation: float = 5.0,
    update_normalizer: bool = True,
) -> dict[str, float]:
    """One gradient step of loss = LSQ + (w_gp / 2) GP(real); returns the batch's `disc_metrics` plus
    ``amp/disc_loss``, ``amp/lsq_loss``, ``amp/grad_penalty`` (logits are those before the step)."""
    if update_normalizer:
        net.update_normalizer(real_state, real_next, fake_state, fake_next)
    mask = net.input_mask()
    x_real = net.disc_input(real_state, real_next)
    x_fake = net.disc_input(fake_state, fake_next)
    if input_noise_std > 0:
        x_real = x_real + input_noise_std * th.randn_like(x_real) * mask
        x_fake = x_fake + input_noise_std * th.randn_like(x_fake) * mask
    x_real = x_real.detach().requires_grad_(True)
    d_real, d_fake = net.head(x_real), net.head(x_fake)
    lsq = least_squares_loss(d_real, d_fake)
    gp = gradient_penalty(d_real, x_real, mask)
    loss = lsq + 0.5 * grad_penalty_weight * gp
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    out = disc_metrics(d_real, d_fake, saturation)
    out.update({"amp/disc_loss": float(loss.detach()), "amp/lsq_loss": float(lsq.detach()), "amp/grad_penalty": float(gp.detach())})
    return out


# ================================================================================================
# Samples: reference minibatches and the policy replay
# ================================================================================================
class ReferenceSampler:
    """(Phi(s), Phi(s')) pairs of consecutive frames of the same Tier 0+ segment.

    A pair's probability is proportional to exp(score / T) of its segment (``weight_by_length``), or
    to exp(score / T) / (pairs in its segment) (segments then share by softmax alone). Every batch of
    n >= k holds at least k = min(min_motions, motions) distinct motion ids: k slots are drawn first,
    one per motion, from k motions chosen without replacement by their probability mass; the other
    n - k are drawn from the full distribution. With ``mirror_prob`` a pair is mirrored
    (`mirror_features`, both frames).
    """

    def __init__(
        self,
        features: np.ndarray,
        segment_start: np.ndarray,
        segment_length: np.ndarray,
        segment_motion: np.ndarray,
        segment_scores: np.ndarray,
        cfg: ReferenceConfig = ReferenceConfig(),
        *,
        layout: FeatureLayout = LAYOUT,
        seed: int | None = None,
    ) -> None:
        self.features = np.asarray(features, dtype=np.float32)
        if self.features.ndim != 2 or self.features.shape[1] != layout.dim:
            raise ValueError(f"ReferenceSampler: features must be (F, {layout.dim}), got {self.features.shape}")
        if not np.isfinite(self.features).all():
            raise ValueError("ReferenceSampler: reference features contain NaN or Inf")
        self.cfg, self.layout = cfg, layout
        self.rng = np.random.default_rng(seed)
        starts, lengths = np.asarray(segment_start, np.int64), np.asarray(segment_length, np.int64)
        motion, scores = np.asarray(segment_motion, np.int64), np.asarray(segment_scores, np.float64)
        rows, pair_seg = [], []
        for s, (a, n) in enumerate(zip(starts, lengths)):
            if n >= 2:
                rows.append(np.arange(a, a + n - 1))
                pair_seg.append(np.full(n - 1, s))
        if not rows:
            raise ValueError("ReferenceSampler: no segment has two frames (no transition to sample)")
        self.rows = np.concatenate(rows)
        seg = np.concatenate(pair_seg)
        self.pair_motion = motion[seg]
        logw = scores[seg] / cfg.temperature
        w = np.exp(logw - logw.max())
        if not cfg.weight_by_length:
            w = w / (lengths[seg] - 1)
        self.p = w / w.sum()
        self.motions = np.unique(self.pair_motion)
        self._motion_rows = [np.flatnonzero(self.pair_motion == m) for m in self.motions]
        mass = np.array([self.p[r].sum() for r in self._motion_rows])
        self._motion_p = mass / mass.sum()
        self._cond_p = [self.p[r] / self.p[r].sum() for r in self._motion_rows]
        self.required_motions = min(cfg.min_motions_per_batch, len(self.motions))

    @classmethod
    def from_dataset(cls, dataset: Any, cfg: ReferenceConfig = ReferenceConfig(), *, lin_vel_mode: str = "clip",
                     lin_vel_clip: float = 1.5, seed: int | None = None) -> "ReferenceSampler":
        """From a `reference.miner.MinedDataset`; features are recomputed from its stored state when the
        dataset's lin_vel parameters differ from the ones given (the env side uses these)."""
        a = dataset.arrays
        conf = getattr(dataset, "config", {}) or {}
        same = conf.get("lin_vel_mode", "clip") == lin_vel_mode and float(conf.get("lin_vel_clip", 1.5)) == float(lin_vel_clip)
        if same and getattr(dataset, "layout", LAYOUT) == LAYOUT:
            feats = np.asarray(a["features"])
        else:
            feats = compute_features(a["qpos"], a["qvel"], a["pad_contact"], a["foot_height"], a["foot_z_vel"],
                                     lin_vel_mode=lin_vel_mode, lin_vel_clip=lin_vel_clip)
        return cls(feats, a["segment_start"], a["segment_length"], a["segment_motion"], a["segment_scores"], cfg, seed=seed)

    @property
    def num_transitions(self) -> int:
        return int(len(self.rows))

    def sample_indices(self, n: int) -> np.ndarray:
        """Row indices (of s) of n pairs, honouring the motion-id constraint."""
        k = min(self.required_motions, n)
        forced = np.empty(0, dtype=np.int64)
        if k > 0:
            chosen = self.rng.choice(len(self.motions), size=k, replace=False, p=self._motion_p)
            forced = np.array([self._motion_rows[m][self.rng.choice(len(self._motion_rows[m]), p=self._cond_p[m])] for m in chosen])
        rest = self.rng.choice(len(self.rows), size=n - k, p=self.p)
        idx = np.concatenate([forced, rest])
        self.rng.shuffle(idx)
        return idx

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Phi(s) (n, D), Phi(s') (n, D), motion ids (n,)), mirrored with probability mirror_prob."""
        idx = self.sample_indices(n)
        rows = self.rows[idx]
        s, s2 = self.features[rows].copy(), self.features[rows + 1].copy()
        if self.cfg.mirror_prob > 0:
            m = self.rng.random(n) < self.cfg.mirror_prob
            if m.any():
                s[m], s2[m] = mirror_features(s[m], self.layout), mirror_features(s2[m], self.layout)
        return s, s2, self.pair_motion[idx]


class PolicyReplay:
    """Circular buffer of policy (Phi(s), Phi(s')) pairs: the "old fake samples" of the replay."""

    def __init__(self, capacity: int, dim: int = LAYOUT.dim) -> None:
        self.capacity = int(capacity)
        self.s = np.zeros((self.capacity, dim), dtype=np.float32)
        self.s2 = np.zeros((self.capacity, dim), dtype=np.float32)
        self.pos, self.size = 0, 0

    def add(self, s: np.ndarray, s2: np.ndarray) -> None:
        n = len(s)
        if n >= self.capacity:
            s, s2, n = s[-self.capacity:], s2[-self.capacity:], self.capacity
        idx = (self.pos + np.arange(n)) % self.capacity
        self.s[idx], self.s2[idx] = s, s2
        self.pos = int((self.pos + n) % self.capacity)
        self.size = int(min(self.capacity, self.size + n))

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.integers(0, self.size, size=n)
        return self.s[idx], self.s2[idx]


def mix_policy_samples(
    fresh: tuple[np.ndarray, np.ndarray],
    replay: PolicyReplay,
    n: int,
    fresh_fraction: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """n policy pairs: round(fresh_fraction * n) from the latest rollout, the rest from the replay
    (all fresh while the replay is empty)."""
    n_fresh = n if replay.size == 0 else int(round(fresh_fraction * n))
    i = rng.integers(0, len(fresh[0]), size=n_fresh)
    s, s2 = fresh[0][i], fresh[1][i]
    if n_fresh < n:
        o, o2 = replay.sample(n - n_fresh, rng)
        s, s2 = np.concatenate([s, o]), np.concatenate([s2, o2])
    return s, s2


# ================================================================================================
# Schedules: AMP weight ramp, feature reintroduction, global step clock
# ================================================================================================
class AMPWeightRamp:
    """AMP weight: `initial` until `ramp_start`, then linear to `final` over ramp_end - ramp_start
    steps of *open gate*. The steps between two updates count only if the gate is open at the second
    (AUC in [auc_min, auc_max] and max |logit| < max_abs_logit); a closed gate holds the weight (it
    never decreases). With the gate open all along this is the seed's 5K -> 50K ramp."""

    def __init__(self, cfg: RampConfig = RampConfig()) -> None:
        self.cfg = cfg
        self.progress = 0.0  # open-gate steps since ramp_start
        self.last_step = 0
        self.gate_open = False

    def gate(self, auc: float, max_abs_logit: float) -> bool:
        c = self.cfg
        return bool(math.isfinite(auc) and c.auc_min <= auc <= c.auc_max and math.isfinite(max_abs_logit)
                    and max_abs_logit < c.max_abs_logit)

    @property
    def weight(self) -> float:
        c = self.cfg
        frac = min(1.0, self.progress / (c.ramp_end - c.ramp_start))
        return float(c.initial + (c.final - c.initial) * frac)

    def update(self, step: int, auc: float, max_abs_logit: float) -> float:
        """Advance to env step `step` with the discriminator's latest AUC and max |logit|."""
        lo = max(self.last_step, self.cfg.ramp_start)
        self.gate_open = self.gate(auc, max_abs_logit)
        if step > lo and self.gate_open:
            self.progress += step - lo
        self.last_step = max(self.last_step, int(step))
        return self.weight

    def state_dict(self) -> dict[str, Any]:
        return {"progress": self.progress, "last_step": self.last_step}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.progress, self.last_step = float(d["progress"]), int(d["last_step"])


class FeatureSchedule:
    """Feature reintroduction: stage i + 1 begins once step >= its start_step and, if it has a
    max_fall_rate, the measured fall rate is known and at most that. One stage per update, never back."""

    def __init__(self, stages: Sequence[FeatureStageConfig], layout: FeatureLayout = LAYOUT) -> None:
        if not stages:
            raise ValueError("feature schedule: needs at least one stage")
        if stages[0].start_step != 0:
            raise ValueError(f"feature schedule: the first stage must start at step 0, got {stages[0].start_step}")
        for i, (a, b) in enumerate(zip(stages, stages[1:])):
            if b.start_step < a.start_step:
                raise ValueError(f"feature schedule: stages[{i + 1}].start_step {b.start_step} < stages[{i}]'s {a.start_step}")
        for i, s in enumerate(stages):
            try:
                layout.without(s.drop)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"feature schedule: stages[{i}].drop: {exc}") from exc
        self.stages, self.layout = tuple(stages), layout
        self.stage = 0

    @classmethod
    def from_config(cls, cfg: FeaturesConfig) -> "FeatureSchedule":
        return cls(cfg.stages)

    @property
    def drop(self) -> tuple[str, ...]:
        return tuple(self.stages[self.stage].drop)

    @property
    def name(self) -> str:
        return self.stages[self.stage].name

    def update(self, step: int, fall_rate: float | None = None) -> int:
        """Advance at most one stage; returns the current stage index."""
        if self.stage + 1 < len(self.stages):
            nxt = self.stages[self.stage + 1]
            ok = nxt.max_fall_rate is None or (fall_rate is not None and fall_rate <= nxt.max_fall_rate)
            if step >= nxt.start_step and ok:
                self.stage += 1
        return self.stage

    def state_dict(self) -> dict[str, Any]:
        return {"stage": self.stage}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.stage = int(d["stage"])


@dataclass
class StepClock:
    """Global env steps of an AMP run (across rounds) and the planned total; drives every schedule."""

    steps: int = 0
    total: int = 1

    def progress_remaining(self) -> float:
        return float(min(1.0, max(0.0, 1.0 - self.steps / max(1, self.total))))


class GlobalProgressSchedule:
    """Wraps an SB3 schedule so that it sees the progress of the whole AMP run.

    imitation calls ``learn()`` once per round with reset_num_timesteps=False, so SB3's own
    progress_remaining restarts from a wrong base every round; this ignores it and uses the clock.
    """

    def __init__(self, base: Callable[[float], float], clock: StepClock) -> None:
        self.base, self.clock = base, clock

    def __call__(self, _progress_remaining: float) -> float:
        return self.base(self.clock.progress_remaining())


class _ClockCallback(BaseCallback):
    """Keeps the StepClock on the env step count and tracks episode ends (falls vs time limits)."""

    def __init__(self, clock: StepClock, fall_window: int) -> None:
        super().__init__()
        self.clock = clock
        self.start_timesteps: int | None = None
        self.episodes: collections.deque[bool] = collections.deque(maxlen=fall_window)

    def _on_step(self) -> bool:
        if self.start_timesteps is None:
            self.start_timesteps = self.num_timesteps - self.training_env.num_envs
        self.clock.steps = int(self.num_timesteps - self.start_timesteps)
        dones, infos = self.locals.get("dones"), self.locals.get("infos")
        if dones is not None and infos is not None:
            for done, info in zip(dones, infos):
                if done:  # a fall terminates; the time limit truncates
                    self.episodes.append(not info.get("TimeLimit.truncated", False))
        return True

    def fall_rate(self) -> float | None:
        return float(np.mean(self.episodes)) if self.episodes else None


# ================================================================================================
# Reward combination
# ================================================================================================
class AMPRewardVecEnvWrapper(RewardVecEnvWrapper):
    """imitation's RewardVecEnvWrapper, but keeping the env's task reward:

        total = task_weight * task + style_weight * amp_weight * style(s, s')

    `style_fn` is imitation's reward function signature (obs, acts, next_obs, dones) -> (N,), e.g.
    ``AMPStyleRewardNet.predict_processed``. Per step, infos get ``task_reward`` and
    ``amp_style_reward`` (and imitation's ``original_env_rew``); the episode returns the log callback
    reports are of the total. `pop_style_stats` gives the style mean / variance since the last call.
    """

    def __init__(self, venv: VecEnv, style_fn: Callable[..., np.ndarray], task_weight: float = 1.0,
                 style_weight: float = 1.0, amp_weight: float = 1.0, ep_history: int = 100) -> None:
        self.task_weight, self.style_weight, self.amp_weight = float(task_weight), float(style_weight), float(amp_weight)
        self._style_sum = self._style_sq = 0.0
        self._style_n = 0
        super().__init__(venv, reward_fn=style_fn, ep_history=ep_history)

    def step_wait(self):
        obs, task, dones, infos = self.venv.step_wait()
        # As imitation: after an auto-reset the transition's s' is the terminal observation.
        obs_fixed = np.stack([info["terminal_observation"] if done else o for o, done, info in zip(obs, dones, infos)])
        style = np.asarray(self.reward_fn(self._old_obs, self._actions, obs_fixed, np.array(dones)), dtype=np.float64)
        assert style.shape == (len(obs),), "style_fn must return one reward per env"
        task = np.asarray(task, dtype=np.float64)
        rews = self.task_weight * task + self.style_weight * self.amp_weight * style
        self._style_sum += float(style.sum())
        self._style_sq += float((style ** 2).sum())
        self._style_n += len(style)
        done_mask = np.asarray(dones, dtype=bool)
        self._cumulative_rew += rews
        for done, ep_rew in zip(done_mask, self._cumulative_rew):
            if done:
                self.episode_rewards.append(ep_rew)
        self._cumulative_rew[done_mask] = 0
        self._old_obs = obs
        for info, t, s in zip(infos, task, style):
            info["original_env_rew"] = t
            info["task_reward"] = float(t)
            info["amp_style_reward"] = float(s)
        return obs, rews.astype(np.float32), dones, infos

    def pop_style_stats(self) -> dict[str, float]:
        """Mean and variance of the style reward paid since the last call (NaN if no step)."""
        n = self._style_n
        mean = self._style_sum / n if n else float("nan")
        var = self._style_sq / n - mean ** 2 if n else float("nan")
        self._style_sum = self._style_sq = 0.0
        self._style_n = 0
        return {"amp/env_style_reward_mean": mean, "amp/env_style_reward_var": var}


# ================================================================================================
# The trainer
# ================================================================================================
class AMPTrainer(adv_common.AdversarialTrainer):
    """imitation's AdversarialTrainer with the AMP discriminator, loss and reward.

    `venv` must produce [policy obs | AMP features] observations (`AMPFeatureObservation` in every
    env); the trainer builds the stack of the module docstring and points `gen_algo` (a PPO made on
    the policy-only observation space) at its top. Differences from imitation's GAIL:

    * loss: least squares + gradient penalty + input noise (`discriminator_update`), not BCE;
    * real samples: `ReferenceSampler` (weighted, motion-id constraint, mirroring), not a data loader;
    * fake samples: the latest rollout mixed with `PolicyReplay` (old samples);
    * reward: task reward kept (`AMPRewardVecEnvWrapper`), style weight ramped by `AMPWeightRamp`;
    * features masked by `FeatureSchedule`; schedules (AMP weight, features, and PPO's learning rate
      / clip range via `GlobalProgressSchedule`) follow the global step count;
    * episodes may end early (falls): allow_variable_horizon=True;
    * extra SB3 callbacks go in `gen_callbacks` (or `add_gen_callback`): they are chained into
      ``self.gen_callback``, which imitation passes to every ``learn()``; never pass ``callback`` in
      learn_kwargs. Each round is one learn() call, so callbacks see on_training_start/end per round.
    """

    def __init__(
        self,
        *,
        venv: VecEnv,
        gen_algo: base_class.BaseAlgorithm,
        reference: ReferenceSampler,
        config: AMPConfig = AMPConfig(),
        policy_obs_dim: int | None = None,
        reward_net: AMPDiscriminatorNet | None = None,
        policy_venv_fn: Callable[[VecEnv], VecEnv] | None = None,
        gen_callbacks: Sequence[BaseCallback] = (),
        gen_train_timesteps: int | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        """
        Args:
            venv: VecEnv of `AMPFeatureObservation`-wrapped envs.
            gen_algo: the generator (PPO), built on the policy-only observation space.
            reference: real (s, s') feature pairs.
            config: configs/amp.yaml.
            policy_obs_dim: split point of the observation (default: obs dim - LAYOUT.dim).
            reward_net: a discriminator (default: `make_discriminator` from the config).
            policy_venv_fn: wraps the policy-side VecEnv (e.g. VecNormalize) before PPO sees it.
            gen_callbacks: SB3 callbacks run inside every round's learn().
            gen_train_timesteps: env steps per round (default n_envs * n_steps: one PPO update).
            seed: RNG seed of the sample mixing.
            kwargs: passed to imitation's AdversarialTrainer (custom_logger, log_dir, ...).
        """
        obs_dim = int(venv.observation_space.shape[0])
        self.policy_obs_dim = int(policy_obs_dim if policy_obs_dim is not None else obs_dim - LAYOUT.dim)
        self.amp_config = config
        dcfg = config.discriminator
        self.feature_schedule = FeatureSchedule.from_config(config.features)
        if reward_net is None:
            reward_net = make_discriminator(venv.observation_space, venv.action_space, dcfg, self.policy_obs_dim,
                                            self.feature_schedule.drop)
        else:
            reward_net.set_drop(self.feature_schedule.drop)
        self._style_net = AMPStyleRewardNet(reward_net)
        self.reference = reference
        self.ramp = AMPWeightRamp(config.ramp)
        self.clock = StepClock()
        self.replay = PolicyReplay(config.replay.capacity)
        self._fresh: tuple[np.ndarray, np.ndarray] | None = None
        self._rng = np.random.default_rng(seed)
        self.last_metrics: dict[str, float] = {}
        self.pretrain_metrics: dict[str, float] = {}
        self._round_metrics: list[dict[str, float]] = []
        if gen_train_timesteps is None:
            n_steps = getattr(gen_algo, "n_steps", 1)
            gen_train_timesteps = venv.num_envs * int(n_steps)

        # imitation's __init__ ends with gen_algo.set_env(its reward wrapper), whose observation
        # space is [policy obs | features], which the policy cannot accept. Build the base parts in the
        # "ground truth" branch (no reward wrapper, no reset), with set_env held back; then the AMP stack.
        gen_algo.set_env = lambda *a, **k: None  # type: ignore[method-assign]
        try:
            super().__init__(
                demonstrations=None,
                demo_batch_size=dcfg.batch_size,
                venv=venv,
                gen_algo=gen_algo,
                reward_net=reward_net,
                n_disc_updates_per_round=dcfg.updates_per_round,
                disc_opt_cls=th.optim.Adam,
                disc_opt_kwargs={"lr": dcfg.learning_rate, "weight_decay": dcfg.weight_decay},
                gen_train_timesteps=gen_train_timesteps,
                debug_use_ground_truth=True,
                allow_variable_horizon=True,
                **kwargs,
            )
        finally:
            del gen_algo.set_env  # back to the class's method
        self.debug_use_ground_truth = False
        rc = config.reward
        self.reward_wrapper = AMPRewardVecEnvWrapper(
            self.venv_buffering, self.reward_train.predict_processed, task_weight=rc.task_weight,
            style_weight=rc.style_weight, amp_weight=self.ramp.weight,
        )
        self.venv_wrapped = self.reward_wrapper
        self.venv_policy = StripAMPFeatures(self.reward_wrapper, self.policy_obs_dim)
        self.venv_train = policy_venv_fn(self.venv_policy) if policy_venv_fn else self.venv_policy
        self.gen_algo.set_env(self.venv_train)
        self._clock_cb = _ClockCallback(self.clock, config.features.fall_window)
        self._user_callbacks: list[BaseCallback] = list(gen_callbacks)
        self._rebuild_callback()

    # ------------------------------------------------------------------ imitation hooks
    @property
    def reward_train(self) -> reward_nets.RewardNet:
        return self._style_net

    @property
    def reward_test(self) -> reward_nets.RewardNet:
        return self._style_net

    @property
    def discriminator(self) -> AMPDiscriminatorNet:
        return self._reward_net  # type: ignore[return-value]

    def logits_expert_is_high(self, state, action, next_state, done, log_policy_act_prob=None) -> th.Tensor:
        del log_policy_act_prob
        return self._reward_net(state, action, next_state, done)

    def _get_log_policy_act_prob(self, obs_th: th.Tensor, acts_th: th.Tensor) -> None:
        # AMP needs no log pi(a|s); imitation's version would feed [obs | features] to the policy.
        return None

    def _rebuild_callback(self) -> None:
        self.gen_callback = CallbackList([self.reward_wrapper.make_log_callback(), self._clock_cb, *self._user_callbacks])

    def add_gen_callback(self, callback: BaseCallback) -> None:
        """Run `callback` inside every round's learn() (the way to add SB3 callbacks here)."""
        self._user_callbacks.append(callback)
        self._rebuild_callback()

    def _obs_rows(self, feats: np.ndarray) -> np.ndarray:
        """Observations [zeros | features]: the discriminator reads only the feature columns."""
        obs = np.zeros((len(feats), self.venv.observation_space.shape[0]), dtype=np.float32)
        obs[:, self.policy_obs_dim:self.policy_obs_dim + LAYOUT.dim] = feats
        return obs

    def _as_transitions(self, s: np.ndarray, s2: np.ndarray) -> dict[str, np.ndarray]:
        n = len(s)
        return {
            "obs": self._obs_rows(s),
            "acts": np.zeros((n, *self.venv.action_space.shape), dtype=np.float32),
            "next_obs": self._obs_rows(s2),
            "dones": np.zeros(n, dtype=bool),
        }

    def _next_expert_batch(self) -> Mapping:
        s, s2, _ = self.reference.sample(self.demo_batch_size)
        return self._as_transitions(s, s2)

    def policy_batch(self, n: int) -> dict[str, np.ndarray]:
        """n policy transitions: fresh (latest round) mixed with the replay (`mix_policy_samples`)."""
        if self._fresh is None:
            raise RuntimeError("no policy samples yet: call train_gen() first")
        s, s2 = mix_policy_samples(self._fresh, self.replay, n, self.amp_config.replay.fresh_fraction, self._rng)
        return self._as_transitions(s, s2)

    # ------------------------------------------------------------------ training
    def train_gen(self, total_timesteps: int | None = None, learn_kwargs: Mapping | None = None) -> None:
        """imitation's train_gen (one learn() with ``self.gen_callback``, then the recorded
        transitions into the generator buffer), plus the fresh / old split of the policy samples."""
        learn_kwargs = dict(learn_kwargs or {})
        if "callback" in learn_kwargs:
            raise ValueError("pass callbacks with gen_callbacks / add_gen_callback, not learn_kwargs")
        if self._fresh is not None:  # last round's fresh samples become old ones
            self.replay.add(*self._fresh)
        with self.logger.accumulate_means("gen"):
            self.gen_algo.learn(
                total_timesteps=total_timesteps or self.gen_train_timesteps,
                reset_num_timesteps=False,
                callback=self.gen_callback,
                **learn_kwargs,
            )
            self._global_step += 1
        trajs, ep_lens = self.venv_buffering.pop_trajectories()
        self._check_fixed_horizon(ep_lens)
        samples = im_rollout.flatten_trajectories_with_rew(trajs)
        self._gen_replay_buffer.store(samples)
        sl = slice(self.policy_obs_dim, self.policy_obs_dim + LAYOUT.dim)
        self._fresh = (np.asarray(samples.obs[:, sl], np.float32), np.asarray(samples.next_obs[:, sl], np.float32))

    def train_disc(self, *, expert_samples: Mapping | None = None, gen_samples: Mapping | None = None) -> dict[str, float]:
        """One AMP discriminator update (LSQ + GP + noise) on a real batch and a mixed policy batch."""
        dcfg = self.amp_config.discriminator
        if expert_samples is None:
            expert_samples = self._next_expert_batch()
        if gen_samples is None:
            gen_samples = self.policy_batch(self.demo_batch_size)
        n = self.demo_batch_size
        # imitation's batching: expert rows first, then generator rows, through reward_net.preprocess.
        (batch,) = list(self._make_disc_train_batches(gen_samples=gen_samples, expert_samples=expert_samples))
        st, nx = batch["state"], batch["next_state"]
        with th.enable_grad():
            m = discriminator_update(
                self.discriminator, self._disc_opt, st[:n], nx[:n], st[n:], nx[n:],
                grad_penalty_weight=dcfg.grad_penalty_weight, input_noise_std=dcfg.input_noise_std,
                saturation=self.amp_config.ramp.max_abs_logit,
            )
        self._disc_step += 1
        self._round_metrics.append(m)
        return m

    def pretrain_discriminator(self, s: np.ndarray, s2: np.ndarray, updates: int) -> dict[str, float]:
        """Offline discriminator training before the first round: `updates` x `train_disc` on reference
        batches against (Phi(s), Phi(s')) pairs of the starting policy (`s`, `s2`); the pairs then seed
        the policy replay. Returns the mean metrics of the updates (also in ``pretrain_metrics``)."""
        s, s2 = np.asarray(s, np.float32), np.asarray(s2, np.float32)
        if len(s) == 0 or len(s) != len(s2):
            raise ValueError(f"pretrain_discriminator: need matching non-empty pairs, got {len(s)} and {len(s2)}")
        done: list[dict[str, float]] = []
        for _ in range(int(updates)):
            i = self._rng.integers(0, len(s), size=self.demo_batch_size)
            done.append(self.train_disc(gen_samples=self._as_transitions(s[i], s2[i])))
        self._round_metrics = []  # pretraining is not part of the first round's averages
        self.replay.add(s, s2)
        self.pretrain_metrics = {k: float(np.mean([m[k] for m in done])) for k in done[0]} if done else {}
        return self.pretrain_metrics

    def _end_of_round(self) -> dict[str, float]:
        """Average the round's discriminator metrics, advance the ramp and the feature schedule, log."""
        if self._round_metrics:
            keys = self._round_metrics[0].keys()
            m = {k: float(np.mean([r[k] for r in self._round_metrics])) for k in keys}
        else:
            m = dict(self.last_metrics)
        self._round_metrics = []
        step = self.clock.steps
        m["amp/amp_weight"] = self.ramp.update(step, m.get("amp/auc", float("nan")), m.get("amp/max_abs_logit", float("inf")))
        m["amp/ramp_gate_open"] = float(self.ramp.gate_open)
        self.reward_wrapper.amp_weight = self.ramp.weight
        fall = self._clock_cb.fall_rate()
        m["amp/feature_stage"] = float(self.feature_schedule.update(step, fall))
        self.discriminator.set_drop(self.feature_schedule.drop)
        m["amp/fall_rate"] = float("nan") if fall is None else fall
        m["amp/global_step"] = float(step)
        m.update(self.reward_wrapper.pop_style_stats())
        for k, v in m.items():
            self.logger.record(k, v)
        self.last_metrics = m
        return m

    def train(self, total_timesteps: int, callback: Callable[[int], None] | None = None) -> dict[str, float]:
        """imitation's round loop (train_gen, updates_per_round x train_disc, callback, dump) with the
        AMP schedules; PPO's learning-rate / clip-range schedules see the progress of this whole call.
        Returns the last round's metrics."""
        self.clock.total = self.clock.steps + int(total_timesteps)
        algo = self.gen_algo
        saved = {name: getattr(algo, name) for name in ("lr_schedule", "clip_range", "clip_range_vf")
                 if callable(getattr(algo, name, None))}
        for name, sched in saved.items():
            setattr(algo, name, GlobalProgressSchedule(sched, self.clock))

        def round_end(r: int) -> None:
            self._end_of_round()
            if callback is not None:
                callback(r)

        try:
            super().train(total_timesteps, callback=round_end)
        finally:
            for name, sched in saved.items():  # the saved model keeps plain schedules
                setattr(algo, name, sched)
        return self.last_metrics

    # ------------------------------------------------------------------ state
    def amp_state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs to resume AMP: discriminator, its optimiser, schedules, clock."""
        return {
            "discriminator": self.discriminator.state_dict(),
            "optimizer": self._disc_opt.state_dict(),
            "ramp": self.ramp.state_dict(),
            "feature_schedule": self.feature_schedule.state_dict(),
            "clock_steps": self.clock.steps,
        }

    def load_amp_state_dict(self, d: Mapping[str, Any]) -> None:
        self.discriminator.load_state_dict(d["discriminator"])
        self._disc_opt.load_state_dict(d["optimizer"])
        self.ramp.load_state_dict(d["ramp"])
        self.feature_schedule.load_state_dict(d["feature_schedule"])
        self.discriminator.set_drop(self.feature_schedule.drop)
        self.clock.steps = int(d["clock_steps"])
        self._clock_cb.start_timesteps = None if self.clock.steps == 0 else self.gen_algo.num_timesteps - self.clock.steps
        self.reward_wrapper.amp_weight = self.ramp.weight
