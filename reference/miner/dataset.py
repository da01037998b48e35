"""The Tier 0+ dataset: `MinedDataset` in memory and the arrays of its files (written and read by
dataset_io.py).

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
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference import walking as walk
from reference.miner.config import MiningConfig, section_from_dict
from reference.miner.gates import METRIC_NAMES
from wildrobot_gym.amp_features import FEATURE_VERSION, LAYOUT, FeatureLayout


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
