"""The AMP discriminator D(s, s') (an imitation `RewardNet`), its input normaliser and the style reward.

With ``history_frames`` H > 1 the feature columns of an observation are a history block of H frames and
D judges (Phi_{t-H+1}, ..., Phi_t, Phi_{t+1}) (`wildrobot_gym.amp_features.transition_frames`).

Loss and update: `wildrobot_gym.amp.losses`; the equations are in the package docstring."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import gymnasium as gym
import torch as th
from imitation.rewards import reward_nets
from torch import nn

from wildrobot_gym.amp_features import LAYOUT, FeatureLayout, transition_frames

if TYPE_CHECKING:  # amp.config imports this module (for _ACTIVATIONS)
    from wildrobot_gym.amp.config import DiscriminatorConfig


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

    Reads only the feature columns ``[feature_start, feature_start + history_frames * layout.dim)`` of
    the observations (a history block, newest frame first; one frame when history_frames = 1); ignores
    action and done. The MLP sees the H + 1 frames of `transition_frames`, oldest first, each
    normalised by the same per-component `normalizer` (updated by the trainer from real + fake
    batches, not by forward) and masked by the feature stage (`set_drop`): dropped components are
    zeros, so the input size never changes when a stage changes. H = 1: [n(Phi(s)) m, n(Phi(s')) m].
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
        history_frames: int = 1,
    ) -> None:
        super().__init__(observation_space, action_space, normalize_images=False)
        self.history_frames = int(history_frames)
        if self.history_frames < 1:
            raise ValueError(f"history_frames must be >= 1, got {history_frames}")
        width = self.history_frames * layout.dim
        if observation_space.shape is None or observation_space.shape[-1] < feature_start + width:
            raise ValueError(f"observation space {observation_space} has no feature columns at {feature_start}:+{width} "
                             f"({self.history_frames} frame(s) of {layout.dim})")
        self.layout = layout
        self.feature_slice = slice(int(feature_start), int(feature_start) + width)
        self.normalizer = RunningNorm(layout.dim, norm_eps, norm_clip)
        self.register_buffer("mask", th.ones(layout.dim))
        act = _ACTIVATIONS[activation]
        layers: list[nn.Module] = []
        width = (self.history_frames + 1) * layout.dim
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
        """The raw feature columns (the history block, (N, H dim)) of (N, obs_dim) observations."""
        return obs[..., self.feature_slice]

    def update_normalizer(self, *obs: th.Tensor) -> None:
        """Update the running statistics from observation batches (real and fake, s and s'), every frame."""
        for o in obs:
            self.normalizer.update(self.features(o))

    def disc_input(self, state: th.Tensor, next_state: th.Tensor) -> th.Tensor:
        """The MLP's input ((H + 1) dim,): the normalised, masked frames of `transition_frames`."""
        x = transition_frames(self.features(state).float(), self.features(next_state).float(), self.history_frames)
        return (self.normalizer(x) * self.mask).flatten(-2)

    def input_mask(self) -> th.Tensor:
        """((H + 1) dim,) mask of the MLP input (the kept columns of every frame)."""
        return self.mask.repeat(self.history_frames + 1)

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
    """An `AMPDiscriminatorNet` with the config's architecture, normaliser and frame history."""
    return AMPDiscriminatorNet(
        observation_space, action_space, feature_start=feature_start, hidden_sizes=cfg.hidden_sizes,
        activation=cfg.activation, drop=drop, norm_clip=cfg.norm_clip, norm_eps=cfg.norm_eps,
        history_frames=cfg.history_frames,
    )
