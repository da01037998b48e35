"""Posture of a tracked reference rollout's walking stretch against a policy walking the same speed.

    python docs/results/tracker_v15/probes/fast_walk_posture.py RECORD.npz [--policy policies/phase3.zip] [--speed 0.75]

Prints, over the record's frames inside 0.5-s stretches faster than 0.6 m/s: the waist height, the mean joint angles,
the fraction of saturated servo-steps per joint and the total foot load trace of one stretch (m g); then the policy's
waist height and mean joints at the command, deterministic, after 2 s of walking.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from wildrobot_gym.robot import JOINT_NAMES


def record_posture(path: Path, min_speed: float = 0.6) -> None:
    d = np.load(path, allow_pickle=False)
    fast = np.convolve(d["forward_velocity"] > min_speed, np.ones(25), "same") >= 24
    idx = np.flatnonzero(fast)
    if idx.size == 0:
        print(f"{path}: no stretch above {min_speed} m/s")
        return
    q = d["qpos"][idx]
    print(f"{path.name}: {idx.size} frames above {min_speed} m/s, waist {q[:, 2].mean():.3f} m")
    print("  mean joints  " + " ".join(f"{n}={v:+.2f}" for n, v in zip(JOINT_NAMES, q[:, 7:15].mean(0))))
    print("  saturated    " + " ".join(f"{n}={v:.2f}" for n, v in zip(JOINT_NAMES, d["torque_saturated"][idx].mean(0))))
    load = d["foot_force"].sum(1) / (float(d["weight"]))
    mid = idx[idx.size // 2]
    print("  load (m g), 40 frames:", np.round(load[mid - 20: mid + 20], 2).tolist())
    print(f"  below 0.6 m g: {np.mean(load[idx] < 0.6):.2f}, p10 {np.percentile(load[idx], 10):.2f}")


def policy_posture(policy: Path, speed: float) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[4]))  # the repo root: training/ is not a package install
    from training.common import open_checkpoint
    from training.evaluate import load_policy

    ck = open_checkpoint("policy", policy)
    model, venv, _, _ = load_policy(ck, 1, env_overrides={"command_range": [speed, speed]})
    base = venv.unwrapped.envs[0].unwrapped
    venv.seed(1)
    obs = venv.reset()
    qs = []
    for t in range(400):
        action, _ = model.predict(obs, deterministic=True)
        obs, _, done, _ = venv.step(action)
        if done[0]:
            break
        if t >= 100:
            qs.append(base.data.qpos.copy())
    q = np.array(qs)
    print(f"{policy} at {speed} m/s: waist {q[:, 2].mean():.3f} m")
    print("  mean joints  " + " ".join(f"{n}={v:+.2f}" for n, v in zip(JOINT_NAMES, q[:, 7:15].mean(0))))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("record", type=Path)
    ap.add_argument("--policy", type=Path, default=None)
    ap.add_argument("--speed", type=float, default=0.75)
    args = ap.parse_args()
    record_posture(args.record)
    if args.policy is not None:
        policy_posture(args.policy, args.speed)
