"""The two pose templates side by side: the gait library's clips (the shipped one) and the walking Tier 0+ data's.

    python docs/results/phase3_physpose/templates.py [--speed 0.65] [--out docs/results/phase3_physpose/templates]

Writes ``templates.png`` (each joint over one gait cycle at ``--speed``) and ``templates.txt`` (per speed of the data's
template: the mean and RMS difference, data minus clips, of each joint over the cycle, rad).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from wildrobot_gym.pose_template import load_pose_template  # noqa: E402
from wildrobot_gym.robot import JOINT_NAMES  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--speed", type=float, default=0.65)
    p.add_argument("--data-template", default="pose_template_walking_v14.npz")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "templates")
    args = p.parse_args()
    clips, data = load_pose_template(None), load_pose_template(args.data_template)
    phase = np.arange(100) / 100
    lines = ["speed (m/s) | " + " | ".join(JOINT_NAMES) + "  (mean / RMS of data - clips, rad)"]
    for v in data.speeds:
        d = data.target(phase, np.full(100, v)) - clips.target(phase, np.full(100, v))
        lines.append(f"{v:.3f} | " + " | ".join(f"{m:+.3f} / {r:.3f}" for m, r in zip(d.mean(0), np.sqrt((d ** 2).mean(0)))))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "templates.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 4, figsize=(14, 6), sharex=True)
    c = np.full(100, args.speed)
    for j, ax in enumerate(axes.flat):
        ax.plot(phase, clips.target(phase, c)[:, j], label="gait library clips")
        ax.plot(phase, data.target(phase, c)[:, j], label="walking Tier 0+ data")
        ax.set_title(JOINT_NAMES[j])
        ax.set_xlabel("gait phase")
    axes[0, 0].set_ylabel("rad")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"pose templates at {args.speed} m/s")
    fig.tight_layout()
    fig.savefig(args.out / "templates.png", dpi=80)
    print(f"wrote {args.out}/templates.png, templates.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
