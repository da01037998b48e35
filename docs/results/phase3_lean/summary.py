"""One line per evaluate.py JSON of the lean probes: the judge's three figures, the correlation and the gait targets.

    python docs/results/phase3_lean/summary.py docs/results/phase3_lean/*/step_*.json
"""
import json
import sys

for f in sys.argv[1:]:
    d = json.load(open(f))
    g = d["gait"]
    print(f"{f}: score {d['discriminator_score']:.3f}, reference {d['discriminator_reference_score']:.3f}, "
          f"AUC {d['discriminator_auc']:.3f}, correlation {d['joint_trajectory_correlation']:.3f}, "
          f"|v-cmd| {d['velocity_error_mean']:.3f}, double support {100 * g['double_support']:.1f} %, "
          f"flight {100 * g['flight']:.1f} %, touchdowns {g['touchdowns_per_s']:.2f}/s, peak force {g['peak_foot_force_mean']:.2f}, "
          f"saturation {d['torque_saturation_pct']:.1f} %, CoT {g['cost_of_transport']:.2f}")
