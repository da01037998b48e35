"""The walking label of Tier 0+ data (issue 10): one definition, used by the miner and the analysis.

A span of frames (a candidate window) **walks** when both hold (`WalkingConfig`, ``mining.walking``):

- it moves: mean forward root speed (records ``forward_velocity``, heading frame x) >=
  ``speed_ratio_min`` (0.7) x the clip's speed, and the clip's speed is >= ``min_clip_speed``;
- it alternates: one foot alone is loaded (Fn > ``gates.stance_load_threshold`` m g, the miner's
  "loaded") in >= ``single_stance_min`` (15 %) of its frames.

**The clip's speed** (`clip_speed`): the records' scalar ``clip_speed`` (m/s) when they carry one;
otherwise derived from the reference root trajectory the records carry (``ref_root_pos``,
``ref_root_quat``; ``frame_index`` and ``in_blend`` when present): the forward displacement of the
reference along its own heading, averaged over every run of ``window_frames`` consecutive timeline
steps outside the neutral blends, and the 90th percentile of those averages. A plain mean would
count the clips' standing start and stop (library clips stand ~30 % of each cycle: walk_v020's
mean is 0.13 m/s for a planned 0.20); the p90 of 1 s averages is the steady walking speed.
The averages are Hann-weighted: the waist surges once a step, and a flat 1 s average over a
fractional number of steps (3.3 at walk_v020_l060's 0.3 s step) keeps part of that surge, which the
p90 then picks. Against the library's planned speeds (22 clips x 5 variants) flat averages read
x1.057 on average (up to x1.17), Hann-weighted ones x1.005 (x0.999-1.032; docs/results/tracker.md,
"The clip's speed").

The miner labels a Tier 0+ frame walking when a passing window that walks covers it (its centre
with ``dedupe: center``) and splits segments where the label changes, so every segment is all
walking or all not (`split_runs`); `summarize` gives the figures the dataset and the analysis report.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from wildrobot_gym.config.reference import WalkingConfig

#: Percentile of the reference's window-averaged forward speed taken as the clip's speed (see above).
CLIP_SPEED_PERCENTILE = 90.0


def clip_speed(records: Mapping[str, Any], window_frames: int = 50) -> float | None:
    """The clip's reference forward speed, m/s (module docstring), or None when the records cannot say."""
    if "clip_speed" in records:
        v = float(np.asarray(records["clip_speed"], dtype=np.float64))
        return v if math.isfinite(v) else None
    if "ref_root_pos" not in records or "ref_root_quat" not in records:
        return None
    p = np.asarray(records["ref_root_pos"], dtype=np.float64).reshape(-1, 3)
    q = np.asarray(records["ref_root_quat"], dtype=np.float64).reshape(-1, 4)
    t = len(p)
    if t < 2 or len(q) != t:
        return None
    fps = float(np.asarray(records.get("fps", 50.0)))
    frame = np.asarray(records["frame_index"]) if "frame_index" in records else np.arange(t)
    blend = np.asarray(records["in_blend"], dtype=bool) if "in_blend" in records else np.zeros(t, dtype=bool)
    w, x, y, z = q.T
    yaw = np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    step = np.cos(yaw[:-1]) * np.diff(p[:, 0]) + np.sin(yaw[:-1]) * np.diff(p[:, 1])  # m per frame
    ok = (np.diff(frame) == 1) & ~blend[:-1] & ~blend[1:]  # consecutive timeline frames, no blend
    if not ok.any():
        return None
    n = max(1, int(window_frames))
    if len(ok) >= n:
        full = np.convolve(ok.astype(np.float64), np.ones(n), "valid") > n - 0.5  # every step of the window counts
        if full.any():
            taper = np.hanning(n + 2)[1:-1]  # n positive weights (numpy's hanning ends at 0)
            means = np.convolve(np.where(ok, step, 0.0), taper / taper.sum(), "valid") * fps
            return float(np.percentile(means[full], CLIP_SPEED_PERCENTILE))
    return float(step[ok].mean() * fps)  # no run of a window's length: the mean of what there is


def is_walking(forward_velocity_mean: Any, single_stance_fraction: Any, speed: float | None,
               cfg: WalkingConfig) -> np.ndarray:
    """(N,) bool: which spans walk, from their mean forward speed and single-stance fraction."""
    fv = np.atleast_1d(np.asarray(forward_velocity_mean, dtype=np.float64))
    single = np.atleast_1d(np.asarray(single_stance_fraction, dtype=np.float64))
    if speed is None or not math.isfinite(speed) or speed < cfg.min_clip_speed or speed <= 0.0:
        return np.zeros(fv.shape, dtype=bool)
    return (fv >= cfg.speed_ratio_min * speed) & (single >= cfg.single_stance_min)


