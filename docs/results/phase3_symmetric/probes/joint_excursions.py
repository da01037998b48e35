"""Probe: mean joint angle and mean within-cycle std (25-frame windows, one 2 Hz cycle) of each joint, for the walking
reference at 0.5-0.8 m/s and for policies walking one deterministic episode (frames 50-500, commands of the policy's
config range, seed 12345).

    python docs/results/phase3_symmetric/probes/joint_excursions.py data/tier0plus_v14 policies/phase3.zip \
        runs/phase3_sym/checkpoints/step_0020996096
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
from reference.miner import load_dataset  # noqa: E402
from training.evaluate import one_episode  # noqa: E402
from wildrobot_gym.checkpoints import resolve_checkpoint  # noqa: E402
from wildrobot_gym.env import obs_slices  # noqa: E402

WINDOW = 25


def excursions(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(x) // WINDOW
    w = x[:n * WINDOW].reshape(n, WINDOW, -1)
    return w.mean(axis=(0, 1)), w.std(axis=1).mean(axis=0)


def main(dataset: str, *policies: str) -> None:
    a = load_dataset(dataset).arrays
    q, v = np.asarray(a["qpos"])[:, 7:15], np.asarray(a["forward_velocity"])
    fast = np.asarray(a["frame_walking"], bool) & (v > 0.5) & (v < 0.8)
    segs = [q[s:s + n] for s, n in zip(a["segment_start"], a["segment_length"]) if n >= WINDOW and fast[s:s + n].mean() > 0.9]
    ref = [excursions(x) for x in segs]
    print("joints: left hip pitch, hip roll, knee, ankle; right hip pitch, hip roll, knee, ankle")
    print(f"reference ({len(segs)} segments) mean", np.round(np.mean([r[0] for r in ref], axis=0), 3).tolist())
    print(f"reference ({len(segs)} segments) std ", np.round(np.mean([r[1] for r in ref], axis=0), 3).tolist())
    for p in policies:
        obs, _ = one_episode(resolve_checkpoint(Path(p)))
        m, s = excursions(obs[50:, obs_slices()["joint_pos"]])  # the encoders' angles, about home (zero)
        print(f"{p} mean", np.round(m.astype(np.float64), 3).tolist())
        print(f"{p} std ", np.round(s.astype(np.float64), 3).tolist())


if __name__ == "__main__":
    main(*sys.argv[1:])
