"""Reward combination: the task reward plus the weighted AMP style reward."""
from __future__ import annotations

from typing import Callable

import numpy as np
from imitation.rewards.reward_wrapper import RewardVecEnvWrapper
from stable_baselines3.common.vec_env import VecEnv


class AMPRewardVecEnvWrapper(RewardVecEnvWrapper):
    """imitation's RewardVecEnvWrapper, but keeping the env's task reward:

        total = task_weight * task + style_weight * amp_weight * style_scale * min(style(s, s'), style_clip)

    with style = max(0, 1 - 0.25 (D - 1)^2) in [0, 1] (`style_reward`, the AMP paper's clip at 0);
    `style_clip` (Phase 3: phase3.yaml ``amp.style_reward_clip``, seed 002's "reward clipping") caps it,
    then `style_scale` (amp.yaml ``reward.style_scale``) scales it. In Phase 3 `style_weight` is seed 002's
    schedule (phase3.yaml ``amp.style_weights`` 0.1 / 0.5 / 1.0 at ``schedule_boundaries`` of training)
    times amp.yaml ``reward.style_weight`` (`training.train_ppo.train_phase3`), and `amp_weight` is the
    AUC-gated ramp (`AMPWeightRamp`): the two multiply.

    `style_fn` is imitation's reward function signature (obs, acts, next_obs, dones) -> (N,), e.g.
    ``AMPStyleRewardNet.predict_processed``. Per step, infos get ``task_reward`` and
    ``amp_style_reward`` (the clipped style reward before the weights and scale; and imitation's
    ``original_env_rew``); the episode returns the log callback reports are of the total.
    `pop_style_stats` gives the style mean / variance since the last call (of ``amp_style_reward``).
    """

    def __init__(self, venv: VecEnv, style_fn: Callable[..., np.ndarray], task_weight: float = 1.0,
                 style_weight: float = 1.0, amp_weight: float = 1.0, ep_history: int = 100,
                 style_scale: float = 1.0, style_clip: float = float("inf")) -> None:
        self.task_weight, self.style_weight, self.amp_weight = float(task_weight), float(style_weight), float(amp_weight)
        self.style_scale, self.style_clip = float(style_scale), float(style_clip)
        self._style_sum = self._style_sq = 0.0
        self._style_n = 0
        super().__init__(venv, reward_fn=style_fn, ep_history=ep_history)

    def step_wait(self):
        obs, task, dones, infos = self.venv.step_wait()
        # As imitation: after an auto-reset the transition's s' is the terminal observation.
        obs_fixed = np.stack([info["terminal_observation"] if done else o for o, done, info in zip(obs, dones, infos)])
        style = np.asarray(self.reward_fn(self._old_obs, self._actions, obs_fixed, np.array(dones)), dtype=np.float64)
        assert style.shape == (len(obs),), "style_fn must return one reward per env"
        style = np.minimum(style, self.style_clip)
        task = np.asarray(task, dtype=np.float64)
        rews = self.task_weight * task + self.effective_style_weight * style
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

    @property
    def effective_style_weight(self) -> float:
        """What one unit of (clipped) style reward pays: style_weight * amp_weight * style_scale."""
        return self.style_weight * self.amp_weight * self.style_scale

    def pop_style_stats(self) -> dict[str, float]:
        """Mean and variance of the style reward paid since the last call (NaN if no step)."""
        n = self._style_n
        mean = self._style_sum / n if n else float("nan")
        var = self._style_sq / n - mean ** 2 if n else float("nan")
        self._style_sum = self._style_sq = 0.0
        self._style_n = 0
        return {"amp/env_style_reward_mean": mean, "amp/env_style_reward_var": var}
