"""How often a policy's actions sit at the bounds of the action space, per joint (deterministic, fixed command).

    python docs/results/phase3_pose/action_bounds.py policies/phase3.zip [--command 0.65] [--steps 500]

At |a| >= 0.999 the servo target is home +- action_scale: the policy asks for more than the action space gives.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from training.common import open_checkpoint  # noqa: E402
from training.evaluate import load_policy  # noqa: E402
from wildrobot_gym.robot import JOINT_NAMES  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("policy", type=Path)
    p.add_argument("--command", type=float, default=0.65)
    p.add_argument("--steps", type=int, default=500)
    args = p.parse_args()
    model, venv, cfg, _ = load_policy(open_checkpoint("--policy", args.policy), 1, env_overrides={"fixed_command": args.command})
    venv.seed(3)
    obs = venv.reset()
    actions, joints = [], []
    for _ in range(args.steps):
        a, _ = model.predict(obs, deterministic=True)
        obs, _, _, infos = venv.step(a)
        actions.append(np.clip(a[0], -1.0, 1.0))
        joints.append(infos[0]["joint_pos"])
    venv.close()
    a, q = np.asarray(actions), np.asarray(joints)
    scale = np.broadcast_to(np.asarray(cfg["env"].get("action_scale", 0.5), float), (len(JOINT_NAMES),))
    print(f"{args.policy} at {args.command} m/s, {args.steps} steps")
    print(f"{'joint':<20} {'scale':>6} {'at +1':>7} {'at -1':>7} {'mean a':>7} {'q min':>7} {'q max':>7}")
    for j, name in enumerate(JOINT_NAMES):
        print(f"{name:<20} {scale[j]:>6.2f} {100 * (a[:, j] >= 0.999).mean():>6.0f}% {100 * (a[:, j] <= -0.999).mean():>6.0f}% "
              f"{a[:, j].mean():>7.2f} {q[:, j].min():>7.2f} {q[:, j].max():>7.2f}")


if __name__ == "__main__":
    main()
