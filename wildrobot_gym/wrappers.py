"""Phase wrappers: a phase's reward on top of `WildRobotWalk-v0`, plus the Phase 2/3 schedules.

`PhaseRewardWrapper` (Phases 1E and 2)
    reward = sum_k w_k * term_k(info)  with the terms of `wildrobot_gym.rewards` and the weights of the
    phase's YAML; ``info["reward_terms"]`` holds every weighted term. One mechanism computes the reward:
    the wrapper's `RewardComposer`; the wrapped env's own reward is switched off (`reward_enabled = False`) so the
    reward is not computed twice per step. A step flagged ``sim_unstable`` earns 0, as in the env.

    The wrapper also keeps cheap running sums and, on the last step of an episode, puts
    ``info["episode"]`` ({"r", "l", "t"}: SB3's Monitor format), ``info["is_success"]`` (the episode hit
    the time limit, not a fall) and ``info["episode_stats"]`` (`EPISODE_STAT_KEYS` plus
    ``terms/<name>``: the per-step mean of every weighted term) into info. Training callbacks and the
    evaluator read only these end-of-episode dicts, never the per-step infos.

`StyleRewardWrapper` (Phase 3)
    reward = task_weight * task + style_weight * clip(style_fn(info), 0, style_reward_clip)
    where task is the Phase 2 reward. AMP training (training/train_ppo.py) leaves ``style_fn`` None, so
    here style = 0 and ``info["reward_terms"]["style"] = 0``: the discriminator's style reward is added
    on the VecEnv side (`wildrobot_gym.amp.AMPRewardVecEnvWrapper`, which sees (s, s') feature pairs
    of the whole batch), with seed 002's schedule weight times the AMP ramp. ``style_fn`` remains for a
    per-env style reward computed from ``info``.

`ContactCurriculum` (Phase 2; optional in Phase 3): a pure class, step count and forward velocity in, stage and
weights out.
`style_weight_at` (Phase 3): the style weight schedule start / middle / end.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import gymnasium as gym
import numpy as np

from wildrobot_gym.episode_stats import EPISODE_STAT_KEYS, EpisodeStats  # noqa: F401  (re-exported)
from wildrobot_gym.rewards import RewardComposer

class PhaseRewardWrapper(gym.Wrapper):
    """The phase's weighted reward terms and end-of-episode statistics (see the module docstring)."""

    def __init__(self, env: gym.Env, reward_weights: Mapping[str, float],
                 reward_params: Mapping[str, float] | None = None) -> None:
        super().__init__(env)
        self.composer = RewardComposer(reward_weights, reward_params)
        # The wrapper computes the reward once, itself: switch the base env's own reward off.
        base = env.unwrapped
        if hasattr(base, "reward_enabled"):
            base.reward_enabled = False
        self._t0 = time.perf_counter()
        self._reset_stats()

    # ------------------------------------------------------------------ weights
    def set_reward_weights(self, weights: Mapping[str, float]) -> None:
        """Replace some weights (a curriculum stage change); the others are kept."""
        self.composer.set_weights(weights)

    def get_reward_weights(self) -> dict[str, float]:
        return dict(self.composer.weights)

    # ------------------------------------------------------------------ gym API
    def reset(self, **kwargs):
        self._reset_stats()
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        reward, terms = self.composer(info)
        reward = 0.0 if info["sim_unstable"] else float(reward)
        terms = {k: float(v) for k, v in terms.items()}
        info["reward_terms"] = terms
        self._accumulate(info, reward, terms)
        if terminated or truncated:
            self._finish(info, success=truncated and not terminated)
        return obs, float(reward), terminated, truncated, info

    # ------------------------------------------------------------------ statistics
    def _reset_stats(self) -> None:
        base = self.env.unwrapped
        self._stats = EpisodeStats(self.composer.weights, self.action_space.shape[0], dt=base.dt,
                                   weight=base.spec_.weight)
        self._ret = 0.0

    def _accumulate(self, info: Mapping[str, Any], reward: float, terms: Mapping[str, float]) -> None:
        self._stats.add(info, reward, terms, self.composer.params)
        self._ret += reward

    def _finish(self, info: dict, success: bool) -> None:
        stats = self._stats.finish(success)
        info["episode_stats"] = stats
        info["is_success"] = success
        info["episode"] = {"r": self._ret, "l": int(stats["length"]), "t": round(time.perf_counter() - self._t0, 6)}


