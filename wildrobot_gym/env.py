"""`WildRobotWalk-v0`: the WildRobot biped learning to walk forward on a flat floor.

Physics: MuJoCo at 500 Hz (2 ms), control at 50 Hz (``frame_skip`` = 10 substeps per action).

Action
    8 numbers in [-1, 1], one per servo in actuator order (`wildrobot_gym.robot.JOINT_NAMES`).
    target = home + action_offset + action_scale * action, clipped to the joint range (action_offset,
    rad per joint, default 0: the action's zero is the home pose); the servos then apply
    tau = 21.1 (target - q) - 0.5 qdot, clamped to +-4 N m.

Observation (float32; `OBS_LAYOUT` below is the one definition of names, sizes and order)
    up_vector (3)       world z axis in the body frame (gravity direction; the IMU's orientation)
    gyro (3)            chest IMU angular velocity, rad/s
    joint_pos (8)       joint angles relative to home, rad (servo encoders)
    joint_vel (8)       joint velocities, rad/s
    prev_action (8)     the previous action
    command (1)         commanded forward velocity, m/s
    gait_clock (2)      sin and cos of 2 pi * gait phase: the phase advances at the episode's clock
                        frequency f = max(gait_frequency, command / (2 max_step_length)) Hz; without
                        max_step_length (None, the default), f = gait_frequency. A walker lengthens its
                        step with speed up to what its legs reach, then quickens it (as a person does);
                        the clock's step length command / (2 f) never exceeds max_step_length.
    heading_error (1)   commanded heading minus the IMU's yaw, wrapped to [-pi, pi), rad; present when
                        include_heading=True. The episode commands its start heading (the world x axis:
                        every episode starts facing +x), so this is -yaw. On the robot: the IMU's yaw,
                        integrated from the gyro and zeroed when walking starts, against the operator's heading
    root_lin_vel (3)    PRIVILEGED: root linear velocity in the body frame, m/s
    root_height (1)     PRIVILEGED: root height, m
    The privileged entries (not measurable on the robot) are present when include_privileged=True.
    Without a heading the policy cannot tell a slow turn from walking straight: the policies trained
    without it walked in circles at 9-13 deg/s (docs/results/phase2.md).

Command
    Forward velocity drawn uniformly from ``command_range`` at each reset (default 0.5-0.8 m/s), or
    ``fixed_command`` if given.

Reward
    The Phase 1E task reward by default: `wildrobot_gym.rewards.RewardComposer` with the weights and
    parameters of ``configs/phase1e.yaml`` (each term and formula documented in `wildrobot_gym.rewards`).
    The phase wrappers of `wildrobot_gym.wrappers` replace it and switch the base reward off
    (``reward_enabled=False``: reward 0, no terms computed). The weighted terms are in
    ``info["reward_terms"]``. ``yaw_rate_filter_s`` (default 1 s) is the time constant of the low-pass
    yaw rate (``info["yaw_rate_filtered"]``) that the ``yaw_rate`` term penalises.

Termination (a fall), with ``info["fall_reason"]``
    root_height   root height < min_root_height (default 0.25 m)
    tilt          |roll| or |pitch| > max_tilt_deg (default 45 deg)
    body_contact  a geom other than the four sole pads touches the floor
    sim_unstable  a MuJoCo warning or a non-finite state (also ``info["sim_unstable"] = True``);
                  never an exception, never a NaN observation.
Truncation
    after ``max_episode_steps`` control steps (default 500 = 10 s; ``None``: never, a wrapper's job).
    ``gym.make("WildRobotWalk-v0", max_episode_steps=N)`` gives N-step episodes. Gymnasium keeps that
    keyword for its own ``TimeLimit`` wrapper (registered default 500, ``env.spec.max_episode_steps``)
    and never passes it to the env, so the registration constructs the env with
    ``max_episode_steps=None`` and adds `adopt_time_limit` after the ``TimeLimit``: it rejects a
    non-positive or non-integer N with a ValueError at ``gym.make`` and sets the env's own limit to N,
    so both truncate at the same step. Direct construction (the training code) uses the argument.

Reset options
    ``command``: the commanded forward velocity for this episode (a finite number, m/s; any value,
    not only one in ``command_range``). Other keys are rejected (a misspelt key must not be ignored).

Rendering
    ``render_mode="rgb_array"``: ``height`` x ``width`` images from the "track" camera; both must be
    positive integers within the model's offscreen framebuffer (``<global offwidth offheight>``, 640 x 480).

Info: the per-step metrics of `wildrobot_gym.metrics` plus command, action, prev_action, gait_phase,
command_phase (the gait phase at which the servo targets being applied were issued: gait_phase here; with an
action latency of k steps in the batched env's domain randomisation, k steps earlier), clock_frequency (the gait
clock's Hz at the command; the pose_velocity term's input), joint_pos_half_cycle
(the joint angles half a gait cycle ago, `wildrobot_gym.joint_history`; the symmetry term's input) and
robot_weight (the nominal robot's m g, N: the scale of the load thresholds of the rewards and the gait metrics).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import mujoco
import numpy as np
import yaml
from gymnasium import spaces

from wildrobot_gym.joint_history import JointHistory
from wildrobot_gym.metrics import MetricsTracker
from wildrobot_gym.paths import CONFIG_DIR
from wildrobot_gym.rewards import RewardComposer
from wildrobot_gym.robot import NUM_JOINTS, SCENE_XML, RobotSpec, load_model

DEFAULT_CONFIG = CONFIG_DIR / "phase1e.yaml"
#: The keys `WildRobotWalkEnv.reset` accepts in ``options``.
RESET_OPTIONS = ("command",)

#: (name, size, privileged): the observation's layout, in order.
OBS_LAYOUT: tuple[tuple[str, int, bool], ...] = (
    ("up_vector", 3, False),
    ("gyro", 3, False),
    ("joint_pos", NUM_JOINTS, False),
    ("joint_vel", NUM_JOINTS, False),
    ("prev_action", NUM_JOINTS, False),
    ("command", 1, False),
    ("gait_clock", 2, False),
    ("heading_error", 1, False),  # only with include_heading=True
    ("root_lin_vel", 3, True),
    ("root_height", 1, True),
)


def obs_slices(include_privileged: bool = True, include_heading: bool = False) -> dict[str, slice]:
    """Name -> slice of the observation vector (the entries present with these flags)."""
    out, i = {}, 0
    for name, size, privileged in OBS_LAYOUT:
        if (privileged and not include_privileged) or (name == "heading_error" and not include_heading):
            continue
        out[name] = slice(i, i + size)
        i += size
    return out


def obs_flags_for_dim(obs_dim: int) -> tuple[bool, bool] | None:
    """(include_privileged, include_heading) of the layout whose observation has `obs_dim` columns (the four
    layouts have four sizes); None for any other size."""
    for include_privileged in (True, False):
        for include_heading in (True, False):
            if obs_dim == max(s.stop for s in obs_slices(include_privileged, include_heading).values()):
                return include_privileged, include_heading
    return None


def default_reward_config(path: Path = DEFAULT_CONFIG) -> tuple[dict, dict]:
    """(reward_weights, reward_params) of the Phase 1E config, the base env's reward."""
    with open(path) as f:
        cfg = yaml.safe_load(f)
    return dict(cfg["reward_weights"]), dict(cfg.get("reward_params") or {})


class WildRobotWalkEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        render_mode: str | None = None,
        model_path: str | Path = SCENE_XML,
        frame_skip: int = 10,
        action_scale: float | Sequence[float] = 0.5,
        command_range: Sequence[float] = (0.5, 0.8),
        fixed_command: float | None = None,
        action_offset: float | Sequence[float] = 0.0,
        max_episode_steps: int | None = 500,
        min_root_height: float = 0.25,
        max_tilt_deg: float = 45.0,
        gait_frequency: float = 1.5,
        max_step_length: float | None = None,
        include_privileged: bool = True,
        include_heading: bool = False,
        reset_noise_scale: float = 0.02,
        contact_threshold: float = 1.0,
        yaw_rate_filter_s: float = 1.0,
        reward_weights: dict[str, float] | None = None,
        reward_params: dict[str, float] | None = None,
        reward_enabled: bool = True,
        width: int = 640,
        height: int = 480,
    ) -> None:
        _check_args(render_mode, frame_skip, action_scale, command_range, fixed_command, max_episode_steps,
                    min_root_height, max_tilt_deg, gait_frequency, reset_noise_scale, contact_threshold,
                    yaw_rate_filter_s)
        offset = np.asarray(action_offset, dtype=np.float64)
        if offset.shape not in ((), (NUM_JOINTS,)) or not np.all(np.isfinite(offset)):
            raise ValueError(f"action_offset: expected a finite number (rad) or {NUM_JOINTS} of them, got {action_offset!r}")
        if max_step_length is not None and not (math.isfinite(max_step_length) and max_step_length > 0):
            raise ValueError(f"max_step_length: expected a number > 0 (m) or None, got {max_step_length!r}")
        self.model = load_model(model_path)
        _check_image_size(self.model, width, height)
        self.data = mujoco.MjData(self.model)
        self.spec_ = RobotSpec.from_model(self.model)
        self.frame_skip = int(frame_skip)
        self.dt = self.model.opt.timestep * self.frame_skip
        self.command_range = (float(command_range[0]), float(command_range[1]))
        self.fixed_command = None if fixed_command is None else float(fixed_command)
        self.max_episode_steps = max_episode_steps
        self.gait_frequency = float(gait_frequency)
        self.max_step_length = None if max_step_length is None else float(max_step_length)
        self.include_privileged = bool(include_privileged)
        self.include_heading = bool(include_heading)
        self.reset_noise_scale = float(reset_noise_scale)
        self.render_mode = render_mode
        self._width, self._height = int(width), int(height)
        self._renderer: mujoco.Renderer | None = None

        s = self.spec_
        self._home_joints = s.home_qpos[s.joint_qpos_adr]
        self._lo, self._hi = s.joint_range[:, 0], s.joint_range[:, 1]
        self._action_scale = np.broadcast_to(np.asarray(action_scale, dtype=np.float64), (NUM_JOINTS,)).copy()
        self._action_centre = self._home_joints + np.broadcast_to(offset, (NUM_JOINTS,))  # the target of action 0
        self._range_mid = 0.5 * (self._lo + self._hi)
        self._range_half = 0.5 * (self._hi - self._lo)
        self.tracker = MetricsTracker(
            self.model, s, self.dt, contact_threshold=contact_threshold,
            min_root_height=min_root_height, max_tilt=math.radians(max_tilt_deg), yaw_rate_filter_s=yaw_rate_filter_s,
        )
        if reward_weights is None:
            w, p = default_reward_config()
            reward_params = {**p, **(reward_params or {})}
            reward_weights = w
        self.reward_fn = RewardComposer(reward_weights, reward_params)
        # Half a gait cycle of joint angles, for the symmetry term (the slowest clock is gait_frequency).
        self.joint_history = JointHistory(JointHistory.capacity_for(self.gait_frequency, self.dt), NUM_JOINTS)
        self.reward_enabled = bool(reward_enabled)  # False when a phase wrapper computes the reward

        self._slices = obs_slices(self.include_privileged, self.include_heading)
        obs_dim = max(sl.stop for sl in self._slices.values())
        # _observe writes fixed offsets for speed; they must agree with OBS_LAYOUT.
        h = int(self.include_heading)
        expected = {"up_vector": slice(0, 3), "gyro": slice(3, 6), "joint_pos": slice(6, 14),
                    "joint_vel": slice(14, 22), "prev_action": slice(22, 30), "command": slice(30, 31),
                    "gait_clock": slice(31, 33), "heading_error": slice(33, 34),
                    "root_lin_vel": slice(33 + h, 36 + h), "root_height": slice(36 + h, 37 + h)}
        assert all(self._slices[k] == v for k, v in expected.items() if k in self._slices), self._slices
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(NUM_JOINTS,), dtype=np.float32)
        self._obs = np.zeros(obs_dim, dtype=np.float32)
        self._action = np.zeros(NUM_JOINTS)
        self._prev_action = np.zeros(NUM_JOINTS)
        self.command = self.command_range[0]
        self.phase = 0.0
        self.steps = 0

    @property
    def max_episode_steps(self) -> int | None:
        """Control steps after which `step` truncates (None: never); validated on every assignment."""
        return self._max_episode_steps

    @max_episode_steps.setter
    def max_episode_steps(self, value: int | None) -> None:
        self._max_episode_steps = None if value is None else _check_max_episode_steps(value)
        # step compares against a number: infinity stands for "no limit".
        self._step_limit = math.inf if value is None else self._max_episode_steps

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        _check_options(options)  # before any state changes: a rejected reset leaves the episode as it was
        super().reset(seed=seed)
        m, d, s = self.model, self.data, self.spec_
        mujoco.mj_resetData(m, d)
        joints, self.command = self.sample_start(self.np_random, (options or {}).get("command"))
        d.qpos[:] = s.home_qpos
        d.qpos[s.joint_qpos_adr] = joints
        d.ctrl[:] = self._home_joints
        mujoco.mj_forward(m, d)
        self.phase = 0.0
        self.steps = 0
        self._action = np.zeros(NUM_JOINTS)
        self._prev_action = np.zeros(NUM_JOINTS)
        self.tracker.reset(d)
        self.joint_history.reset(d.qpos[s.joint_qpos_adr])
        info = self.tracker.compute(d)
        self._decorate(info)
        return self._observe(), info

    def step(self, action):
        a = check_action(action)
        # Fresh arrays each step (no in-place update): infos a caller keeps must not change later.
        # minimum/maximum instead of np.clip: the same result, at a third of the call overhead.
        self._prev_action = self._action
        self._action = np.minimum(np.maximum(a, -1.0), 1.0)
        d = self.data
        d.ctrl[:] = self.servo_targets(self._action)
        mujoco.mj_step(self.model, d, nstep=self.frame_skip)
        self.steps += 1
        self.phase = self.advance_phase(self.phase, self.command)
        self.joint_history.push(d.qpos[self.spec_.joint_qpos_adr])

        info = self.tracker.compute(d)
        self._decorate(info)
        if self.reward_enabled:
            reward, terms = self.reward_fn(info)
            info["reward_terms"] = {k: float(v) for k, v in terms.items()}
        else:
            reward = 0.0
        terminated = info["fall_code"] != 0
        truncated = not terminated and self.steps >= self._step_limit
        if info["sim_unstable"]:
            reward = 0.0
        return self._observe(), float(reward), terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self._height, self._width)
        self._renderer.update_scene(self.data, camera="track")
        return self._renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # ------------------------------------------------------------------ internals
    def _decorate(self, info: dict) -> None:
        info["command"] = self.command
        info["action"] = self._action
        info["prev_action"] = self._prev_action
        info["gait_phase"] = self.phase
        info["command_phase"] = self.phase  # no action latency in this env
        info["clock_frequency"] = self.clock_frequency(self.command)
        info["joint_pos_half_cycle"] = self.joint_history.lagged(self.half_cycle_steps(self.command))
        info["joint_range_mid"] = self._range_mid
        info["joint_range_half"] = self._range_half
        info["robot_weight"] = self.spec_.weight

    def _observe(self) -> np.ndarray:
        d = self.data
        self.write_observation(self._obs, d.xmat[self.spec_.root_body], d.sensordata, d.qpos, self._action,
                               self.command, self.phase)
        return self._obs.copy()

    # ------------------------------------------------------------------ shared with the batched env
    # Each of these works on one env's values or on a batch's (a leading env axis): the batched env
    # (`wildrobot_gym.batch_env`) calls them, so both envs have one definition of each step.
    def sample_start(self, rng: np.random.Generator, command: float | None = None) -> tuple[np.ndarray, float]:
        """(start joint angles, command) of a new episode: home + uniform noise, clipped to the joint
        ranges; the command: `command` (a reset option), else fixed_command, else uniform in
        command_range. Draws from `rng` in this order (noise, then the command when drawn)."""
        noise = rng.uniform(-self.reset_noise_scale, self.reset_noise_scale, NUM_JOINTS)
        joints = np.clip(self._home_joints + noise, self._lo, self._hi)
        if command is not None:
            return joints, float(command)
        if self.fixed_command is not None:
            return joints, self.fixed_command
        return joints, float(rng.uniform(*self.command_range))

    def servo_targets(self, action: np.ndarray) -> np.ndarray:
        """Joint targets of actions already in [-1, 1]: home + action_offset + action_scale * a, clipped to the
        joint ranges."""
        # minimum/maximum instead of np.clip: the same result, at a third of the call overhead.
        return np.minimum(np.maximum(self._action_centre + self._action_scale * action, self._lo), self._hi)

    def clock_frequency(self, command):
        """The gait clock's frequency (Hz) at forward command(s) `command`: gait_frequency, raised where
        the step length command / (2 gait_frequency) would exceed max_step_length (module docstring)."""
        if self.max_step_length is None:
            return self.gait_frequency
        return np.maximum(self.gait_frequency, np.asarray(command, dtype=np.float64) / (2.0 * self.max_step_length))

    def half_cycle_steps(self, command):
        """Half a gait cycle at forward command(s) `command`, in control steps (a float)."""
        return 0.5 / (self.clock_frequency(command) * self.dt)

    def advance_phase(self, phase, command):
        """The gait phase one control step later at forward command(s) `command`, in [0, 1)."""
        return (phase + self.clock_frequency(command) * self.dt) % 1.0

    def command_phase(self, phase, latency_steps, command):
        """The gait phase `latency_steps` control steps earlier, in [0, 1): the clock the policy read when it
        issued the servo targets that a latency of that many steps applies now."""
        return (phase - np.asarray(latency_steps) * self.clock_frequency(command) * self.dt) % 1.0

    def write_observation(self, o: np.ndarray, xmat_root: np.ndarray, sensordata: np.ndarray, qpos: np.ndarray,
                          action: np.ndarray, command, phase) -> None:
        """Fill observation(s) `o` in OBS_LAYOUT order from the state arrays (non-finite entries -> 0)."""
        s = self.spec_
        o[..., 0:3] = xmat_root[..., 6:9]  # third row of R: world z in body coordinates
        o[..., 3:22] = sensordata[..., s.imu_block]  # gyro, joint positions, joint velocities
        o[..., 6:14] -= self._home_joints  # joint positions relative to home
        o[..., 22:30] = action
        o[..., 30] = command
        angle = 2.0 * np.pi * np.asarray(phase)
        o[..., 31] = np.sin(angle)
        o[..., 32] = np.cos(angle)
        i = 33
        if self.include_heading:  # commanded heading (the start heading, yaw 0) minus yaw
            o[..., 33] = -np.arctan2(xmat_root[..., 3], xmat_root[..., 0])
            i = 34
        if self.include_privileged:
            o[..., i:i + 3] = sensordata[..., s.root_vel_local]
            o[..., i + 3] = qpos[..., 2]
        if not math.isfinite(float(o.sum())):
            np.nan_to_num(o, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def check_action(action) -> np.ndarray:
    """`action` as float64 (NUM_JOINTS,); ValueError naming ``action`` for a wrong shape or a non-finite value."""
    a = np.asarray(action, dtype=np.float64)
    if a.shape != (NUM_JOINTS,):
        raise ValueError(f"action: expected shape ({NUM_JOINTS},), got {a.shape}")
    # One dot product is finite iff every entry is (bar overflow beyond 1e154, which is no action).
    if not math.isfinite(a @ a):
        raise ValueError(f"action: contains NaN or infinite values (or magnitudes > 1e154): {a}")
    return a


def adopt_time_limit(env: gym.Env) -> gym.Env:
    """Registered after gym.make's TimeLimit: validate its ``max_episode_steps``, make the env agree.

    Returns ``env`` itself (no extra wrapper layer). ``env.spec.max_episode_steps`` is the value
    gym.make gave the TimeLimit (its keyword, else the registered 500); None: no TimeLimit.
    """
    limit = env.spec.max_episode_steps if env.spec is not None else None
    if limit is not None:
        env.unwrapped.max_episode_steps = limit  # the property raises on 0, -5, 7.5, "10"
    return env


def _check_max_episode_steps(value) -> int:
    # numbers.Integral admits numpy integers; bool is an int but no step count.
    is_int = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not is_int or value < 1:
        raise ValueError(f"max_episode_steps: expected a positive integer, got {value!r}")
    return int(value)


def _check_image_size(model: mujoco.MjModel, width, height) -> None:
    # Checked here, not at the first render(): there a non-positive size fails deep inside MuJoCo
    # (on some GL backends its C code aborts the whole process), and MuJoCo refuses one beyond the
    # model's offscreen framebuffer.
    limits = {"width": model.vis.global_.offwidth, "height": model.vis.global_.offheight}
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= limits[name]:
            raise ValueError(
                f"{name}: expected an integer in [1, {limits[name]}] (the model's offscreen framebuffer, "
                f"<visual><global off{name}=.../>), got {value!r}")


def _check_options(options) -> None:
    if options is None:
        return
    if not isinstance(options, Mapping):
        raise ValueError(f"options: expected a dict or None, got {type(options).__name__}")
    unknown = sorted(set(options) - set(RESET_OPTIONS), key=str)
    if unknown:
        raise ValueError(f"options: unknown key(s) {unknown}; accepted: {list(RESET_OPTIONS)}")
    if "command" in options:
        cmd = options["command"]
        if isinstance(cmd, bool) or not isinstance(cmd, numbers.Real) or not math.isfinite(cmd):
            raise ValueError(f"options['command']: expected a finite number (forward velocity, m/s), got {cmd!r}")


def _check_args(render_mode, frame_skip, action_scale, command_range, fixed_command, max_episode_steps,
                min_root_height, max_tilt_deg, gait_frequency, reset_noise_scale, contact_threshold,
                yaw_rate_filter_s) -> None:
    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
    if int(frame_skip) != frame_skip or frame_skip < 1:
        raise ValueError(f"frame_skip: expected a positive integer, got {frame_skip!r}")
    scale = np.asarray(action_scale, dtype=np.float64)
    if scale.shape not in ((), (NUM_JOINTS,)) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ValueError(f"action_scale: expected a positive number or {NUM_JOINTS} of them, got {action_scale!r}")
    if len(command_range) != 2 or not all(map(math.isfinite, command_range)) or command_range[0] > command_range[1]:
        raise ValueError(f"command_range: expected (min, max) with min <= max, got {tuple(command_range)!r}")
    if fixed_command is not None and not math.isfinite(fixed_command):
        raise ValueError(f"fixed_command: expected a finite number or None, got {fixed_command!r}")
    if max_episode_steps is not None:
        _check_max_episode_steps(max_episode_steps)
    for name, value in (("min_root_height", min_root_height), ("gait_frequency", gait_frequency),
                        ("reset_noise_scale", reset_noise_scale), ("contact_threshold", contact_threshold),
                        ("yaw_rate_filter_s", yaw_rate_filter_s)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    if not 0 < max_tilt_deg <= 180:
        raise ValueError(f"max_tilt_deg: expected a number in (0, 180], got {max_tilt_deg!r}")
