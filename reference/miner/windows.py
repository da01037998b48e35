"""Candidate windows of one rollout: usable stretches, then windows in them (pipeline steps 1-2).

Pipeline, per rollout (steps 3 and 5: gates.py; 4 and 6: mining.py):

1. **Stretches.** Frames flagged ``fallen`` (and, optionally, `pre_fall_margin_frames` before each
   fall) are unusable; every ``restart`` frame starts a new stretch. No window crosses a stretch
   boundary, so no window spans a restart or contains a fall frame.
2. **Windows.** In a stretch of L frames: windows of W = `window_frames` at starts 0, S, 2S, ...
   (S = `stride_frames`) while they fit; a stretch with `min_segment_frames` <= L < W is one
   candidate window of its own length; shorter stretches give none.
"""
from __future__ import annotations

import numpy as np

from reference.miner.config import MiningConfig


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
