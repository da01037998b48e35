"""A balance assist that fades out: a curriculum for training (and adapting) the tracker on clips it falls on.

A tracker trained on the gait library falls in ~90 % of its episodes on stiff, slow retargeted-like clips
(docs/results/tracker.md, "One run"), so PPO sees little but falls there. The assist is generation's harness in
its stabilizer mode (reference/rollout/harness.py), applied during training only: a torque on the waist

    tau_body = clip(s K_p (att_ref - att) - s K_d omega, +-cap)      on roll and pitch (yaw free), rotated to the world

with att the waist's (roll, pitch), att_ref the reference frame's, omega the waist's body-frame angular velocity
and s in [0, 1] the schedule's scale: 1 at the start of the run, falling linearly to 0 at ``env.assist_steps`` env
steps, 0 after (`assist_scale`; `AssistSchedule` sets it on the envs once per rollout). The tracker is never run
with it: generation has no assist, and the run's last ``total - assist_steps`` steps train without it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from wildrobot_gym.metrics import attitude_array


def assist_scale(num_timesteps: int, assist_steps: int) -> float:
    """The assist's scale after `num_timesteps` env steps of a run that fades it out over `assist_steps` (0: none)."""
    if assist_steps <= 0:
        return 0.0
    return float(max(0.0, 1.0 - num_timesteps / assist_steps))


def assist_torque(xmat: np.ndarray, ang_vel_body: np.ndarray, ref_roll_pitch: np.ndarray, kp: float, kd: float,
                  cap: float, scale: float) -> np.ndarray:
    """World-frame torque(s) on the waist (module docstring): xmat (..., 9) the waist's rotation, ang_vel_body (..., 3)
    rad/s, ref_roll_pitch (..., 2) rad; kp N m/rad, kd N m s/rad, cap N m per axis. Returns (..., 3)."""
    roll, pitch, _ = attitude_array(xmat)
    tb = np.zeros(np.shape(ang_vel_body))
    tb[..., 0] = scale * (kp * (ref_roll_pitch[..., 0] - roll) - kd * ang_vel_body[..., 0])
    tb[..., 1] = scale * (kp * (ref_roll_pitch[..., 1] - pitch) - kd * ang_vel_body[..., 1])
    tb = np.clip(tb, -cap, cap)
    rot = np.reshape(xmat, (*np.shape(xmat)[:-1], 3, 3))
    return np.einsum("...ij,...j->...i", rot, tb)


class AssistSchedule(BaseCallback):
    """Sets ``assist_scale`` on the training envs at each rollout's start (`assist_scale` of the run's step count)."""

    def __init__(self, assist_steps: int) -> None:
        super().__init__()
        self.assist_steps = int(assist_steps)
        self.scale = float("nan")

    def _on_rollout_start(self) -> None:
        scale = assist_scale(self.model.num_timesteps, self.assist_steps)
        if scale != self.scale:
            self.training_env.set_attr("assist_scale", scale)
            self.scale = scale
        self.logger.record("tracker/assist_scale", scale)

    def _on_step(self) -> bool:
        return True


def wants_assist(env_cfg: Any) -> bool:
    """Whether a tracker config's env section switches the assist on."""
    return int(env_cfg.get("assist_steps", 0)) > 0 and float(env_cfg.get("assist_cap", 0.0)) > 0