def split_runs(segments: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments (S, 2) [start, stop) cut where the per-frame `label` changes: (pieces (S', 2), label (S',))."""
    label = np.asarray(label, dtype=bool)
    pieces, labels = [], []
    for a, b in np.asarray(segments, dtype=np.int64).reshape(-1, 2):
        cuts = a + 1 + np.flatnonzero(label[a + 1:b] != label[a:b - 1])
        edges = np.r_[a, cuts, b]
        for s, e in zip(edges[:-1], edges[1:]):
            pieces.append((s, e))
            labels.append(bool(label[s]))
    if not pieces:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=bool)
    return np.asarray(pieces, dtype=np.int64), np.asarray(labels, dtype=bool)


def _decimals(width: float) -> int:
    return next((d for d in range(1, 6) if abs(round(width, d) - width) < 1e-9), 6)


def speed_band(speed: float, width: float = 0.1) -> str:
    """The band of a forward speed, e.g. 0.34 -> "0.3-0.4" (lower edge included)."""
    k = math.floor(speed / width + 1e-9)
    d = _decimals(width)
    return f"{k * width:.{d}f}-{(k + 1) * width:.{d}f}"


def band_lower_edge(band: str) -> float:
    """Lower edge of a `speed_band` label ("-0.1-0.0" -> -0.1)."""
    return float(band[: band.index("-", 1)])


def summarize(walking: np.ndarray, run_id: np.ndarray, forward_velocity: np.ndarray, foot_load: np.ndarray,
              speed: np.ndarray, fps: float, stance_load_threshold: float, band_width: float = 0.1) -> dict:
    """Walking figures of Tier 0+ frames (F,): `walking` label, `run_id` (the frame's segment: a run is
    a maximal stretch of one label within one segment), forward speed (m/s), per-foot load / m g
    (F, 2) and the clip's speed (F,). Bands are by each walking run's own mean forward speed."""
    walking = np.asarray(walking, dtype=bool)
    run_id = np.asarray(run_id)
    fv = np.asarray(forward_velocity, dtype=np.float64)
    speed = np.asarray(speed, dtype=np.float64)
    n = walking.size
    feet = (np.asarray(foot_load, dtype=np.float64).reshape(n, 2) > stance_load_threshold).sum(axis=1)
    bands: dict[str, float] = {}
    band_double: dict[str, int] = {}  # walking frames with both feet loaded, per band
    runs = 0
    if n:
        edges = np.r_[0, 1 + np.flatnonzero((run_id[1:] != run_id[:-1]) | (walking[1:] != walking[:-1])), n]
        for a, b in zip(edges[:-1], edges[1:]):
            if walking[a]:
                runs += 1
                band = speed_band(float(fv[a:b].mean()), band_width)
                bands[band] = bands.get(band, 0.0) + (b - a) / fps
                band_double[band] = band_double.get(band, 0) + int((feet[a:b] == 2).sum())
    w = int(walking.sum())

    def frac(x: np.ndarray) -> float | None:
        return float(x[walking].mean()) if w else None

    return {
        "walking_seconds": w / fps,
        "non_walking_seconds": (n - w) / fps,
        "walking_fraction": w / n if n else None,
        "walking_segments": runs,
        "seconds_by_speed_band": {k: bands[k] for k in sorted(bands, key=band_lower_edge)},
        "speed_band_width": band_width,
        "walking_speed_mean": frac(fv),
        "speed_ratio_mean": frac(fv / np.where(speed > 0, speed, np.inf)),  # walking frames have speed > 0
        "double_support_fraction": frac(feet == 2),
        "double_support_by_speed_band": {k: band_double[k] / (bands[k] * fps) for k in sorted(bands, key=band_lower_edge)},
        "single_support_fraction": frac(feet == 1),
    }


def rollout_figures(speed: float | None, walking_any: np.ndarray, walking: np.ndarray, fps: float) -> dict:
    """How much of one rollout walked (the per-clip diagnostic): the clip's speed, seconds and fraction
    of its frames in a walking window (gates aside), and its walking Tier 0+ frames and seconds."""
    n_any, n = int(np.sum(walking_any)), int(np.sum(walking))
    return {
        "clip_speed": speed if speed is not None and math.isfinite(speed) else None,
        "walking_any_seconds": n_any / fps,
        "walking_any_fraction": n_any / max(len(walking_any), 1),
        "walking_frames": n,
        "walking_seconds": n / fps,
    }
