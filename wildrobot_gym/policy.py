"""Asymmetric actor-critic for SB3's PPO: the actor sees what the robot measures, the critic everything.

`wildrobot_gym.env.OBS_LAYOUT` marks each observation entry ``privileged`` or not. The robot measures the
non-privileged ones (up_vector, gyro, joint_pos, joint_vel, prev_action, command, gait_clock); root_lin_vel
and root_height exist only in simulation. A policy trained on them cannot run on the robot, but the
critic, used only in training, may use them (a better value estimate, lower-variance advantages).

`AsymmetricActorCriticPolicy` is SB3's ``MlpPolicy`` (`ActorCriticPolicy`, same ``net_arch`` dict(pi, vf),
activation, log_std_init, ortho_init, optimizer) whose ``mlp_extractor`` is an `AsymmetricMlpExtractor`:

* ``policy_net`` (the actor's MLP) is built for ``len(actor_columns)`` inputs and applied to
  ``features[..., actor_columns]`` (an ``index_select``), the measured columns of the flattened
  observation (`measured_columns`, derived from OBS_LAYOUT). The privileged columns are not an input of
  any actor layer: they cannot change the action (mean, and with it the log-probability) by construction.
  The log std is a free parameter, not a function of the observation.
* ``value_net`` (the critic's MLP) takes every column.

Everything else is SB3's: ``forward``, ``predict``, ``evaluate_actions``, ``get_distribution`` and
``predict_values`` go through ``mlp_extractor.forward_actor`` / ``forward_critic``. The state dict has
the same keys as ``MlpPolicy``'s (``mlp_extractor.policy_net.0.weight`` ...), the first actor layer being
narrower, so a checkpoint of one never loads into the other by mistake.

Normalisation (VecNormalize) stays outside the policy, on the full observation: the actor's columns are
normalised with their own statistics. The features extractor must be SB3's `FlattenExtractor` (features
= observation columns, in order); anything else is refused.

Which columns: the observation space says. A 1-D Box of the layout's full size (``include_privileged``
True) gives the measured columns; one of the measured-only size (``include_privileged`` False) has no
privileged column, so the actor sees all of it. Any other shape is refused (not this env's observation).
Selected by the ``ppo.actor_inputs`` config key (`wildrobot_gym.policy_io.ppo_kwargs`).

``ppo.actor_inputs: measured_symmetric`` is `MirrorSymmetricActorCriticPolicy`: the same, with an actor whose
action mean is left-right symmetric by construction, mean(M_o o) = M_a mean(o) (`wildrobot_gym.obs_mirror`).
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import FlattenExtractor, MlpExtractor
from stable_baselines3.common.utils import get_device
from torch import nn

#: ``ppo.actor_inputs`` (wildrobot_gym.config.ppo.ACTOR_INPUTS) -> the policy class's name, as state.json
#: ``model.policy`` records it (`wildrobot_gym.policy_io.model_meta`): "all" is SB3's MlpPolicy.
POLICY_NAMES = {"all": "MlpPolicy", "measured": "AsymmetricActorCriticPolicy",
                "measured_symmetric": "MirrorSymmetricActorCriticPolicy"}


def measured_entries(include_privileged: bool = True, include_heading: bool = False) -> list[dict[str, Any]]:
    """The measured (non-privileged) entries of the observation, in order: name, size and offset in the
    observation (``obs_offset``) and in the measured vector (``offset``)."""
    from wildrobot_gym.env import OBS_LAYOUT, obs_slices

    slices = obs_slices(include_privileged, include_heading)
    out, i = [], 0
    for name, size, privileged in OBS_LAYOUT:
        if privileged or name not in slices:
            continue
        out.append({"name": name, "size": int(size), "offset": i, "obs_offset": int(slices[name].start)})
        i += size
    return out


def measured_columns(obs_dim: int) -> tuple[int, ...]:
    """The measured columns of an observation of `obs_dim` columns (see the module docstring);
    ValueError when `obs_dim` is not a size of this env's observation."""
    from wildrobot_gym.env import obs_flags_for_dim, obs_slices

    flags = obs_flags_for_dim(obs_dim)
    if flags is not None:
        return tuple(int(c) for e in measured_entries(*flags) for c in range(e["obs_offset"], e["obs_offset"] + e["size"]))
    flags = [(p, h) for p in (True, False) for h in (True, False)]
    sizes = sorted(max(s.stop for s in obs_slices(p, h).values()) for p, h in flags)
    raise ValueError(f"asymmetric actor-critic: an observation of {obs_dim} columns is not WildRobotWalk-v0's "
                     f"(OBS_LAYOUT: {sizes} columns, with or without the privileged entries and the heading)")


