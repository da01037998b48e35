"""Gait metrics of an episode: one definition, from the per-step metrics (`wildrobot_gym.metrics`).

Two forms of every figure, which agree (tests/test_gait_metrics.py):

* functions over one episode's per-step arrays (T steps, (T,) or (T, 2) / (T, 8) arrays stacked from the
  step infos: `stack_infos`; `episode_gait` gives them all);
* `GaitAccumulator`, running sums of the current episode of one env (``n_envs=None``) or of a batch
  (``(N,)`` arrays, infos with a leading env axis), fed once per step with a few numpy operations on
  (N,) / (N, 2) arrays; `wildrobot_gym.episode_stats.EpisodeStats` carries one, so
  ``info["episode_stats"]`` has every figure as ``gait/<name>``.

Notation: dt the control step (s), T the episode's number of steps, W = m g the robot's weight (N; m the
model's total mass, `RobotSpec.weight`), F_f(t) the normal force on foot f (toe + heel, ``foot_force``),
v_fwd, v_lat the root velocity in the heading frame (``forward_velocity``, ``lateral_velocity``), psi the
yaw (``yaw``). Velocities are the ones at the end of each control step; distances are their sums x dt.

==========================  ===================================================================================
key                         definition
==========================  ===================================================================================
double_support              fraction of steps with both feet loaded; a foot is *loaded* when F_f > 0.10 W
                            (`LOADED_FRACTION`, the one threshold)
single_support              fraction of steps with exactly one foot loaded
flight                      fraction of steps with no foot loaded
touchdowns_per_s            debounced touchdowns per second per foot: (n_left + n_right) / (2 T dt). A touchdown
                            of foot f at step t: f loaded at t, and unloaded for the >= 40 ms (`DEBOUNCE_S`)
                            just before, i.e. >= ceil(0.040 / dt) steps (2 at 50 Hz: a one-step bounce does not
                            count). The unloaded run may start at the episode start; a foot loaded at the first
                            step is not a touchdown.
touchdowns_per_s_left/right the same per foot, n_f / (T dt)
step_length                 mean over steps of the forward distance sum v_fwd dt of the root between successive
                            touchdown events of different feet (an event: the set of feet touching down at one
                            step; {L} -> {R}, {L} -> {L, R}, {L, R} -> {R} are steps, {L} -> {L} is not), m;
                            0 if no step
peak_foot_force_max         max over the episode and the feet of F_f / W
peak_foot_force_mean        mean over a foot's gait cycles of max F_f / W over the cycle, the cycles being from
                            each debounced touchdown of the foot to its next one (the last to the episode's end;
                            the steps before a foot's first touchdown are in none); 0 if no touchdown. This
                            is the figure comparable with the human per-step peak.
cost_of_transport           mechanical cost of transport sum_t sum_j |tau_j qdot_j| dt / (W d), d the root's
                            horizontal path length sum_t |(v_fwd, v_lat)| dt (> 0 whenever the root moves;
                            NaN for d = 0)
yaw_rate                    mean yaw rate (psi_u(T-1) - psi_u(0)) / ((T - 1) dt), deg/s, psi_u the unwrapped yaw
                            (every step-to-step change taken in [-pi, pi)); signed, + = to the left; 0 if T < 2
yaw_rate_abs                |yaw_rate| of the episode (its mean over episodes is the heading drift)
straight_line_speed         displacement along the episode's start heading / duration:
                            (1/T) sum_t [v_fwd cos(psi - psi(0)) - v_lat sin(psi - psi(0))], m/s. A walk in a
                            circle has a high mean v_fwd (heading frame) but a straight-line speed near 0.
mirror_error                sqrt(mean over steps and joints of (q_j - mirror(q_half)_j)^2), rad: q_half the
                            joints half a gait cycle earlier (``joint_pos_half_cycle``, the symmetry term's
                            input; the first half cycle compares with the start pose). 0 for a walk whose legs
                            repeat each other mirrored; a limp (one knee stiff) is large. NaN without the key.
==========================  ===================================================================================

Torque saturation, % of servo-steps with ``torque_saturated`` (`torque_saturation_pct`), is already an
episode statistic (``torque_saturation_pct``); it is not repeated under ``gait/``.

`HUMAN_REFERENCE` gives the human figure beside each key (None: no comparable figure).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Iterable, Mapping, NamedTuple

import numpy as np

from wildrobot_gym.robot import mirror_joints

#: A foot is loaded when its normal force exceeds this fraction of the robot's weight m g.
LOADED_FRACTION = 0.10
#: A touchdown counts only after the foot was unloaded at least this long (s).
DEBOUNCE_S = 0.040
#: The nominal leg length (hip joint to sole at the home pose, m), the scale of the human figures.
LEG_LENGTH = 0.437

#: The figures per episode, in ``info["episode_stats"]`` as ``gait/<key>`` (module docstring).
GAIT_KEYS: tuple[str, ...] = (
    "double_support", "single_support", "flight",
    "touchdowns_per_s", "touchdowns_per_s_left", "touchdowns_per_s_right",
    "step_length", "peak_foot_force_max", "peak_foot_force_mean", "cost_of_transport",
    "yaw_rate", "yaw_rate_abs", "straight_line_speed", "mirror_error",
)

#: Human walking figures (same units as the keys; (lo, hi) a range; None: no comparable figure).
#: Cadence and step length are scaled to this leg (0.44 m against ~0.9 m) by dynamic similarity (same
#: Froude number): human ~0.92 touchdowns/s/foot (110 steps/min) x sqrt(0.9 / 0.44) ~ 1.4; step length
#: ~0.78 leg lengths ~ 0.34 m. Support: double support ~20 % of the cycle, no flight. Peak vertical force
#: per step 1.1-1.2 body weights. A human walks straight: yaw rate 0. The mechanical cost of transport and
#: the straight-line speed (= the command) have no comparable human figure.
HUMAN_REFERENCE: dict[str, float | tuple[float, float] | None] = {
    "double_support": 0.20,
    "single_support": 0.80,
    "flight": 0.0,
    "touchdowns_per_s": 1.4,
    "touchdowns_per_s_left": 1.4,
    "touchdowns_per_s_right": 1.4,
    "step_length": 0.34,
    "peak_foot_force_max": None,
    "peak_foot_force_mean": (1.1, 1.2),
    "cost_of_transport": None,
    "yaw_rate": 0.0,
    "yaw_rate_abs": 0.0,
    "straight_line_speed": None,
    "mirror_error": None,
    "torque_saturation_pct": None,
}


class GaitRow(NamedTuple):
    label: str
    unit: str
    scale: float  # display value = scale x value


#: How each figure prints (`format_value`, `gait_rows`).
GAIT_DISPLAY: dict[str, GaitRow] = {
    "double_support": GaitRow("double support", "%", 100.0),
    "single_support": GaitRow("single support", "%", 100.0),
    "flight": GaitRow("flight", "%", 100.0),
    "touchdowns_per_s": GaitRow("touchdowns per s per foot (debounced)", "1/s", 1.0),
    "touchdowns_per_s_left": GaitRow("  left", "1/s", 1.0),
    "touchdowns_per_s_right": GaitRow("  right", "1/s", 1.0),
    "step_length": GaitRow("step length (root, forward)", "m", 1.0),
    "peak_foot_force_max": GaitRow("peak foot force, episode max", "m g", 1.0),
    "peak_foot_force_mean": GaitRow("peak foot force, mean per step", "m g", 1.0),
    "cost_of_transport": GaitRow("mechanical cost of transport", "", 1.0),
    "yaw_rate": GaitRow("yaw rate (signed)", "deg/s", 1.0),
    "yaw_rate_abs": GaitRow("|yaw rate| (heading drift)", "deg/s", 1.0),
    "straight_line_speed": GaitRow("straight-line speed", "m/s", 1.0),
    "mirror_error": GaitRow("left-right mirror error, half a cycle apart", "rad", 1.0),
    "torque_saturation_pct": GaitRow("torque saturation", "%", 1.0),
}


@functools.lru_cache(maxsize=1)
def nominal_robot() -> tuple[float, float]:
    """(weight m g in N, control dt in s) of the nominal robot: the packaged scene's total mass and its
    timestep x the env's default frame_skip (10: 20 ms)."""
    import inspect

    from wildrobot_gym.env import WildRobotWalkEnv
    from wildrobot_gym.robot import RobotSpec, load_model

    model = load_model()
    frame_skip = inspect.signature(WildRobotWalkEnv).parameters["frame_skip"].default
    return float(RobotSpec.from_model(model).weight), float(model.opt.timestep) * int(frame_skip)


