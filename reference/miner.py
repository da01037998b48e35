"""Tier 0+ segment miner (seed 000): windows, gates, de-duplication, quality scores, the dataset file.

Input: per-rollout `records` (reference/rollout.py), a dict of 50 Hz numpy arrays (see
`RECORD_ARRAYS`) plus the meta entries ``clip``, ``variant``, ``fps``, ``weight`` (m g, N).

Pipeline, per rollout:

1. **Stretches.** Frames flagged ``fallen`` (and, optionally, `pre_fall_margin_frames` before each
   fall) are unusable; every ``restart`` frame starts a new stretch. No window crosses a stretch
   boundary, so no window spans a restart or contains a fall frame.
2. **Windows.** In a stretch of L frames: windows of W = `window_frames` at starts 0, S, 2S, ...
   (S = `stride_frames`) while they fit; a stretch with `min_segment_frames` <= L < W is one
   candidate window of its own length; shorter stretches give none.
3. **Gates** (all must pass; `GateConfig`), with load = sum(Fn)/mg and harness = |F_stab|/mg:
   mean(load) >= 0.85, p10(load) >= 0.60, p90(harness) <= 0.15, p95(harness) <= 0.25 (0.10 is
   the seed's Blocker B target: tighten `harness_p95_max`), fraction of frames with the harness at
   its cap <= 5 %, fraction of frames with load < 0.60 <= 10 %, p95|pitch| <= 25 deg,
   p95|roll| <= 25 deg, stance slip rate <= 15 % (foot-frames with Fn > 0.10 mg whose foot slides
   faster than 0.10 m/s where it bears on the floor, `foot_slip_speed`, over all loaded foot-frames),
   and no fall frame.
4. **De-duplication** (`dedupe`): every passing window marks frames as accepted, either all its
   frames (``merge``) or its central `center_frames` (``center``, the seed's alternative); the
   accepted frames of a stretch are then merged into maximal runs, the **segments**. Each frame is
   therefore in at most one segment and total Tier 0+ seconds = accepted frames / fps, counting
   every frame once however many windows covered it. Runs shorter than `min_segment_frames` are
   dropped (possible only with ``center``). A merged segment is the union of passing windows; its
   own metrics (recomputed over the whole segment) are stored, with ``passes_as_whole``.
5. **Score** per segment (from its metrics; seed): +1 if mean load >= 0.95, +1 if stance slip
   <= 0.05, +1 if p95 pitch and p95 roll <= 15 deg, -1 if p95 harness >= (1 - 0.2) * its limit.
   Alternation = fraction of frames with exactly one foot loaded (single stance).
6. **Walking label** (`reference.walking`, ``mining.walking``): a window walks when its mean forward
   speed >= 0.7 x its clip's speed and single stance >= 15 % of its frames. A Tier 0+ frame is walking
   when a passing walking window covers it (its centre with ``center``); segments are split where the
   label changes (so a piece may be shorter than `min_segment_frames`), each all walking or all not.
   Standing data stays in the dataset, labelled; the go / no-go counts walking seconds.

Dataset format (`write_dataset` / `load_dataset`), format version 1, two files in one directory:

``tier0plus.npz`` (plain arrays, `np.load(..., allow_pickle=False)`; F frames, S segments,
M motions, N windows):

=======================  ===========  ==========================================================
key                      shape        meaning
=======================  ===========  ==========================================================
features                 (F, D) f32   full-layout AMP features (wildrobot_gym.amp_features)
qpos, qvel               (F,15),(F,14) raw state, enough to recompute the features
pad_contact              (F, 4) bool
foot_height, foot_z_vel  (F, 2)       m, m/s (backward difference at fps, 0 after a restart)
foot_load                (F, 2)       per-foot Fn / mg
foot_slip_speed          (F, 2)       m/s
harness_ratio            (F,)         |F_stab| / mg
harness_saturated        (F,) bool
pitch, roll              (F,)         rad
frame_motion             (F,) i32     index into motion_names
frame_segment            (F,) i32     index of the frame's segment
motion_names             (M,) str     "clip:variant"
motion_clips             (M,) str     source clip of each motion
segment_motion           (S,) i32     index into motion_names
segment_id               (S,) i32     segment index within its motion
segment_start            (S,) i64     first row of the segment in `features`
segment_length           (S,) i64     frames
segment_source_start     (S,) i64     first frame of the segment in its rollout
segment_rollout          (S,) i32     rollout index (the order given to `mine_records`)
segment_scores           (S,) f32     quality score
forward_velocity *       (F,)         m/s, root velocity along the heading (records ``forward_velocity``)
frame_walking *          (F,) bool    the walking label of each frame (step 6)
segment_walking *        (S,) bool    the label of each segment (its frames all share it)
segment_forward_velocity * (S,)       m/s, the segment's mean forward speed (its speed band)
segment_clip_speed *     (S,)         m/s, its clip's speed (`reference.walking.clip_speed`; NaN: unknown)
window_walking *         (N,) bool    the window walks (gates aside)
window_rollout, window_start, window_length, window_passed   (N,)  every candidate window
window_<metric>          (N,) f64     its gate metrics (for histograms), see `METRIC_NAMES`
=======================  ===========  ==========================================================

``*``: the walking label (`WALKING_NPZ_KEYS`), absent from datasets written before it: readers treat
its absence as "unknown" (`MinedDataset.has_walking_label`). AMP on walking frames only: keep the
segments with ``segment_walking`` (e.g. ``m = arrays["segment_walking"]``, then ``segment_start[m]``,
``segment_length[m]``, ...), or the rows with ``frame_walking``.

``tier0plus.json``: format, format_version, feature_version, feature_layout, feature_params,
fps, num_frames, num_segments, total_seconds, walking_seconds and walking (`reference.walking.summarize`:
seconds per speed band, speed ratio, double support; absent in old datasets), motion_names,
per_segment_metrics, rollouts (per-rollout diagnostics and verdicts, with clip_speed and the walking
seconds), config (the mining config used), npz_file, npz_sha256.
Both files are written to a temporary name and renamed, npz first.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from reference import walking as walk
from wildrobot_gym.atomic_io import atomic_write
from wildrobot_gym.config.reference import (  # noqa: F401  (re-exported: the rest of reference/ imports them here)
    DEFAULT_REFERENCE_CONFIG,
    GateConfig,
    MiningConfig,
    ScoreConfig,
    WalkingConfig,
    load_mining_config,
    read_section,
    section_from_dict,
)
from wildrobot_gym.amp_features import (
    FEATURE_VERSION,
    LAYOUT,
    FeatureLayout,
    compute_features,
    foot_z_velocity,
)

DEFAULT_CONFIG_PATH = DEFAULT_REFERENCE_CONFIG
DATASET_FORMAT = "wildrobot-tier0plus"
DATASET_FORMAT_VERSION = 1
NPZ_NAME = "tier0plus.npz"
JSON_NAME = "tier0plus.json"

#: Array entries of a rollout's records: name -> trailing shape (T is the leading dimension).
RECORD_ARRAYS: dict[str, tuple[int, ...]] = {
    "qpos": (15,),
    "qvel": (14,),
    "foot_force": (2,),
    "pad_contact": (4,),
    "foot_slip_speed": (2,),
    "foot_height": (2,),
    "harness_force": (3,),
    "harness_torque": (3,),
    "harness_equiv_force": (),
    "harness_saturated": (),
    "actuator_torque": (8,),
    "torque_saturated": (8,),
    "roll": (),
    "pitch": (),
    "root_height": (),
    "forward_velocity": (),
    "ref_joint_pos": (8,),
    "restart": (),
    "fallen": (),
}
RECORD_META: dict[str, type] = {"clip": str, "variant": str, "fps": float, "weight": float}

#: Per-window / per-segment metrics, in the order they are stored.
METRIC_NAMES: tuple[str, ...] = (
    "frames",
    "load_mean",
    "load_p10",
    "load_p95",
    "harness_mean",
    "harness_p90",
    "harness_p95",
    "harness_saturated_fraction",
    "unloaded_fraction",
    "pitch_p95_deg",
    "roll_p95_deg",
    "stance_slip_rate",
    "stance_foot_frames",
    "single_stance_fraction",
    "double_stance_fraction",
    "flight_fraction",
    "actuator_saturation_rate",
    "fall_fraction",
    "forward_velocity_mean",
)
GATE_NAMES: tuple[str, ...] = (
    "no_fall",
    "load_mean",
    "load_p10",
    "harness_p90",
    "harness_p95",
    "harness_saturated",
    "unloaded_fraction",
    "pitch_p95",
    "roll_p95",
    "stance_slip",
)


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------
# The `mining:` schema (GateConfig, ScoreConfig, MiningConfig: frozen pydantic dataclasses with ranges)
# and its loader live in wildrobot_gym/config/reference.py, the one place of the reference pipeline's
# settings (imported above, re-exported here for the rest of reference/).


#: config_from_dict(cls, data, section): `cls` (MiningConfig, analyze.AnalysisConfig, ...) from a mapping,
#: missing keys at their defaults; a bad value raises `ConfigError` naming its dotted key.
config_from_dict = section_from_dict
#: read_config_section(path, section): the raw mapping of one top-level section; errors name the file.
read_config_section = read_section


# ------------------------------------------------------------------------------------------------
# Records
# ------------------------------------------------------------------------------------------------
def validate_records(records: Mapping[str, Any], name: str = "records") -> int:
    """Check keys, shapes and meta of one rollout's records; returns T. Errors name the key."""
    for key, typ in RECORD_META.items():
        if key not in records:
            raise ValueError(f"{name}: missing meta entry {key!r}")
        value = records[key]
        value = value.item() if isinstance(value, np.ndarray) else value
        if typ is str and not isinstance(value, str):
            raise ValueError(f"{name}: meta entry {key!r} must be a string, got {value!r}")
        if typ is float and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
            raise ValueError(f"{name}: meta entry {key!r} must be a number, got {value!r}")
    if not float(np.asarray(records["weight"])) > 0:
        raise ValueError(f"{name}: meta entry 'weight' must be > 0")
    t = None
    for key, trailing in RECORD_ARRAYS.items():
        if key not in records:
            raise ValueError(f"{name}: missing array {key!r}")
        a = np.asarray(records[key])
        if a.ndim != 1 + len(trailing) or a.shape[1:] != trailing:
            raise ValueError(f"{name}: array {key!r} must have shape (T, {', '.join(map(str, trailing))}), got {a.shape}")
        if t is None:
            t = a.shape[0]
        elif a.shape[0] != t:
            raise ValueError(f"{name}: array {key!r} has {a.shape[0]} frames, 'qpos' has {t}")
    return int(t or 0)


