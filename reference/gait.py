"""Walking-gait generator for WildRobot: footstep plan -> LIPM/ZMP preview COM -> leg IK -> `Clip`.

Why this exists: retargeted human clips gave 0 s of trackable reference (the robot fell in 1-3 s of
open-loop PD tracking). These gaits are built from the robot's own kinematics and masses so that a
PD servo can follow them: a crouched posture, a flat foot, a centre of mass (COM) that follows a
linear-inverted-pendulum plan whose zero-moment point (ZMP) stays inside the support polygon.

Pipeline (`generate_gait`):
  1. `plan_footsteps`: alternating footholds (first swing: left), step length L, step time T = L / v,
     a double-support fraction of T; a standing hold before and after; first and last steps are
     half strides so the feet start and end side by side. With `ramp_steps` = r > 0 the first and
     last r footholds advance by L/(r+1), 2L/(r+1), ... so the COM accelerates and brakes over
     several steps (a fast gait started in one step needs joints beyond their limits).
  2. `zmp_reference` + `preview_control`: Kajita's ZMP preview control on the cart-table model at
     height z_c gives the COM path; the ZMP reference sits on the support foot's centre in x and is
     moved `zmp_inset` inwards from the foot centre in y (the robot has no ankle roll, see below).
  3. Swing feet: minimum-jerk (quintic) progression in x, a smooth 64 s^3 (1-s)^3 height bump of
     `clearance`; the sole stays parallel to the floor in pitch, unless the gait rolls its feet:
     with `heel_off` the trailing sole pitches toe down about its toe pad's front edge over the double
     support before a lift (the edge stays on the floor) and is level again by mid-swing; with
     `heel_strike` the swing sole pitches toe up from mid-swing, lands on its heel pad's back edge and
     rolls flat over the next double support. Why: a flat trailing foot caps the step at ~0.17 m (the
     ankle's dorsiflexion stop behind, the leading leg's reach in front), and at that step length a
     0.8 m/s walk needs 4.7-5 steps/s; a heel-toe step of 0.20-0.21 m makes it at 3.8-4 steps/s.
  4. Waist from COM: the waist carries only 38 % of the mass, so "waist = COM + constant" is wrong
     by the legs' motion. Each frame the waist's horizontal position is corrected by a fixed-point
     iteration on the model's true whole-body COM (MuJoCo `subtree_com` after leg IK), so the model's
     COM follows the LIPM plan with the real link masses. `level_com` = a in [0, 1] applies the same
     iteration to the height with gain a: the waist bobs against the swing leg's lift and the
     whole-body COM's bob shrinks to about (1 - a) of what a constant waist height (a = 0, gait-1.2)
     gives. At a = 0 the lifting legs moved the COM 11-16 mm peak to peak at 3-5 steps/s: up to
     +-0.7 g of vertical acceleration on the fast clips, so following them exactly left the feet
     unloaded (< 0.6 m g) in 20-24 % of the frames, twice the Tier 0+ `unloaded_fraction` gate.
     a = 1 levels the COM but needs the waist to bob 20-32 mm, past the knee's and hip roll's
     ranges on most gaits. The shipped library keeps a = 0: a levelled one (docs/results/tracker_v5/
     gaits_level.yaml) did not mine more walking (docs/results/tracker.md). The standing waist height
     gives the requested COM height in the crouched standing pose.
  5. `leg_ik`: analytic IK of the hip pitch - hip roll - knee - ankle pitch leg (below).

Kinematic limits this robot imposes (documented because they shape the gaits): with no ankle roll
the foot's roll equals the leg's frontal tilt, so a flat-footed stance keeps each hip above its
ankle and the pelvis cannot shift sideways over the stance foot. Lateral balance is therefore
dynamic. Measured in MuJoCo: commanding the LIPM's lateral waist sway (legs tilted in parallel by
hip roll) does not move the pelvis sideways; the floor keeps the soles flat, so the whole robot
rolls the other way and loads the foot that should swing (the robot then shuffles in place or
falls). Commanding the opposite sway (`lateral_sway` < 0) rolls the robot onto the stance foot's
outer edge and unloads the swing foot: a rocking gait, which is what these clips use. So the
lateral COM/ZMP of the plan is nominal (used for the timing and amplitude of the rocking); the
sagittal plan (x) is realised: the model's COM follows it.

Validity (`check_plan`): the IK is solved without limits first; the clip is only acceptable when
every joint stays inside its range and every ankle target is reachable (`GaitPlan.joints_raw`,
`GaitPlan.ik_error`); `check_plan` also reports the ZMP support margin, stance-foot slip, sole
tilt, the lateral gap between the feet and the double-support fraction of the clip's kinematics.

Trackability (`track_clip`): plays a clip on the model with PD servos only (no harness, qpos never
overwritten) and reports survival time, achieved speed and actuator saturation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import mujoco
import numpy as np

from reference.clips import Clip
from wildrobot_gym.config.reference import GateConfig
from wildrobot_gym.robot import GRAVITY, NUM_JOINTS, RobotSpec, load_model

# 1.1: default clearance 0.045 m. 1.2: preview control weighs ref[k+1] with gd[0] (the ZMP lagged a
# control step), ramp_steps, swing_peak, unclipped IK + check_plan, steady window in the metadata.
# 1.3: level_com (the whole-body COM held at the LIPM height) and check_plan's implied foot load; level_com 0
# gives the 1.2 clips exactly.
# 1.4: heel_off / heel_strike (the sole rolls about its toe edge before a lift, about its heel edge after a
# touchdown), leg_ik's sole pitch; both 0 give the 1.3 clips exactly.
GENERATOR_VERSION = "gait-1.4"
SIDES = ("left", "right")
SIDE_SIGN = {"left": 1.0, "right": -1.0}


# --------------------------------------------------------------------------------------------
# Leg geometry and IK
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegGeometry:
    """Offsets of the left leg's chain in the waist frame (the right leg mirrors y), read from the MJCF.

    hip: hip-pitch anchor; roll: hip-roll anchor relative to the hip-pitch anchor; knee: knee
    relative to the roll anchor; shank: ankle below the knee (length); sole_depth: sole below the
    ankle axis; pad_x / pad_y: sole rectangle relative to the ankle (x min/max, half width).
    """

    hip: np.ndarray
    roll: np.ndarray
    knee: np.ndarray
    shank: float
    sole_depth: float
    pad_x: tuple[float, float]
    pad_half_width: float

    @staticmethod
    def from_model(model: mujoco.MjModel) -> "LegGeometry":
        def body(name: str) -> np.ndarray:
            return model.body_pos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)].copy()

        foot = body("left_foot")
        if abs(foot[0]) > 1e-9 or abs(foot[1]) > 1e-9:
            raise ValueError("leg_ik assumes the ankle lies straight below the knee")
        sole = model.site_pos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "left_sole")]
        xs, half_w = [], []
        for pad in ("left_toe", "left_heel"):
            g = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, pad)
            xs += [model.geom_pos[g][0] - model.geom_size[g][0], model.geom_pos[g][0] + model.geom_size[g][0]]
            half_w.append(model.geom_size[g][1])
        return LegGeometry(
            hip=body("left_hip"),
            roll=body("left_upper_leg"),
            knee=body("left_lower_leg"),
            shank=float(-foot[2]),
            sole_depth=float(-sole[2]),
            pad_x=(float(min(xs)), float(max(xs))),
            pad_half_width=float(min(half_w)),
        )

    @property
    def foot_y(self) -> float:
        """Lateral position of the hip-roll anchor: a foot there hangs with zero hip roll."""
        return float(self.hip[1] + self.roll[1])

    @property
    def sole_center_x(self) -> float:
        """Middle of the sole in x relative to the ankle axis."""
        return 0.5 * (self.pad_x[0] + self.pad_x[1])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def leg_ik(geo: LegGeometry, side: str, ankle_in_waist: np.ndarray, torso_pitch: float = 0.0,
           sole_pitch: float = 0.0) -> np.ndarray:
    """Joint angles (hip_pitch, hip_roll, knee, ankle) that put `side`'s ankle axis at `ankle_in_waist`.

    The target is in the waist frame. The sole is pitched by `sole_pitch` in the world (rad, positive
    toe down: a heel-off; 0 level) for a waist pitched by `torso_pitch` (rad, rotation about +y,
    positive leans forward). Its roll cannot be chosen (no ankle roll): it equals the hip roll. Angles
    follow robot.md's signs: left hip pitch + and right hip pitch - are flexion; left hip roll - and
    right hip roll + are abduction.

    Derivation, with flexion f (R_y(-f)), roll rotation a = -q_roll about +x, knee k, ankle b:
      p = R_y(-f) [roll + R_x(a) (knee + R_y(k) (0, 0, -shank))]  (relative to the hip-pitch anchor)
    The y component and the norm do not depend on f, which gives k in closed form, then a, then f.
    """
    s = SIDE_SIGN[side]
    p = np.asarray(ankle_in_waist, dtype=float) - geo.hip * np.array([1.0, s, 1.0])
    ox, oy = geo.roll[0], s * geo.roll[1]
    kx, kz, ls = geo.knee[0], geo.knee[2], geo.shank
    e = oy - p[1]  # lateral distance the roll joint must produce
    d2 = p[0] ** 2 + p[2] ** 2 + e**2
    # |(ox + kx - ls sin k, kz - ls cos k)|^2 = d2  ->  A cos k + B sin k = C
    c0 = ox + kx
    A, B = -2.0 * kz * ls, -2.0 * c0 * ls
    C = d2 - c0**2 - kz**2 - ls**2
    r = np.hypot(A, B)
    phi = np.arctan2(B, A)
    knee = phi + np.arccos(np.clip(C / r, -1.0, 1.0))  # the bent-backwards (positive) branch
    knee = float(np.clip(knee, 0.0, np.pi))
    vz = kz - ls * np.cos(knee)  # knee-to-ankle chain z before the roll (negative)
    a = float(np.arcsin(np.clip(e / vz, -1.0, 1.0)))  # from p_y = oy - vz sin(a)
    inner_x = c0 - ls * np.sin(knee)
    inner_z = vz * np.cos(a)
    f = float(np.arctan2(p[2], p[0]) - np.arctan2(inner_z, inner_x))
    f = (f + np.pi) % (2 * np.pi) - np.pi
    # Sole pitch: the z component of the foot x axis, R_y(pitch - f) R_x(a) R_y(k + b) (1, 0, 0), is
    # sin(fw) cos(beta) - cos(fw) cos(a) sin(beta) with fw = f - pitch, beta = k + b; it must equal
    # -sin(sole_pitch) (0: level). The branch is the one that gives the level solution at 0.
    fw = f - torso_pitch
    ca, cb = np.sin(fw), np.cos(fw) * np.cos(a)
    if sole_pitch == 0.0:  # level: the closed form of gait-1.3, so its clips are reproduced bit for bit
        beta = float(np.arctan2(ca, cb))
    else:
        cos_arg = np.clip(-np.sin(sole_pitch) / np.hypot(ca, cb), -1.0, 1.0)
        beta = -float(np.arctan2(cb, ca)) + float(np.arccos(cos_arg))
        beta = (beta + np.pi) % (2 * np.pi) - np.pi
    ankle = beta - knee
    hip_pitch = f if side == "left" else -f
    hip_roll = -a
    return np.array([hip_pitch, hip_roll, knee, ankle])


def leg_fk(geo: LegGeometry, side: str, q: np.ndarray, torso_pitch: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Ankle position (waist frame) and foot rotation (world axes, waist pitched) of one leg: IK's inverse."""
    s = SIDE_SIGN[side]
    f = q[0] if side == "left" else -q[0]
    a = -q[1]
    r_hip = _rot_y(-f)
    r_roll = r_hip @ _rot_x(a)
    r_knee = r_roll @ _rot_y(q[2])
    r_foot = r_knee @ _rot_y(q[3])
    mirror = np.array([1.0, s, 1.0])
    ankle = geo.hip * mirror + r_hip @ (geo.roll * mirror) + r_roll @ geo.knee + r_knee @ np.array([0, 0, -geo.shank])
    return ankle, _rot_y(torso_pitch) @ r_foot