# ---------------------------------------------------------------------------- per-episode arrays
def loaded_feet(foot_force: np.ndarray, weight: float, fraction: float = LOADED_FRACTION) -> np.ndarray:
    """(T, 2) bool: F_f > fraction x W."""
    return np.asarray(foot_force) > fraction * weight


def support_fractions(loaded: np.ndarray) -> dict[str, float]:
    """double_support / single_support / flight: fractions of steps with 2 / 1 / 0 feet loaded."""
    n = np.asarray(loaded).sum(axis=-1)
    return {"double_support": float(np.mean(n == 2)), "single_support": float(np.mean(n == 1)),
            "flight": float(np.mean(n == 0))}


def debounce_steps(dt: float, min_unloaded_s: float = DEBOUNCE_S) -> int:
    """Unloaded steps needed before a touchdown: ceil(min_unloaded_s / dt) (2 at 50 Hz)."""
    return max(1, math.ceil(min_unloaded_s / dt - 1e-9))


def debounced_touchdowns(loaded: np.ndarray, dt: float, min_unloaded_s: float = DEBOUNCE_S) -> np.ndarray:
    """(T, 2) bool: foot f touches down at step t (loaded at t, unloaded for the `debounce_steps` steps
    or more just before t; the run may start at the episode start)."""
    loaded = np.asarray(loaded, dtype=bool)
    t = np.arange(len(loaded))[:, None]
    last_loaded = np.maximum.accumulate(np.where(loaded, t, -1), axis=0)  # last loaded step <= t (-1: none)
    prev = np.vstack([np.full((1, loaded.shape[1]), -1), last_loaded[:-1]])  # ... <= t - 1
    gap = t - 1 - prev  # unloaded steps just before t
    return loaded & (gap >= debounce_steps(dt, min_unloaded_s))


