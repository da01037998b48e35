"""Reward terms: small functions of the env's per-step `info` (see `wildrobot_gym.metrics`).

Each term returns its unweighted value; a `RewardComposer` multiplies by the weights of a phase's
YAML (`reward_weights`) and adds. The terms are written once, in numpy, for one env's info (a number)
and for a batch's (each value with a leading env axis: one value per env), so the single env and
the batched env (`wildrobot_gym.batch_env`) share every formula. Penalties are written as negative numbers, so every weight is >= 0.
Shape parameters (sigmas, targets) come from the YAML's `reward_params`.

Terms added after configs were first written (`LATER_TERMS`) weigh 0 in a config that leaves them out,
so configs and checkpoints saved before them still load; every other term needs its weight.

Symbols: v = forward_velocity, v_y = lateral_velocity, v_z = vertical_velocity, c = command,
w = root_ang_vel, q/qd/qdd = joint_pos/vel/acc, a/a' = action/prev_action, tau = actuator_torque,
F_i, s_i, contact_i, td_i, air_i = per-foot force, slip speed, contact, touchdown, last air time.

=======================  ===========================================================  =========
term                     formula                                                      kind
=======================  ===========================================================  =========
tracking_exp_xy          exp(-((v - c)^2 + v_y^2) / tracking_sigma)                    [0, 1]
tracking_lin_xy          max(0, 1 - sqrt((v - c)^2 + v_y^2) / tracking_lin_scale)      [0, 1]
forward_velocity_bonus   max(0, v)       (backward motion and standing still earn 0)   >= 0
orientation              -(roll^2 + (pitch - orientation_pitch_target)^2): pitch > 0  <= 0
                         leans forward; the target 0 (default) is upright
vertical_velocity        -v_z^2                                                       <= 0
angular_velocity         -(w_x^2 + w_y^2)                                             <= 0
heading                  -yaw^2: the error from the commanded heading (the start       <= 0
                         heading, yaw 0); the env observes it with include_heading
yaw_rate                 -lp(w_z)^2: lp = first-order low-pass over yaw_rate_filter_s  <= 0
                         (env argument, 1 s): a steady turn pays, a stride's twist
                         mostly averages out
joint_limit              -sum(max(0, |q - mid| - joint_limit_soft * half_range))       <= 0
joint_velocity           -sum(qd^2)                                                   <= 0
joint_acceleration       -sum(qdd^2)                                                  <= 0
action_rate              -sum((a - a')^2)                                             <= 0
torque                   -sum(tau^2)                                                  <= 0
torque_saturation        -mean_j [|tau_j| >= saturation level]  (metrics)              [-1, 0]
existential              existential_value   (the seed's 'applied as -5.0 in code')    const
foot_contact             mean_i [contact_i == stance_i(phase)]; left stance when the   [0, 1]
                         gait phase is in [0, 0.5), right in [0.5, 1)
foot_sliding             -sum_i contact_i * s_i^2   (a sliding loaded foot pays)       <= 0
foot_air_time            sum_i td_i * min(air_i - air_time_target, air_time_cap)      paid once
                         (paid on the touchdown step only; 0 when c < 0.1 m/s)        per step
gait_clock               mean_i [E_i l_i exp(-(s_i / clock_speed_scale)^2)              [0, 1]
                         + (1 - E_i)(1 - l_i)]: l_i = min(1, F_i / clock_force_scale),
                         E_i a smooth stance indicator of the command phase (see
                         stance_expectation): a loaded, still foot in stance, an
                         unloaded foot in swing
flight                   -[F_left <= f W and F_right <= f W]: neither foot loaded      {-1, 0}
                         (W = robot_weight, f = gait_metrics.LOADED_FRACTION, 0.10:
                         the gait metrics' definition of flight)
double_support           [F_left > f W and F_right > f W] * E_left * E_right: both     [0, 1]
                         feet loaded (the gait metrics' double support) while the
                         clock expects both down (its clock_overlap window)
symmetry                 exp(-sum_j (q_j - mirror(q_half)_j)^2 / symmetry_sigma):      [0, 1]
                         q_half the joints half a gait cycle ago (info's
                         joint_pos_half_cycle), mirror = robot.mirror_joints: a
                         symmetric walk repeats itself mirrored every half cycle
swing_height             mean_i (1 - E_i) min(1, h_i / swing_height_target): h_i the   [0, 1]
                         sole's height above the floor, E_i as in gait_clock; a foot
                         the clock expects in swing pays for lifting up to the target
pose_reference           exp(-sum_j w_j (q_j - q_ref_j)^2 / pose_sigma): q_ref the      [0, 1]
                         walking clips' joint angles at the command phase and the
                         command (`wildrobot_gym.pose_template`; the file:
                         pose_template, None the shipped one); w = pose_joint_weights
                         (1 each by default)
pose_velocity            exp(-sum_j w_j (qd_j - f dq_ref_j/dphase)^2 / pose_velocity_sigma):  [0, 1]
                         the template's joint velocities at the command phase (f the
                         clock's frequency, Hz): the swing's shape, whatever the posture
=======================  ===========================================================  =========
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping, Union

import numpy as np

from wildrobot_gym.gait_metrics import loaded_feet, mirror_residual
from wildrobot_gym.pose_template import load_pose_template
from wildrobot_gym.robot import NUM_JOINTS

Info = Mapping[str, object]
Params = Mapping[str, Any]  # floats; per-joint parameters as float arrays (RewardComposer)
#: A term's value: a number for one env's info, an (N,) array for a batch's (`wildrobot_gym.batch_env`).
Value = Union[float, np.ndarray]

DEFAULT_PARAMS: dict[str, float | tuple[float, ...] | None] = {
    "tracking_sigma": 0.25,
    "tracking_lin_scale": 0.5,
    "joint_limit_soft": 0.9,
    "existential_value": -5.0,
    "orientation_pitch_target": 0.0,  # rad, > 0 forward: the torso pitch the orientation term pays for (0: upright)
    "air_time_target": 0.15,
    "air_time_cap": 0.3,
    "clock_force_scale": 10.0,   # N (0.3 m g): the foot load that counts as fully loaded in gait_clock
    "clock_speed_scale": 0.2,    # m/s: gait_clock's stance foot pays exp(-(s / scale)^2) for sliding
    "clock_smoothing": 0.15,     # width of the stance indicator's edges (in units of sin 2 pi phase)
    "clock_overlap": 0.0,        # > 0: both feet expected down around each switch (double support)
    "symmetry_sigma": 0.25,      # rad^2: symmetry pays exp(-1) when the squared mirror error sums to this
    "swing_height_target": 0.07,  # m: swing_height pays in full from this sole height (the walking reference's
                                  # swing at 0.5-0.8 m/s lifts 6.5-8.2 cm, docs/results/phase3_walking.md)
    "pose_sigma": 1.0,           # rad^2: pose_reference pays exp(-1) when the squared joint errors sum to this
    "pose_velocity_sigma": 150.0,  # (rad/s)^2: pose_velocity pays exp(-1) when its squared errors sum to this (the
                                   # clips' own sum of squares is ~206; walking policies are 140-235 off at 0.65 m/s)
    # w_j of each joint's squared error in pose_reference and pose_velocity (robot.JOINT_NAMES order: hip pitch,
    # hip roll, knee, ankle of the left leg, then the right): a joint whose swing the policy ignores can be given
    # more say than its share of the sum
    "pose_joint_weights": (1.0,) * NUM_JOINTS,
    # the pose terms' template file (`pose_template.resolve_pose_template`): None the shipped one, built from the
    # gait library's clips; a file built from mined walking data (python -m reference.pose_template --dataset) holds
    # the walk the robot made in physics, the one the discriminator judges against
    "pose_template": None,
}


def tracking_exp_xy(info: Info, p: Params) -> Value:
    """exp(-((v - c)^2 + v_y^2) / tracking_sigma): velocity tracking, 1 when exact, in [0, 1]."""
    e2 = (info["forward_velocity"] - info["command"]) ** 2 + info["lateral_velocity"] ** 2
    return np.exp(-e2 / p["tracking_sigma"])


def tracking_lin_xy(info: Info, p: Params) -> Value:
    """max(0, 1 - |(v - c, v_y)| / tracking_lin_scale): linear tracking, sharper near the command."""
    e = np.hypot(info["forward_velocity"] - info["command"], info["lateral_velocity"])
    return np.maximum(0.0, 1.0 - e / p["tracking_lin_scale"])


def forward_velocity_bonus(info: Info, p: Params) -> Value:
    """max(0, v): pays forward motion only; backward motion and standing still earn 0."""
    return np.maximum(0.0, info["forward_velocity"])


def orientation(info: Info, p: Params) -> Value:
    """-(roll^2 + (pitch - orientation_pitch_target)^2): stay upright, or at a forward lean (pitch > 0)."""
    return -(info["roll"] ** 2 + (info["pitch"] - p["orientation_pitch_target"]) ** 2)


def vertical_velocity(info: Info, p: Params) -> Value:
    """-v_z^2: minimal bobbing."""
    return -info["vertical_velocity"] ** 2


def angular_velocity(info: Info, p: Params) -> Value:
    """-(w_x^2 + w_y^2): no rocking about the roll and pitch axes."""
    w = info["root_ang_vel"]
    return -(w[..., 0] ** 2 + w[..., 1] ** 2)


def heading(info: Info, p: Params) -> Value:
    """-yaw^2: the squared heading error, the commanded heading being the episode's start heading (yaw 0).

    Its observation is the env's heading_error (include_heading); a steady turn pays more every second."""
    return -info["yaw"] ** 2


