"""Gait parameters and plan: `GaitParams` (one gait of the library), `Step` and `plan_footsteps` (the
footstep plan, pipeline step 1 in model.py's docstring) and `GaitPlan` (everything planned for one gait).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reference.gait.kinematics import SIDES
from wildrobot_gym.robot import NUM_JOINTS


@dataclass(frozen=True)
class GaitParams:
    """One gait of the library (configs/gaits.yaml lists them).

    speed (m/s) and step_length (m, foothold-to-foothold of opposite feet) fix the step time
    T = step_length / speed. com_height: LIPM height (m). clearance: swing-sole peak height (m).
    duration: total clip length (s), stand holds included. double_support: fraction of T with both
    feet down. zmp_inset: lateral ZMP reference inset (m) from the support foot's centre towards the
    body's midline. hold_start / hold_end: standing time (s) before the first lift / after the last
    touchdown. torso_pitch: waist pitch (rad, + leans forward). stance_width: half distance of the
    feet (m); None = hip-roll anchor width, where the legs hang with zero roll. lateral_sway: gain
    on the planned lateral waist offset (1 = follow the LIPM; see model.py's docstring for why the
    default is negative). ramp_steps: number of footholds at the start and at the end whose advance
    ramps linearly to / from step_length (0 = the first full step follows the half first step).
    swing_peak: fraction of the swing time at which the swing foot is highest (`_swing_profile`).
    heel_off: toe-down pitch (rad) the trailing foot reaches at lift-off (`_heel_toe_pitch`): in the
    double support before a lift it rolls about its toe pad's front edge, which stays on the floor,
    and it is level again by mid-swing. The raised ankle lets the trailing leg reach a foothold
    further back than a flat foot's ankle dorsiflexion allows (0: flat-footed, gait-1.3 and before).
    heel_strike: toe-up pitch (rad) of the swing foot at touchdown: it tilts from mid-swing, lands on
    its heel pad's back edge and rolls flat about it over the double support that follows. The ankle
    is then higher and further back than a flat foot's, so the leading leg reaches further.
    level_com: gain in [0, 1] of the waist-height correction that holds the model's whole-body COM
    at com_height (model.py's docstring, step 4); 0: a constant waist height (gait-1.2 and before).
    """

    name: str
    speed: float
    step_length: float
    com_height: float = 0.29
    clearance: float = 0.045  # configs/gaits.yaml explains the value
    duration: float = 6.0
    double_support: float = 0.25
    zmp_inset: float = 0.025
    hold_start: float = 0.8
    hold_end: float = 0.8
    torso_pitch: float = 0.0
    stance_width: float | None = None
    lateral_sway: float = -0.7
    ramp_steps: int = 0
    swing_peak: float = 0.5
    heel_off: float = 0.0
    heel_strike: float = 0.0
    level_com: float = 0.0
    fps: float = 50.0

    @property
    def step_time(self) -> float:
        return self.step_length / self.speed

    def validate(self) -> None:
        """Reject parameters that cannot make a gait (ValueError naming the field)."""
        if not 0.05 <= self.speed <= 1.0:
            raise ValueError(f"{self.name}: speed {self.speed} m/s outside [0.05, 1.0]")
        if not 0.01 <= self.step_length <= 0.25:
            raise ValueError(f"{self.name}: step_length {self.step_length} m outside [0.01, 0.25]")
        if not 0.1 <= self.step_time <= 1.5:
            raise ValueError(f"{self.name}: step time {self.step_time:.3f} s outside [0.1, 1.5]")
        if not 0.0 < self.double_support < 0.8:
            raise ValueError(f"{self.name}: double_support {self.double_support} outside (0, 0.8)")
        if not 0.0 <= self.clearance <= 0.08:
            raise ValueError(f"{self.name}: clearance {self.clearance} m outside [0, 0.08]")
        if not 0.5 <= self.swing_peak <= 0.7:
            raise ValueError(f"{self.name}: swing_peak {self.swing_peak} outside [0.5, 0.7]")
        if not 0.0 <= self.heel_off <= 0.6:
            raise ValueError(f"{self.name}: heel_off {self.heel_off} rad outside [0, 0.6]")
        if not 0.0 <= self.heel_strike <= 0.6:
            raise ValueError(f"{self.name}: heel_strike {self.heel_strike} rad outside [0, 0.6]")
        if not 0.0 <= self.level_com <= 1.0:
            raise ValueError(f"{self.name}: level_com {self.level_com} outside [0, 1]")
        if not 0 <= self.ramp_steps <= 4:
            raise ValueError(f"{self.name}: ramp_steps {self.ramp_steps} outside [0, 4]")
        need = 3 + 2 * self.ramp_steps
        if self.duration < self.hold_start + self.hold_end + need * self.step_time:
            raise ValueError(f"{self.name}: duration {self.duration} s leaves fewer than {need} steps")


@dataclass(frozen=True)
class Step:
    """One step: `swing` foot moves from x0 to x1 during [t_lift, t_land]; the other foot supports."""

    swing: str
    x0: float
    x1: float
    t_start: float  # start of the double support that precedes the lift
    t_lift: float
    t_land: float


@dataclass
class GaitPlan:
    """Everything planned for one gait, sampled at the control rate (`t`, seconds)."""

    params: GaitParams
    t: np.ndarray  # (N,)
    steps: list[Step]
    com: np.ndarray  # (N, 3) planned COM (LIPM), world
    zmp: np.ndarray  # (N, 2) ZMP of the planned COM motion (cart-table model)
    zmp_ref: np.ndarray  # (N, 2)
    feet: dict[str, np.ndarray]  # side -> (N, 3) ankle-axis positions, world
    contact: dict[str, np.ndarray]  # side -> (N,) bool, foot on the floor (with a heel-off: its toe edge)
    waist: np.ndarray  # (N, 3) waist (root) position, world
    joints: np.ndarray  # (N, 8) actuator order
    walk_window: tuple[float, float]  # (first lift, last touchdown), s
    model_com: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (N, 3) model COM after IK
    joints_raw: np.ndarray = field(default_factory=lambda: np.zeros((0, NUM_JOINTS)))  # (N, 8) IK before the range clip
    ik_error: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (N,) worst ankle miss of the raw IK, m
    sole_pitch: dict[str, np.ndarray] = field(default_factory=dict)  # side -> (N,) planned sole pitch, rad (+ toe down)


def plan_footsteps(p: GaitParams) -> tuple[list[Step], float]:
    """Alternating steps (left first) filling the walking time; returns the steps and the end time.

    The first and the last step are half strides (feet start and end side by side); the others
    move the swing foot by two step lengths, so consecutive footholds are one step length apart.
    With `ramp_steps` r, foothold i advances by L min(1, (i+1)/(r+1), (n-1-i)/(r+1)) instead.
    """
    T = p.step_time
    walk_time = p.duration - p.hold_start - p.hold_end
    n = max(3 + 2 * p.ramp_steps, int(np.floor(walk_time / T + 1e-9)))
    t_ds = p.double_support * T
    steps: list[Step] = []
    pos = {"left": 0.0, "right": 0.0}
    r1 = p.ramp_steps + 1
    t = p.hold_start - t_ds  # the first step's double support ends at hold_start (first lift)
    for i in range(n):
        swing = SIDES[i % 2]
        if i == n - 1:
            target = pos[SIDES[(i + 1) % 2]]  # close the feet
        else:
            target = pos[SIDES[(i + 1) % 2]] + p.step_length * min(1.0, (i + 1) / r1, (n - 1 - i) / r1)
        steps.append(Step(swing, pos[swing], target, t, t + t_ds, t + T))
        pos[swing] = target
        t += T
    return steps, t
