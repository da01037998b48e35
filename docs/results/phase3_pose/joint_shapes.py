"""Joint angles over the gait cycle: policies (deterministic, fixed command) against the gait library's pose template.

    python docs/results/phase3_pose/joint_shapes.py policies/phase3.zip runs/p3_pose/checkpoints/<step> \
        --labels shipped pose --command 0.65 --out docs/results/phase3_pose/joint_shapes.png

Each panel: one joint's mean angle (and +-1 std band) in 25 bins of the command phase, over 1500 control steps
(30 s), and the template (`wildrobot_gym.pose_template`) at the same command. Prints each policy's mean squared
joint error from the template (the pose_reference term's sum_j e_j^2) and each joint's share, its squared
joint-velocity error (the pose_velocity term's), and its torque saturation by joint and by tenth of the cycle.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from training.common import open_checkpoint  # noqa: E402
from training.evaluate import load_policy  # noqa: E402
from wildrobot_gym.pose_template import DEFAULT_POSE_TEMPLATE, PoseTemplate  # noqa: E402
from wildrobot_gym.robot import JOINT_NAMES  # noqa: E402

BINS = 25


def rollout(path: Path, command: float, steps: int) -> dict[str, np.ndarray]:
    """Joint angles and velocities (T, 8), command phase and clock frequency (T,) and torque saturation (T, 8)
    of a deterministic run at a fixed command."""
    model, venv, _, _ = load_policy(open_checkpoint("--policy", path), 1, env_overrides={"fixed_command": command})
    venv.seed(3)
    obs = venv.reset()
    keys = ("joint_pos", "joint_vel", "command_phase", "clock_frequency", "torque_saturated")
    out: dict[str, list] = {k: [] for k in keys}
    try:
        for _ in range(steps):
            a, _ = model.predict(obs, deterministic=True)
            obs, _, _, infos = venv.step(a)
            for k in keys:
                out[k].append(infos[0][k])
    finally:
        venv.close()
    return {k: np.asarray(v) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("policies", nargs="+", type=Path)
    p.add_argument("--labels", nargs="+")
    p.add_argument("--command", type=float, default=0.65)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    labels = args.labels or [x.name for x in args.policies]
    template = PoseTemplate.load(DEFAULT_POSE_TEMPLATE)
    centres = (np.arange(BINS) + 0.5) / BINS
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5))
    for path, label in zip(args.policies, labels):
        run = rollout(path, args.command, args.steps)
        q, ph = run["joint_pos"], run["command_phase"]
        err = q - template.target(ph, args.command)
        per_joint = (err ** 2).mean(0)
        print(f"{label}: mean sum_j (q_j - q_ref_j)^2 = {float(per_joint.sum()):.3f} rad^2 ("
              + ", ".join(f"{n} {e:.3f}" for n, e in zip(JOINT_NAMES, per_joint)) + ")")
        qd_ref = template.rate(ph, args.command) * run["clock_frequency"][:, None]
        print(f"    mean sum_j (qd_j - qd_ref_j)^2 = {float(((run['joint_vel'] - qd_ref) ** 2).sum(1).mean()):.1f} (rad/s)^2;"
              f" sum_j qd_j^2 = {float((run['joint_vel'] ** 2).sum(1).mean()):.1f}, of the template {float((qd_ref ** 2).sum(1).mean()):.1f}")
        sat = 100.0 * run["torque_saturated"].astype(float)
        dec = np.floor(ph * 10).astype(int) % 10
        print(f"    torque saturation {sat.mean():.1f} % (" + ", ".join(f"{n} {v:.0f}" for n, v in zip(JOINT_NAMES, sat.mean(0)))
              + "); by phase tenth: " + " ".join(f"{sat[dec == k].mean():.0f}" for k in range(10)))
        b = np.floor(ph * BINS).astype(int) % BINS
        for j, ax in enumerate(axes.ravel()):
            m = np.array([q[b == k, j].mean() for k in range(BINS)])
            s = np.array([q[b == k, j].std() for k in range(BINS)])
            (line,) = ax.plot(centres, m, label=label)
            ax.fill_between(centres, m - s, m + s, alpha=0.15, color=line.get_color())
    phase = np.linspace(0, 1, 101)
    ref = template.target(phase, args.command)
    for j, ax in enumerate(axes.ravel()):
        ax.plot(phase, ref[:, j], "k--", label="gait library")
        ax.set_title(JOINT_NAMES[j])
        ax.set_xlabel("gait phase (left stance in [0, 0.5))")
    axes[0, 0].set_ylabel("rad")
    axes[1, 0].set_ylabel("rad")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"joint angles over the gait cycle at a {args.command} m/s command")
    fig.tight_layout()
    fig.savefig(args.out, dpi=70)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