def yaw_rate(info: Info, p: Params) -> Value:
    """-lp(w_z)^2: the low-passed body yaw rate (metrics' yaw_rate_filtered); walking in a circle pays.

    Velocity is tracked in the robot's own heading frame, so nothing else stops a slow steady turn."""
    return -info["yaw_rate_filtered"] ** 2


def joint_limit(info: Info, p: Params) -> Value:
    """-sum_j max(0, |q_j - mid_j| - joint_limit_soft * half_range_j): stay away from the joint limits."""
    mid, half = info["joint_range_mid"], info["joint_range_half"]
    excess = np.abs(info["joint_pos"] - mid) - p["joint_limit_soft"] * half
    return -np.maximum(excess, 0.0).sum(axis=-1)


def _sq(x: np.ndarray) -> Value:
    """sum of squares over the last axis (one env: a number; a batch: one per env)."""
    return np.einsum("...i,...i->...", x, x)


def joint_velocity(info: Info, p: Params) -> Value:
    """-sum_j qd_j^2."""
    return -_sq(info["joint_vel"])


def joint_acceleration(info: Info, p: Params) -> Value:
    """-sum_j qdd_j^2: smooth joint motion."""
    return -_sq(info["joint_acc"])


def action_rate(info: Info, p: Params) -> Value:
    """-sum_j (a_j - a'_j)^2: no jerky actions."""
    return -_sq(info["action"] - info["prev_action"])


