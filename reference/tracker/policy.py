"""A trained tracker as a plain numpy MLP: loaded without unpickling, evaluated at a few microseconds.

`TrackerPolicy.load` takes a checkpoint directory, a run directory (latest checkpoint) or a policy bundle
``.zip`` (`wildrobot_gym.checkpoints.export_policy`; the shipped tracker is one). It reads state.json (the
tracker config the policy was trained with: its observation layout and residual scale), the actor's
weights from SB3's ``policy.pth`` with ``torch.load(weights_only=True)`` (`policy_io.read_sb3_weights`)
and the observation statistics from ``vecnormalize.npz`` (plain arrays). `act` is SB3's deterministic
action: normalise (clip((obs - mean) / sqrt(var + eps), +-clip_obs)), the actor MLP, the action layer,
clipped to [-1, 1].
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import numpy as np

from wildrobot_gym.checkpoints import VECNORM_FILE, read_state, resolve_checkpoint
from wildrobot_gym.policy_io import read_sb3_weights, read_vecnormalize
from reference.tracker.observation import obs_dim

_ACT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
}


class TrackerPolicy:
    """The deterministic actor of a trained tracker (module docstring)."""

    def __init__(self, config: dict, layers: list[tuple[np.ndarray, np.ndarray]], obs_mean: np.ndarray,
                 obs_std: np.ndarray, clip_obs: float, norm_obs: bool, activation: str, source: str = "") -> None:
        self.config = config
        self.layers = layers
        self.obs_mean, self.obs_std, self.clip_obs, self.norm_obs = obs_mean, obs_std, float(clip_obs), bool(norm_obs)
        self.activation = _ACT[activation]
        self.source = source
        self.residual_scale = float(config["env"]["residual_scale"])
        self.obs_dim = int(layers[0][0].shape[1])

    @staticmethod
    def load(path: str | Path) -> "TrackerPolicy":
        """The tracker of a checkpoint, run directory or bundle; ValueError naming `path` when it is not one."""
        try:
            ckpt = resolve_checkpoint(path)
        except FileNotFoundError as e:
            raise ValueError(str(e)) from None
        state = read_state(ckpt)
        cfg = state.get("config") or {}
        if cfg.get("phase") != "tracker":
            raise ValueError(f"{path}: not a tracker (its config's phase is {cfg.get('phase')!r}, expected 'tracker')")
        w = read_sb3_weights(ckpt / "model.zip")["policy"]
        layers = []
        i = 0
        while f"mlp_extractor.policy_net.{i}.weight" in w:
            layers.append((w[f"mlp_extractor.policy_net.{i}.weight"].numpy().astype(np.float64),
                           w[f"mlp_extractor.policy_net.{i}.bias"].numpy().astype(np.float64)))
            i += 2  # Linear, activation, Linear, ...
        if "action_net.weight" not in w:
            raise ValueError(f"{path}: the policy has no action_net (not an SB3 PPO actor)")
        layers.append((w["action_net.weight"].numpy().astype(np.float64), w["action_net.bias"].numpy().astype(np.float64)))
        vn = read_vecnormalize(ckpt / VECNORM_FILE)
        want = obs_dim(cfg["env"])
        if layers[0][0].shape[1] != want or vn["obs_mean"].shape != (want,):
            raise ValueError(f"{path}: the policy takes {layers[0][0].shape[1]} inputs, its config's observation "
                             f"has {want}")
        std = np.sqrt(vn["obs_var"] + float(vn["epsilon"]))
        return TrackerPolicy(cfg, layers, vn["obs_mean"].astype(np.float64), std, float(vn["clip_obs"]),
                             bool(vn["norm_obs"]), cfg["ppo"]["activation"], str(path))

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action(s) in [-1, 1] of observation(s) `obs` (..., obs_dim)."""
        x = np.asarray(obs, dtype=np.float64)
        if self.norm_obs:
            x = np.clip((x - self.obs_mean) / self.obs_std, -self.clip_obs, self.clip_obs)
        for W, b in self.layers[:-1]:
            x = self.activation(x @ W.T + b)
        W, b = self.layers[-1]
        return np.clip(x @ W.T + b, -1.0, 1.0)


@functools.lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> TrackerPolicy:  # noqa: ARG001  (mtime: reload a replaced file)
    return TrackerPolicy.load(path)


def load_tracker_policy(path: str | Path) -> TrackerPolicy:
    """`TrackerPolicy.load`, once per process and file (a generation worker rolls out many clips)."""
    p = Path(path).resolve()
    return _cached(str(p), p.stat().st_mtime if p.exists() else 0.0)


def policy_info(policy: TrackerPolicy) -> dict[str, Any]:
    """A short description for logs and summaries."""
    return {"source": policy.source, "obs_dim": policy.obs_dim, "residual_scale": policy.residual_scale,
            "layers": [int(W.shape[0]) for W, _ in policy.layers]}
