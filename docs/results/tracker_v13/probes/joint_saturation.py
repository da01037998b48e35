"""Per-joint torque saturation and double support of a generated dataset's base rollouts (seventh session probe).

    python docs/results/tracker_v13/probes/joint_saturation.py DATASET_DIR [CLIP ...]

Frames that are not fallen and not in a neutral blend, whole rollout (holds and ramps included). Saturation per
joint: the share of control steps at the torque limit (the records' ``torque_saturated``); double support: both
feet above 0.1 m g.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from wildrobot_gym.robot import JOINT_NAMES

DEFAULT_CLIPS = ("walk_v030_l100", "walk_v050_l120", "walk_v060_l140", "walk_v065_l160", "walk_v070_l160",
                 "walk_v080_l160")


def main(argv: list[str]) -> int:
    root = Path(argv[0]) / "records"
    print("clip | double support | saturation " + " ".join(JOINT_NAMES) + " | all")
    for clip in argv[1:] or DEFAULT_CLIPS:
        with np.load(root / f"{clip}__base.npz", allow_pickle=False) as d:
            ok = ~d["fallen"].astype(bool) & ~d["in_blend"].astype(bool)
            load = d["foot_force"] / d["weight"]
            sat = d["torque_saturated"][ok].mean(axis=0)
        print(f"{clip} | {(load > 0.1).all(axis=1)[ok].mean():.2f} | " + " ".join(f"{x:.2f}" for x in sat)
              + f" | {sat.mean():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