def torque(info: Info, p: Params) -> Value:
    """-sum_j tau_j^2: effort."""
    return -_sq(info["actuator_torque"])


def torque_saturation(info: Info, p: Params) -> Value:
    """-mean_j [servo j at its torque limit] (metrics' torque_saturated): a servo held at its stop cannot
    correct anything, and on the robot it heats up."""
    return -info["torque_saturated"].mean(axis=-1)


def existential(info: Info, p: Params) -> Value:
    """existential_value (a constant per step; the seed applies weight 1.0 as -5.0)."""
    return p["existential_value"] + 0.0 * info["forward_velocity"]  # the shape of the batch, if any


def foot_contact(info: Info, p: Params) -> Value:
    """mean over feet of [contact_i == stance_i(command phase)]: left foot stance in [0, 0.5), right in [0.5, 1).

    The command phase is the gait phase at which the servo targets now applied were issued (`info`'s
    command_phase): the gait phase itself, unless training randomises the action latency. Judged against the
    delayed clock, a policy that cannot observe its latency learns one timing for every latency; judged against
    the clock itself it learned to command early for the average latency of training, and on the nominal robot
    every foot landed early (proper contacts 0.18 at no latency, 0.48 at 40 ms; docs/results/phase2.md)."""
    left_stance = info["command_phase"] < 0.5
    c = info["foot_contact"]
    return 0.5 * ((c[..., 0] == left_stance).astype(np.float64) + (c[..., 1] != left_stance))


def foot_sliding(info: Info, p: Params) -> Value:
    """-sum_i contact_i * s_i^2: a foot that slides while loaded pays; a swinging foot does not."""
    s = info["foot_slip_speed"]
    return -np.einsum("...i,...i->...", info["foot_contact"] * s, s)


def foot_air_time(info: Info, p: Params) -> Value:
    """sum_i td_i * min(air_i - air_time_target, air_time_cap): paid once, on touchdown; 0 when c < 0.1."""
    gain = np.minimum(info["foot_last_air_time"] - p["air_time_target"], p["air_time_cap"])
    paid = np.einsum("...i,...i->...", info["foot_touchdown"], gain)
    return np.where(info["command"] < 0.1, 0.0, paid)


