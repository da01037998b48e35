"""`BatchedWalkVecEnv`: N WildRobot envs of one phase config, stepped in this process on MuJoCo's batch API.

The physics of all N simulations is advanced by `mujoco.batch.Batch` on a pool of C threads (the GIL
released), and the env's per-step Python work is done once for the whole batch, in numpy: servo
targets, observations (`WildRobotWalkEnv.write_observation`, OBS_LAYOUT), the per-step metrics
(`MetricsTracker.compute_arrays`), the phase reward (`RewardComposer`, the terms of
`wildrobot_gym.rewards`), terminations, episode statistics (`EpisodeStats`) and auto-resets. Each of
those is the single env's own definition called with a leading env axis, so env i of the batch steps
exactly as `WildRobotWalkEnv` wrapped in `PhaseRewardWrapper` would from the same seed and actions
(`tests/test_batch_env.py`).

Semantics follow SB3's VecEnvs: auto-reset on done, the last observation of an episode in
``info["terminal_observation"]``, ``TimeLimit.truncated`` when it was truncated, seeds and options
(``{"command": c}``) applied at the next `reset()`. The per-step infos are empty but at an episode's
end, which gets what the subprocess VecEnv sends back (`wildrobot_gym.vec_env.KEEP_INFO_KEYS`):
``episode`` (SB3's Monitor format), ``episode_stats``, ``is_success`` and ``fall_reason``. The whole
batch's per-step metrics of the latest step (arrays with a leading env axis, taken before auto-resets)
are ``last_step_info``, for diagnostics such as `training/contact_timing.py`.

Domain randomisation (the config's ``randomization`` section, when enabled): `DomainRandomizer` draws
each env's physical and sensing parameters at its episode start and applies latency, noise and pushes
during the episode (`wildrobot_gym.randomization`).

``env_method`` / ``get_attr`` / ``set_attr`` reach the batch itself (every env shares its settings):
``env_method("set_reward_weights", w)`` is the Phase 2 curriculum's call. Per-env model parameters
(domain randomisation) go through `model_field`, `mujoco.batch.Batch.expand`'s per-simulation values.

Phase 3: the reward is `StyleRewardWrapper`'s (task_weight x the Phase 2 reward; the discriminator's
style term is added above, on the VecEnv side), and with ``amp_features=(lin_vel_mode, lin_vel_clip[,
history_frames])`` every observation carries the AMP features after the policy's columns, as
`AMPFeatureObservation` does per env: ``[obs | Phi_t ... Phi_{t-H+1}]`` (H = history_frames, default 1;
the same `push_frame`), ``policy_obs_dim`` the split point, computed for the whole batch by
`wildrobot_gym.amp_features.compute_features`.
"""
from __future__ import annotations

import os
import time
from typing import Any, Mapping, Sequence

import mujoco
import mujoco.batch
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from wildrobot_gym.amp_features import LAYOUT, compute_features, push_frame
from wildrobot_gym.env import WildRobotWalkEnv
from wildrobot_gym.episode_stats import EpisodeStats
from wildrobot_gym.joint_history import JointHistory
from wildrobot_gym.metrics import FALL_REASONS, MetricsTracker, trouble_warnings
from wildrobot_gym.randomization import DomainRandomizer
from wildrobot_gym.rewards import RewardComposer
from wildrobot_gym.robot import NUM_JOINTS

_NO_STAGE = int(mujoco.mjtStage.mjSTAGE_NONE)


class WholeBatchVecEnv(VecEnv):
    """What the in-process batched VecEnvs share: the batch is one object, so ``get_attr`` / ``set_attr`` /
    ``env_method`` reach it (every env shares its settings), no env is wrapped, nothing renders, and
    ``close`` closes the template env ``self.base``."""

    def close(self) -> None:
        self.base.close()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        result = getattr(self, method_name)(*method_args, **method_kwargs)
        return [result] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _end_info(self, i: int, truncated: bool, fall_reason: str, stats: dict, ret: float, length: int,
                  t: float) -> dict:
        """Env i's info at its episode's end: what the subprocess VecEnv sends back (SB3's Monitor
        ``episode``, ``terminal_observation``, ``TimeLimit.truncated``), success = not terminated."""
        return {"terminal_observation": self._obs[i].copy(), "TimeLimit.truncated": truncated,
                "episode_stats": stats, "is_success": truncated, "fall_reason": fall_reason,
                "episode": {"r": ret, "l": length, "t": t}}

    def _seed_rngs(self) -> None:
        """Each env's generator ``self._rngs[i]``: new from the seed `seed()` set for the next reset (as
        DummyVecEnv seeds its envs), else kept (created once, unseeded)."""
        for i in range(self.num_envs):
            if self._seeds[i] is not None or self._rngs[i] is None:
                self._rngs[i], _ = seeding.np_random(self._seeds[i])

    def _indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)