# --------------------------------------------------------------------------------------------
# Gait parameters and plan
# --------------------------------------------------------------------------------------------


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
    on the planned lateral waist offset (1 = follow the LIPM; see the module docstring for why the
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
    at com_height (module docstring, step 4); 0: a constant waist height (gait-1.2 and before).
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


def _support_zmp(p: GaitParams, geo: LegGeometry, side: str, x_ankle: float, width: float) -> np.ndarray:
    """ZMP reference on one support foot: sole centre in x, `zmp_inset` towards the midline in y."""
    s = SIDE_SIGN[side]
    return np.array([x_ankle + geo.sole_center_x, s * (width - p.zmp_inset)])


def zmp_reference(p: GaitParams, geo: LegGeometry, steps: list[Step], t: np.ndarray, width: float) -> np.ndarray:
    """Piecewise-linear ZMP reference: on the support foot in single support, moving over in double support."""
    ref = np.zeros((len(t), 2))
    feet = {"left": 0.0, "right": 0.0}
    mid0 = np.array([geo.sole_center_x, 0.0])
    ref[:] = mid0
    prev = mid0
    for st in steps:
        support = "right" if st.swing == "left" else "left"
        target = _support_zmp(p, geo, support, feet[support], width)
        ds = (t >= st.t_start) & (t < st.t_lift)
        a = (t[ds] - st.t_start) / (st.t_lift - st.t_start)
        ref[ds] = prev + a[:, None] * (target - prev)
        ref[(t >= st.t_lift)] = target
        feet[st.swing] = st.x1
        prev = target
    # final double support: back to the middle of the (closed) feet, over one double-support time
    t_end = steps[-1].t_land
    t_ds = p.double_support * p.step_time
    final = np.array([feet["left"] + geo.sole_center_x, 0.0])
    ds = (t >= t_end) & (t < t_end + 2 * t_ds)
    a = (t[ds] - t_end) / (2 * t_ds)
    ref[ds] = prev + a[:, None] * (final - prev)
    ref[t >= t_end + 2 * t_ds] = final
    return ref


@lru_cache(maxsize=16)
def _preview_gains(z_c: float, dt: float, n_preview: int, q_e: float = 1.0, r: float = 1e-8) -> tuple:
    """Gains of Kajita's ZMP preview controller (integral-augmented cart-table model, jerk input)."""
    A = np.array([[1.0, dt, dt * dt / 2], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
    B = np.array([[dt**3 / 6], [dt * dt / 2], [dt]])
    C = np.array([[1.0, 0.0, -z_c / GRAVITY]])
    At = np.block([[np.eye(1), C @ A], [np.zeros((3, 1)), A]])
    Bt = np.vstack([C @ B, B])
    Q = np.zeros((4, 4))
    Q[0, 0] = q_e
    P = Q.copy()
    for _ in range(20000):  # discrete Riccati iteration: converges in a few hundred steps here
        S = r + (Bt.T @ P @ Bt)[0, 0]
        Pn = Q + At.T @ P @ At - (At.T @ P @ Bt) @ (Bt.T @ P @ At) / S
        if np.max(np.abs(Pn - P)) < 1e-12 * max(1.0, np.max(np.abs(P))):
            P = Pn
            break
        P = Pn
    S = r + (Bt.T @ P @ Bt)[0, 0]
    K = (Bt.T @ P @ At) / S
    gi, gx = K[0, 0], K[0, 1:]
    Ac = At - Bt @ K
    X = -Ac.T @ P @ np.array([[1.0], [0.0], [0.0], [0.0]])
    gd = np.zeros(n_preview)
    gd[0] = -gi
    for j in range(1, n_preview):
        gd[j] = ((Bt.T @ X) / S)[0, 0]
        X = Ac.T @ X
    return A, B, C, gi, gx, gd


def preview_control(zmp_ref: np.ndarray, z_c: float, dt: float, preview_s: float = 1.6) -> tuple[np.ndarray, np.ndarray]:
    """COM path (N, 2) whose cart-table ZMP tracks `zmp_ref` (N, 2); also returns that ZMP (N, 2)."""
    n_prev = int(round(preview_s / dt))
    A, B, C, gi, gx, gd = _preview_gains(float(z_c), float(dt), n_prev)
    n = len(zmp_ref)
    padded = np.vstack([zmp_ref, np.repeat(zmp_ref[-1:], n_prev, axis=0)])
    com = np.zeros((n, 2))
    zmp = np.zeros((n, 2))
    for axis in range(2):
        x = np.array([zmp_ref[0, axis], 0.0, 0.0])
        err = 0.0
        for k in range(n):
            com[k, axis] = x[0]
            zmp[k, axis] = (C @ x)[0]
            err += zmp[k, axis] - zmp_ref[k, axis]
            u = -gi * err - gx @ x - gd @ padded[k + 1 : k + 1 + n_prev, axis]  # gd[0] = -gi weighs ref[k+1]
            x = A @ x + B[:, 0] * u
    return com, zmp


def _minimum_jerk(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return 10 * u**3 - 15 * u**4 + 6 * u**5


def _swing_profile(s: np.ndarray, peak: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Progress (minimum-jerk quintic) and normalised height s^a (1-s)^3 / max: both smooth to 2nd order.

    a = 3 peak / (1 - peak) puts the highest point at the fraction `peak` of the swing (0.5: the
    symmetric 64 s^3 (1-s)^3). A later peak lifts the foot less while it is still behind the body
    (less knee bend and ankle dorsiflexion there) and keeps it low for a shorter time in front.
    """
    s = np.clip(s, 0.0, 1.0)
    prog = _minimum_jerk(s)
    a = 3.0 * peak / (1.0 - peak)
    height = s**a * (1.0 - s) ** 3 / (peak**a * (1.0 - peak) ** 3)
    return prog, height


def _heel_toe_pitch(p: GaitParams, st: Step, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sole pitch (rad, + toe down) of step `st`'s swing foot at times `t`, as (heel-off part, heel-strike part).

    Heel-off: rises (minimum jerk) from 0 at the start of the double support before the lift to `heel_off`
    at the lift, back to 0 by mid-swing. Heel-strike: from 0 at mid-swing to -`heel_strike` at the
    touchdown, back to 0 at the end of the double support that follows (as long as the one before)."""
    t_ds = max(st.t_lift - st.t_start, 1e-9)
    half = 0.5 * (st.t_land - st.t_lift)
    rise, fall = _minimum_jerk((t - st.t_start) / t_ds), _minimum_jerk((t - st.t_lift) / half)
    off = np.where(t <= st.t_lift, rise, 1.0 - fall)
    off = p.heel_off * off * (t >= st.t_start) * (t < st.t_lift + half)
    tilt, roll = _minimum_jerk((t - st.t_lift - half) / half), _minimum_jerk((t - st.t_land) / t_ds)
    strike = np.where(t <= st.t_land, tilt, 1.0 - roll)
    strike = -p.heel_strike * strike * (t > st.t_lift + half) * (t < st.t_land + t_ds)
    return off, strike


def _edge_pivot_offset(geo: LegGeometry, pitch: np.ndarray, edge_x: float) -> np.ndarray:
    """(N, 2) x, z displacement of the ankle axis when the foot rolls by `pitch` (+ toe down) about the sole's
    bottom edge at `edge_x` (relative to the ankle; the toe pad's front edge or the heel pad's back edge),
    which stays put."""
    rx, rz = -edge_x, geo.sole_depth  # ankle relative to that edge
    c, s = np.cos(pitch), np.sin(pitch)
    return np.column_stack([c * rx + s * rz - rx, -s * rx + c * rz - rz])


def foot_trajectories(p: GaitParams, geo: LegGeometry, steps: list[Step], t: np.ndarray,
                      width: float) -> tuple[dict, dict, dict]:
    """Ankle-axis positions (world), contact flags and sole pitches (rad, + toe down) of both feet over time."""
    feet = {side: np.zeros((len(t), 3)) for side in SIDES}
    contact = {side: np.ones(len(t), dtype=bool) for side in SIDES}
    sole_pitch = {side: np.zeros(len(t)) for side in SIDES}
    for side in SIDES:
        feet[side][:, 1] = SIDE_SIGN[side] * width
        feet[side][:, 2] = geo.sole_depth
    for st in steps:
        f = feet[st.swing]
        f[t >= st.t_land, 0] = st.x1
        sw = (t > st.t_lift) & (t < st.t_land)
        prog, h = _swing_profile((t[sw] - st.t_lift) / (st.t_land - st.t_lift), p.swing_peak)
        f[sw, 0] = st.x0 + prog * (st.x1 - st.x0)
        f[sw, 2] = geo.sole_depth + p.clearance * h
        contact[st.swing][sw] = False
        if p.heel_off > 0.0 or p.heel_strike > 0.0:  # each roll about its edge, carried by the swing path
            off, strike = _heel_toe_pitch(p, st, t)
            on = (off != 0.0) | (strike != 0.0)
            sole_pitch[st.swing][on] = off[on] + strike[on]
            shift = _edge_pivot_offset(geo, off[on], geo.pad_x[1]) + _edge_pivot_offset(geo, strike[on], geo.pad_x[0])
            f[on, 0] += shift[:, 0]
            f[on, 2] += shift[:, 1]
    return feet, contact, sole_pitch


def _quat_pitch(pitch: float) -> np.ndarray:
    return np.array([np.cos(pitch / 2), 0.0, np.sin(pitch / 2), 0.0])


class GaitModel:
    """The compiled model plus scratch data used for COM corrections, IK checks and tracking."""

    def __init__(self, model: mujoco.MjModel | None = None) -> None:
        self.model = model if model is not None else load_model()
        self.data = mujoco.MjData(self.model)
        self.spec = RobotSpec.from_model(self.model)
        self.geo = LegGeometry.from_model(self.model)

    def whole_ik(self, waist: np.ndarray, feet: dict[str, np.ndarray], pitch: float,
                 sole_pitch: dict[str, float] | None = None) -> np.ndarray:
        """Joint vector (actuator order) for a waist position/pitch, world ankle positions and sole pitches
        (level when None)."""
        rot_t = _rot_y(pitch).T
        q = np.zeros(NUM_JOINTS)
        for i, side in enumerate(SIDES):
            tilt = 0.0 if sole_pitch is None else float(sole_pitch[side])
            q[4 * i : 4 * i + 4] = leg_ik(self.geo, side, rot_t @ (feet[side] - waist), pitch, tilt)
        return q

    def ik_reach_error(self, waist: np.ndarray, feet: dict[str, np.ndarray], pitch: float, q: np.ndarray) -> float:
        """Worst distance (m) between the ankles of `q` (leg FK) and their targets: > 0 when out of reach."""
        rot_t = _rot_y(pitch).T
        err = 0.0
        for i, side in enumerate(SIDES):
            ankle, _ = leg_fk(self.geo, side, q[4 * i : 4 * i + 4], pitch)
            err = max(err, float(np.linalg.norm(ankle - rot_t @ (feet[side] - waist))))
        return err

    def set_pose(self, waist: np.ndarray, quat: np.ndarray, joints: np.ndarray) -> None:
        """Write a pose into the scratch data and run forward kinematics (+ subtree COMs)."""
        self.data.qpos[:3] = waist
        self.data.qpos[3:7] = quat
        self.data.qpos[self.spec.joint_qpos_adr] = joints
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)

    def com(self) -> np.ndarray:
        return self.data.subtree_com[self.spec.root_body].copy()

    def waist_height_for_com(self, com_height: float, width: float, pitch: float = 0.0) -> float:
        """Waist height whose crouched stance (feet under the hips, level soles) has this COM height."""
        lo, hi = 0.30, 0.4699
        quat = _quat_pitch(pitch)
        for _ in range(50):  # bisection: the COM rises monotonically with the waist
            mid = 0.5 * (lo + hi)
            waist = np.array([0.0, 0.0, mid])
            feet = {s: np.array([0.0, SIDE_SIGN[s] * width, self.geo.sole_depth]) for s in SIDES}
            feet = self._centre_feet_under_com(waist, feet, quat, pitch)
            self.set_pose(waist, quat, self.whole_ik(waist, feet, pitch))
            if self.com()[2] < com_height:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def _centre_feet_under_com(self, waist, feet, quat, pitch):
        """Shift both feet in x so that the standing COM is over the sole centres (a few iterations)."""
        feet = {k: v.copy() for k, v in feet.items()}
        for _ in range(5):
            self.set_pose(waist, quat, self.whole_ik(waist, feet, pitch))
            dx = self.com()[0] - (feet["left"][0] + self.geo.sole_center_x)
            for v in feet.values():
                v[0] += dx
        return feet


def generate_gait(params: GaitParams, gm: GaitModel | None = None, com_iterations: int = 4) -> GaitPlan:
    """Plan one gait (see the module docstring); the result's `joints` are the clip's targets."""
    params.validate()
    gm = gm if gm is not None else _default_model()
    geo = gm.geo
    width = params.stance_width if params.stance_width is not None else geo.foot_y
    dt_plan = 1.0 / (2 * params.fps)  # preview control at twice the frame rate, then sampled
    steps, t_end = plan_footsteps(params)
    n_plan = int(round(params.duration / dt_plan))
    t_plan = np.arange(n_plan) * dt_plan
    zref_plan = zmp_reference(params, geo, steps, t_plan, width)
    com_plan, zmp_plan = preview_control(zref_plan, params.com_height, dt_plan)
    t = t_plan[::2]
    com_xy, zmp, zref = com_plan[::2], zmp_plan[::2], zref_plan[::2]
    feet, contact, sole_pitch = foot_trajectories(params, geo, steps, t, width)

    pitch = params.torso_pitch
    quat = _quat_pitch(pitch)
    z_w = gm.waist_height_for_com(params.com_height, width, pitch)
    # The standing pose puts the COM over the sole centre: remember the waist-COM x offset there,
    # as the first guess of every frame's correction.
    stand_feet = {s: np.array([0.0, SIDE_SIGN[s] * width, geo.sole_depth]) for s in SIDES}
    stand_feet = gm._centre_feet_under_com(np.array([0.0, 0.0, z_w]), stand_feet, quat, pitch)
    gm.set_pose(np.array([0.0, 0.0, z_w]), quat, gm.whole_ik(np.array([0.0, 0.0, z_w]), stand_feet, pitch))
    offset = np.array([0.0 - gm.com()[0], 0.0 - gm.com()[1]])

    n = len(t)
    waist = np.zeros((n, 3))
    joints = np.zeros((n, NUM_JOINTS))
    joints_raw = np.zeros((n, NUM_JOINTS))
    ik_error = np.zeros(n)
    model_com = np.zeros((n, 3))
    for k in range(n):
        w = np.array([com_xy[k, 0] + offset[0], com_xy[k, 1] + offset[1], z_w])
        fk = {s: feet[s][k] for s in SIDES}
        tilt = {s: sole_pitch[s][k] for s in SIDES}
        for _ in range(com_iterations):  # fixed point: move the waist until the model COM is on plan
            q = gm.whole_ik(w, fk, pitch, tilt)
            gm.set_pose(w, quat, q)
            w[:2] += com_xy[k] - gm.com()[:2]
        if params.level_com > 0.0:  # then the height: (1 - a) of the constant-waist COM bob is left
            z_target = params.com_height + (1.0 - params.level_com) * (gm.com()[2] - params.com_height)
            for _ in range(com_iterations):
                gm.set_pose(w, quat, gm.whole_ik(w, fk, pitch, tilt))
                c = gm.com()
                w[:2] += com_xy[k] - c[:2]
                w[2] += z_target - c[2]
        w[1] *= params.lateral_sway
        # Targets outside the joint ranges would be clipped by the servos' ctrlrange anyway; the
        # unclipped solution and its reach error are kept for `check_plan`.
        q_raw = gm.whole_ik(w, fk, pitch, tilt)
        joints_raw[k] = q_raw
        ik_error[k] = gm.ik_reach_error(w, fk, pitch, q_raw)
        q = np.clip(q_raw, gm.spec.joint_range[:, 0], gm.spec.joint_range[:, 1])
        gm.set_pose(w, quat, q)
        waist[k], joints[k], model_com[k] = w, q, gm.com()
    com = np.column_stack([com_xy, np.full(n, params.com_height)])
    return GaitPlan(
        params=params,
        t=t,
        steps=steps,
        com=com,
        zmp=zmp,
        zmp_ref=zref,
        feet=feet,
        contact=contact,
        waist=waist,
        joints=joints,
        walk_window=(steps[0].t_lift, steps[-1].t_land),
        model_com=model_com,
        joints_raw=joints_raw,
        ik_error=ik_error,
        sole_pitch=sole_pitch,
    )


@lru_cache(maxsize=1)
def _default_model() -> GaitModel:
    return GaitModel()


def plan_to_clip(plan: GaitPlan) -> Clip:
    """Package a plan as a project `Clip` (50 Hz, waist pose, joint targets, descriptive metadata)."""
    p = plan.params
    n = len(plan.t)
    quat = np.tile(_quat_pitch(p.torso_pitch), (n, 1))
    meta = {
        "source": "reference.gait",
        "generator": "lipm_zmp_preview",
        "generator_version": GENERATOR_VERSION,
        "speed": p.speed,
        "step_length": p.step_length,
        "step_time": p.step_time,
        "double_support": p.double_support,
        "com_height": p.com_height,
        "waist_height": float(plan.waist[0, 2]),
        "clearance": p.clearance,
        "swing_peak": p.swing_peak,
        "heel_off": p.heel_off,
        "heel_strike": p.heel_strike,
        "zmp_inset": p.zmp_inset,
        "torso_pitch": p.torso_pitch,
        "stance_width": float(abs(plan.feet["left"][0, 1])),
        "num_steps": len(plan.steps),
        "first_swing": plan.steps[0].swing,
        "walk_start_s": plan.walk_window[0],
        "walk_end_s": plan.walk_window[1],
        "steady_start_s": steady_window(plan)[0],
        "steady_end_s": steady_window(plan)[1],
        "ramp_steps": p.ramp_steps,
        "cadence_steps_per_s": 1.0 / p.step_time,
        "direction": "+x",
    }
    return Clip(name=p.name, fps=p.fps, root_pos=plan.waist.copy(), root_quat=quat, joint_pos=plan.joints.copy(), metadata=meta)


def steady_window(plan: GaitPlan) -> tuple[float, float]:
    """Time window of full strides (excludes the half first and last steps and the ramps), s."""
    r = plan.params.ramp_steps
    return plan.steps[1 + r].t_start, plan.steps[len(plan.steps) - 1 - r].t_start


# --------------------------------------------------------------------------------------------
# Checks: support polygon and trackability
# --------------------------------------------------------------------------------------------


def support_polygon_margin(plan: GaitPlan, points: np.ndarray | None = None) -> np.ndarray:
    """Signed distance (m, + inside) of the planned ZMP (or of `points`, (N, 2)) to the support polygon, per frame.

    The polygon is the convex hull of the soles in contact (each sole a rectangle around its ankle).
    """
    points = plan.zmp if points is None else points
    geo = plan_geometry()
    out = np.zeros(len(plan.t))
    x0, x1 = geo.pad_x
    hw = geo.pad_half_width
    for k in range(len(plan.t)):
        pts = []
        for side in SIDES:
            if plan.contact[side][k]:
                ax, ay = plan.feet[side][k, :2]
                pts += [(ax + x0, ay - hw), (ax + x1, ay - hw), (ax + x1, ay + hw), (ax + x0, ay + hw)]
        out[k] = _convex_margin(np.array(pts), points[k])
    return out


@dataclass(frozen=True)
class PlanCheck:
    """Kinematic validity of one plan (`check_plan`); angles in rad, lengths in m.

    joint_margin: per joint (actuator order), the smallest distance of the UNCLIPPED IK solution to
    the joint's range (negative = the gait needs the joint beyond its limit). ik_error: worst ankle
    miss of the unclipped IK (> 0 = a target out of the leg's reach). zmp_margin: smallest distance
    of the planned ZMP inside the support polygon. com_over_support: fraction of frames in which the
    model's whole-body COM (after IK) projects inside the support polygon; laterally the waist rocks
    against the LIPM sway (`lateral_sway` < 0, module docstring), so in single support the kinematic
    COM lies between the feet, and this is about 0.5 for the library. foot_slip: largest horizontal
    motion of a foot's toe edge between two frames where it is planned down (FK of the clip). max_sole_pitch /
    max_sole_roll: sole tilt of feet that are down. foot_gap: smallest lateral gap between the two
    soles (pad boxes, FK). double_support: fraction of the steady window's frames in which both feet
    are down (FK: sole on its standing height and not moving); step frames quantise it to
    1 / (fps T). steady_speed: mean forward waist speed over the steady window. max_joint_speed: per
    joint, the largest frame-to-frame joint speed of the clip (rad/s).
    """

    joint_margin: np.ndarray
    ik_error: float
    zmp_margin: float
    com_over_support: float
    foot_slip: float
    max_sole_pitch: float
    max_sole_roll: float
    foot_gap: float
    double_support: float
    steady_speed: float
    max_joint_speed: np.ndarray
    implied_load_p10: float = float("nan")
    implied_unloaded: float = float("nan")

    @property
    def min_joint_margin(self) -> float:
        return float(self.joint_margin.min())

    def ok(self, joint_margin: float = 0.0, ik_error: float = 1e-4) -> bool:
        """No joint beyond its range (by `joint_margin`), every target reached, ZMP inside the support."""
        return self.min_joint_margin >= joint_margin and self.ik_error <= ik_error and self.zmp_margin > 0.0


def check_plan(plan: GaitPlan, gm: GaitModel | None = None) -> PlanCheck:
    """Measure a plan's kinematic validity (see `PlanCheck`) with MuJoCo FK of its clipped joints."""
    gm = gm if gm is not None else _default_model()
    m, d = gm.model, gm.data
    lo, hi = gm.spec.joint_range[:, 0], gm.spec.joint_range[:, 1]
    margin = np.minimum(plan.joints_raw.min(axis=0) - lo, hi - plan.joints_raw.max(axis=0))
    quat = _quat_pitch(plan.params.torso_pitch)
    n = len(plan.t)
    foot_ids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"{s}_foot") for s in SIDES]
    pads = {s: [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"{s}_{g}") for g in ("toe", "heel")] for s in SIDES}
    # The point of each foot that stays put while it is down: the ankle of a level foot (the rocking rolls the
    # sole about it), the toe pad's front bottom edge in a heel-off, the heel pad's back edge after a heel-strike
    # (the foot rolls about that edge; its roll moves the edge sideways, so only x counts there).
    ankle = np.zeros((n, 2, 3))
    edge = {+1: np.zeros((n, 2, 3)), -1: np.zeros((n, 2, 3))}
    edge_pt = {sgn: np.array([gm.geo.pad_x[i], 0.0, -gm.geo.sole_depth]) for sgn, i in ((+1, 1), (-1, 0))}
    tilt = np.zeros((n, 2, 2))  # pitch, roll of each sole
    gap = np.inf
    for k in range(n):
        gm.set_pose(plan.waist[k], quat, plan.joints[k])
        for i, b in enumerate(foot_ids):
            rm = d.xmat[b].reshape(3, 3)
            ankle[k, i] = d.xpos[b]
            for sgn in (+1, -1):
                edge[sgn][k, i] = d.xpos[b] + rm @ edge_pt[sgn]
            tilt[k, i] = np.arcsin(np.clip(-rm[2, 0], -1, 1)), np.arctan2(rm[2, 1], rm[2, 2])
        ys = {}
        for s in SIDES:
            corners = []
            for g in pads[s]:
                rg = d.geom_xmat[g].reshape(3, 3)
                for sx in (-1, 1):
                    for sy in (-1, 1):
                        for sz in (-1, 1):
                            corners.append(d.geom_xpos[g] + rg @ (m.geom_size[g] * np.array([sx, sy, sz])))
            ys[s] = np.array(corners)[:, 1]
        gap = min(gap, float(ys["left"].min() - ys["right"].max()))
    sole = np.stack([plan.sole_pitch.get(s, np.zeros(n)) for s in SIDES], axis=1)
    step = np.diff(ankle, axis=0)[:, :, :2]  # (n - 1, 2, 2) horizontal motion of the still point per frame pair
    height = ankle[:, :, 2] - ankle[0, :, 2]
    for sgn in (+1, -1):
        on = sgn * sole > 0.0
        pair = on[1:] | on[:-1]
        dx = np.diff(edge[sgn][:, :, 0], axis=0)
        step = np.where(pair[:, :, None], np.stack([dx, np.zeros_like(dx)], axis=2), step)
        height = np.where(on, edge[sgn][:, :, 2] - ankle[0, :, 2] + gm.geo.sole_depth, height)
    down = np.stack([plan.contact[s] for s in SIDES], axis=1)
    slip = 0.0
    for i in range(2):
        both = down[1:, i] & down[:-1, i]
        if both.any():
            slip = max(slip, float(np.max(np.linalg.norm(step[both, i], axis=1))))
    # kinematic contact: on the standing height (0.1 mm; 1 mm for a rolling edge, which the sole's roll lifts a
    # little) and still (0.1 mm per frame)
    on_floor = np.abs(height) < np.where(sole != 0.0, 1e-3, 1e-4)
    still = np.ones((n, 2), dtype=bool)
    still[1:] = np.linalg.norm(step, axis=2) < 1e-4
    kin_down = on_floor & still
    t0, t1 = steady_window(plan)
    sel = (plan.t >= t0 - 1e-9) & (plan.t < t1 - 1e-9)
    ds = float(np.mean(kin_down[sel].all(axis=1)))
    k0, k1 = int(round(t0 * plan.params.fps)), int(round(t1 * plan.params.fps))
    speed = float((plan.waist[k1, 0] - plan.waist[k0, 0]) / (plan.t[k1] - plan.t[k0]))
    fps = plan.params.fps
    load = 1.0 + np.gradient(np.gradient(plan.model_com[:, 2])) * fps * fps / GRAVITY
    return PlanCheck(
        joint_margin=margin,
        ik_error=float(plan.ik_error.max()),
        zmp_margin=float(support_polygon_margin(plan).min()),
        com_over_support=float(np.mean(support_polygon_margin(plan, plan.model_com[:, :2]) > 0.0)),
        foot_slip=slip,
        max_sole_pitch=float(np.max(np.abs(tilt[:, :, 0][down]))),
        max_sole_roll=float(np.max(np.abs(tilt[:, :, 1][down]))),
        foot_gap=gap,
        double_support=ds,
        steady_speed=speed,
        max_joint_speed=np.abs(np.diff(plan.joints, axis=0)).max(axis=0) * plan.params.fps,
        implied_load_p10=float(np.percentile(load[sel], 10)),
        implied_unloaded=float(np.mean(load[sel] < GateConfig().unloaded_load_threshold)),
    )


def plan_geometry() -> LegGeometry:
    return _default_model().geo


def _convex_margin(points: np.ndarray, q: np.ndarray) -> float:
    """Signed distance of q to the convex hull of points (+ inside); exact inside, edge-based outside."""
    hull = _hull(points)
    m = len(hull)
    d_in = np.inf
    outside = False
    best_out = np.inf
    for i in range(m):
        a, b = hull[i], hull[(i + 1) % m]
        e = b - a
        nrm = np.array([e[1], -e[0]]) / np.linalg.norm(e)  # outward for a counter-clockwise hull
        dist = float(nrm @ (q - a))
        if dist > 0:
            outside = True
        d_in = min(d_in, -dist)
        t_ = np.clip((q - a) @ e / (e @ e), 0.0, 1.0)
        best_out = min(best_out, float(np.linalg.norm(q - (a + t_ * e))))
    return -best_out if outside else d_in


def _hull(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull (Andrew's monotone chain)."""
    pts = sorted(set(map(tuple, np.round(points, 12))))
    if len(pts) < 3:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


@dataclass(frozen=True)
class TrackResult:
    """Open-loop PD tracking of one clip (no harness)."""

    name: str
    duration_s: float
    survived_s: float
    fell: bool
    planned_speed: float
    achieved_speed: float  # mean forward root speed over the walking window (up to a fall)
    saturation: float  # fraction of actuator substeps at the torque limit
    max_abs_roll_deg: float
    max_abs_pitch_deg: float


def _roll_pitch(quat: np.ndarray) -> tuple[float, float]:
    w, x, y, z = quat
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    return float(roll), float(pitch)


def track_clip(clip: Clip, gm: GaitModel | None = None, substeps: int = 10, min_height: float = 0.25,
               max_tilt_deg: float = 45.0) -> TrackResult:
    """Play `clip` with PD servos only: ctrl = joint targets, `substeps` physics steps per frame.

    Starts from the first frame as qpos with zero velocity and never writes qpos again. A fall is
    root height < `min_height` or |roll| or |pitch| > `max_tilt_deg`.
    """
    gm = gm if gm is not None else GaitModel()
    m = gm.model
    d = mujoco.MjData(m)
    spec = gm.spec
    d.qpos[:3] = clip.root_pos[0]
    d.qpos[3:7] = clip.root_quat[0]
    d.qpos[spec.joint_qpos_adr] = clip.joint_pos[0]
    d.qvel[:] = 0.0
    mujoco.mj_forward(m, d)
    limit = m.actuator_forcerange[:, 1]
    dt_frame = 1.0 / clip.fps
    sat = 0
    total = 0
    fell = False
    t_fall = clip.duration
    xs = np.zeros(clip.num_frames)
    max_roll = max_pitch = 0.0
    for k in range(clip.num_frames):
        d.ctrl[:] = np.clip(clip.joint_pos[k], m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1])
        for _ in range(substeps):
            mujoco.mj_step(m, d)
            sat += int(np.sum(np.abs(d.actuator_force) >= limit - 1e-6))
            total += m.nu
        xs[k] = d.qpos[0]
        roll, pitch = _roll_pitch(d.qpos[3:7])
        max_roll, max_pitch = max(max_roll, abs(roll)), max(max_pitch, abs(pitch))
        if d.qpos[2] < min_height or max(abs(roll), abs(pitch)) > np.radians(max_tilt_deg):
            fell = True
            t_fall = (k + 1) * dt_frame
            break
    t0 = float(clip.metadata.get("walk_start_s", 0.0))
    t1 = min(float(clip.metadata.get("walk_end_s", clip.duration)), t_fall)
    k0, k1 = int(round(t0 * clip.fps)), max(int(round(t1 * clip.fps)) - 1, 0)
    speed = float((xs[k1] - xs[k0]) / max(t1 - t0, 1e-9)) if k1 > k0 else 0.0
    return TrackResult(
        name=clip.name,
        duration_s=clip.duration,
        survived_s=t_fall,
        fell=fell,
        planned_speed=float(clip.metadata.get("speed", np.nan)),
        achieved_speed=speed,
        saturation=sat / max(total, 1),
        max_abs_roll_deg=float(np.degrees(max_roll)),
        max_abs_pitch_deg=float(np.degrees(max_pitch)),
    )
