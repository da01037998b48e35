"""Speed and double support per fixed command: where a policy trades one for the other.

    python docs/results/phase3_physpose_ds/by_command.py --out docs/results/phase3_physpose_ds/by_command \
        LABEL=CHECKPOINT [LABEL=CHECKPOINT ...]

Runs `training/evaluate.py CHECKPOINT --episodes 20 --command-range c c` for each command, keeps each JSON in --out
and prints a markdown table (forward velocity, double support, flight, step length and the checkpoint's own
discriminator score per command)."""
import argparse
import json
import subprocess
import sys
from pathlib import Path

COMMANDS = (0.5, 0.6, 0.7, 0.8)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("policies", nargs="+", help="LABEL=CHECKPOINT")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--episodes", type=int, default=20)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print("| policy | " + " | ".join(f"{c} m/s: v, DS, flight, step, disc" for c in COMMANDS) + " |")
    print("|---|" + "---|" * len(COMMANDS))
    for item in args.policies:
        label, ckpt = item.split("=", 1)
        cells = []
        for c in COMMANDS:
            out = args.out / f"{label}_{c}.json"
            if not out.exists():
                subprocess.run([sys.executable, "training/evaluate.py", ckpt, "--episodes", str(args.episodes),
                                "--command-range", str(c), str(c), "--json-output", str(out)],
                               check=True, stdout=subprocess.DEVNULL)
            d = json.loads(out.read_text())
            g = d["gait"]
            cells.append(f"{d['forward_velocity_mean']:.2f}, {100 * g['double_support']:.1f} %, "
                         f"{100 * g['flight']:.1f} %, {g['step_length']:.3f}, {d['discriminator_score']:.2f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