def frame_signals(records: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The per-frame signals the gates read, normalised by m g where the gates say so."""
    w = float(np.asarray(records["weight"]))
    return {
        "foot_load": np.asarray(records["foot_force"], dtype=np.float64) / w,
        "foot_slip_speed": np.asarray(records["foot_slip_speed"], dtype=np.float64),
        "harness_ratio": np.asarray(records["harness_equiv_force"], dtype=np.float64) / w,
        "harness_saturated": np.asarray(records["harness_saturated"], dtype=bool),
        "pitch": np.asarray(records["pitch"], dtype=np.float64),
        "roll": np.asarray(records["roll"], dtype=np.float64),
        "torque_saturated": np.asarray(records["torque_saturated"], dtype=bool),
        "fallen": np.asarray(records["fallen"], dtype=bool),
        "forward_velocity": np.asarray(records["forward_velocity"], dtype=np.float64),
    }


# ------------------------------------------------------------------------------------------------
# Windowing
# ------------------------------------------------------------------------------------------------
def usable_stretches(restart: np.ndarray, fallen: np.ndarray, pre_fall_margin: int = 0) -> np.ndarray:
    """(K, 2) [start, stop) of maximal runs of usable frames: no fall frame, split at every restart."""
    restart = np.asarray(restart, dtype=bool)
    bad = np.asarray(fallen, dtype=bool).copy()
    fallen = bad.copy()
    for k in range(1, pre_fall_margin + 1):  # the margin is a few frames: a short loop
        bad[:-k] |= fallen[k:]
    ok = ~bad
    if ok.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    prev_ok = np.r_[False, ok[:-1]]
    next_continues = np.r_[ok[1:] & ~restart[1:], False]
    starts = np.flatnonzero(ok & (~prev_ok | restart))
    stops = np.flatnonzero(ok & ~next_continues) + 1
    return np.stack([starts, stops], axis=1).astype(np.int64)


def candidate_windows(stretches: np.ndarray, cfg: MiningConfig) -> np.ndarray:
    """(N, 2) [start, length] of candidate windows in the given stretches (module docstring, step 2)."""
    w, s, m = cfg.window_frames, cfg.stride_frames, cfg.min_segment_frames
    out = []
    for a, b in np.asarray(stretches, dtype=np.int64).reshape(-1, 2):
        n = b - a
        if n >= w:
            starts = np.arange(a, b - w + 1, s)
            if cfg.include_tail_window and starts[-1] + w < b:
                starts = np.r_[starts, b - w]
            out.append(np.stack([starts, np.full_like(starts, w)], axis=1))
        elif n >= m:
            out.append(np.array([[a, n]], dtype=np.int64))
    return np.concatenate(out).astype(np.int64) if out else np.zeros((0, 2), dtype=np.int64)


# ------------------------------------------------------------------------------------------------
# Metrics, gates, score
# ------------------------------------------------------------------------------------------------
def _metrics_batch(sig: Mapping[str, np.ndarray], idx: np.ndarray, gates: GateConfig) -> dict[str, np.ndarray]:
    """Metrics of windows given as (N, L) frame indices; every value is an (N,) array."""
    g = {k: v[idx] for k, v in sig.items()}  # (N, L, ...)
    load = g["foot_load"].sum(axis=-1)
    harness = g["harness_ratio"]
    loaded = g["foot_load"] > gates.stance_load_threshold  # (N, L, 2)
    slipping = loaded & (g["foot_slip_speed"] > gates.slip_speed_threshold)
    n_loaded = loaded.sum(axis=(1, 2))
    n_feet = loaded.sum(axis=-1)
    length = idx.shape[1]
    return {
        "frames": np.full(idx.shape[0], float(length)),
        "load_mean": load.mean(axis=1),
        "load_p10": np.percentile(load, 10, axis=1),
        "load_p95": np.percentile(load, 95, axis=1),
        "harness_mean": harness.mean(axis=1),
        "harness_p90": np.percentile(harness, 90, axis=1),
        "harness_p95": np.percentile(harness, 95, axis=1),
        "harness_saturated_fraction": g["harness_saturated"].mean(axis=1),
        "unloaded_fraction": (load < gates.unloaded_load_threshold).mean(axis=1),
        "pitch_p95_deg": np.degrees(np.percentile(np.abs(g["pitch"]), 95, axis=1)),
        "roll_p95_deg": np.degrees(np.percentile(np.abs(g["roll"]), 95, axis=1)),
        # No loaded foot-frame at all: no stance to slip (the load gates fail such a window anyway).
        "stance_slip_rate": slipping.sum(axis=(1, 2)) / np.maximum(n_loaded, 1),
        "stance_foot_frames": n_loaded.astype(np.float64),
        "single_stance_fraction": (n_feet == 1).mean(axis=1),
        "double_stance_fraction": (n_feet == 2).mean(axis=1),
        "flight_fraction": (n_feet == 0).mean(axis=1),
        "actuator_saturation_rate": g["torque_saturated"].mean(axis=(1, 2)),
        "fall_fraction": g["fallen"].mean(axis=1),
        "forward_velocity_mean": g["forward_velocity"].mean(axis=1),
    }


def window_metrics(sig: Mapping[str, np.ndarray], windows: np.ndarray, gates: GateConfig) -> dict[str, np.ndarray]:
    """Metrics of (N, 2) [start, length] windows of one rollout's `frame_signals`; (N,) arrays."""
    windows = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    out = {k: np.zeros(len(windows)) for k in METRIC_NAMES}
    for length in np.unique(windows[:, 1]):  # equal-length windows are one vectorised batch
        rows = np.flatnonzero(windows[:, 1] == length)
        idx = windows[rows, 0][:, None] + np.arange(length)[None, :]
        for k, v in _metrics_batch(sig, idx, gates).items():
            out[k][rows] = v
    return out


def span_metrics(sig: Mapping[str, np.ndarray], start: int, stop: int, gates: GateConfig) -> dict[str, float]:
    """Metrics of the frames [start, stop) as Python floats."""
    m = window_metrics(sig, np.array([[start, stop - start]]), gates)
    return {k: float(v[0]) for k, v in m.items()}


def gate_matrix(metrics: Mapping[str, np.ndarray], gates: GateConfig) -> dict[str, np.ndarray]:
    """Pass flag of every gate (name -> (N,) bool) for batched metrics."""
    m = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
    return {
        "no_fall": m["fall_fraction"] <= 0.0,
        "load_mean": m["load_mean"] >= gates.load_mean_min,
        "load_p10": m["load_p10"] >= gates.load_p10_min,
        "harness_p90": m["harness_p90"] <= gates.harness_p90_max,
        "harness_p95": m["harness_p95"] <= gates.harness_p95_max,
        "harness_saturated": m["harness_saturated_fraction"] <= gates.harness_saturated_max,
        "unloaded_fraction": m["unloaded_fraction"] <= gates.unloaded_fraction_max,
        "pitch_p95": m["pitch_p95_deg"] <= gates.pitch_p95_max_deg,
        "roll_p95": m["roll_p95_deg"] <= gates.roll_p95_max_deg,
        "stance_slip": m["stance_slip_rate"] <= gates.stance_slip_rate_max,
    }


_GATE_TEXT = {  # gate -> (metric, comparison, threshold attribute) for readable failure reasons
    "no_fall": ("fall_fraction", "<=", None),
    "load_mean": ("load_mean", ">=", "load_mean_min"),
    "load_p10": ("load_p10", ">=", "load_p10_min"),
    "harness_p90": ("harness_p90", "<=", "harness_p90_max"),
    "harness_p95": ("harness_p95", "<=", "harness_p95_max"),
    "harness_saturated": ("harness_saturated_fraction", "<=", "harness_saturated_max"),
    "unloaded_fraction": ("unloaded_fraction", "<=", "unloaded_fraction_max"),
    "pitch_p95": ("pitch_p95_deg", "<=", "pitch_p95_max_deg"),
    "roll_p95": ("roll_p95_deg", "<=", "roll_p95_max_deg"),
    "stance_slip": ("stance_slip_rate", "<=", "stance_slip_rate_max"),
}


@dataclass(frozen=True)
class GateResult:
    """Verdict of one span: its metrics, whether every gate passed, the failing gates and why."""

    metrics: dict[str, float]
    passed: bool
    failing: tuple[str, ...]
    reasons: tuple[str, ...]


def check_gates(metrics: Mapping[str, float], gates: GateConfig) -> GateResult:
    """Apply every Tier 0+ gate to one span's metrics (as from `span_metrics`)."""
    flags = gate_matrix({k: np.atleast_1d(v) for k, v in metrics.items()}, gates)
    failing = tuple(name for name in GATE_NAMES if not bool(flags[name][0]))
    reasons = []
    for name in failing:
        metric, op, attr = _GATE_TEXT[name]
        limit = 0.0 if attr is None else getattr(gates, attr)
        reasons.append(f"{name}: {metric} = {float(metrics[metric]):.3f}, needs {op} {limit:g}")
    return GateResult(dict(metrics), not failing, failing, tuple(reasons))


def gate_records(records: Mapping[str, Any], gates: GateConfig, start: int = 0, stop: int | None = None) -> GateResult:
    """Gate the frames [start, stop) of one rollout's records (whole rollout by default)."""
    t = validate_records(records)
    stop = t if stop is None else stop
    if not 0 <= start < stop <= t:
        raise ValueError(f"gate_records: bad span [{start}, {stop}) for {t} frames")
    return check_gates(span_metrics(frame_signals(records), start, stop, gates), gates)


def quality_score(metrics: Mapping[str, Any], gates: GateConfig, score: ScoreConfig) -> np.ndarray:
    """Seed's quality score, vectorised over (N,) metrics (a scalar metric dict gives a 0-d array)."""
    m = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
    s = (m["load_mean"] >= score.load_mean_bonus_min).astype(np.float64)
    s = s + (m["stance_slip_rate"] <= score.slip_rate_bonus_max)
    s = s + ((m["pitch_p95_deg"] <= score.attitude_bonus_max_deg) & (m["roll_p95_deg"] <= score.attitude_bonus_max_deg))
    s = s - (m["harness_p95"] >= (1.0 - score.harness_near_limit_fraction) * gates.harness_p95_max)
    return s


# ------------------------------------------------------------------------------------------------
# Mining
# ------------------------------------------------------------------------------------------------
@dataclass
class RolloutMining:
    """Mining result of one rollout: candidate windows, their metrics and verdicts, the segments."""

    clip: str
    variant: str
    num_frames: int
    stretches: np.ndarray  # (K, 2) [start, stop)
    windows: np.ndarray  # (N, 2) [start, length]
    window_metrics: dict[str, np.ndarray]  # metric -> (N,)
    window_passed: np.ndarray  # (N,) bool
    accepted: np.ndarray  # (T,) bool, frames in a segment
    segments: np.ndarray  # (S, 2) [start, stop), split where the walking label changes
    whole: GateResult  # the whole rollout, for the per-clip diagnostic
    clip_speed: float | None = None  # m/s, `walk.clip_speed` (None: unknown, nothing walks)
    window_walking: np.ndarray | None = None  # (N,) bool, the window walks (gates aside)
    walking_any: np.ndarray | None = None  # (T,) bool, frames in a walking window, gates aside
    walking: np.ndarray | None = None  # (T,) bool, walking Tier 0+ frames
    segment_walking: np.ndarray | None = None  # (S,) bool


def accepted_frames(num_frames: int, stretches: np.ndarray, windows: np.ndarray, passed: np.ndarray, cfg: MiningConfig) -> np.ndarray:
    """(T,) bool: frames marked by passing windows (all frames, or the centres with dedupe='center')."""
    mark = np.zeros(num_frames + 1, dtype=np.int64)  # difference array: +1 at start, -1 at stop
    for start, length in np.asarray(windows, dtype=np.int64).reshape(-1, 2)[np.asarray(passed, dtype=bool)]:
        if cfg.dedupe == "center":
            keep = min(cfg.center_frames, length)
            start, length = start + (length - keep) // 2, keep
        mark[start] += 1
        mark[start + length] -= 1
    return np.cumsum(mark[:-1]) > 0


def segments_from_mask(accepted: np.ndarray, stretches: np.ndarray, min_frames: int) -> np.ndarray:
    """(S, 2) maximal runs of accepted frames, split at stretch boundaries, at least `min_frames` long."""
    accepted = np.asarray(accepted, dtype=bool)
    boundary = np.zeros(accepted.size, dtype=bool)
    stretches = np.asarray(stretches, dtype=np.int64).reshape(-1, 2)
    boundary[stretches[:, 0]] = True  # a run never continues into a new stretch (restart / after a fall)
    prev = np.r_[False, accepted[:-1]]
    nxt = np.r_[accepted[1:] & ~boundary[1:], False]
    starts = np.flatnonzero(accepted & (~prev | boundary))
    stops = np.flatnonzero(accepted & ~nxt) + 1
    seg = np.stack([starts, stops], axis=1).astype(np.int64) if starts.size else np.zeros((0, 2), dtype=np.int64)
    return seg[(seg[:, 1] - seg[:, 0]) >= min_frames]


def mine_rollout(records: Mapping[str, Any], cfg: MiningConfig, name: str = "records") -> RolloutMining:
    """Windows, gates and de-duplicated segments of one rollout (module docstring, steps 1-4)."""
    t = validate_records(records, name)
    fps = float(np.asarray(records["fps"]))
    if abs(fps - cfg.fps) > 1e-6:
        raise ValueError(f"{name}: records are at {fps} fps, mining.fps is {cfg.fps}")
    sig = frame_signals(records)
    stretches = usable_stretches(np.asarray(records["restart"], dtype=bool), sig["fallen"], cfg.pre_fall_margin_frames)
    windows = candidate_windows(stretches, cfg)
    metrics = window_metrics(sig, windows, cfg.gates)
    flags = gate_matrix(metrics, cfg.gates)
    passed = np.logical_and.reduce([flags[g] for g in GATE_NAMES]) if len(windows) else np.zeros(0, dtype=bool)
    accepted = accepted_frames(t, stretches, windows, passed, cfg)
    segments = segments_from_mask(accepted, stretches, cfg.min_segment_frames)
    accepted = np.zeros(t, dtype=bool)
    for a, b in segments:  # frames of dropped short runs are not accepted either
        accepted[a:b] = True
    # Step 6: the walking label, and segments cut where it changes.
    speed = walk.clip_speed(records, cfg.window_frames)
    win_walk = walk.is_walking(metrics["forward_velocity_mean"], metrics["single_stance_fraction"], speed, cfg.walking)
    walking_any = accepted_frames(t, stretches, windows, win_walk, replace(cfg, dedupe="merge"))
    walking = accepted_frames(t, stretches, windows, passed & win_walk, cfg) & accepted
    segments, seg_walking = walk.split_runs(segments, walking)
    whole = check_gates(span_metrics(sig, 0, t, cfg.gates), cfg.gates) if t else GateResult({}, False, ("empty",), ("no frames",))
    return RolloutMining(
        clip=str(np.asarray(records["clip"])),
        variant=str(np.asarray(records["variant"])),
        num_frames=t,
        stretches=stretches,
        windows=windows,
        window_metrics=metrics,
        window_passed=passed,
        accepted=accepted,
        segments=segments,
        whole=whole,
        clip_speed=speed,
        window_walking=win_walk,
        walking_any=walking_any,
        walking=walking,
        segment_walking=seg_walking,
    )


@dataclass
class MinedDataset:
    """A Tier 0+ dataset in memory; `write_dataset` / `load_dataset` map it to disk (module docstring)."""

    arrays: dict[str, np.ndarray]  # every npz array (see the module docstring's table)
    per_segment_metrics: list[dict]
    rollouts: list[dict]
    config: dict
    layout: FeatureLayout = LAYOUT
    feature_version: str = FEATURE_VERSION
    fps: float = 50.0

    @property
    def features(self) -> np.ndarray:
        return self.arrays["features"]

    @property
    def num_frames(self) -> int:
        return int(self.arrays["features"].shape[0])

    @property
    def num_segments(self) -> int:
        return int(self.arrays["segment_length"].shape[0])

    @property
    def total_seconds(self) -> float:
        """Tier 0+ seconds; every frame belongs to one segment, so each is counted once."""
        return self.num_frames / self.fps

    @property
    def has_walking_label(self) -> bool:
        """Whether the dataset carries the walking label (datasets mined before it do not: unknown)."""
        return all(k in self.arrays for k in WALKING_NPZ_KEYS)

    @property
    def walking_seconds(self) -> float | None:
        """Walking Tier 0+ seconds; None when the dataset has no walking label."""
        return float(self.arrays["frame_walking"].sum()) / self.fps if self.has_walking_label else None

    def walking_summary(self) -> dict | None:
        """`reference.walking.summarize` of the labelled frames; None without a label."""
        if not self.has_walking_label:
            return None
        a = self.arrays
        wcfg = section_from_dict(MiningConfig, self.config, "dataset config")
        speed = a["segment_clip_speed"][a["frame_segment"]] if len(a["frame_segment"]) else np.zeros(0)
        return walk.summarize(a["frame_walking"], a["frame_segment"], a["forward_velocity"], a["foot_load"], speed,
                              self.fps, wcfg.gates.stance_load_threshold, wcfg.walking.speed_band_width)

    @property
    def motion_names(self) -> list[str]:
        return [str(x) for x in self.arrays["motion_names"]]

    @property
    def segment_scores(self) -> np.ndarray:
        return self.arrays["segment_scores"]

    def segment_slice(self, i: int) -> slice:
        """Rows of segment i in every per-frame array."""
        a = int(self.arrays["segment_start"][i])
        return slice(a, a + int(self.arrays["segment_length"][i]))


_FRAME_STATE = ("qpos", "qvel", "pad_contact", "foot_height", "foot_z_vel")
_FRAME_SIGNALS = ("foot_load", "foot_slip_speed", "harness_ratio", "harness_saturated", "pitch", "roll")
_SEGMENT_KEYS = (
    "segment_motion",
    "segment_id",
    "segment_start",
    "segment_length",
    "segment_source_start",
    "segment_rollout",
    "segment_scores",
)
_WINDOW_KEYS = ("window_rollout", "window_start", "window_length", "window_passed") + tuple(f"window_{m}" for m in METRIC_NAMES)
REQUIRED_NPZ_KEYS: tuple[str, ...] = (
    ("features",) + _FRAME_STATE + _FRAME_SIGNALS + ("frame_motion", "frame_segment", "motion_names", "motion_clips")
    + _SEGMENT_KEYS + _WINDOW_KEYS
)
_WALKING_FRAME = ("forward_velocity", "frame_walking")
_WALKING_SEGMENT = ("segment_walking", "segment_forward_velocity", "segment_clip_speed")
#: The walking label's arrays (step 6): written always, optional on reading (older datasets lack them).
WALKING_NPZ_KEYS: tuple[str, ...] = _WALKING_FRAME + _WALKING_SEGMENT + ("window_walking",)


def _json_float(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def mine_records(records_list: Sequence[Mapping[str, Any]], config: MiningConfig | None = None) -> MinedDataset:
    """Mine every rollout and assemble the Tier 0+ dataset (features in the full layout)."""
    cfg = config or MiningConfig()
    frame_parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("features",) + _FRAME_STATE + _FRAME_SIGNALS + ("frame_motion", "frame_segment") + _WALKING_FRAME}
    seg_parts: dict[str, list] = {k: [] for k in _SEGMENT_KEYS + _WALKING_SEGMENT}
    win_parts: dict[str, list[np.ndarray]] = {k: [] for k in _WINDOW_KEYS + ("window_walking",)}
    motion_names: list[str] = []
    motion_clips: list[str] = []
    per_segment: list[dict] = []
    rollouts: list[dict] = []
    seg_in_motion: dict[int, int] = {}
    row = 0
    for r, rec in enumerate(records_list):
        mined = mine_rollout(rec, cfg, name=f"records[{r}]")
        motion = f"{mined.clip}:{mined.variant}"
        if motion not in motion_names:
            motion_names.append(motion)
            motion_clips.append(mined.clip)
        mi = motion_names.index(motion)
        sig = frame_signals(rec)
        n_win = len(mined.windows)
        win_parts["window_rollout"].append(np.full(n_win, r, dtype=np.int32))
        win_parts["window_start"].append(mined.windows[:, 0])
        win_parts["window_length"].append(mined.windows[:, 1])
        win_parts["window_passed"].append(mined.window_passed)
        win_parts["window_walking"].append(mined.window_walking)
        speed = np.nan if mined.clip_speed is None else mined.clip_speed
        for m in METRIC_NAMES:
            win_parts[f"window_{m}"].append(mined.window_metrics[m])
        rollouts.append(
            {
                "rollout": r,
                "clip": mined.clip,
                "variant": mined.variant,
                "motion_id": motion,
                "frames": mined.num_frames,
                "seconds": mined.num_frames / cfg.fps,
                "weight": float(np.asarray(rec["weight"])),
                "restarts": int(np.asarray(rec["restart"], dtype=bool).sum()),
                "fall_frames": int(sig["fallen"].sum()),
                "windows": n_win,
                "windows_passed": int(mined.window_passed.sum()),
                "tier0plus_frames": int(mined.accepted.sum()),
                "segments": int(len(mined.segments)),
                **walk.rollout_figures(mined.clip_speed, mined.walking_any, mined.walking, cfg.fps),
                "metrics": {k: _json_float(v) for k, v in mined.whole.metrics.items()},
                "passed": mined.whole.passed,
                "failing": list(mined.whole.failing),
                "reasons": list(mined.whole.reasons),
            }
        )
        if not len(mined.segments):
            continue
        foot_z = foot_z_velocity(rec["foot_height"], cfg.fps, rec["restart"])
        state = {
            "qpos": np.asarray(rec["qpos"], dtype=np.float64),
            "qvel": np.asarray(rec["qvel"], dtype=np.float64),
            "pad_contact": np.asarray(rec["pad_contact"], dtype=bool),
            "foot_height": np.asarray(rec["foot_height"], dtype=np.float64),
            "foot_z_vel": foot_z,
        }
        for (a, b), is_walk in zip(mined.segments, mined.segment_walking):
            s = len(seg_parts["segment_start"])
            k = seg_in_motion.get(mi, 0)
            seg_in_motion[mi] = k + 1
            m = span_metrics(sig, int(a), int(b), cfg.gates)
            res = check_gates(m, cfg.gates)
            score = float(quality_score(m, cfg.gates, cfg.score))
            sl = slice(int(a), int(b))
            for key in _FRAME_STATE:
                frame_parts[key].append(state[key][sl])
            for key in _FRAME_SIGNALS:
                frame_parts[key].append(sig[key][sl])
            frame_parts["features"].append(
                compute_features(
                    state["qpos"][sl], state["qvel"][sl], state["pad_contact"][sl], state["foot_height"][sl],
                    foot_z[sl], lin_vel_mode=cfg.lin_vel_mode, lin_vel_clip=cfg.lin_vel_clip,
                )
            )
            frame_parts["frame_motion"].append(np.full(b - a, mi, dtype=np.int32))
            frame_parts["frame_segment"].append(np.full(b - a, s, dtype=np.int32))
            frame_parts["forward_velocity"].append(sig["forward_velocity"][sl])
            frame_parts["frame_walking"].append(mined.walking[sl])
            for key, val in (
                ("segment_motion", mi), ("segment_id", k), ("segment_start", row), ("segment_length", b - a),
                ("segment_source_start", a), ("segment_rollout", r), ("segment_scores", score),
                ("segment_walking", bool(is_walk)), ("segment_forward_velocity", m["forward_velocity_mean"]),
                ("segment_clip_speed", speed),
            ):
                seg_parts[key].append(val)
            per_segment.append(
                {
                    "segment": s,
                    "motion_id": motion,
                    "clip": mined.clip,
                    "variant": mined.variant,
                    "segment_id": k,
                    "rollout": r,
                    "source_start": int(a),
                    "frames": int(b - a),
                    "seconds": (b - a) / cfg.fps,
                    "score": score,
                    "walking": bool(is_walk),
                    "clip_speed": _json_float(speed),
                    "speed_ratio": _json_float(m["forward_velocity_mean"] / speed) if speed > 0 else None,
                    "passes_as_whole": res.passed,
                    "failing_as_whole": list(res.failing),
                    "metrics": {key: _json_float(v) for key, v in m.items()},
                }
            )
            row += int(b - a)
    return MinedDataset(
        arrays=_assemble_arrays(frame_parts, seg_parts, win_parts, motion_names, motion_clips),
        per_segment_metrics=per_segment,
        rollouts=rollouts,
        config=asdict(cfg),
        fps=cfg.fps,
    )


def _assemble_arrays(frame_parts, seg_parts, win_parts, motion_names, motion_clips) -> dict[str, np.ndarray]:
    """Concatenate the per-rollout pieces into the npz arrays with their documented dtypes/shapes."""
    empty = {  # shapes of the per-frame arrays when nothing was accepted
        "features": (np.float32, (0, LAYOUT.dim)), "qpos": (np.float64, (0, 15)), "qvel": (np.float64, (0, 14)),
        "pad_contact": (bool, (0, 4)), "foot_height": (np.float64, (0, 2)), "foot_z_vel": (np.float64, (0, 2)),
        "foot_load": (np.float64, (0, 2)), "foot_slip_speed": (np.float64, (0, 2)), "harness_ratio": (np.float64, (0,)),
        "harness_saturated": (bool, (0,)), "pitch": (np.float64, (0,)), "roll": (np.float64, (0,)),
        "frame_motion": (np.int32, (0,)), "frame_segment": (np.int32, (0,)),
        "forward_velocity": (np.float64, (0,)), "frame_walking": (bool, (0,)),
    }
    arrays: dict[str, np.ndarray] = {}
    for k, parts in frame_parts.items():
        dtype, shape = empty[k]
        arrays[k] = np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype=dtype)
    seg_dtypes = {
        "segment_motion": np.int32, "segment_id": np.int32, "segment_start": np.int64, "segment_length": np.int64,
        "segment_source_start": np.int64, "segment_rollout": np.int32, "segment_scores": np.float32,
        "segment_walking": bool, "segment_forward_velocity": np.float64, "segment_clip_speed": np.float64,
    }
    for k, parts in seg_parts.items():
        arrays[k] = np.asarray(parts, dtype=seg_dtypes[k])
    for k, parts in win_parts.items():
        if k in ("window_passed", "window_walking"):
            dtype = bool
        elif k in ("window_rollout",):
            dtype = np.int32
        elif k in ("window_start", "window_length"):
            dtype = np.int64
        else:
            dtype = np.float64
        arrays[k] = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)
    arrays["motion_names"] = np.asarray(motion_names, dtype=str) if motion_names else np.zeros(0, dtype="<U1")
    arrays["motion_clips"] = np.asarray(motion_clips, dtype=str) if motion_clips else np.zeros(0, dtype="<U1")
    return arrays


