"""Checkpoint table of docs/results/phase3_history (the columns of phase3_style_scale/style1/checkpoints_table.md) from
evaluate.py JSONs:  python docs/results/phase3_history/checkpoints_table.py DIR/step_*.json > DIR/checkpoints_table.md"""
import json, sys
print("| checkpoint | success | abs(v-cmd) | double support | flight | touchdowns/s/foot | peak force mean | saturation | CoT | correlation | disc score | mirror error | gait targets |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for f in sys.argv[1:]:
    d = json.load(open(f)); g = d["gait"]
    fails = []
    if d["velocity_error_mean"] > 0.05: fails.append("speed")
    if g["double_support"] < 0.10: fails.append("DS")
    if g["flight"] > 0.03: fails.append("flight")
    if g["touchdowns_per_s"] > 2.2: fails.append("cadence")
    if g["peak_foot_force_mean"] > 2.5: fails.append("force")
    if d["torque_saturation_pct"] > 12: fails.append("saturation")
    print(f"| {d['num_timesteps']/1e6:.1f}M | {100*d['success_rate']:.0f} % | {d['velocity_error_mean']:.3f} | {100*g['double_support']:.1f} % | "
          f"{100*g['flight']:.1f} % | {g['touchdowns_per_s']:.2f} | {g['peak_foot_force_mean']:.2f} | {d['torque_saturation_pct']:.1f} % | "
          f"{g['cost_of_transport']:.2f} | {d['joint_trajectory_correlation']:.3f} | {d['discriminator_score']:.3f} | {g['mirror_error']:.3f} | "
          f"{'all met' if not fails else 'fails ' + ', '.join(fails)} |")