class StyleRewardWrapper(PhaseRewardWrapper):
    """Phase 3: task_weight * (Phase 2 reward) + style_weight * style_fn(info), clipped (module docstring)."""

    def __init__(self, env: gym.Env, reward_weights: Mapping[str, float],
                 reward_params: Mapping[str, float] | None = None, task_weight: float = 1.0,
                 style_weight: float = 0.1, style_reward_clip: float = 1.0,
                 style_fn: Callable[[Mapping[str, Any]], float] | None = None) -> None:
        super().__init__(env, reward_weights, reward_params)
        self.task_weight = float(task_weight)
        self.style_weight = float(style_weight)
        self.style_reward_clip = float(style_reward_clip)
        self.style_fn = style_fn

    def set_style_weight(self, weight: float) -> None:
        """The schedule's current style weight (pushed by the training callback)."""
        self.style_weight = float(weight)

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        task, terms = self.composer(info)
        task = float(task)
        style = 0.0
        if self.style_fn is not None:
            style = min(max(float(self.style_fn(info)), 0.0), self.style_reward_clip)
        terms = {k: self.task_weight * float(v) for k, v in terms.items()}
        terms["style"] = self.style_weight * style
        reward = 0.0 if info["sim_unstable"] else self.task_weight * task + terms["style"]
        info["reward_terms"] = terms
        self._accumulate(info, reward, terms)
        if terminated or truncated:
            self._finish(info, success=truncated and not terminated)
        return obs, float(reward), terminated, truncated, info


def style_weight_at(progress: float, weights: Sequence[float], boundaries: Sequence[float]) -> float:
    """Phase 3 style weight: weights[0] before boundaries[0] (start), weights[1] until boundaries[1]
    (middle), weights[2] after (end); progress is the fraction of training done, in [0, 1]."""
    if progress < boundaries[0]:
        return float(weights[0])
    if progress < boundaries[1]:
        return float(weights[1])
    return float(weights[2])


# ---------------------------------------------------------------------------- Phase 2 (and 3) curriculum
@dataclass(frozen=True)
class CurriculumStage:
    name: str
    start_step: int
    weights: Mapping[str, float]


@dataclass(frozen=True)
class CurriculumState:
    level: int                  # 0: the base weights (Phase 1E's), k >= 1: stages[k - 1]
    stage: str                  # the level's name
    scale: float                # 1.0, or degrade_scale while degrading
    weights: dict[str, float]   # the contact weights to push into the envs
    event: str                  # "", "advance", "halve", "restore" or "revert"