# ------------------------------------------------------------------------------------------------
# Dataset files
# ------------------------------------------------------------------------------------------------
atomic_write_bytes = atomic_write  # the shared helper; name kept for callers


def _atomic_write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    atomic_write_bytes(path, lambda f: np.savez_compressed(f, **arrays))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_dataset(dataset: MinedDataset, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``tier0plus.npz`` then ``tier0plus.json`` into `out_dir`, each atomically; returns both paths."""
    out_dir = Path(out_dir)
    npz_path, json_path = out_dir / NPZ_NAME, out_dir / JSON_NAME
    for k in REQUIRED_NPZ_KEYS:
        if k not in dataset.arrays:
            raise ValueError(f"write_dataset: dataset lacks array {k!r}")
        if dataset.arrays[k].dtype == object:
            raise ValueError(f"write_dataset: array {k!r} has dtype object (would need pickle)")
    _atomic_write_npz(npz_path, dataset.arrays)
    side = {
        "format": DATASET_FORMAT,
        "format_version": DATASET_FORMAT_VERSION,
        "feature_version": dataset.feature_version,
        "feature_layout": dataset.layout.to_dict(),
        "feature_params": {
            "lin_vel_mode": dataset.config.get("lin_vel_mode", "clip"),
            "lin_vel_clip": dataset.config.get("lin_vel_clip", 1.5),
        },
        "fps": dataset.fps,
        "num_frames": dataset.num_frames,
        "num_segments": dataset.num_segments,
        "total_seconds": dataset.total_seconds,
        "walking_seconds": dataset.walking_seconds,
        "walking": dataset.walking_summary(),
        "motion_names": dataset.motion_names,
        "per_segment_metrics": dataset.per_segment_metrics,
        "rollouts": dataset.rollouts,
        "config": dataset.config,
        "npz_file": NPZ_NAME,
        "npz_sha256": _sha256(npz_path),
    }
    text = json.dumps(side, indent=1, allow_nan=False)
    atomic_write_bytes(json_path, lambda f: f.write(text.encode()))
    return npz_path, json_path


def load_dataset(directory: str | Path, check_feature_version: bool = True) -> MinedDataset:
    """Read a dataset written by `write_dataset`; any problem raises ValueError naming the file and key.

    A dataset of an older feature version (`FEATURE_VERSION`) has its features recomputed from its stored
    state (`recompute_features`, with its own lin_vel parameters) and comes back in the current layout;
    ``check_feature_version=False`` returns the stored features and layout as they are."""
    directory = Path(directory)
    npz_path, json_path = directory / NPZ_NAME, directory / JSON_NAME
    for p in (json_path, npz_path):
        if not p.is_file():
            raise ValueError(f"load_dataset: missing file {p}")
    try:
        side = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load_dataset: {json_path} is not valid JSON: {exc}") from exc
    if not isinstance(side, dict):
        raise ValueError(f"load_dataset: {json_path} must hold a JSON object")
    for key in ("format", "format_version", "feature_version", "feature_layout", "fps", "num_frames", "per_segment_metrics", "rollouts", "config"):
        if key not in side:
            raise ValueError(f"load_dataset: {json_path} lacks key {key!r}")
    if side["format"] != DATASET_FORMAT:
        raise ValueError(f"load_dataset: {json_path} key 'format' is {side['format']!r}, expected {DATASET_FORMAT!r}")
    if side["format_version"] != DATASET_FORMAT_VERSION:
        raise ValueError(f"load_dataset: {json_path} key 'format_version' is {side['format_version']!r}, this code reads {DATASET_FORMAT_VERSION}")
    try:
        layout = FeatureLayout.from_dict(side["feature_layout"])
    except ValueError as exc:
        raise ValueError(f"load_dataset: {json_path} key 'feature_layout': {exc}") from exc
    if side.get("npz_sha256") and side["npz_sha256"] != _sha256(npz_path):
        raise ValueError(f"load_dataset: {npz_path} does not match key 'npz_sha256' of {json_path} (files from different writes?)")
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:  # pickled object arrays raise ValueError here
        raise ValueError(f"load_dataset: cannot read {npz_path}: {exc}") from exc
    for k in REQUIRED_NPZ_KEYS:
        if k not in arrays:
            raise ValueError(f"load_dataset: {npz_path} lacks array {k!r}")
    f = int(side["num_frames"])
    feats = arrays["features"]
    if feats.ndim != 2 or feats.shape != (f, layout.dim):
        raise ValueError(f"load_dataset: {npz_path} array 'features' has shape {feats.shape}, expected ({f}, {layout.dim})")
    for k in _FRAME_STATE + _FRAME_SIGNALS + ("frame_motion", "frame_segment"):
        if arrays[k].shape[0] != f:
            raise ValueError(f"load_dataset: {npz_path} array {k!r} has {arrays[k].shape[0]} rows, expected {f}")
    s = arrays["segment_length"].shape[0]
    for k in _SEGMENT_KEYS:
        if arrays[k].shape != (s,):
            raise ValueError(f"load_dataset: {npz_path} array {k!r} has shape {arrays[k].shape}, expected ({s},)")
    if int(arrays["segment_length"].sum()) != f:
        raise ValueError(f"load_dataset: {npz_path} array 'segment_length' sums to {int(arrays['segment_length'].sum())}, expected {f}")
    if any(k in arrays for k in WALKING_NPZ_KEYS):  # the walking label: optional, whole when present
        want = {**{k: f for k in _WALKING_FRAME}, **{k: s for k in _WALKING_SEGMENT},
                "window_walking": arrays["window_passed"].shape[0]}
        for k, n in want.items():
            if k not in arrays:
                raise ValueError(f"load_dataset: {npz_path} has part of the walking label but lacks array {k!r}")
            if arrays[k].shape != (n,):
                raise ValueError(f"load_dataset: {npz_path} array {k!r} has shape {arrays[k].shape}, expected ({n},)")
    if len(side["per_segment_metrics"]) != s:
        raise ValueError(f"load_dataset: {json_path} key 'per_segment_metrics' has {len(side['per_segment_metrics'])} entries, the npz has {s} segments")
    ds = MinedDataset(
        arrays=arrays,
        per_segment_metrics=side["per_segment_metrics"],
        rollouts=side["rollouts"],
        config=side["config"],
        layout=layout,
        feature_version=side["feature_version"],
        fps=float(side["fps"]),
    )
    if check_feature_version and ds.feature_version != FEATURE_VERSION:
        if not isinstance(ds.config, dict):
            raise ValueError(f"load_dataset: {json_path} key 'config' must be a JSON object, got {type(ds.config).__name__}")
        try:
            arrays["features"] = recompute_features(ds)
        except ValueError as exc:
            raise ValueError(f"load_dataset: {npz_path}: cannot recompute the {ds.feature_version!r} features in "
                             f"layout {FEATURE_VERSION!r}: {exc}") from exc
        ds.layout, ds.feature_version = LAYOUT, FEATURE_VERSION
    return ds


def recompute_features(dataset: MinedDataset, lin_vel_mode: str | None = None, lin_vel_clip: float | None = None) -> np.ndarray:
    """Features of the stored raw state with the current `compute_features` (e.g. after a layout change)."""
    a = dataset.arrays
    return compute_features(
        a["qpos"], a["qvel"], a["pad_contact"], a["foot_height"], a["foot_z_vel"],
        lin_vel_mode=lin_vel_mode or dataset.config.get("lin_vel_mode", "clip"),
        lin_vel_clip=lin_vel_clip if lin_vel_clip is not None else dataset.config.get("lin_vel_clip", 1.5),
    )
