"""`TrackingEnv`: learn residual servo targets that make the physics robot follow a looped reference.

Protocol (the seed's, as reference/rollout/physics.py): 50 Hz control, 10 MuJoCo substeps of 2 ms per step, the
state (qpos) written only at reset.

Reference
    One of the training references (`reference.tracker.library`: every clip of the library and the
    synthetic human-like stand-ins x every variant of ``reference.variants``, looped with neutral blends
    by `reference.rollout.build_timeline`, exactly as generation loops them), drawn per episode by
    `reference.tracker.sampling` (uniformly, or more often those whose episodes end early).

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

Batch: `reference.tracker.batch_env.BatchedTrackingVecEnv` steps N of these envs at once with the same
definitions (the observation, errors, reward, anchors, `end_code` and `TrackingStats` all take a leading env
axis), exactly as N of them in a DummyVecEnv.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from reference.rollout import restart_state
from reference.tracker.assist import assist_torque, wants_assist
from reference.tracker.library import TrainingReference, generation_config, training_references
from reference.tracker.observation import ObservationWriter, robot_yaw
from reference.tracker.reference_track import Anchor
from reference.tracker.reward import TERMS, tracking_errors, tracking_reward
from reference.tracker.sampling import ReferenceSampler
from wildrobot_gym.env import check_action
from wildrobot_gym.config.tracker import load_tracker_config, validate_tracker_config
from wildrobot_gym.metrics import FALL_REASONS, MetricsTracker
from wildrobot_gym.robot import NUM_JOINTS, RobotSpec, load_model

RESET_OPTIONS = ("reference", "frame")
STAT_KEYS = ("n", "ret", "joint_rms", "v", "v_ref", "pos_err")
#: Why an episode ends: the falls of `MetricsTracker`, then the tracker's own; ``end_code`` = index + 1.
END_REASONS = (*FALL_REASONS, "drift", "heading")


class TrackingEnv(gym.Env):
    metadata = {"render_modes": [], "render_fps": 50}

    def __init__(self, config: Mapping[str, Any] | None = None,
                 references: list[TrainingReference] | None = None) -> None:
        # checked, defaults filled: a config written before a later key (a shipped tracker's) still runs
        cfg = validate_tracker_config(dict(config)) if config is not None else load_tracker_config()
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
        self.sampler = reference_sampler(cfg["reference"], self.references)
        self.assist = wants_assist(e)  # a balance assist during training (reference/tracker/assist.py)
        self.assist_scale = 1.0 if self.assist else 0.0  # set by assist.AssistSchedule as the run goes on
        self.max_steps = int(e["max_episode_steps"])
        self.max_pos_sq = float(e["max_position_error"]) ** 2
        self.max_heading = math.radians(float(e["max_heading_error_deg"]))
        self.reanchor = int(e["reanchor_interval"])
        self.anchor = Anchor()
        self._obs = np.zeros(self.writer.dim, dtype=np.float32)
        self.action = np.zeros(NUM_JOINTS)
        self.prev_action = np.zeros(NUM_JOINTS)
        self.ref: TrainingReference = self.references[0]
        self.ref_index = 0
        self.t = self.start = self.steps = 0
        self.metrics: dict = {}
        self.stats = TrackingStats(self.dt)

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        options = _check_options(options, len(self.references))
        super().reset(seed=seed)
        rng = self.np_random
        i = options.get("reference")
        self.ref_index = self.sampler.draw(rng) if i is None else int(i)
        self.ref = self.references[self.ref_index]
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
        self.stats.reset()
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
        if self.assist:
            root = self.spec_.root_body
            d.xfrc_applied[root, 3:] = assist_torque(d.xmat[root], d.qvel[3:6], track.roll_pitch[t], self.env_cfg["assist_kp"],
                                                     self.env_cfg["assist_kd"], self.env_cfg["assist_cap"], self.assist_scale)
        mujoco.mj_step(self.model, d, self.substeps)
        self.steps += 1
        m = self.tracker.compute(d)
        self.metrics = m
        xmat = d.xmat[self.spec_.root_body]
        pos_err = self.anchor.errors(track.pos_xy[t], track.yaw[t], d.qpos, robot_yaw(xmat))
        err = tracking_errors(m, track, t, pos_err, xmat, self.action, self.prev_action, self.spec_.weight,
                              self.reward_cfg["ground_slip_height"])
        reward, terms = tracking_reward(err, self.reward_cfg)
        code = int(end_code(m["fall_code"], err.position_sq, pos_err[2], self.max_pos_sq, self.max_heading))
        reason = END_REASONS[code - 1] if code else ""
        terminated = code != 0
        truncated = not terminated and (self.steps >= self.max_steps or t >= len(track) - 1)
        reward = 0.0 if m["sim_unstable"] else float(reward)
        if self.reanchor and (t - self.start) % self.reanchor == 0:
            self._set_anchor()
        self.stats.add(reward, terms, err, m, track.velocity[t, 0])
        info: dict[str, Any] = {"fall_reason": reason, "frame": t, "reward_terms": terms}
        if terminated or truncated:
            stats = self.episode_stats(success=not terminated)
            info["episode_stats"] = stats
            info["episode"] = {"r": stats["return"], "l": int(stats["length"]), "t": 0.0}
            info["is_success"] = not terminated
            self.sampler.record(self.ref_index, failed=terminated)
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

    def episode_stats(self, success: bool) -> dict[str, float]:
        """The current episode's statistics (module docstring)."""
        return self.stats.finish(success)