def cadence(touchdowns: np.ndarray, dt: float) -> dict[str, float]:
    """Touchdowns per second per foot: the mean of both feet, and each foot."""
    seconds = max(len(touchdowns), 1) * dt
    n = np.asarray(touchdowns).sum(axis=0)
    return {"touchdowns_per_s": float(n.sum() / (2 * seconds)), "touchdowns_per_s_left": float(n[0] / seconds),
            "touchdowns_per_s_right": float(n[1] / seconds)}


def step_length(touchdowns: np.ndarray, forward_velocity: np.ndarray, dt: float) -> float:
    """Mean forward distance of the root (sum v_fwd dt) between successive touchdown events of different
    feet (module docstring); 0 without a step."""
    td = np.asarray(touchdowns, dtype=bool)
    code = td[:, 0] + 2 * td[:, 1].astype(np.int64)
    events = np.flatnonzero(code)
    s = np.cumsum(np.asarray(forward_velocity) * dt)[events]
    c = code[events]
    steps = c[1:] != c[:-1]
    return float(np.diff(s)[steps].mean()) if steps.any() else 0.0


def peak_foot_force(foot_force: np.ndarray, touchdowns: np.ndarray, weight: float) -> dict[str, float]:
    """peak_foot_force_max: max F_f / W over the episode; peak_foot_force_mean: mean over the feet's gait
    cycles (touchdown to next touchdown) of the cycle's max F_f / W (0 without a touchdown)."""
    f = np.asarray(foot_force, dtype=float)
    peaks = [np.maximum.reduceat(f[:, k], idx) for k in range(f.shape[1])
             if len(idx := np.flatnonzero(touchdowns[:, k]))]
    mean = float(np.concatenate(peaks).mean() / weight) if peaks else 0.0
    return {"peak_foot_force_max": float(f.max() / weight) if f.size else 0.0, "peak_foot_force_mean": mean}


def cost_of_transport(actuator_torque: np.ndarray, joint_vel: np.ndarray, forward_velocity: np.ndarray,
                      lateral_velocity: np.ndarray, weight: float, dt: float) -> float:
    """sum_t sum_j |tau_j qdot_j| dt / (W d), d = sum_t |(v_fwd, v_lat)| dt the root's horizontal path
    length; NaN when d = 0."""
    work = np.abs(np.asarray(actuator_torque) * np.asarray(joint_vel)).sum() * dt
    d = np.hypot(forward_velocity, lateral_velocity).sum() * dt
    return float(work / (weight * d)) if d > 0 else float("nan")


