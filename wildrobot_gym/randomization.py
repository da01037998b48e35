"""Domain randomisation of the batched env (`wildrobot_gym.batch_env`): per env, per episode.

The ``randomization:`` section of a phase config (`wildrobot_gym.config.randomization`) gives the
ranges; at each episode start env i draws, from its own generator, uniformly in each range:

==========================  ===============================================================================
friction                    sliding friction of every geom (floor and pads alike: MuJoCo takes the max)
link_mass_scale             each link's mass and inertia x s (one s per link)
torso_mass_offset           + m kg on the torso (its inertia scaled with it)
torso_com_offset            torso centre of mass moved by U(-x, x) m per axis
servo_kp_scale              servo stiffness kp x s (gain and bias of the position servo)
servo_kv_scale              servo damping kv x s
servo_torque_scale          servo torque limit x s (one s for all 8: a weaker or stronger supply)
joint_*_scale               joint damping, armature, dry friction x s (one s each)
joint_offset                encoder zero offset o_j in U(-x, x) rad: the servo reads q + o, so it holds
                            q = target - o, and the observation sees q + o
action_latency_steps        k: servo targets applied k control steps late (the policy's own previous
                            action in the observation is not delayed: the robot knows what it sent)
imu_latency_steps           k: up vector, gyro (and the heading, if observed) in the observation k control
                            steps old
start_velocity              root linear velocity U(-x, x) m/s per axis at the start
==========================  ===============================================================================

and during the episode: Gaussian noise on every measured observation entry (``observation_noise``:
std of up vector, gyro, joint positions and velocities, heading; the privileged entries the critic reads stay
exact), and pushes: every ``pushes.interval_s`` s (drawn anew after each) the root's horizontal
velocity changes by a kick of ``pushes.velocity`` m/s in a random direction (``direction: lateral``:
to the robot's left or right). Rewards, terminations
and metrics always see the true state.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import mujoco
import mujoco.batch
import numpy as np

from wildrobot_gym.robot import NUM_JOINTS, RobotSpec

_HISTORY = 6  # control steps of action / IMU history kept (the config allows latencies up to 5)


def _yaw(quat_wxyz: np.ndarray) -> float:
    w, x, y, z = quat_wxyz
    return float(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))


class DomainRandomizer:
    """Draws and applies `cfg` (a validated ``randomization`` section) to the simulations of `sim`."""

    def __init__(self, cfg: Mapping[str, Any], sim: mujoco.batch.Batch, model: mujoco.MjModel, spec: RobotSpec,
                 control_dt: float, seed: int | None = None, heading_column: int | None = None) -> None:
        """`heading_column`: the observation's heading_error column (None: not observed)."""
        self.cfg, self.sim, self.dt = cfg, sim, float(control_dt)
        self.heading_column = heading_column
        n = sim.nsim
        self._dofs = spec.joint_dof_adr
        self._torso = spec.root_body
        # Nominal values, read once from the model.
        self._friction0 = model.geom_friction[:, 0].copy()
        self._mass0, self._inertia0 = model.body_mass.copy(), model.body_inertia.copy()
        self._ipos0 = model.body_ipos[spec.root_body].copy()
        self._kp0, self._kv0 = model.actuator_gainprm[:, 0].copy(), -model.actuator_biasprm[:, 2].copy()
        self._force0 = model.actuator_forcerange.copy()
        self._damping0 = model.dof_damping[self._dofs].copy()
        self._armature0 = model.dof_armature[self._dofs].copy()
        self._frictionloss0 = model.dof_frictionloss[self._dofs].copy()
        # Per-simulation model fields (live views: a write applies from the next step).
        self._fields = {name: sim.expand(name) for name in (
            "geom_friction", "body_mass", "body_inertia", "body_ipos", "actuator_gainprm", "actuator_biasprm",
            "actuator_forcerange", "dof_damping", "dof_armature", "dof_frictionloss")}
        # Per-env episode draws and histories.
        self.action_latency = np.zeros(n, dtype=np.int64)
        self.imu_latency = np.zeros(n, dtype=np.int64)
        self.joint_offset = np.zeros((n, NUM_JOINTS))
        self.next_push = np.zeros(n, dtype=np.int64)
        self._actions = np.zeros((n, _HISTORY, NUM_JOINTS))  # [:, 0] the newest
        self._imu = np.zeros((n, _HISTORY, 6 if heading_column is None else 7))
        self._noise_rng = np.random.default_rng(seed)
        noise = cfg["observation_noise"]
        self._noise_std = np.concatenate([np.full(3, noise["up_vector"]), np.full(3, noise["gyro"]),
                                          np.full(NUM_JOINTS, noise["joint_pos"]),
                                          np.full(NUM_JOINTS, noise["joint_vel"])])
        self._heading_std = float(noise.get("heading", 0.0))

    # ------------------------------------------------------------------ episode start
    def episode_start(self, ids: Sequence[int], rngs: Sequence[np.random.Generator], qvel: np.ndarray) -> None:
        """Draw env ids' parameters (each env from its generator) and write them; call after the reset
        and before the forward pass of those envs. Sets their start velocity in `qvel` (the bound array)."""
        c, f = self.cfg, self._fields
        for i in ids:
            rng = rngs[i]
            u = lambda r, size=None: rng.uniform(r[0], r[1], size)  # noqa: E731
            f["geom_friction"][i, :, 0] = u(c["friction"])
            scale = u(c["link_mass_scale"], len(self._mass0))
            scale[self._torso] *= 1.0 + u(c["torso_mass_offset"]) / self._mass0[self._torso]
            f["body_mass"][i] = self._mass0 * scale
            f["body_inertia"][i] = self._inertia0 * scale[:, None]
            f["body_ipos"][i, self._torso] = self._ipos0 + rng.uniform(-1, 1, 3) * c["torso_com_offset"]
            kp, kv = self._kp0 * u(c["servo_kp_scale"]), self._kv0 * u(c["servo_kv_scale"])
            f["actuator_gainprm"][i, :, 0] = kp
            f["actuator_biasprm"][i, :, 1] = -kp
            f["actuator_biasprm"][i, :, 2] = -kv
            f["actuator_forcerange"][i] = self._force0 * u(c["servo_torque_scale"])
            f["dof_damping"][i, self._dofs] = self._damping0 * u(c["joint_damping_scale"])
            f["dof_armature"][i, self._dofs] = self._armature0 * u(c["joint_armature_scale"])
            f["dof_frictionloss"][i, self._dofs] = self._frictionloss0 * u(c["joint_frictionloss_scale"])
            self.joint_offset[i] = rng.uniform(-1, 1, NUM_JOINTS) * c["joint_offset"]
            self.action_latency[i] = rng.integers(c["action_latency_steps"][0], c["action_latency_steps"][1] + 1)
            self.imu_latency[i] = rng.integers(c["imu_latency_steps"][0], c["imu_latency_steps"][1] + 1)
            self.next_push[i] = self._push_interval(rng)
            qvel[i, 0:3] = rng.uniform(-1, 1, 3) * c["start_velocity"]
        self.sim.set_const(ids)  # masses, inertias and armature feed the model's derived constants
        self._actions[ids] = 0.0
        self._imu[ids] = np.nan  # filled from the first observation (restart=True)

    def _push_interval(self, rng: np.random.Generator) -> int:
        lo, hi = self.cfg["pushes"]["interval_s"]
        return max(1, int(round(rng.uniform(lo, hi) / self.dt)))

    # ------------------------------------------------------------------ every step
    def delayed_actions(self, actions: np.ndarray) -> np.ndarray:
        """The actions the servos receive this step: each env's `action_latency` steps old."""
        self._actions = np.roll(self._actions, 1, axis=1)
        self._actions[:, 0] = actions
        return self._actions[np.arange(len(actions)), self.action_latency]

    def servo_targets(self, targets: np.ndarray) -> np.ndarray:
        """Targets in the servo's own (offset) encoder frame: it then holds q = target - offset."""
        return targets - self.joint_offset

    def push(self, steps: np.ndarray, qvel: np.ndarray, rngs: Sequence[np.random.Generator],
             qpos_quat: np.ndarray | None = None) -> np.ndarray:
        """Kick the envs whose push is due (their root's horizontal velocity, in the bound `qvel`); returns their ids."""
        due = np.flatnonzero(steps >= self.next_push)
        lo, hi = self.cfg["pushes"]["velocity"]
        lateral = self.cfg["pushes"].get("direction", "any") == "lateral"
        for i in due:
            rng = rngs[i]
            speed, angle = rng.uniform(lo, hi), rng.uniform(0.0, 2.0 * np.pi)
            if lateral:  # left or right of the robot's heading (yaw of its root)
                yaw = _yaw(qpos_quat[i]) if qpos_quat is not None else 0.0
                angle = yaw + (0.5 * np.pi if rng.random() < 0.5 else -0.5 * np.pi)
            qvel[i, 0] += speed * np.cos(angle)
            qvel[i, 1] += speed * np.sin(angle)
            self.next_push[i] = steps[i] + self._push_interval(rng)
        return due

    def observe(self, obs: np.ndarray, rows: Any, restart: bool) -> None:
        """Turn true measured entries (obs[:, 0:22]: up vector, gyro, joint positions and velocities) of
        envs `rows` into what the robot reads: IMU latency, encoder offsets, noise; the heading too, if observed."""
        h = self.heading_column
        imu = obs[:, 0:6].copy() if h is None else np.concatenate([obs[:, 0:6], obs[:, h:h + 1]], axis=1)
        hist = self._imu[rows]
        hist = np.roll(hist, 1, axis=1)
        hist[:, 0] = imu
        if restart:  # no older reading yet: the first one stands for the past
            hist[:] = imu[:, None, :]
        self._imu[rows] = hist
        delayed = hist[np.arange(len(hist)), self.imu_latency[rows]]
        obs[:, 0:6] = delayed[:, 0:6]
        obs[:, 6:14] += self.joint_offset[rows]
        obs[:, 0:22] += self._noise_rng.standard_normal((len(obs), 22)) * self._noise_std
        if h is not None:
            obs[:, h] = delayed[:, 6] + self._noise_rng.standard_normal(len(obs)) * self._heading_std
