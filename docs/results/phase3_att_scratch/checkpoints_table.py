"""The checkpoints table of a results folder from its evaluate.py JSONs (each checkpoint on two evaluation seeds):
this folder by default, or FOLDER with its title.

    python docs/results/phase3_att_scratch/checkpoints_table.py > docs/results/phase3_att_scratch/checkpoints_table.md
    python docs/results/phase3_att_scratch/checkpoints_table.py FOLDER "TITLE" > FOLDER/checkpoints_table.md
"""
import glob
import json
import sys
from pathlib import Path

HERE = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
TITLE = sys.argv[2] if len(sys.argv) > 2 else "configs/phase3.yaml from scratch on data/tier0plus_v14att (twenty-fourth session)"


def span(a: float, b: float, fmt: str) -> str:
    lo, hi = (fmt.format(x) for x in sorted([a, b]))
    return lo if lo == hi else f"{lo}-{hi}"


def meets_gait_targets(d: dict) -> bool:
    g = d["gait"]
    return (d["success_rate"] >= 0.95 and d["velocity_error_mean"] <= 0.05 and g["double_support"] >= 0.10
            and g["flight"] <= 0.03 and g["touchdowns_per_s"] <= 2.2 and g["peak_foot_force_mean"] <= 2.5
            and d["torque_saturation_pct"] <= 12 and g["cost_of_transport"] < 1.77)


COLUMNS = [  # header, getter, format
    ("success", lambda d: 100 * d["success_rate"], "{:.0f} %"),
    ("abs(v - command)", lambda d: d["velocity_error_mean"], "{:.3f}"),
    ("double support", lambda d: 100 * d["gait"]["double_support"], "{:.1f} %"),
    ("flight", lambda d: 100 * d["gait"]["flight"], "{:.1f} %"),
    ("touchdowns/s/foot", lambda d: d["gait"]["touchdowns_per_s"], "{:.2f}"),
    ("peak force", lambda d: d["gait"]["peak_foot_force_mean"], "{:.2f}"),
    ("saturation", lambda d: d["torque_saturation_pct"], "{:.1f} %"),
    ("CoT", lambda d: d["gait"]["cost_of_transport"], "{:.2f}"),
    ("correlation", lambda d: d["joint_trajectory_correlation"], "{:.3f}"),
    ("disc score", lambda d: d["discriminator_score"], "{:.3f}"),
    ("reference score", lambda d: d["discriminator_reference_score"], "{:.3f}"),
    ("AUC", lambda d: d["discriminator_auc"], "{:.3f}"),
]

print(f"# {TITLE}\n")
print("50 episodes at commands 0.5-0.8 m/s; the default evaluation seed and `--seed 1` as a range. Score, reference score,")
print("AUC and correlation against `data/tier0plus_v14att`, each checkpoint with its own judge. Gait targets: success >= 95 %,")
print("|v - command| <= 0.05, double support >= 10 %, flight <= 3 %, <= 2.2 touchdowns/s/foot, peak force <= 2.5 m g,")
print("saturation <= 12 %, cost of transport < 1.77.\n")
print("| checkpoint | " + " | ".join(c[0] for c in COLUMNS) + " | gait targets met |")
print("|---" * (len(COLUMNS) + 2) + "|")
for f in sorted(glob.glob(str(HERE / "checkpoints" / "step_*.json"))):
    if f.endswith("_seed1.json"):
        continue
    a, b = json.load(open(f)), json.load(open(f.replace(".json", "_seed1.json")))
    steps = int(Path(f).stem.split("_")[1]) / 1e6
    cells = [span(get(a), get(b), fmt) for _, get, fmt in COLUMNS]
    met = sum(meets_gait_targets(d) for d in (a, b))
    print(f"| {steps:.1f}M | " + " | ".join(cells) + f" | {met} of 2 seeds |")