class BatchedWalkVecEnv(WholeBatchVecEnv):
    """`n_envs` phase envs of `cfg` (a validated phase config, Phase 1E or 2) on `n_threads` threads.

    :param cfg: the phase config (its ``env``, ``reward_weights`` and ``reward_params``)
    :param n_envs: number of simulations
    :param n_threads: physics threads (0: one per CPU core)
    :param amp_features: (lin_vel_mode, lin_vel_clip[, history_frames]): append the AMP features (the last
        history_frames frames, newest first) to the observations
    :param randomize: apply the config's ``randomization`` section when it is enabled
        (`wildrobot_gym.randomization`); False: the nominal robot
    """

    def __init__(self, cfg: Mapping[str, Any], n_envs: int, n_threads: int = 0,
                 amp_features: tuple[str, float] | tuple[str, float, int] | None = None, randomize: bool = True) -> None:
        if int(n_envs) < 1:
            raise ValueError(f"n_envs: expected a positive integer, got {n_envs!r}")
        weights, params = dict(cfg["reward_weights"]), dict(cfg.get("reward_params") or {})
        # The template env: the constants and the shared step functions (its MjData is never stepped).
        self.base = base = WildRobotWalkEnv(reward_weights=weights, reward_params=params, reward_enabled=False,
                                            **dict(cfg.get("env") or {}))
        n = int(n_envs)
        self.composer = RewardComposer(weights, params)
        t = base.tracker
        self.tracker = MetricsTracker(base.model, base.spec_, base.dt, contact_threshold=t.contact_threshold,
                                      min_root_height=t.min_root_height, max_tilt=t.max_tilt,
                                      yaw_rate_filter_s=t.yaw_rate_filter_s, batch=n)
        self.stats = EpisodeStats(self.composer.weights, NUM_JOINTS, n_envs=n, dt=base.dt, weight=base.spec_.weight)
        # Phase 3: StyleRewardWrapper's task weight and (schedule-driven) style weight.
        amp = cfg.get("amp") if str(cfg.get("phase")) == "3" else None
        self.task_weight = float(amp["task_weight"]) if amp else None
        self.style_weight = float(amp["style_weights"][0]) if amp else 0.0

        self.sim = mujoco.batch.Batch(base.model, nsim=n, nthread=int(n_threads) or (os.cpu_count() or 1))
        sim = self.sim
        self._qpos, self._qvel, self._ctrl = sim.bind("qpos"), sim.bind("qvel"), sim.bind("ctrl")
        self._sensordata, self._xmat = sim.bind("sensordata"), sim.bind("xmat")
        self._site_xpos, self._torque = sim.bind("site_xpos"), sim.bind("actuator_force")
        s = base.spec_
        rand = cfg.get("randomization")
        heading = base._slices.get("heading_error")
        self.randomizer = (DomainRandomizer(rand, sim, base.model, s, base.dt, seed=cfg["training"]["seed"],
                                            heading_column=None if heading is None else heading.start)
                           if randomize and rand and rand["enabled"] else None)
        self._root, self._soles, self._joint_adr = s.root_body, s.sole_sites, s.joint_qpos_adr
        self.joint_history = JointHistory(base.joint_history.capacity, NUM_JOINTS, batch=n)
        self._range_mid = np.broadcast_to(base._range_mid, (n, NUM_JOINTS))
        self._range_half = np.broadcast_to(base._range_half, (n, NUM_JOINTS))

        self._rngs: list[np.random.Generator | None] = [None] * n
        self.command = np.zeros(n)
        self.phase = np.zeros(n)
        self.steps = np.zeros(n, dtype=np.int64)
        self.episode_return = np.zeros(n)
        self.action = np.zeros((n, NUM_JOINTS))
        self.prev_action = np.zeros((n, NUM_JOINTS))
        self.last_step_info: dict = {}
        self.policy_obs_dim = int(base.observation_space.shape[0])
        self.amp_features = amp_features
        obs_space = base.observation_space
        if amp_features is not None:
            self.history_frames = int(amp_features[2]) if len(amp_features) > 2 else 1
            if self.history_frames < 1:
                raise ValueError(f"amp_features: history_frames must be >= 1, got {amp_features[2]!r}")
            obs_space = spaces.Box(-np.inf, np.inf, (self.policy_obs_dim + self.history_frames * LAYOUT.dim,), np.float32)
            self._prev_foot_height = np.zeros((n, 2))
        self._obs = np.zeros((n, *obs_space.shape), dtype=np.float32)
        self._actions = self.action
        self._t0 = time.perf_counter()
        self.render_mode = None
        super().__init__(n, obs_space, base.action_space)

    # ------------------------------------------------------------------ settings shared by every env
    @property
    def max_episode_steps(self) -> int | None:
        return self.base.max_episode_steps

    def set_reward_weights(self, weights: Mapping[str, float]) -> None:
        """Replace some weights (a curriculum stage change); the others are kept."""
        self.composer.set_weights(weights)

    def get_reward_weights(self) -> dict[str, float]:
        return dict(self.composer.weights)

    def set_style_weight(self, weight: float) -> None:
        """Phase 3: the schedule's current style weight (as `StyleRewardWrapper.set_style_weight`)."""
        self.style_weight = float(weight)

    def model_field(self, name: str) -> np.ndarray:
        """Per-env values of an MjModel field, (n_envs, ...), live: a write applies from the next step
        (`mujoco.batch.Batch.expand`; fields that mj_setConst reads need `self.sim.set_const()`)."""
        return self.sim.expanded(name) if self.sim.expanded(name) is not None else self.sim.expand(name)

    # ------------------------------------------------------------------ VecEnv API
    def reset(self) -> np.ndarray:
        self._seed_rngs()
        self._restart(np.arange(self.num_envs), [opt.get("command") if opt else None for opt in self._options])
        self._reset_seeds()
        self._reset_options()
        return self._obs.copy()

    def step_wait(self):
        a = np.asarray(self._actions, dtype=np.float64).reshape(self.num_envs, NUM_JOINTS)
        if not np.isfinite(a).all():
            bad = np.flatnonzero(~np.isfinite(a).all(axis=1)).tolist()
            raise ValueError(f"actions: NaN or infinite values for envs {bad}")
        base = self.base
        self.prev_action = self.action
        self.action = np.minimum(np.maximum(a, -1.0), 1.0)
        dr = self.randomizer
        if dr is None:
            self._ctrl[:] = base.servo_targets(self.action)
        else:
            self._ctrl[:] = dr.servo_targets(base.servo_targets(dr.delayed_actions(self.action)))
        self.sim.step(nstep=base.frame_skip)
        self.steps += 1
        self.phase = base.advance_phase(self.phase, self.command)
        self.joint_history.push(self._qpos[:, self._joint_adr])

        info = self._metrics()
        self.last_step_info = info  # every env's per-step metrics (before auto-resets), for diagnostics
        reward, terms = self.composer(info)
        if self.task_weight is not None:  # Phase 3, as StyleRewardWrapper: the style term comes above
            terms = {k: self.task_weight * v for k, v in terms.items()}
            terms["style"] = self.style_weight * np.zeros(self.num_envs)
            reward = self.task_weight * reward + terms["style"]
        reward = np.where(info["sim_unstable"], 0.0, reward)
        self.episode_return += reward
        self.stats.add(info, reward, terms, self.composer.params)
        terminated = info["fall_code"] != 0
        limit = base.max_episode_steps
        truncated = ~terminated & (self.steps >= limit) if limit is not None else np.zeros_like(terminated)
        dones = terminated | truncated
        self._write_obs(self._obs, info, slice(None), restart=False)

        infos: list[dict] = [{} for _ in range(self.num_envs)]
        done_ids = np.flatnonzero(dones)
        for i in done_ids:
            trunc = bool(truncated[i])
            code = int(info["fall_code"][i])
            stats = self.stats.finish(trunc, i)
            infos[i] = self._end_info(i, trunc, FALL_REASONS[code - 1] if code else "", stats,
                                      float(self.episode_return[i]), int(self.steps[i]),
                                      round(time.perf_counter() - self._t0, 6))
        if len(done_ids):
            self._restart(done_ids, [None] * len(done_ids))
        if dr is not None:
            dr.push(self.steps, self._qvel, self._rngs, self._qpos[:, 3:7])  # felt from the next step on
        return self._obs.copy(), reward.astype(np.float32), dones, infos

    # ------------------------------------------------------------------ internals

    def _metrics(self, ids: np.ndarray | None = None) -> dict:
        """The per-step metrics of every env (or of `ids`), decorated as the single env's info."""
        rows = slice(None) if ids is None else ids
        index = ... if ids is None else ids
        info = self.tracker.compute_arrays(
            self._sensordata[rows].copy(), self._qpos[rows].copy(), self._qvel[rows].copy(),
            self._xmat[rows, self._root], self._site_xpos[rows][:, self._soles, 2], self._torque[rows].copy(),
            trouble_warnings(self.sim.warning[rows, :, 1]), index=index)
        info["command"] = self.command[rows]
        info["action"] = self.action[rows]
        info["prev_action"] = self.prev_action[rows]
        info["gait_phase"] = self.phase[rows]
        dr = self.randomizer
        info["command_phase"] = (self.phase[rows] if dr is None
                                 else self.base.command_phase(self.phase[rows], dr.action_latency[rows], self.command[rows]))
        info["clock_frequency"] = self.base.clock_frequency(self.command[rows])
        info["joint_pos_half_cycle"] = self.joint_history.lagged(self.base.half_cycle_steps(self.command[rows]), index=index)
        info["joint_range_mid"] = self._range_mid[rows]
        info["joint_range_half"] = self._range_half[rows]
        info["robot_weight"] = self.base.spec_.weight
        return info

    def _restart(self, ids: np.ndarray, commands: Sequence[float | None]) -> None:
        """New episodes for envs `ids` (as `WildRobotWalkEnv.reset`): reset, start pose, forward."""
        base, s = self.base, self.base.spec_
        self.sim.reset(ids, stage=_NO_STAGE)
        for i, command in zip(ids, commands):
            joints, self.command[i] = base.sample_start(self._rngs[i], command)
            self._qpos[i] = s.home_qpos
            self._qpos[i, self._joint_adr] = joints
        self._ctrl[ids] = base._home_joints
        if self.randomizer is not None:
            self.randomizer.episode_start(ids, self._rngs, self._qvel)
            self.tracker.set_torque_limits(ids, self.sim.expanded("actuator_forcerange")[ids])
        self.sim.forward(ids)
        self.phase[ids] = 0.0
        self.steps[ids] = 0
        self.episode_return[ids] = 0.0
        self.action[ids] = 0.0
        self.prev_action[ids] = 0.0
        self.stats.reset(ids)
        sd = self._sensordata[ids]
        self.tracker.reset_arrays(ids, sd, self._qvel[ids], trouble_warnings(self.sim.warning[ids, :, 1]))
        self.joint_history.reset(self._qpos[ids][:, self._joint_adr], index=ids)
        info = self._metrics(ids)  # the single env computes its reset info: the same clock update
        obs = np.zeros((len(ids), self._obs.shape[1]), dtype=np.float32)
        self._write_obs(obs, info, ids, restart=True)
        self._obs[ids] = obs

    def _write_obs(self, obs: np.ndarray, info: Mapping[str, Any], rows: Any, restart: bool) -> None:
        """Observations of envs `rows` into `obs` (their rows, in order), AMP features appended if on."""
        d = self.policy_obs_dim
        self.base.write_observation(obs[:, :d], self._xmat[rows, self._root], self._sensordata[rows],
                                    self._qpos[rows], self.action[rows], self.command[rows], self.phase[rows])
        if self.randomizer is not None:
            self.randomizer.observe(obs[:, :d], rows, restart)
        if self.amp_features is None:
            return
        # As AMPFeatureObservation: foot z velocity by backward difference, 0 right after a reset.
        fh = info["foot_height"]
        fz = np.zeros_like(fh) if restart else (fh - self._prev_foot_height[rows]) * (1.0 / float(self.base.dt))
        self._prev_foot_height[rows] = fh
        mode, clip = self.amp_features[:2]
        f = compute_features(self._qpos[rows], self._qvel[rows], info["pad_contact"], fh, fz,
                             lin_vel_mode=mode, lin_vel_clip=clip)
        # The history block: `obs` holds the envs' previous block (a step writes into self._obs), a restart fills it.
        obs[:, d:] = push_frame(obs[:, d:], np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0), restart)