def torque_saturation_pct(torque_saturated: np.ndarray) -> float:
    """100 x the fraction of servo-steps with ``torque_saturated`` (the episode statistic's definition)."""
    return float(100.0 * np.mean(torque_saturated))


def yaw_rate(yaw: np.ndarray, dt: float) -> float:
    """Mean yaw rate of the unwrapped yaw, deg/s: (psi_u[-1] - psi_u[0]) / ((T - 1) dt); 0 if T < 2."""
    yaw = np.asarray(yaw, dtype=float)
    if len(yaw) < 2:
        return 0.0
    return float(np.degrees(wrap_angle(np.diff(yaw)).sum() / ((len(yaw) - 1) * dt)))


def straight_line_speed(forward_velocity: np.ndarray, lateral_velocity: np.ndarray, yaw: np.ndarray) -> float:
    """Displacement along the start heading / duration = mean_t [v_fwd cos(psi - psi_0) - v_lat sin(psi - psi_0)]."""
    rel = np.asarray(yaw, dtype=float) - yaw[0]
    return float(np.mean(np.asarray(forward_velocity) * np.cos(rel) - np.asarray(lateral_velocity) * np.sin(rel)))


def mirror_residual(joint_pos: Any, joint_pos_half_cycle: Any) -> np.ndarray:
    """q - mirror(q_half), rad, per joint (any leading axes): the symmetry term's and mirror_error's input."""
    return np.asarray(joint_pos, dtype=float) - mirror_joints(joint_pos_half_cycle)


def mirror_error(joint_pos: np.ndarray, joint_pos_half_cycle: np.ndarray) -> float:
    """RMS over steps and joints of q - mirror(q_half), rad (module docstring)."""
    e = mirror_residual(joint_pos, joint_pos_half_cycle)
    return float(np.sqrt(np.mean(e * e))) if e.size else float("nan")


def wrap_angle(a: Any) -> Any:
    """Angles in [-pi, pi)."""
    return (a + np.pi) % (2 * np.pi) - np.pi


#: The step-info keys the gait figures read.
INFO_KEYS: tuple[str, ...] = ("foot_force", "forward_velocity", "lateral_velocity", "yaw", "actuator_torque",
                              "joint_vel", "torque_saturated", "joint_pos", "joint_pos_half_cycle")


def stack_infos(infos: Iterable[Mapping[str, Any]], keys: Iterable[str] = INFO_KEYS) -> dict[str, np.ndarray]:
    """The `keys` (present in the infos) of one env's step infos, stacked over time ((T,) or (T, k) arrays)."""
    infos = list(infos)
    return {k: np.array([np.asarray(i[k]) for i in infos]) for k in keys if infos and k in infos[0]}


def episode_gait(steps: Mapping[str, np.ndarray], dt: float, weight: float) -> dict[str, float]:
    """Every `GAIT_KEYS` figure of one episode (plus ``torque_saturation_pct`` when the steps have
    ``torque_saturated``), from its stacked per-step arrays (`stack_infos`)."""
    loaded = loaded_feet(steps["foot_force"], weight)
    td = debounced_touchdowns(loaded, dt)
    fwd, lat, yaw = steps["forward_velocity"], steps["lateral_velocity"], steps["yaw"]
    out = {**support_fractions(loaded), **cadence(td, dt), "step_length": step_length(td, fwd, dt),
           **peak_foot_force(steps["foot_force"], td, weight),
           "cost_of_transport": cost_of_transport(steps["actuator_torque"], steps["joint_vel"], fwd, lat, weight, dt)}
    rate = yaw_rate(yaw, dt)
    out.update(yaw_rate=rate, yaw_rate_abs=abs(rate), straight_line_speed=straight_line_speed(fwd, lat, yaw))
    out["mirror_error"] = (mirror_error(steps["joint_pos"], steps["joint_pos_half_cycle"])
                           if "joint_pos_half_cycle" in steps else float("nan"))
    out = {k: out[k] for k in GAIT_KEYS}
    if "torque_saturated" in steps:
        out["torque_saturation_pct"] = torque_saturation_pct(steps["torque_saturated"])
    return out


