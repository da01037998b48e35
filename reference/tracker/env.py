"""`TrackingEnv`: learn residual servo targets that make the physics robot follow a looped reference.

Protocol (the seed's, as reference/rollout.py): 50 Hz control, 10 MuJoCo substeps of 2 ms per step, the
state (qpos) written only at reset.

Reference
    One of the training references (`reference.tracker.library`: every clip of the library and the
    synthetic human-like stand-ins x every variant of ``reference.variants``, looped with neutral blends
    by `reference.rollout.build_timeline`, exactly as generation loops them), drawn uniformly per episode.

Action
    8 numbers in [-1, 1]; servo targets = reference joints of the next frame + ``env.residual_scale`` x
    action, clipped to ctrlrange.

Observation
    `reference.tracker.observation` (measured entries, the reference's upcoming frames, the phase, and
    privileged entries, flagged; actor and critic both see all of them).

Reset (reference state initialisation)
    A random reference and a random frame t0 (leaving at least ``env.min_episode_frames`` frames): the
    robot in the reference state of t0 (`reference.rollout.restart_state`: root pose and joints from the
    timeline, velocities from its finite differences, the lowest pad at ``generation.restart_clearance``).
    ``options`` may fix ``reference`` (index into `references`) and ``frame``.

Reward
    `reference.tracker.reward` (DeepMimic-style terms; formulas there), against the reference frame the
    action aimed at.

Termination
    a fall (`MetricsTracker`: ``root_height``, ``tilt``, ``body_contact``, ``sim_unstable``), or ``drift``:
    the root more than ``env.max_position_error`` m from the anchored reference in the plane, or ``heading``:
    more than ``env.max_heading_error_deg`` off its heading. The reference is re-anchored onto the robot
    (`Anchor`) at reset and every ``env.reanchor_interval`` frames. Truncation: ``env.max_episode_steps``
    steps or the end of the timeline.

Info at an episode's end: ``episode_stats`` (length, return, success, joint_error (mean RMS joint error,
rad), forward_velocity / reference_velocity (means, m/s), tracked_distance / reference_distance (m, their
ratio is the velocity ratio), position_error (mean, m), ``terms/<name>`` per-step means), ``episode``
(SB3's Monitor format) and ``fall_reason`` ("" on truncation).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from reference.rollout import restart_state
from reference.tracker.library import TrainingReference, generation_config, training_references
from reference.tracker.observation import ObservationWriter, robot_yaw
from reference.tracker.reference_track import Anchor
from reference.tracker.reward import TERMS, tracking_errors, tracking_reward
from wildrobot_gym.env import check_action
from wildrobot_gym.config.tracker import load_tracker_config
from wildrobot_gym.metrics import MetricsTracker
from wildrobot_gym.robot import NUM_JOINTS, RobotSpec, load_model

RESET_OPTIONS = ("reference", "frame")
STAT_KEYS = ("n", "ret", "joint_rms", "v", "v_ref", "pos_err")


class TrackingEnv(gym.Env):
    metadata = {"render_modes": [], "render_fps": 50}

    def __init__(self, config: Mapping[str, Any] | None = None,
                 references: list[TrainingReference] | None = None) -> None:
        cfg = dict(config) if config is not None else load_tracker_config()
        self.cfg = cfg
        self.env_cfg, self.reward_cfg = dict(cfg["env"]), dict(cfg["reward"])
        e = self.env_cfg
        self.model = load_model()
        self.data = mujoco.MjData(self.model)
        self._scratch = mujoco.MjData(self.model)
        self.spec_ = RobotSpec.from_model(self.model)
        gen = generation_config(cfg["reference"])
        self.substeps, self.clearance = int(gen.substeps), float(gen.restart_clearance)
        self.dt = self.model.opt.timestep * self.substeps
        if abs(self.dt * gen.fps - 1.0) > 1e-9:
            raise ValueError(f"timestep {self.model.opt.timestep} x {gen.substeps} substeps != 1 / fps {gen.fps}")
        self.references = references if references is not None else training_references(
            self.model, self.spec_, cfg["reference"], e)
        if not self.references:
            raise ValueError("TrackingEnv: no reference to track")
        self.tracker = MetricsTracker(self.model, self.spec_, self.dt, contact_threshold=e["contact_threshold"],
                                      min_root_height=e["min_root_height"], max_tilt=math.radians(e["max_tilt_deg"]))
        self.writer = ObservationWriter(self.spec_, e)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(self.writer.dim,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(NUM_JOINTS,), dtype=np.float32)
        self._lo, self._hi = self.model.actuator_ctrlrange[:, 0].copy(), self.model.actuator_ctrlrange[:, 1].copy()
        self.scale = float(e["residual_scale"])
        self.max_steps = int(e["max_episode_steps"])
        self.max_pos_sq = float(e["max_position_error"]) ** 2
        self.max_heading = math.radians(float(e["max_heading_error_deg"]))
        self.reanchor = int(e["reanchor_interval"])
        self.anchor = Anchor()
        self._obs = np.zeros(self.writer.dim, dtype=np.float32)
        self.action = np.zeros(NUM_JOINTS)
        self.prev_action = np.zeros(NUM_JOINTS)
        self.ref: TrainingReference = self.references[0]
        self.t = self.start = self.steps = 0
        self.metrics: dict = {}
        self._sums = dict.fromkeys(STAT_KEYS, 0.0)
        self._terms = dict.fromkeys(TERMS, 0.0)

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        options = _check_options(options, len(self.references))
        super().reset(seed=seed)
        rng = self.np_random
        i = options.get("reference")
        self.ref = self.references[int(rng.integers(len(self.references))) if i is None else i]
        T = len(self.ref.track)
        t0 = options.get("frame")
        if t0 is None:
            t0 = int(rng.integers(max(T - self.env_cfg["min_episode_frames"], 1)))
        elif not 0 <= t0 < T:
            raise ValueError(f"options['frame']: expected a frame in [0, {T}), got {t0}")
        d = self.data
        restart_state(self.model, d, self.spec_, self.ref.timeline, t0, self.clearance, self._scratch)
        mujoco.mj_forward(self.model, d)
        self.tracker.reset(d)
        self.metrics = self.tracker.compute(d)
        self.t = self.start = t0
        self.steps = 0
        self.action = np.zeros(NUM_JOINTS)
        self.prev_action = np.zeros(NUM_JOINTS)
        self._set_anchor()
        self._sums = dict.fromkeys(STAT_KEYS, 0.0)
        self._terms = dict.fromkeys(TERMS, 0.0)
        info = {"reference": self.ref.clip, "variant": self.ref.variant, "frame": self.t}
        return self._observe(), info

    def step(self, action):
        a = check_action(action)
        self.prev_action = self.action
        self.action = np.minimum(np.maximum(a, -1.0), 1.0)
        track = self.ref.track
        self.t += 1
        t = self.t
        d = self.data
        d.ctrl[:] = np.minimum(np.maximum(track.joints[t] + self.scale * self.action, self._lo), self._hi)
        mujoco.mj_step(self.model, d, self.substeps)
        self.steps += 1
        m = self.tracker.compute(d)
        self.metrics = m
        xmat = d.xmat[self.spec_.root_body]
        pos_err = self.anchor.errors(track.pos_xy[t], track.yaw[t], d.qpos, robot_yaw(xmat))
        err = tracking_errors(m, track, t, pos_err, xmat, self.action, self.prev_action)
        reward, terms = tracking_reward(err, self.reward_cfg)
        reason = m["fall_reason"]
        if not reason and err.position_sq > self.max_pos_sq:
            reason = "drift"
        if not reason and abs(pos_err[2]) > self.max_heading:
            reason = "heading"
        terminated = bool(reason)
        truncated = not terminated and (self.steps >= self.max_steps or t >= len(track) - 1)
        if m["sim_unstable"]:
            reward = 0.0
        if self.reanchor and (t - self.start) % self.reanchor == 0:
            self._set_anchor()
        self._accumulate(reward, terms, err, m, track.velocity[t, 0])
        info: dict[str, Any] = {"fall_reason": reason, "frame": t, "reward_terms": terms}
        if terminated or truncated:
            stats = self.episode_stats(success=not terminated)
            info["episode_stats"] = stats
            info["episode"] = {"r": stats["return"], "l": int(stats["length"]), "t": 0.0}
            info["is_success"] = not terminated
        return self._observe(), float(reward), terminated, truncated, info

    # ------------------------------------------------------------------ internals
    def _set_anchor(self) -> None:
        d, track, t = self.data, self.ref.track, self.t
        self.anchor.set(track.pos_xy[t], track.yaw[t], d.qpos, robot_yaw(d.xmat[self.spec_.root_body]))

    def _observe(self) -> np.ndarray:
        d = self.data
        self.writer.write(self._obs, d.xmat[self.spec_.root_body], d.sensordata, d.qpos, d.qvel, self.action,
                          self.ref.track, self.t, self.anchor)
        return self._obs.copy()

    def _accumulate(self, reward: float, terms: Mapping[str, float], err: Any, m: Mapping[str, Any],
                    v_ref: float) -> None:
        s = self._sums
        s["n"] += 1
        s["ret"] += reward
        s["joint_rms"] += math.sqrt(err.joint_sq / NUM_JOINTS)
        s["v"] += m["forward_velocity"]
        s["v_ref"] += v_ref
        s["pos_err"] += math.sqrt(err.position_sq)
        for k, v in terms.items():
            self._terms[k] += v

    def episode_stats(self, success: bool) -> dict[str, float]:
        """The current episode's statistics (module docstring)."""
        s = self._sums
        n = max(s["n"], 1.0)
        out = {"length": s["n"], "return": s["ret"], "success": float(success), "joint_error": s["joint_rms"] / n,
               "forward_velocity": s["v"] / n, "reference_velocity": s["v_ref"] / n,
               "tracked_distance": s["v"] * self.dt, "reference_distance": s["v_ref"] * self.dt,
               "position_error": s["pos_err"] / n}
        out.update({f"terms/{k}": v / n for k, v in self._terms.items()})
        return out


def _check_options(options: Any, n_refs: int) -> dict:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"options: expected a dict or None, got {type(options).__name__}")
    unknown = sorted(set(options) - set(RESET_OPTIONS), key=str)
    if unknown:
        raise ValueError(f"options: unknown key(s) {unknown}; accepted: {list(RESET_OPTIONS)}")
    for key in RESET_OPTIONS:
        v = options.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise ValueError(f"options[{key!r}]: expected an integer, got {v!r}")
    if options.get("reference") is not None and not 0 <= options["reference"] < n_refs:
        raise ValueError(f"options['reference']: expected an index in [0, {n_refs}), got {options['reference']}")
    return dict(options)
