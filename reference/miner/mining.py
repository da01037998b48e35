"""Mining: one rollout into de-duplicated, walking-labelled segments (`mine_rollout`), every rollout into
a `MinedDataset` (`mine_records`); pipeline steps 4 and 6.

Pipeline, per rollout (steps 1-2: windows.py; 3 and 5: gates.py):

4. **De-duplication** (`dedupe`): every passing window marks frames as accepted, either all its
   frames (``merge``) or its central `center_frames` (``center``, the seed's alternative); the
   accepted frames of a stretch are then merged into maximal runs, the **segments**. Each frame is
   therefore in at most one segment and total Tier 0+ seconds = accepted frames / fps, counting
   every frame once however many windows covered it. Runs shorter than `min_segment_frames` are
   dropped (possible only with ``center``). A merged segment is the union of passing windows; its
   own metrics (recomputed over the whole segment) are stored, with ``passes_as_whole``.
6. **Walking label** (`reference.walking`, ``mining.walking``): a window walks when its mean forward
   speed >= 0.7 x its clip's speed and single stance >= 15 % of its frames. A Tier 0+ frame is walking
   when a passing walking window covers it (its centre with ``center``); segments are split where the
   label changes (so a piece may be shorter than `min_segment_frames`), each all walking or all not.
   Standing data stays in the dataset, labelled; the go / no-go counts walking seconds.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping, Sequence

import numpy as np

from reference import walking as walk
from reference.miner.config import MiningConfig
from reference.miner.dataset import (
    _FRAME_SIGNALS,
    _FRAME_STATE,
    _SEGMENT_KEYS,
    _WALKING_FRAME,
    _WALKING_SEGMENT,
    _WINDOW_KEYS,
    MinedDataset,
)
from reference.miner.gates import (
    GATE_NAMES,
    METRIC_NAMES,
    GateResult,
    check_gates,
    gate_matrix,
    quality_score,
    span_metrics,
    window_metrics,
)
from reference.miner.records import frame_signals, validate_records
from reference.miner.windows import candidate_windows, usable_stretches
from wildrobot_gym.amp_features import LAYOUT, compute_features, foot_z_velocity


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
    """Windows, gates and de-duplicated segments of one rollout (package docstring, steps 1-4)."""
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
