"""`JointHistory`: the last few control steps' joint angles, for the `symmetry` reward term.

A symmetric walk repeats itself mirrored every half gait cycle: the joints now equal the mirrored joints
of half a cycle ago, q(t) = mirror(q(t - T/2)) (`wildrobot_gym.robot.mirror_joints`). The env reads the
joints of half a cycle ago here (``info["joint_pos_half_cycle"]``, interpolated between the two nearest
control steps, since T/2 is rarely a whole number of steps) and the `symmetry` term compares them.

One definition for the single env (no leading axis) and the batched env (a leading env axis, ``index``
selecting rows as `wildrobot_gym.metrics.MetricsTracker` does). Every env of a batch pushes at every step,
so one write position serves them all; a new episode fills its rows with its first joints, so the first
half cycle compares the robot with its start pose, not with the previous episode.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


class JointHistory:
    """A ring buffer of `capacity` joint vectors (of `n_joints`), per env when `batch` is given."""

    def __init__(self, capacity: int, n_joints: int, batch: int | None = None) -> None:
        if int(capacity) < 2:
            raise ValueError(f"JointHistory: capacity must be >= 2 steps, got {capacity!r}")
        lead = () if batch is None else (int(batch),)
        self.capacity = int(capacity)
        self.buffer = np.zeros(lead + (self.capacity, int(n_joints)))
        self.head = 0  # the slot of the newest entry

    @staticmethod
    def capacity_for(min_frequency: float, dt: float) -> int:
        """Slots enough for half a cycle of the slowest clock (Hz) at control step `dt` (s), plus the
        interpolation's second step."""
        return int(math.ceil(0.5 / (float(min_frequency) * float(dt)))) + 2

    def reset(self, joints: np.ndarray, index: Any = ...) -> None:
        """New episodes for envs `index` (``...``: all; the single env: its one history): every slot = `joints`."""
        self.buffer[index] = np.asarray(joints, dtype=np.float64)[..., None, :]

    def push(self, joints: np.ndarray) -> None:
        """The joints after this control step (every env's, for a batch)."""
        self.head = (self.head + 1) % self.capacity
        self.buffer[..., self.head, :] = joints

    def lagged(self, lag_steps: Any, index: Any = ...) -> np.ndarray:
        """The joints `lag_steps` control steps ago (a float, or one per env of `index`), linearly
        interpolated; lags are clipped to what the buffer holds."""
        lag = np.clip(np.asarray(lag_steps, dtype=np.float64), 0.0, self.capacity - 1.0 - 1e-9)
        whole = np.floor(lag)
        frac = (lag - whole)[..., None]
        newer = (self.head - whole.astype(np.int64)) % self.capacity
        older = (newer - 1) % self.capacity
        buf = self.buffer[index]
        if buf.ndim == 2:  # one env
            return (1.0 - frac) * buf[newer] + frac * buf[older]
        rows = np.arange(buf.shape[0])
        return (1.0 - frac) * buf[rows, newer] + frac * buf[rows, older]