# ---------------------------------------------------------------------------- running sums
_FOOT_CODE = np.array([1, 2])  # touchdown event code: td @ _FOOT_CODE

class GaitAccumulator:
    """The `GAIT_KEYS` figures of the current episode of one env (``n_envs=None``) or of each env of a
    batch, updated once per step (`add`) with the definitions of the functions above.

    `dt`, `weight`: the control step and m g (default: the nominal robot's, `nominal_robot`)."""

    _FLOATS = ("n", "ds", "nl", "s", "s_last", "step_sum", "step_n", "peak_max", "work", "path", "yaw0",
               "yaw_prev", "yaw_sum", "straight", "mirror_sq", "mirror_n")

    def __init__(self, n_envs: int | None = None, dt: float | None = None, weight: float | None = None) -> None:
        if dt is None or weight is None:
            w, d = nominal_robot()
            dt = d if dt is None else dt
            weight = w if weight is None else weight
        self.dt, self.weight = float(dt), float(weight)
        self.threshold = LOADED_FRACTION * self.weight
        self.n_min = debounce_steps(self.dt)
        self.shape = () if n_envs is None else (int(n_envs),)
        self.v = {k: np.zeros(self.shape) for k in self._FLOATS}
        self.unloaded = np.zeros(self.shape + (2,), dtype=np.int64)  # unloaded steps just before now
        self.td = np.zeros(self.shape + (2,))                       # debounced touchdowns per foot
        self.last_code = np.zeros(self.shape, dtype=np.int64)      # feet of the last touchdown event (1 L, 2 R, 3 both)
        self.cycle_max = np.zeros(self.shape + (2,))                # max force in each foot's current cycle
        self.in_cycle = np.zeros(self.shape + (2,), dtype=bool)     # the foot has touched down this episode
        self.peak_sum = np.zeros(self.shape + (2,))                 # sum of each foot's closed cycles' max force
        self.peak_n = np.zeros(self.shape + (2,))                   # ... and their number

    def reset(self, index: Any = ...) -> None:
        """Start new episodes for the envs `index` (``...``: all)."""
        for a in (*self.v.values(), self.unloaded, self.td, self.last_code, self.cycle_max, self.in_cycle,
                  self.peak_sum, self.peak_n):
            a[index] = 0

    def add(self, info: Mapping[str, Any]) -> None:
        """One step of every env: its info (the per-step metrics, module docstring's keys)."""
        v, dt = self.v, self.dt
        force = info["foot_force"]
        fwd, lat, yaw = info["forward_velocity"], info["lateral_velocity"], info["yaw"]
        loaded = force > self.threshold
        n_loaded = loaded.sum(axis=-1)
        v["nl"] += n_loaded  # single support: nl - 2 ds steps; flight: n - nl + ds
        v["ds"] += n_loaded == 2
        # Debounced touchdowns: loaded now after >= n_min unloaded steps.
        td = loaded & (self.unloaded >= self.n_min)
        self.unloaded = (self.unloaded + 1) * ~loaded
        self.td += td
        # Steps: forward distance between touchdown events of different feet.
        v["s"] += fwd * dt
        code = td @ _FOOT_CODE  # 0 none, 1 left, 2 right, 3 both
        event = code > 0
        step = event & (self.last_code > 0) & (code != self.last_code)
        v["step_sum"] += (v["s"] - v["s_last"]) * step
        v["step_n"] += step
        v["s_last"] = np.where(event, v["s"], v["s_last"])
        self.last_code = np.where(event, code, self.last_code)
        # Peak force: per cycle (touchdown to next touchdown), flushed at the next touchdown.
        flush = td & self.in_cycle
        self.peak_sum += self.cycle_max * flush
        self.peak_n += flush
        self.cycle_max = np.where(td, force, np.maximum(self.cycle_max, force))
        self.in_cycle |= td
        v["peak_max"] = np.maximum(v["peak_max"], force.max(axis=-1))
        # Cost of transport: mechanical work and horizontal path.
        v["work"] += np.abs(info["actuator_torque"] * info["joint_vel"]).sum(axis=-1) * dt
        v["path"] += np.hypot(fwd, lat) * dt
        # Heading: unwrapped yaw change, velocity along the start heading.
        first = v["n"] == 0
        v["yaw0"] = np.where(first, yaw, v["yaw0"])
        v["yaw_sum"] += np.where(first, 0.0, wrap_angle(yaw - v["yaw_prev"]))
        v["yaw_prev"] = np.array(yaw, dtype=float)  # a copy: never a view of the caller's info
        rel = yaw - v["yaw0"]
        v["straight"] += fwd * np.cos(rel) - lat * np.sin(rel)
        if "joint_pos_half_cycle" in info:
            e = mirror_residual(info["joint_pos"], info["joint_pos_half_cycle"])
            v["mirror_sq"] += np.einsum("...i,...i->...", e, e)
            v["mirror_n"] += e.shape[-1]
        v["n"] += 1

    def finish(self, index: Any = ...) -> dict[str, float]:
        """The figures of the episode of env `index` (``...`` for a single env), as Python floats."""
        v = {k: float(a[index]) for k, a in self.v.items()}
        td = self.td[index]
        n = max(v["n"], 1.0)
        seconds = n * self.dt
        open_cycles = self.in_cycle[index]
        peak_n = float(self.peak_n[index].sum() + open_cycles.sum())
        peak_sum = float(self.peak_sum[index].sum() + (self.cycle_max[index] * open_cycles).sum())
        rate = math.degrees(v["yaw_sum"] / ((v["n"] - 1) * self.dt)) if v["n"] >= 2 else 0.0
        return {
            "double_support": v["ds"] / n,
            "single_support": (v["nl"] - 2 * v["ds"]) / n,
            "flight": (v["n"] - v["nl"] + v["ds"]) / n,
            "touchdowns_per_s": float(td.sum()) / (2 * seconds),
            "touchdowns_per_s_left": float(td[0]) / seconds,
            "touchdowns_per_s_right": float(td[1]) / seconds,
            "step_length": v["step_sum"] / v["step_n"] if v["step_n"] else 0.0,
            "peak_foot_force_max": v["peak_max"] / self.weight,
            "peak_foot_force_mean": peak_sum / peak_n / self.weight if peak_n else 0.0,
            "cost_of_transport": v["work"] / (self.weight * v["path"]) if v["path"] > 0 else float("nan"),
            "yaw_rate": rate,
            "yaw_rate_abs": abs(rate),
            "straight_line_speed": v["straight"] / n,
            "mirror_error": math.sqrt(v["mirror_sq"] / v["mirror_n"]) if v["mirror_n"] else float("nan"),
        }


