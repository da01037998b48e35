"""Physics reference generation: loop a clip, track it with the servos, record every frame at 50 Hz.

The protocol is the data-first plan's (seed 000): each clip (50 Hz, heading frame) is looped for
N cycles with linear blends through a neutral standing pose between repetitions; at every control
step the servo targets are the reference joint angles (plus a small balance feedback), MuJoCo
advances 10 substeps of 2 ms, and the state is NEVER overwritten except at a (re)start. A capped,
orientation-gated harness on the waist may assist; its force and torque are recorded so that the
miner can reject windows that lean on it.

Restarts (multi-start)
----------------------
The physics starts from the reference state at frame 0 and restarts from the reference state at
every ``multi_start_interval``-th frame (root pose and joints from the timeline, velocities from
its finite differences, the root lowered or raised so that the lowest pad sits at
``restart_clearance``: by default the soft contact's static penetration, 0.15 mm, so the feet
carry the weight from the restart frame on instead of dropping onto the floor).
After a fall (MetricsTracker's ``fall_reason`` non-empty) nothing is recorded until the next
multi-start point. Each restart begins a separate stretch of record: ``restart`` is True on its
first frame, and no window may span one.

Learned tracker
---------------
With ``generation.tracker: learned`` the servo targets are the reference joints plus the deterministic
residual of a trained tracking policy (`reference.tracker`, trained by ``python -m reference.train_tracker``;
``generation.tracker_path``, default the shipped ``wildrobot_gym/assets/trackers/tracker.zip``) instead of the
balance and speed feedback (harness.py); the harness is off unless ``generation.tracker_harness``. Restarts and
the records are unchanged (``harness_mode`` records "off" when the harness was off). With
``generation.fast_tracker_min_speed`` set, a timeline whose steady speed reaches it (`timeline_speed`) is tracked
by ``generation.fast_tracker_path`` instead (default the shipped ``tracker_fast.zip``, a specialist; `tracker_for`).
"""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from reference.clips import Clip
from reference.rollout.config import GenerationConfig
from reference.rollout.harness import Harness, balance_correction, speed_correction
from reference.rollout.records import FRAME_KEYS, RECORDS_FORMAT_VERSION
from reference.rollout.timeline import Timeline, _yaw_of, lowest_pad_z
from reference.rollout.variants import _gaussian_smooth, clip_timeline
from wildrobot_gym.metrics import MetricsTracker, attitude
from wildrobot_gym.robot import RobotSpec, load_model

log = logging.getLogger("reference.rollout")  # the package's name, as before the split into modules


# ----------------------------------------------------------------------------------------------
# Rollout
# ----------------------------------------------------------------------------------------------
def _quat_roll_pitch(q: np.ndarray) -> tuple[float, float]:
    m = np.empty(9)
    mujoco.mju_quat2Mat(m, q)
    r, p, _ = attitude(m)
    return r, p


def reference_forward_speed(timeline: Timeline, smooth_s: float = 0.1) -> np.ndarray:
    """Reference root speed along its own heading (m/s), Gaussian-smoothed over `smooth_s`.

    The smoothing removes the within-step surge of the planned waist so that the speed feedback
    tracks the walking speed, not the stride's oscillation.
    """
    yaw = np.array([_yaw_of(q) for q in timeline.qpos[:, 3:7]])
    v = np.cos(yaw) * timeline.qvel[:, 0] + np.sin(yaw) * timeline.qvel[:, 1]
    return _gaussian_smooth(v[:, None], smooth_s * timeline.fps)[:, 0]


