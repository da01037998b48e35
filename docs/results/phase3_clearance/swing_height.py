"""Probe: how high each foot swings. Per foot, the mean over 25-frame windows (one 2 Hz cycle) of the window's
highest sole point above its lowest, for the walking reference at 0.5-0.8 m/s and for policies walking one
deterministic episode (frames 50-500, the policy's config commands, seed 12345).

    python docs/results/phase3_clearance/swing_height.py data/tier0plus_v14 policies/phase3.zip [CHECKPOINT ...]
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from reference.miner import load_dataset  # noqa: E402
from training.evaluate import one_episode  # noqa: E402
from wildrobot_gym.checkpoints import resolve_checkpoint  # noqa: E402

WINDOW = 25


def swing(h: np.ndarray) -> np.ndarray:
    """(2,) mean over windows of max - min sole height, per foot."""
    n = len(h) // WINDOW
    w = h[:n * WINDOW].reshape(n, WINDOW, -1)
    return (w.max(axis=1) - w.min(axis=1)).mean(axis=0)


def main(dataset: str, *policies: str) -> None:
    a = load_dataset(dataset).arrays
    h, v = np.asarray(a["foot_height"]), np.asarray(a["forward_velocity"])
    fast = np.asarray(a["frame_walking"], bool) & (v > 0.5) & (v < 0.8)
    segs = [h[s:s + n] for s, n in zip(a["segment_start"], a["segment_length"]) if n >= WINDOW and fast[s:s + n].mean() > 0.9]
    print("swing height (m), left / right: mean over one-cycle windows of the sole's highest minus lowest point")
    print(f"reference 0.5-0.8 m/s ({len(segs)} segments)", np.round(np.mean([swing(x) for x in segs], axis=0), 4).tolist())
    for p in policies:
        _, infos = one_episode(resolve_checkpoint(Path(p)))
        hs = [np.asarray(i["foot_height"], np.float64) for i in infos]
        print(p, np.round(swing(np.array(hs[50:])), 4).tolist())


if __name__ == "__main__":
    main(*sys.argv[1:])