# ---------------------------------------------------------------------------- reporting
def mean_over_episodes(episodes: Iterable[Mapping[str, Any]], prefix: str = "gait/") -> dict[str, float | None]:
    """Mean of each ``<prefix><key>`` over the episodes (non-finite values left out; None when none is left)."""
    episodes = list(episodes)
    out: dict[str, float | None] = {}
    for k in GAIT_KEYS:
        vals = np.array([e[prefix + k] for e in episodes if prefix + k in e], dtype=float)
        vals = vals[np.isfinite(vals)]
        out[k] = float(vals.mean()) if len(vals) else None
    return out


def format_value(key: str, value: float | None) -> str:
    """A figure in its display unit (`GAIT_DISPLAY`), '-' for None."""
    if value is None or not np.isfinite(value):
        return "-"
    row = GAIT_DISPLAY[key]
    x = row.scale * value
    return f"{x:.1f}" if row.unit in ("%", "deg/s") or abs(x) >= 100 else f"{x:.3f}"


def format_reference(key: str) -> str:
    """The human figure of `key` in its display unit, '-' when there is none."""
    ref = HUMAN_REFERENCE.get(key)
    if ref is None:
        return "-"
    scale = GAIT_DISPLAY[key].scale
    if isinstance(ref, tuple):
        return f"{scale * ref[0]:g}-{scale * ref[1]:g}"
    return f"~{scale * ref:g}"


def gait_rows(figures: Mapping[str, float | None]) -> list[str]:
    """Printable rows: label, value, unit and the human figure of each key of `figures`."""
    rows = [f"{'gait':40s} {'value':>9s} {'unit':>6s} {'human':>9s}"]
    for k, v in figures.items():
        if k in GAIT_DISPLAY:
            d = GAIT_DISPLAY[k]
            rows.append(f"{d.label:40s} {format_value(k, v):>9s} {d.unit:>6s} {format_reference(k):>9s}")
    return rows
