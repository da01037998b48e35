"""How the AMP features travel through the VecEnv: computed in each env (`AMPFeatureObservation`,
obs = [policy obs | Phi_t ... Phi_{t-H+1}], the history block of `discriminator.history_frames` frames) and
hidden from the policy again above imitation's recorder (`StripAMPFeatures`). The stack is drawn in the
package docstring (`wildrobot_gym.amp`)."""
from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from wildrobot_gym.amp_features import LAYOUT, compute_features, push_frame


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
    """Appends the full-layout AMP features of the last `history_frames` states to the observation:
    obs' = [obs | Phi_t | Phi_{t-1} | ... | Phi_{t-H+1}] (`push_frame`: newest first, the first frame
    repeated at an episode start; H = 1: [obs | Phi(state)]).

    Runs inside each env (worker) process. `StripAMPFeatures` removes the columns again above
    imitation's recorder, so the policy never sees them. ``policy_obs_dim`` is the split point.
    """

    def __init__(self, env: gym.Env, lin_vel_mode: str = "clip", lin_vel_clip: float = 1.5,
                 history_frames: int = 1) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"AMPFeatureObservation needs a 1-D Box observation space, got {space}")
        if int(history_frames) < 1:
            raise ValueError(f"AMPFeatureObservation: history_frames must be >= 1, got {history_frames}")
        self.policy_obs_dim = int(space.shape[0])
        self.lin_vel_mode, self.lin_vel_clip = lin_vel_mode, float(lin_vel_clip)
        self.history_frames = int(history_frames)
        self.fps = 1.0 / float(env.unwrapped.dt)
        width = self.history_frames * LAYOUT.dim
        low = np.concatenate([space.low, np.full(width, -np.inf)]).astype(np.float32)
        high = np.concatenate([space.high, np.full(width, np.inf)]).astype(np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self._prev_foot_height = np.zeros(2)
        self._block = np.zeros(width, dtype=np.float32)

    def _features(self, info: Mapping[str, Any], restart: bool) -> np.ndarray:
        fh = np.asarray(info["foot_height"], dtype=np.float64)
        fz = np.zeros(2) if restart else (fh - self._prev_foot_height) * self.fps
        self._prev_foot_height = fh.copy()
        return features_from_env(self.env, info, fz, lin_vel_mode=self.lin_vel_mode, lin_vel_clip=self.lin_vel_clip)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._block = push_frame(self._block, self._features(info, True), restart=True)
        return np.concatenate([obs, self._block]).astype(np.float32), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._block = push_frame(self._block, self._features(info, False), restart=False)
        return np.concatenate([obs, self._block]).astype(np.float32), reward, terminated, truncated, info

    def set_reward_weights(self, weights: Mapping[str, float]) -> None:
        """A curriculum's weights, for the phase reward wrapper inside (gymnasium 0.29 warns on implicit lookups)."""
        self.env.get_wrapper_attr("set_reward_weights")(weights)


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
