"""Schedules of an AMP run: the AMP weight ramp, the feature reintroduction, and the global step clock
that drives them (and PPO's own schedules, `GlobalProgressSchedule`)."""
from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from wildrobot_gym.amp.config import FeaturesConfig, FeatureStageConfig, RampConfig
from wildrobot_gym.amp_features import LAYOUT, FeatureLayout


class AMPWeightRamp:
    """AMP weight: `initial` until `ramp_start`, then linear to `final` over ramp_end - ramp_start
    steps of *open gate*. The steps between two updates count only if the gate is open at the second
    (``gate: auc``: AUC in [auc_min, auc_max] and max |logit| < max_abs_logit, both from the config); a
    closed gate holds the weight (it never decreases). ``gate: always`` keeps the gate open whatever the
    discriminator does: the ramp then follows the steps only. With the gate open all along this is the
    seed's 5K -> 50K ramp."""

    def __init__(self, cfg: RampConfig = RampConfig()) -> None:
        self.cfg = cfg
        self.progress = 0.0  # open-gate steps since ramp_start
        self.last_step = 0
        self.gate_open = False

    def gate(self, auc: float, max_abs_logit: float) -> bool:
        c = self.cfg
        if c.gate == "always":
            return True
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