class AsymmetricMlpExtractor(nn.Module):
    """SB3's `MlpExtractor` with the actor on `actor_columns` of the features and the critic on all of them.

    The two MLPs are built by `MlpExtractor` itself (same layers, activations, device), each on its own
    input width; ``latent_dim_pi`` / ``latent_dim_vf``, ``forward``, ``forward_actor`` and
    ``forward_critic`` are what `ActorCriticPolicy` expects."""

    def __init__(self, feature_dim: int, actor_columns: tuple[int, ...], net_arch: Any,
                 activation_fn: type[nn.Module], device: Any = "auto") -> None:
        super().__init__()
        if isinstance(net_arch, dict):
            pi, vf = list(net_arch.get("pi", [])), list(net_arch.get("vf", []))
        else:
            pi = vf = list(net_arch)
        cols = [int(c) for c in actor_columns]
        if not cols or len(set(cols)) != len(cols) or min(cols) < 0 or max(cols) >= feature_dim:
            raise ValueError(f"actor columns {cols} do not select distinct columns of {feature_dim} features")
        actor = MlpExtractor(len(cols), dict(pi=pi, vf=[]), activation_fn, device)
        critic = MlpExtractor(feature_dim, dict(pi=[], vf=vf), activation_fn, device)
        self.policy_net, self.value_net = actor.policy_net, critic.value_net
        self.latent_dim_pi, self.latent_dim_vf = actor.latent_dim_pi, critic.latent_dim_vf
        self.feature_dim = int(feature_dim)
        # not in the state dict (derived from the observation space; the weights are all that is saved)
        self.register_buffer("actor_columns", torch.as_tensor(cols, dtype=torch.long, device=get_device(device)),
                             persistent=False)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)

    def actor_input(self, features: torch.Tensor) -> torch.Tensor:
        """The actor's columns of `features` (batch, feature_dim)."""
        if features.shape[-1] != self.feature_dim:
            raise ValueError(f"expected {self.feature_dim} features, got {features.shape[-1]}")
        return features.index_select(-1, self.actor_columns)

    def actor_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The actor's latent of its input columns `x` (batch, len(actor_columns)), for the action head."""
        return self.policy_net(x)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        return self.actor_latent(self.actor_input(features))

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        return self.value_net(features)


class AsymmetricActorCriticPolicy(ActorCriticPolicy):
    """SB3's MlpPolicy with an `AsymmetricMlpExtractor`: actor on the measured columns, critic on all
    (module docstring). Same constructor arguments as `ActorCriticPolicy`."""

    def _build_mlp_extractor(self) -> None:
        space = self.observation_space
        if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
            raise ValueError(f"asymmetric actor-critic: needs a 1-D Box observation space, got {space}")
        if self.features_extractor_class is not FlattenExtractor:
            raise ValueError("asymmetric actor-critic: the actor's columns are observation columns, so the "
                             f"features extractor must be FlattenExtractor, not {self.features_extractor_class}")
        self.actor_columns = measured_columns(int(space.shape[0]))
        self.mlp_extractor = AsymmetricMlpExtractor(self.features_dim, self.actor_columns, net_arch=self.net_arch,
                                                    activation_fn=self.activation_fn, device=self.device)


def actor_columns_of(policy: Any) -> np.ndarray | None:
    """The observation columns `policy`'s actor reads, or None when it reads the whole observation."""
    if isinstance(policy, AsymmetricActorCriticPolicy):
        return np.asarray(policy.actor_columns, dtype=np.int64)
    return None


# ---------------------------------------------------------------------------- left-right symmetric actor
class MirrorSymmetricMlpExtractor(AsymmetricMlpExtractor):
    """`AsymmetricMlpExtractor` whose actor latent is [h(x), h(M x)]: the actor MLP h on its columns x and on
    their mirror image M x (`wildrobot_gym.obs_mirror`, restricted to the actor's columns), for
    `MirrorAveragedLinear`. ``latent_dim_pi`` is twice the MLP's width. Same state dict as its parent."""

    def __init__(self, feature_dim: int, actor_columns: tuple[int, ...], mirror_index: np.ndarray,
                 mirror_sign: np.ndarray, net_arch: Any, activation_fn: type[nn.Module], device: Any = "auto") -> None:
        super().__init__(feature_dim, actor_columns, net_arch, activation_fn, device)
        if sorted(int(i) for i in mirror_index) != list(range(len(actor_columns))):
            raise ValueError(f"mirror index {list(mirror_index)} is not a permutation of the {len(actor_columns)} actor columns")
        dev = get_device(device)
        self.register_buffer("mirror_index", torch.as_tensor(np.asarray(mirror_index), dtype=torch.long, device=dev),
                             persistent=False)
        self.register_buffer("mirror_sign", torch.as_tensor(np.asarray(mirror_sign), dtype=torch.float32, device=dev),
                             persistent=False)
        self.latent_dim_pi = 2 * self.latent_dim_pi

    def actor_latent(self, x: torch.Tensor) -> torch.Tensor:
        mirrored = x.index_select(-1, self.mirror_index) * self.mirror_sign.to(x.dtype)
        return torch.cat([self.policy_net(x), self.policy_net(mirrored)], dim=-1)