def rollout(model: mujoco.MjModel, timeline: Timeline, cfg: GenerationConfig, *, clip_name: str = "",
            variant: str = "base", spec: RobotSpec | None = None, data: mujoco.MjData | None = None) -> dict:
    """Track `timeline` with PD servos (qpos set only at restarts) and record every frame."""
    spec = spec or RobotSpec.from_model(model)
    data = data if data is not None else mujoco.MjData(model)
    scratch = mujoco.MjData(model)  # kinematics for restart heights, leaves `data` alone
    dt = 1.0 / cfg.fps
    if abs(model.opt.timestep * cfg.substeps - dt) > 1e-9:
        raise ValueError(f"timestep {model.opt.timestep} x {cfg.substeps} substeps != 1/fps = {dt}")
    tracker = MetricsTracker(model, spec, control_dt=dt, contact_threshold=cfg.contact_threshold)
    controller = learned_controller(model, spec, timeline, cfg)  # None: the feedback tracker
    harness_cfg = cfg.harness if controller is None or cfg.tracker_harness else dataclasses.replace(cfg.harness, mode="off")
    harness = Harness(harness_cfg, spec.weight, dt)
    lo, hi = model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1]
    root = spec.root_body
    T = len(timeline)
    k = cfg.multi_start_interval
    ref_q = timeline.qpos
    ref_att = np.array([_quat_roll_pitch(q) for q in ref_q[:, 3:7]])  # (T, 2) roll, pitch
    ref_speed = reference_forward_speed(timeline)  # (T,) m/s, what the speed feedback tracks

    buf: dict[str, list] = {key: [] for key in FRAME_KEYS}
    num_falls = 0

    def record(t: int, m: dict, ctrl: np.ndarray, restart: bool, fallen: bool) -> None:
        buf["qpos"].append(data.qpos.copy())
        buf["qvel"].append(data.qvel.copy())
        for key in ("foot_force", "pad_force", "pad_contact", "foot_contact", "foot_slip_speed", "foot_height",
                    "actuator_torque", "torque_saturated", "roll", "pitch", "root_height", "forward_velocity",
                    "root_ang_vel", "fall_reason"):
            v = m[key]
            buf[key].append(v.copy() if isinstance(v, np.ndarray) else v)
        buf["harness_force"].append(harness.force.copy())
        buf["harness_torque"].append(harness.torque.copy())
        buf["harness_equiv_force"].append(harness.equivalent_force(harness.force, harness.torque))
        buf["harness_saturated"].append(harness.saturated)
        buf["ref_joint_pos"].append(ref_q[t, 7:].copy())
        buf["ctrl"].append(ctrl.copy())
        buf["ref_root_pos"].append(ref_q[t, :3].copy())
        buf["ref_root_quat"].append(ref_q[t, 3:7].copy())
        buf["frame_index"].append(t)
        buf["cycle"].append(int(timeline.cycle[t]))
        buf["in_blend"].append(bool(timeline.in_blend[t]))
        buf["restart"].append(restart)
        buf["fallen"].append(fallen)

    t = 0
    m: dict = {}
    while t < T:
        if t % k == 0 or not m:
            # (Re)start: the only place qpos is written. Root height so the lowest pad just touches.
            ctrl = restart_state(model, data, spec, timeline, t, cfg.restart_clearance, scratch)
            harness.reset()
            data.xfrc_applied[root] = 0.0
            mujoco.mj_forward(model, data)
            if controller is not None:
                controller.restart(data, t)
            tracker.reset(data)
            m = tracker.compute(data)
            fell = bool(m["fall_reason"])  # the reference state itself may count as fallen
            record(t, m, ctrl, restart=True, fallen=fell)
            t += 1
            if fell:
                num_falls += 1
                t = ((t + k - 1) // k) * k
                m = {}
            continue
        # Feedback from the current state (the metrics of the last recorded frame).
        w = m["root_ang_vel"]
        if controller is not None:  # the learned tracker: reference joints + the policy's residual
            ctrl = controller.targets(data, t)
        else:
            corr = balance_correction(cfg.balance, m["roll"] - ref_att[t, 0], m["pitch"] - ref_att[t, 1], w,
                                      m["foot_force"])
            if cfg.balance.enabled:
                corr = corr + speed_correction(cfg.balance, ref_speed[t] - m["forward_velocity"], m["foot_force"])
            ctrl = np.clip(ref_q[t, 7:] + corr, lo, hi)
        data.ctrl[:] = ctrl
        f, tau = harness.update(data.xmat[root], w, m["root_height"], m["vertical_velocity"],
                                ref_att[t, 0], ref_att[t, 1], ref_q[t, 2])
        data.xfrc_applied[root, :3] = f
        data.xfrc_applied[root, 3:] = tau
        mujoco.mj_step(model, data, cfg.substeps)
        m = tracker.compute(data)
        fell = bool(m["fall_reason"])
        record(t, m, ctrl, restart=False, fallen=fell)
        t += 1
        if fell:
            num_falls += 1
            t = ((t + k - 1) // k) * k  # skip to the next multi-start point
            m = {}

    return _finish_records(buf, spec, cfg, harness, clip_name, variant, num_falls)


def learned_controller(model: mujoco.MjModel, spec: RobotSpec, timeline: Timeline, cfg: GenerationConfig):
    """With ``generation.tracker: learned``, a `reference.tracker.controller.TrackerController` for `timeline`
    (the policy `tracker_for` picks, loaded once per process without unpickling); None with ``feedback``."""
    if cfg.tracker != "learned":
        return None
    from reference.tracker.controller import TrackerController
    from reference.tracker.policy import load_tracker_policy

    key, path = tracker_for(cfg, timeline)
    try:
        policy = load_tracker_policy(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"generation.{key}: cannot load the learned tracker {str(path)!r}: {exc}") from None
    return TrackerController(policy, model, spec, timeline)


def timeline_speed(timeline: Timeline) -> float | None:
    """The steady forward speed of a looped reference (m/s): the walking label's clip speed
    (`reference.walking.clip_speed`, p90 of its Hann-weighted 1 s averages outside the blends); None if it cannot say."""
    from reference.walking import clip_speed

    return clip_speed({"ref_root_pos": timeline.qpos[:, :3], "ref_root_quat": timeline.qpos[:, 3:7],
                       "fps": timeline.fps, "in_blend": timeline.in_blend}, window_frames=int(round(timeline.fps)))


def tracker_for(cfg: GenerationConfig, timeline: Timeline) -> tuple[str, str | Path]:
    """(config key, path) of the learned tracker for `timeline`: the fast tracker when
    ``generation.fast_tracker_min_speed`` is set and the timeline's speed reaches it, else ``tracker_path``
    (null: the shipped trackers, `DEFAULT_FAST_TRACKER_PATH` / `DEFAULT_TRACKER_PATH`)."""
    from wildrobot_gym.config.tracker import DEFAULT_FAST_TRACKER_PATH, DEFAULT_TRACKER_PATH

    if cfg.fast_tracker_min_speed is not None:
        speed = timeline_speed(timeline)
        if speed is not None and speed >= cfg.fast_tracker_min_speed:
            return "fast_tracker_path", cfg.fast_tracker_path or DEFAULT_FAST_TRACKER_PATH
    return "tracker_path", cfg.tracker_path or DEFAULT_TRACKER_PATH


def restart_state(model: mujoco.MjModel, data: mujoco.MjData, spec: RobotSpec, timeline: Timeline, t: int,
                  clearance: float, scratch: mujoco.MjData | None = None) -> np.ndarray:
    """Put `data` in the reference state of frame `t` (the only place qpos is written): root pose and
    joints from the timeline, the root shifted vertically so that the lowest pad sits at `clearance`,
    velocities from the timeline's finite differences, servo targets = the reference joints (returned)."""
    mujoco.mj_resetData(model, data)
    qpos = timeline.qpos[t].copy()
    qpos[2] += clearance - lowest_pad_z(model, spec, qpos, scratch)
    data.qpos[:] = qpos
    data.qvel[:] = timeline.qvel[t]
    ctrl = np.clip(timeline.qpos[t, 7:], model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1])
    data.ctrl[:] = ctrl
    return ctrl


def _finish_records(buf: dict, spec: RobotSpec, cfg: GenerationConfig, harness: Harness, clip_name: str,
                    variant: str, num_falls: int) -> dict:
    """Stack the per-frame lists into arrays and add the scalars of the contract."""
    rec: dict[str, Any] = {}
    for key, values in buf.items():
        if key == "fall_reason":
            rec[key] = np.array(values, dtype="<U16")
        elif key in ("pad_contact", "foot_contact", "torque_saturated", "harness_saturated", "in_blend",
                     "restart", "fallen"):
            rec[key] = np.array(values, dtype=bool)
        elif key in ("frame_index", "cycle"):
            rec[key] = np.array(values, dtype=np.int64)
        else:
            rec[key] = np.array(values, dtype=np.float64)
    frames = len(buf["qpos"])
    rec.update(
        format_version=RECORDS_FORMAT_VERSION,
        clip=clip_name,
        variant=variant,
        fps=float(cfg.fps),
        weight=float(spec.weight),
        lever_arm=float(harness.cfg.lever_arm),
        harness_cap=float(harness.cap),
        harness_mode=harness.cfg.mode,  # "off" with the learned tracker unless generation.tracker_harness
        saturation_rate=saturation_rate(rec),
        sim_seconds=frames / cfg.fps,
        num_falls=int(num_falls),
        config_json=json.dumps(cfg.to_dict()),
    )
    return rec


def saturation_rate(records: dict) -> float:
    """Fraction of actuator samples (frames x 8, at 50 Hz) at the torque limit."""
    sat = np.asarray(records["torque_saturated"])
    return float(sat.mean()) if sat.size else 0.0


def check_saturation(records: dict, warn_rate: float) -> float:
    """The seed's actuator saturation check: return the rate, warn above `warn_rate`."""
    rate = saturation_rate(records)
    if rate > warn_rate:
        log.warning("%s/%s: actuators saturated in %.1f %% of samples (> %.0f %%): consider a slower "
                    "time warp or a shorter step", records.get("clip"), records.get("variant"),
                    100 * rate, 100 * warn_rate)
    return rate


# ----------------------------------------------------------------------------------------------
# One clip, end to end; the scene
# ----------------------------------------------------------------------------------------------
def rollout_clip(model: mujoco.MjModel, clip: Clip, cfg: GenerationConfig, variant: dict | None = None,
                 spec: RobotSpec | None = None) -> dict:
    """Precondition, augment (variant), loop, track and record one clip at cfg.fps in its heading frame."""
    variant = variant or {"name": "base"}
    spec = spec or RobotSpec.from_model(model)
    timeline = clip_timeline(model, clip, cfg, variant, spec)
    rec = rollout(model, timeline, cfg, clip_name=clip.name, variant=str(variant["name"]), spec=spec)
    check_saturation(rec, cfg.saturation_warn_rate)
    return rec


def default_model() -> mujoco.MjModel:
    """The project's scene (robot + floor)."""
    return load_model()
