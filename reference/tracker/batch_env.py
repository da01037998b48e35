"""`BatchedTrackingVecEnv`: N `TrackingEnv`s of one tracker config, stepped in this process on MuJoCo's batch API.

`TrackingEnv` on `BatchedSubprocVecEnv` pays per env and per step: one MjData step, a dozen small numpy calls
and a pipe round trip per worker; on 2 cores that left it near 2,300 steps/s where the physics alone allows
about 8,000. Here, as in the walking env's `wildrobot_gym.batch_env`, the physics of all N simulations is
advanced by `mujoco.batch.Batch` on a pool of C threads (the GIL released), and the per-step Python work is
done once for the whole batch, in numpy, by the single env's own definitions called with a leading env axis:
the metrics (`MetricsTracker.compute_arrays`), the anchors (`Anchor` holding one per env), the observation
(`ObservationWriter.write_arrays`, `obs_layout`), the errors and reward terms (`tracking_errors`,
`tracking_reward`), the endings (`end_code`: falls, ``drift``, ``heading``) and the episode statistics
(`TrackingStats`). Every training reference's `ReferenceTrack` is stacked into one
(`reference_track.concatenate_tracks`): env i's frame t is row ``offset[reference_i] + t``, so the frame
lookups of all envs are one fancy index. Restarts (reference state initialisation, `reference.rollout.restart_state`)
stay a per-env loop: they are rare.

Env i of the batch steps exactly as ``TrackingEnv(cfg)`` in a `DummyVecEnv` would from the same seed and
actions (`tests/test_tracker_batch_env.py`): its own ``np_random`` (seeded as `VecEnv.seed` seeds the envs)
draws the same references and start frames.

Semantics follow SB3's VecEnvs: auto-reset on done, the last observation of an episode in
``info["terminal_observation"]``, ``TimeLimit.truncated`` when it was truncated, seeds and options
(``{"reference": i, "frame": t}``, as `TrackingEnv.reset`) applied at the next `reset()`. The per-step infos
are empty but at an episode's end, which gets what the subprocess VecEnv sends back
(`wildrobot_gym.vec_env.KEEP_INFO_KEYS`): ``episode`` (SB3's Monitor format), ``episode_stats``,
``is_success`` and ``fall_reason``. ``env_method`` / ``get_attr`` / ``set_attr`` reach the batch itself.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import mujoco
import mujoco.batch
import numpy as np

from reference.rollout import restart_state
from reference.tracker.assist import assist_torque
from reference.tracker.env import (END_REASONS, TrackingEnv, TrackingStats, _check_options, end_code,
                                   reference_sampler)
from reference.tracker.library import TrainingReference
from reference.tracker.observation import robot_yaw
from reference.tracker.reference_track import Anchor, concatenate_tracks
from reference.tracker.reward import tracking_errors, tracking_reward
from wildrobot_gym.batch_env import WholeBatchVecEnv
from wildrobot_gym.metrics import MetricsTracker, trouble_warnings
from wildrobot_gym.robot import NUM_JOINTS

_NO_STAGE = int(mujoco.mjtStage.mjSTAGE_NONE)


class BatchedTrackingVecEnv(WholeBatchVecEnv):
    """`n_envs` tracking envs of `cfg` (a validated tracker config; None: configs/tracker.yaml) on `n_threads`
    physics threads.

    :param cfg: the tracker config (its ``reference``, ``env`` and ``reward`` sections)
    :param n_envs: number of simulations
    :param n_threads: physics threads (0: one per CPU core)
    :param references: the references to track (default: the config's, `training_references`)
    """

    def __init__(self, cfg: Mapping[str, Any] | None, n_envs: int, n_threads: int = 0,
                 references: list[TrainingReference] | None = None) -> None:
        for name, value, low in (("n_envs", n_envs, 1), ("n_threads", n_threads, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                kind = "a positive integer" if low else "an integer >= 0 (0: one per CPU core)"
                raise ValueError(f"{name}: expected {kind}, got {value!r}")
        n = int(n_envs)
        # The template env: the config, model, references and constants (its MjData is never stepped).
        self.base = base = TrackingEnv(cfg, references)
        self.references = base.references
        self.model, self.spec_ = base.model, base.spec_
        self.writer = base.writer
        self.track, self.offsets = concatenate_tracks([r.track for r in self.references])
        self.lengths = np.array([len(r.track) for r in self.references], dtype=np.int64)
        e = base.env_cfg
        self.tracker = MetricsTracker(self.model, self.spec_, base.dt, contact_threshold=e["contact_threshold"],
                                      min_root_height=base.tracker.min_root_height, max_tilt=base.tracker.max_tilt,
                                      batch=n)
        self.anchor = Anchor(n)
        self.stats = TrackingStats(base.dt, n)
        self.sampler = reference_sampler(base.cfg["reference"], self.references)  # one for the whole batch

        self.sim = mujoco.batch.Batch(self.model, nsim=n, nthread=int(n_threads) or (os.cpu_count() or 1))
        sim = self.sim
        self._qpos, self._qvel, self._ctrl = sim.bind("qpos"), sim.bind("qvel"), sim.bind("ctrl")
        self._sensordata, self._xmat = sim.bind("sensordata"), sim.bind("xmat")
        self._site_xpos, self._torque = sim.bind("site_xpos"), sim.bind("actuator_force")
        self._xfrc = sim.bind("xfrc_applied")  # (n, nbody, 6): the training-only balance assist's torque
        self._root, self._soles = self.spec_.root_body, self.spec_.sole_sites
        self._scratch = mujoco.MjData(self.model)  # restart_state's target, copied into the batch's rows

        self._rngs: list[np.random.Generator | None] = [None] * n
        self.ref = np.zeros(n, dtype=np.int64)     # reference of each env (index into references)
        self.t = np.zeros(n, dtype=np.int64)       # its current frame, in its own timeline
        self.start = np.zeros(n, dtype=np.int64)   # the frame its episode started at
        self.row0 = np.zeros(n, dtype=np.int64)    # its reference's first row in self.track
        self.last = np.zeros(n, dtype=np.int64)    # its reference's last row in self.track
        self.steps = np.zeros(n, dtype=np.int64)
        self.action = np.zeros((n, NUM_JOINTS))
        self.prev_action = np.zeros((n, NUM_JOINTS))
        self._obs = np.zeros((n, self.writer.dim), dtype=np.float32)
        self._actions: Any = self.action
        self.assist_scale = base.assist_scale  # set by assist.AssistSchedule (set_attr) as the run goes on
        self.render_mode = None
        super().__init__(n, base.observation_space, base.action_space)

    # ------------------------------------------------------------------ VecEnv API
    def reset(self) -> np.ndarray:
        options = [_check_options(opt or None, len(self.references)) for opt in self._options]
        self._seed_rngs()
        self._restart(np.arange(self.num_envs), options)
        self._reset_seeds()
        self._reset_options()
        return self._obs.copy()

    def step_wait(self):
        n, base, track = self.num_envs, self.base, self.track
        a = np.asarray(self._actions, dtype=np.float64)
        if a.shape != (n, NUM_JOINTS):
            raise ValueError(f"actions: expected shape ({n}, {NUM_JOINTS}), got {a.shape}")
        if not np.isfinite(a).all():
            bad = np.flatnonzero(~np.isfinite(a).all(axis=1)).tolist()
            raise ValueError(f"actions: NaN or infinite values for envs {bad}")
        self.prev_action = self.action
        self.action = np.minimum(np.maximum(a, -1.0), 1.0)
        self.t += 1
        g = self.row0 + self.t  # each env's current row of the stacked track
        self._ctrl[:] = np.minimum(np.maximum(track.joints[g] + base.scale * self.action, base._lo), base._hi)
        if base.assist:
            e = base.env_cfg
            self._xfrc[:, self._root, 3:] = assist_torque(self._xmat[:, self._root], self._qvel[:, 3:6], track.roll_pitch[g],
                                                          e["assist_kp"], e["assist_kd"], e["assist_cap"], self.assist_scale)
        self.sim.step(nstep=base.substeps)
        self.steps += 1

        m = self._metrics(slice(None), ...)
        qpos, xmat = self._qpos, self._xmat[:, self._root]
        yaw = robot_yaw(xmat)
        pos_err = self.anchor.errors(track.pos_xy[g], track.yaw[g], qpos, yaw)
        err = tracking_errors(m, track, g, pos_err, xmat, self.action, self.prev_action, self.spec_.weight,
                              base.reward_cfg["ground_slip_height"])
        reward, terms = tracking_reward(err, base.reward_cfg)
        code = end_code(m["fall_code"], err.position_sq, pos_err[2], base.max_pos_sq, base.max_heading)
        terminated = code != 0
        truncated = ~terminated & ((self.steps >= base.max_steps) | (g >= self.last))
        reward = np.where(m["sim_unstable"], 0.0, reward)
        if base.reanchor:
            ids = np.flatnonzero((self.t - self.start) % base.reanchor == 0)
            if len(ids):
                self.anchor.set(track.pos_xy[g[ids]], track.yaw[g[ids]], qpos[ids], yaw[ids], index=ids)
        self.stats.add(reward, terms, err, m, track.velocity[g, 0])
        self.writer.write_arrays(self._obs, xmat, self._sensordata, qpos, self._qvel, self.action, track, g,
                                 self.last, self.anchor, yaw)

        dones = terminated | truncated
        infos: list[dict] = [{} for _ in range(n)]
        done_ids = np.flatnonzero(dones)
        for i in done_ids:
            trunc = bool(truncated[i])
            c = int(code[i])
            stats = self.stats.finish(trunc, i)
            self.sampler.record(int(self.ref[i]), failed=not trunc)
            # episode time 0.0, as TrackingEnv's
            infos[i] = self._end_info(i, trunc, END_REASONS[c - 1] if c else "", stats, stats["return"],
                                      int(stats["length"]), 0.0)
        if len(done_ids):
            self._restart(done_ids, [{}] * len(done_ids))
        return self._obs.copy(), reward.astype(np.float32), dones, infos

    # ------------------------------------------------------------------ internals

    def _metrics(self, rows: Any, index: Any) -> dict:
        """The per-step metrics of envs `rows` (advancing the clocks of `index`, the same envs)."""
        return self.tracker.compute_arrays(
            self._sensordata[rows], self._qpos[rows], self._qvel[rows], self._xmat[rows, self._root],
            self._site_xpos[rows][:, self._soles, 2], self._torque[rows],
            trouble_warnings(self.sim.warning[rows, :, 1]), index=index)

    def _restart(self, ids: np.ndarray, options: Sequence[Mapping[str, Any]]) -> None:
        """New episodes for envs `ids` (as `TrackingEnv.reset`, `options` each's): a reference and a start
        frame drawn from the env's own generator, the reference state of that frame, the anchor, the clocks."""
        base, model, sc = self.base, self.model, self._scratch
        self.sim.reset(ids, stage=_NO_STAGE)
        for i, opt in zip(ids, options):
            rng = self._rngs[i]
            r = opt.get("reference")
            r = self.sampler.draw(rng) if r is None else int(r)
            T = int(self.lengths[r])
            t0 = opt.get("frame")
            if t0 is None:
                t0 = int(rng.integers(max(T - base.env_cfg["min_episode_frames"], 1)))
            elif not 0 <= t0 < T:
                raise ValueError(f"options['frame']: expected a frame in [0, {T}), got {t0}")
            restart_state(model, sc, self.spec_, self.references[r].timeline, t0, base.clearance, base._scratch)
            self._qpos[i], self._qvel[i], self._ctrl[i] = sc.qpos, sc.qvel, sc.ctrl
            self.ref[i], self.t[i] = r, t0
        self.sim.forward(ids)
        self.start[ids] = self.t[ids]
        self.row0[ids] = self.offsets[self.ref[ids]]
        self.last[ids] = self.row0[ids] + self.lengths[self.ref[ids]] - 1
        self.steps[ids] = 0
        self.action[ids] = 0.0
        self.prev_action[ids] = 0.0
        self.stats.reset(ids)
        self.tracker.reset_arrays(ids, self._sensordata[ids], self._qvel[ids],
                                  trouble_warnings(self.sim.warning[ids, :, 1]))
        self._metrics(ids, ids)  # the single env computes its reset metrics: the same clock update
        g = self.row0[ids] + self.t[ids]
        xmat, qpos = self._xmat[ids, self._root], self._qpos[ids]
        yaw = robot_yaw(xmat)
        self.anchor.set(self.track.pos_xy[g], self.track.yaw[g], qpos, yaw, index=ids)
        obs = np.zeros((len(ids), self.writer.dim), dtype=np.float32)
        self.writer.write_arrays(obs, xmat, self._sensordata[ids], qpos, self._qvel[ids], self.action[ids],
                                 self.track, g, self.last[ids], self.anchor.take(ids), yaw)
        self._obs[ids] = obs