class MirrorAveragedLinear(nn.Linear):
    """The action mean of a left-right symmetric actor: on the latent [h(x), h(M_o x)] (width 2 in_features)

        mean = 1/2 (W h(x) + b + M_a (W h(M_o x) + b))

    with M_a the action mirror (`wildrobot_gym.obs_mirror.action_mirror`). Since M_o and M_a are involutions,
    mean(M_o x) = M_a mean(x) exactly, whatever the weights. Its weights are an ``nn.Linear(in_features,
    out_features)``'s: an asymmetric policy's action head loads into it."""

    def __init__(self, in_features: int, out_features: int, action_index: np.ndarray, action_sign: np.ndarray) -> None:
        super().__init__(in_features, out_features)
        self.register_buffer("action_index", torch.as_tensor(np.asarray(action_index), dtype=torch.long), persistent=False)
        self.register_buffer("action_sign", torch.as_tensor(np.asarray(action_sign), dtype=torch.float32), persistent=False)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and latent.shape[-1] != 2 * self.in_features:  # (ONNX export traces)
            raise ValueError(f"MirrorAveragedLinear: expected a latent of {2 * self.in_features}, got {latent.shape[-1]}")
        own = F.linear(latent[..., :self.in_features], self.weight, self.bias)
        mirrored = F.linear(latent[..., self.in_features:], self.weight, self.bias)
        return 0.5 * (own + mirrored.index_select(-1, self.action_index) * self.action_sign.to(latent.dtype))


class MirrorSymmetricActorCriticPolicy(AsymmetricActorCriticPolicy):
    """The asymmetric actor-critic (actor on the measured columns, critic on all) with a left-right symmetric
    actor: mean(M_o o) = M_a mean(o) (``ppo.actor_inputs: measured_symmetric``). The mean is the average of the
    actor on the observation and, mirrored back, on its mirror image (`MirrorAveragedLinear`), so one leg does
    what the other did half a gait cycle earlier by construction rather than by a reward. The critic and the
    log std are not mirrored (the stochastic policy's spread may differ between legs; its mean may not).

    The mirror acts on the *normalised* observation, which is the mirror of the raw one only when the
    normalisation's statistics are themselves mirror-symmetric: train it with `MirroredRunningMeanStd`
    (`training.common.wrap_normalize` installs it for this policy). Same state dict as the asymmetric policy,
    so either's weights load into the other (state.json ``model.policy`` says which one a checkpoint is)."""

    def _build_mlp_extractor(self) -> None:
        from wildrobot_gym.obs_mirror import observation_mirror_for_dim, restrict

        super()._build_mlp_extractor()
        index, sign = restrict(*observation_mirror_for_dim(int(self.observation_space.shape[0])),
                               np.asarray(self.actor_columns))
        self.mlp_extractor = MirrorSymmetricMlpExtractor(self.features_dim, self.actor_columns, index, sign,
                                                         net_arch=self.net_arch, activation_fn=self.activation_fn,
                                                         device=self.device)

    def _build(self, lr_schedule: Any) -> None:
        from wildrobot_gym.obs_mirror import action_mirror

        super()._build(lr_schedule)  # an action head on the 2H latent, replaced here by the averaged one on H
        n_actions = int(np.prod(self.action_space.shape))
        if n_actions != len(action_mirror()[0]):
            raise ValueError(f"mirror-symmetric actor: {n_actions} actions, the action mirror has {len(action_mirror()[0])}")
        head = MirrorAveragedLinear(self.mlp_extractor.latent_dim_pi // 2, n_actions, *action_mirror())
        if self.ortho_init:
            self.init_weights(head, gain=0.01)
        self.action_net = head.to(self.device)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)