def stance_expectation(phase: Value, p: Params) -> np.ndarray:
    """(..., 2) expected stance of (left, right) at gait phase(s) `phase`, smooth in [0, 1]:
    E_left = sigmoid((sin 2 pi phase + clock_overlap) / clock_smoothing), E_right the same half a cycle
    later. With clock_overlap 0 the left foot is expected down in [0, 0.5) and the right in [0.5, 1), as in
    foot_contact, but the switch is a ramp, not a step, so a touchdown a little early or late costs a little."""
    x = np.sin(2.0 * np.pi * np.asarray(phase, dtype=np.float64))
    k, d = p["clock_smoothing"], p["clock_overlap"]
    z = np.stack([(x + d) / k, (-x + d) / k], axis=-1)
    return 1.0 / (1.0 + np.exp(-z))


def gait_clock(info: Info, p: Params) -> Value:
    """mean over feet of E_i l_i exp(-(s_i / clock_speed_scale)^2) + (1 - E_i)(1 - l_i): a periodic reward
    in [0, 1] on the command phase (as foot_contact). l_i = min(1, F_i / clock_force_scale) is how loaded the
    foot is, E_i its expected stance (`stance_expectation`). A foot expected in swing pays for every newton it
    carries, one expected in stance for being unloaded or sliding. Unlike foot_contact's 0 / 1 match, the pay
    changes smoothly with the timing and the load, so a touchdown a little early pays a little less."""
    e = stance_expectation(info["command_phase"], p)
    load = np.minimum(1.0, np.asarray(info["foot_force"]) / p["clock_force_scale"])
    still = np.exp(-(np.asarray(info["foot_slip_speed"]) / p["clock_speed_scale"]) ** 2)
    per_foot = e * load * still + (1.0 - e) * (1.0 - load)
    return per_foot.mean(axis=-1)


def flight(info: Info, p: Params) -> Value:
    """-[neither foot carries more than LOADED_FRACTION of the robot's weight]: a step with both feet off
    the ground (a hop or a run's flight phase) pays 1. The same test as the gait metrics' flight fraction."""
    return -(~loaded_feet(info["foot_force"], info["robot_weight"]).any(axis=-1)).astype(np.float64)


def double_support(info: Info, p: Params) -> Value:
    """[both feet carry more than LOADED_FRACTION of the weight] * E_left * E_right: the gait metrics'
    double support, paid where the clock expects both feet down (`stance_expectation`; with clock_overlap 0
    that window is almost empty). Within the window only, so that shuffling with both feet down all the
    time does not pay: a walk keeps the trailing foot loaded until the leading one has taken the weight."""
    both = loaded_feet(info["foot_force"], info["robot_weight"]).all(axis=-1)
    e = stance_expectation(info["command_phase"], p)
    return both * e[..., 0] * e[..., 1]


def symmetry(info: Info, p: Params) -> Value:
    """exp(-sum_j (q_j - mirror(q_half)_j)^2 / symmetry_sigma), q_half the joint angles half a gait cycle ago
    (`wildrobot_gym.joint_history`): 1 when the legs now do what the other leg did half a cycle earlier. A limp
    (one knee stiff, the other swinging) pays little, whatever the discriminator makes of each frame: the
    style reward judges frames, not how the two halves of a cycle compare."""
    e = mirror_residual(info["joint_pos"], info["joint_pos_half_cycle"])
    return np.exp(-np.einsum("...i,...i->...", e, e) / p["symmetry_sigma"])


def swing_height(info: Info, p: Params) -> Value:
    """mean over feet of (1 - E_i) min(1, h_i / swing_height_target): a foot the clock expects in swing
    (`stance_expectation`) pays for its sole's height above the floor, in full from the target up. A walk that
    shuffles one foot along the floor, the knee held straight, earns nothing for that foot; gait_clock alone pays
    a swinging foot for being unloaded, however low it moves."""
    e = stance_expectation(info["command_phase"], p)
    lift = np.clip(np.asarray(info["foot_height"], dtype=np.float64) / p["swing_height_target"], 0.0, 1.0)
    return ((1.0 - e) * lift).mean(axis=-1)


def pose_reference(info: Info, p: Params) -> Value:
    """exp(-sum_j (q_j - q_ref_j)^2 / pose_sigma), q_ref the gait library's joint angles at the command phase
    and speed (`wildrobot_gym.pose_template`): 1 in the clips' pose, at the clips' moment of the stride. The
    discriminator judges whether a transition looks like the reference anywhere; this term says which pose of
    it belongs to this moment of the clock. Looked up here, not in the env, so that it costs nothing while off."""
    q_ref = load_pose_template(p.get("pose_template")).target(info["command_phase"], info["command"])
    e = np.asarray(info["joint_pos"], dtype=np.float64) - q_ref
    return np.exp(-np.einsum("...i,i,...i->...", e, p["pose_joint_weights"], e) / p["pose_sigma"])