class ContactCurriculum:
    """Phase 2's contact-weight curriculum (seed 002): pure, step count and velocity in, weights out. A Phase 3
    config may use it too, as a schedule of any reward weights (configs/phase3.yaml).

    Levels: 0 is the base (Phase 1E: contact weights of ``base_weights``, normally 0), then the stages
    (2A, 2B, 2C) in order. Training starts at level 1. At each `update(step, velocity)`, where velocity is
    the recent mean forward velocity (m/s):

    * velocity < fail_velocity (0.2): revert to the previous level's full weights;
    * else velocity < degrade_velocity (0.4): halve the current level's contact weights (scale 0.5);
    * else velocity > advance_velocity (0.5): advance one level if the step count has reached the next
      stage's start_step, otherwise restore full weights if they were halved;
    * otherwise hold.

    A change is allowed only cooldown_steps after the previous one (the start of 2A at step 0 counts),
    so the policy can adapt before it is judged again. ``velocity=None`` (no finished episode yet) holds.
    """

    def __init__(self, stages: Sequence[CurriculumStage], base_weights: Mapping[str, float],
                 advance_velocity: float = 0.5, degrade_velocity: float = 0.4, degrade_scale: float = 0.5,
                 fail_velocity: float = 0.2, cooldown_steps: int = 0) -> None:
        if not stages:
            raise ValueError("stages: expected at least one stage")
        if not fail_velocity <= degrade_velocity <= advance_velocity:
            raise ValueError("expected fail_velocity <= degrade_velocity <= advance_velocity")
        self.stages = list(stages)
        keys = sorted({k for s in self.stages for k in s.weights})
        self.base = {k: float(base_weights.get(k, 0.0)) for k in keys}
        self.advance_velocity = advance_velocity
        self.degrade_velocity = degrade_velocity
        self.degrade_scale = degrade_scale
        self.fail_velocity = fail_velocity
        self.cooldown_steps = int(cooldown_steps)
        self.level = 1
        self.scale = 1.0
        self.last_change_step: int | None = 0  # 2A starts at step 0: the first cooldown runs from there

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "ContactCurriculum":
        """Build from a validated Phase 2 or 3 config (its ``curriculum`` and ``reward_weights``)."""
        cur = cfg["curriculum"]
        stages = [CurriculumStage(s["name"], int(s["start_step"]), dict(s["weights"])) for s in cur["stages"]]
        return cls(stages, cfg["reward_weights"], cur["advance_velocity"], cur["degrade_velocity"],
                   cur["degrade_scale"], cur["fail_velocity"], cur["cooldown_steps"])

    def _level_weights(self, level: int) -> dict[str, float]:
        if level == 0:
            return dict(self.base)
        w = self.stages[level - 1].weights
        return {k: float(w.get(k, self.base[k])) for k in self.base}

    def state(self, event: str = "") -> CurriculumState:
        w = {k: v * self.scale for k, v in self._level_weights(self.level).items()}
        name = "base" if self.level == 0 else self.stages[self.level - 1].name
        return CurriculumState(self.level, name, self.scale, w, event)

    def scheduled_level(self, step: int) -> int:
        """The highest level the step count allows."""
        return sum(1 for s in self.stages if step >= s.start_step)

    def update(self, step: int, velocity: float | None) -> CurriculumState:
        """Apply the rules above once; returns the (possibly unchanged) state and what happened."""
        if velocity is None or (self.last_change_step is not None
                                and step - self.last_change_step < self.cooldown_steps):
            return self.state()
        event = ""
        if velocity < self.fail_velocity:
            if self.level > 0:
                self.level -= 1
                self.scale = 1.0
                event = "revert"
        elif velocity < self.degrade_velocity:
            if self.scale == 1.0 and self.level > 0:
                self.scale = self.degrade_scale
                event = "halve"
        elif velocity > self.advance_velocity:
            if self.level < self.scheduled_level(step):
                self.level += 1
                self.scale = 1.0
                event = "advance"
            elif self.scale != 1.0:
                self.scale = 1.0
                event = "restore"
        if event:
            self.last_change_step = step
        return self.state(event)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint stores to resume the curriculum."""
        return {"level": self.level, "scale": self.scale, "last_change_step": self.last_change_step}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.level = int(d["level"])
        self.scale = float(d["scale"])
        self.last_change_step = d.get("last_change_step")


# ---------------------------------------------------------------------------- construction
def make_phase_env(cfg: Mapping[str, Any], render_mode: str | None = None,
                   style_fn: Callable[[Mapping[str, Any]], float] | None = None) -> gym.Env:
    """The base env with the config's ``env`` arguments, wrapped in the phase's reward wrapper."""
    from wildrobot_gym.env import WildRobotWalkEnv

    weights, params = dict(cfg["reward_weights"]), dict(cfg.get("reward_params") or {})
    env_kwargs = dict(cfg.get("env") or {})
    # The base env gets the phase's weights too (validation); its composer is then switched off.
    env = WildRobotWalkEnv(render_mode=render_mode, reward_weights=weights, reward_params=params, **env_kwargs)
    if str(cfg.get("phase")) == "3":
        amp = cfg["amp"]
        return StyleRewardWrapper(env, weights, params, task_weight=amp["task_weight"],
                                  style_weight=amp["style_weights"][0],
                                  style_reward_clip=amp["style_reward_clip"], style_fn=style_fn)
    return PhaseRewardWrapper(env, weights, params)


def episode_stats_mean(stats: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each key over a list of ``info["episode_stats"]`` dicts (keys missing in some: skipped there)."""
    keys: dict[str, list[float]] = {}
    for s in stats:
        for k, v in s.items():
            keys.setdefault(k, []).append(v)
    return {k: float(np.mean(v)) for k, v in keys.items()}