def reference_sampler(ref_cfg: Mapping[str, Any], references: list[TrainingReference]) -> ReferenceSampler:
    """The `ReferenceSampler` of the ``reference:`` section's sampling keys over `references` (with
    ``human_like_share``: two groups, the clip folder's and the stand-ins)."""
    args = (len(references), ref_cfg["sampling"], ref_cfg["sampling_floor"], ref_cfg["sampling_smoothing"])
    share = ref_cfg.get("human_like_share")
    if share is None:
        return ReferenceSampler(*args)
    human = np.array([r.source == "human_like" for r in references])
    if not human.any() or human.all():
        missing = "human-like stand-ins (reference.human_like_clips is 0)" if not human.any() else "clip-folder clips"
        raise ValueError(f"reference.human_like_share: {share} needs both sources, but there are no {missing}")
    return ReferenceSampler(*args, groups=human.astype(np.int64), group_shares=np.array([1.0 - share, share]))


def end_code(fall_code: Any, position_sq: Any, heading_error: Any, max_position_sq: float, max_heading: float) -> Any:
    """0 while the episode goes on, else 1 + the index in `END_REASONS` of why it ends: a fall (`MetricsTracker`'s
    ``fall_code``) first, then ``drift`` (position error^2 above `max_position_sq`), then ``heading`` (|heading
    error| above `max_heading`, rad). Numbers for one env, (N,) arrays for a batch."""
    return np.where(fall_code != 0, fall_code,
                    np.where(position_sq > max_position_sq, 5, np.where(np.abs(heading_error) > max_heading, 6, 0)))


class TrackingStats:
    """Running sums of the current episode of one env (``n_envs=None``: numbers) or of each env of a batch
    (``(N,)`` arrays, `reference.tracker.batch_env`), and the ``episode_stats`` they give (module docstring):
    one definition for the single and the batched env."""

    def __init__(self, dt: float, n_envs: int | None = None) -> None:
        self.dt = float(dt)
        self.shape = () if n_envs is None else (int(n_envs),)
        self.reset()

    def reset(self, index: Any = ...) -> None:
        """Start new episodes for the envs `index` (``...``: all)."""
        if not self.shape or index is ...:  # one env: Python numbers (a number's += is the cheapest)
            zero = (lambda: 0.0) if not self.shape else (lambda: np.zeros(self.shape))
            self.sums = {k: zero() for k in STAT_KEYS}
            self.terms = {k: zero() for k in TERMS}
            return
        for acc in (*self.sums.values(), *self.terms.values()):
            acc[index] = 0.0

    def add(self, reward: Any, terms: Mapping[str, Any], err: Any, m: Mapping[str, Any], v_ref: Any) -> None:
        """One step of every env: its reward, weighted terms, `TrackingErrors`, metrics and reference
        forward velocity."""
        s = self.sums
        s["n"] += 1
        s["ret"] += reward
        s["joint_rms"] += np.sqrt(err.joint_sq / NUM_JOINTS)
        s["v"] += m["forward_velocity"]
        s["v_ref"] += v_ref
        s["pos_err"] += np.sqrt(err.position_sq)
        acc = self.terms
        for k, v in terms.items():
            acc[k] += v

    def finish(self, success: bool, index: Any = ...) -> dict[str, float]:
        """The statistics of the episode of env `index` (``...`` for a single env), as Python floats."""
        s = {k: float(v if not self.shape else v[index]) for k, v in self.sums.items()}
        n = max(s["n"], 1.0)
        out = {"length": s["n"], "return": s["ret"], "success": float(success), "joint_error": s["joint_rms"] / n,
               "forward_velocity": s["v"] / n, "reference_velocity": s["v_ref"] / n,
               "tracked_distance": s["v"] * self.dt, "reference_distance": s["v_ref"] * self.dt,
               "position_error": s["pos_err"] / n}
        out.update({f"terms/{k}": float(v if not self.shape else v[index]) / n for k, v in self.terms.items()})
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
