"""The Phase 3 policy's swing at fixed commands, measured as knee_swing.py measures the tracked reference.

One deterministic 10-s episode per command on the nominal robot (the first 2 s left out): the knees' range
(p95 - p5) and mean, the share of servo-steps at the torque limit (all servos, knees), double support (both
feet above 0.10 m g) and the median peak height of a swing (a foot below 0.10 m g).

    python docs/results/tracker_saturation/phase3_swing.py [policies/phase3.zip] [--commands 0.6 0.7 0.8]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "training"))
from evaluate import load_policy  # noqa: E402

from wildrobot_gym.checkpoints import resolve_checkpoint  # noqa: E402

KNEES = [2, 6]


def swing_peaks(height: np.ndarray, load: np.ndarray) -> list[float]:
    """The highest sole height of each unloaded stretch of each foot."""
    peaks = []
    for j in range(2):
        cur, inside = 0.0, False
        for unloaded, h in zip(load[:, j] < 0.1, height[:, j]):
            if unloaded:
                cur, inside = max(cur, h), True
            elif inside:
                peaks.append(cur)
                cur, inside = 0.0, False
    return peaks


p = argparse.ArgumentParser()
p.add_argument("policy", nargs="?", default="policies/phase3.zip")
p.add_argument("--commands", type=float, nargs="+", default=[0.6, 0.7, 0.8])
args = p.parse_args()
ckpt = resolve_checkpoint(args.policy)
for cmd in args.commands:
    model, venv, _, _ = load_policy(ckpt, 1, env_overrides={"command_range": [cmd, cmd]})
    venv.seed(3)
    obs, q, sat, height, load, speed = venv.reset(), [], [], [], [], []
    for t in range(500):
        action, _ = model.predict(obs, deterministic=True)
        obs, _, done, info = venv.step(action)
        m = info[0]
        if t >= 100:
            q.append(m["joint_pos"]); sat.append(m["torque_saturated"]); height.append(m["foot_height"])
            load.append(np.asarray(m["foot_force"]) / m["robot_weight"]); speed.append(m["forward_velocity"])
        if done[0]:
            break
    venv.close()
    q, sat, height, load = np.array(q), np.array(sat), np.array(height), np.array(load)
    span = np.mean([np.percentile(q[:, k], 95) - np.percentile(q[:, k], 5) for k in KNEES])
    ds = ((load[:, 0] > 0.1) & (load[:, 1] > 0.1)).mean()
    print(f"command {cmd:.2f} m/s ({np.mean(speed):.2f} walked, {len(q)} steps) | knee range {span:.2f} rad, mean "
          f"{q[:, KNEES].mean():.2f} | saturation {100 * sat.mean():.1f} % (knees {100 * sat[:, KNEES].mean():.1f}) | double "
          f"support {100 * ds:.1f} % | swing peak {1000 * np.median(swing_peaks(height, load)):.0f} mm")