def pose_velocity(info: Info, p: Params) -> Value:
    """exp(-sum_j (qd_j - f dq_ref_j/dphase)^2 / pose_velocity_sigma): the gait library's joint velocities at the
    command phase and speed (`PoseTemplate.rate` times the clock's frequency f). Blind to a constant offset of any
    joint, it pays for the clips' swing (how far and when each joint moves) in whatever posture the policy holds;
    pose_reference pays for the posture too, and the clips' crouch costs servo torque."""
    qd_ref = load_pose_template(p.get("pose_template")).rate(info["command_phase"], info["command"])
    qd_ref = qd_ref * np.asarray(info["clock_frequency"], dtype=np.float64)[..., None]
    e = np.asarray(info["joint_vel"], dtype=np.float64) - qd_ref
    return np.exp(-np.einsum("...i,i,...i->...", e, p["pose_joint_weights"], e) / p["pose_velocity_sigma"])


TERMS: dict[str, Callable[[Info, Params], float]] = {
    f.__name__: f
    for f in (
        tracking_exp_xy, tracking_lin_xy, forward_velocity_bonus, orientation, vertical_velocity,
        angular_velocity, heading, yaw_rate, joint_limit, joint_velocity, joint_acceleration, action_rate, torque,
        torque_saturation, existential, foot_contact, foot_sliding, foot_air_time, gait_clock, flight,
        double_support, symmetry, swing_height, pose_reference, pose_velocity,
    )
}

#: Terms added after configs were first saved: a config without them gives them weight 0.
LATER_TERMS: tuple[str, ...] = (
    "heading", "yaw_rate", "torque_saturation", "gait_clock", "flight", "double_support", "symmetry",
    "swing_height", "pose_reference", "pose_velocity",
)


def _param(name: str, value: Any) -> Any:
    """A reward parameter as the terms use it: a float, or for a per-joint one (a tuple in DEFAULT_PARAMS) a
    float array of the default's length with every entry finite and >= 0; ``pose_template`` stays a file name
    (or None), its file read once here."""
    default = DEFAULT_PARAMS[name]
    if name == "pose_template":  # a file: checked (and read) now, so that a bad name fails before training
        if value is not None and (not isinstance(value, (str, Path)) or not str(value)):
            raise ValueError(f"reward_params.pose_template: expected a file name or null, got {value!r}")
        load_pose_template(None if value is None else str(value))
        return None if value is None else str(value)
    if not isinstance(default, tuple):
        return float(value)
    a = np.asarray(value, dtype=np.float64)
    if a.shape != (len(default),) or not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"reward_params.{name}: expected a list of {len(default)} finite numbers >= 0, got {value!r}")
    return a


class RewardComposer:
    """total = sum_k weight_k * term_k(info); terms with weight 0 are skipped (cost nothing)."""

    def __init__(self, weights: Mapping[str, float], params: Mapping[str, float] | None = None) -> None:
        unknown = sorted(set(weights) - set(TERMS))
        if unknown:
            raise ValueError(f"reward_weights: unknown reward term(s) {unknown}; known: {sorted(TERMS)}")
        for k, w in weights.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ValueError(f"reward_weights.{k}: expected a finite number >= 0, got {w!r}")
        unknown = sorted(set(params or {}) - set(DEFAULT_PARAMS))
        if unknown:
            raise ValueError(f"reward_params: unknown parameter(s) {unknown}; known: {sorted(DEFAULT_PARAMS)}")
        self.weights = {k: float(w) for k, w in weights.items()}
        self.params = {k: _param(k, v) for k, v in {**DEFAULT_PARAMS, **(params or {})}.items()}
        self._active = [(k, float(w), TERMS[k]) for k, w in weights.items() if w != 0.0]

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Replace some weights (a curriculum stage change)."""
        merged = {**self.weights, **weights}
        self.__init__(merged, self.params)

    def __call__(self, info: Info) -> tuple[Value, dict[str, Value]]:
        """(total, weighted terms): numbers for one env's info, (N,) arrays for a batch's."""
        terms, total, p = {}, 0.0, self.params
        for k, w, f in self._active:
            terms[k] = v = w * f(info, p)
            total += v
        return total, terms
