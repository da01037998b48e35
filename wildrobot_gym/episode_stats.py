"""End-of-episode statistics: running sums per env, one definition for the single and the batched env.

`EpisodeStats` keeps the sums of one env (``n_envs=None``: every sum a number) or of a batch (``(N,)``
arrays, fed infos with a leading env axis); `PhaseRewardWrapper` and `wildrobot_gym.batch_env` both
use it, so ``info["episode_stats"]`` means the same whichever env produced it. Keys: `EPISODE_STAT_KEYS`,
``terms/<name>``, the per-step mean of every weighted reward term, and ``gait/<name>``, the gait figures
of `wildrobot_gym.gait_metrics` (`GAIT_KEYS`: support phases, debounced cadence, step length, peak foot
force, cost of transport, yaw rate, straight-line speed), kept by its `GaitAccumulator`.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from wildrobot_gym.gait_metrics import GaitAccumulator
from wildrobot_gym.rewards import foot_contact

#: Per-episode statistics in ``info["episode_stats"]`` (besides ``terms/<name>``).
EPISODE_STAT_KEYS: tuple[str, ...] = (
    "length",                  # control steps
    "return",                  # sum of the phase reward
    "success",                 # 1.0 if the episode ended by the time limit, 0.0 on a fall
    "forward_velocity",        # mean forward velocity, m/s
    "command",                 # mean commanded forward velocity, m/s
    "velocity_error",          # |forward_velocity - command| of the episode means, m/s (the robustness suite's)
    "lateral_speed",           # mean |lateral velocity|, m/s
    "foot_sliding_speed",      # mean slip speed of loaded feet (per foot-step in contact), m/s
    "proper_contact_fraction", # fraction of steps whose contact pattern matches the clock (foot_contact == 1)
    "air_time",                # mean swing duration over touchdowns, s (0 if no touchdown)
    "touchdowns",              # number of touchdowns
    "torque_saturation_pct",   # % of actuator-steps at the torque limit
)

_SUMS = ("n", "ret", "vx", "cmd", "vy", "slip", "loaded", "proper", "air", "td", "sat")


class EpisodeStats:
    """Running sums of the current episode of one env or of each env of a batch."""

    def __init__(self, term_names: Iterable[str], num_actuators: int, n_envs: int | None = None,
                 dt: float | None = None, weight: float | None = None) -> None:
        """`dt`, `weight` (m g, N): the gait figures' control step and weight; default the nominal robot's
        (`wildrobot_gym.gait_metrics.nominal_robot`: 20 ms, the packaged model's mass)."""
        self.shape = () if n_envs is None else (int(n_envs),)
        self.num_actuators = int(num_actuators)
        self.sums = {k: np.zeros(self.shape) for k in _SUMS}
        self.terms = {k: np.zeros(self.shape) for k in term_names}
        self.gait = GaitAccumulator(n_envs, dt, weight)

    def reset(self, index: Any = ...) -> None:
        """Start new episodes for the envs `index` (``...``: all)."""
        for acc in (*self.sums.values(), *self.terms.values()):
            acc[index] = 0.0
        self.gait.reset(index)

    def add(self, info: Mapping[str, Any], reward: Any, terms: Mapping[str, Any], params: Mapping[str, float]) -> None:
        """One step of every env: its info (the per-step metrics), phase reward and weighted terms."""
        s = self.sums
        contact = info["foot_contact"]
        td = info["foot_touchdown"]
        s["n"] += 1
        s["ret"] += reward
        s["vx"] += info["forward_velocity"]
        s["cmd"] += info["command"]
        s["vy"] += np.abs(info["lateral_velocity"])
        s["slip"] += np.einsum("...i,...i->...", info["foot_slip_speed"], contact)
        s["loaded"] += contact.sum(axis=-1)
        s["proper"] += foot_contact(info, params) == 1.0
        s["air"] += np.einsum("...i,...i->...", info["foot_last_air_time"], td)
        s["td"] += td.sum(axis=-1)
        s["sat"] += info["torque_saturated"].sum(axis=-1)
        self.gait.add(info)
        for k, v in terms.items():
            if k not in self.terms:
                self.terms[k] = np.zeros(self.shape)
            self.terms[k] += v

    def finish(self, success: bool, index: Any = ...) -> dict[str, float]:
        """The statistics of the episode of env `index` (``...`` for a single env), as Python floats."""
        s = {k: float(v[index]) for k, v in self.sums.items()}
        n = max(s["n"], 1.0)
        stats = {
            "length": s["n"],
            "return": s["ret"],
            "success": float(success),
            "forward_velocity": s["vx"] / n,
            "command": s["cmd"] / n,
            "velocity_error": abs(s["vx"] - s["cmd"]) / n,
            "lateral_speed": s["vy"] / n,
            "foot_sliding_speed": s["slip"] / max(s["loaded"], 1.0),
            "proper_contact_fraction": s["proper"] / n,
            "air_time": s["air"] / max(s["td"], 1.0),
            "touchdowns": s["td"],
            "torque_saturation_pct": 100.0 * s["sat"] / (n * self.num_actuators),
        }
        for k, v in self.terms.items():
            stats[f"terms/{k}"] = float(v[index]) / n
        for k, v in self.gait.finish(index).items():
            stats[f"gait/{k}"] = v
        return stats
