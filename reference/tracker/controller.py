"""The learned tracker inside reference generation (`reference.rollout.rollout` with
``generation.tracker: learned``): servo targets = reference joints + the policy's deterministic residual.

`TrackerController` follows one timeline through rollout's loop and sees what `TrackingEnv` shows the
policy in training: the same observation (`ObservationWriter`), the same reference features
(`ReferenceTrack`, built with the policy's own config), the same anchor (set at every (re)start, moved
every ``env.reanchor_interval`` frames after it) and the previous action (0 after a restart).
Per control step: one observation write and one numpy MLP forward (tens of microseconds).
"""
from __future__ import annotations

import mujoco
import numpy as np

from reference.rollout import Timeline
from reference.tracker.observation import ObservationWriter, robot_yaw
from reference.tracker.policy import TrackerPolicy
from reference.tracker.reference_track import Anchor, ReferenceTrack
from wildrobot_gym.robot import NUM_JOINTS, RobotSpec


class TrackerController:
    """A `TrackerPolicy` driving the servos along `timeline` (module docstring)."""

    def __init__(self, policy: TrackerPolicy, model: mujoco.MjModel, spec: RobotSpec, timeline: Timeline) -> None:
        env_cfg = policy.config["env"]
        self.policy, self.spec = policy, spec
        self.track = ReferenceTrack.from_timeline(model, spec, timeline, **ReferenceTrack.options(env_cfg))
        self.writer = ObservationWriter(spec, env_cfg)
        self.obs = np.zeros(self.writer.dim, dtype=np.float32)  # float32, as the training envs hand it out
        self.anchor = Anchor()
        self.action = np.zeros(NUM_JOINTS)
        self.reanchor = int(env_cfg["reanchor_interval"])
        self.scale = policy.residual_scale
        self.lo, self.hi = model.actuator_ctrlrange[:, 0].copy(), model.actuator_ctrlrange[:, 1].copy()
        self.start = 0

    def _set_anchor(self, data: mujoco.MjData, t: int) -> None:
        self.anchor.set(self.track.pos_xy[t], self.track.yaw[t], data.qpos,
                        robot_yaw(data.xmat[self.spec.root_body]))

    def restart(self, data: mujoco.MjData, t: int) -> None:
        """The physics was (re)started in the reference state of frame `t` (after mj_forward)."""
        self.start = t
        self.action = np.zeros(NUM_JOINTS)
        self._set_anchor(data, t)

    def targets(self, data: mujoco.MjData, t: int) -> np.ndarray:
        """Servo targets for frame `t`, from the state of frame t - 1 (clipped to ctrlrange)."""
        s = t - 1
        if self.reanchor and s != self.start and (s - self.start) % self.reanchor == 0:
            self._set_anchor(data, s)
        self.writer.write(self.obs, data.xmat[self.spec.root_body], data.sensordata, data.qpos, data.qvel,
                          self.action, self.track, s, self.anchor)
        self.action = self.policy.act(self.obs)
        return np.minimum(np.maximum(self.track.joints[t] + self.scale * self.action, self.lo), self.hi)
