"""The swing the servos make against the one the clip plans, on the steady fast walk of tracked records.

For each record, the frames whose 1-s mean forward speed is at least --min-speed (restarts and blends out):
the knees' range (p95 - p5 of the angle, actual and reference), the share of frames each joint group
saturates (hip pitch, hip roll, knee, ankle), and the double support (both feet above 0.10 m g).

    python docs/results/tracker_saturation/knee_swing.py OUT/records/walk_v0[6-8]*__base.npz --min-speed 0.6
"""
import argparse

import numpy as np

KNEES, GROUPS = [2, 6], {"hip pitch": [0, 4], "hip roll": [1, 5], "knee": [2, 6], "ankle": [3, 7]}

p = argparse.ArgumentParser()
p.add_argument("records", nargs="+")
p.add_argument("--min-speed", type=float, default=0.6)
args = p.parse_args()
rows = []
for path in args.records:
    r = np.load(path)
    v = np.convolve(r["forward_velocity"], np.ones(50) / 50, mode="same")
    keep = (v >= args.min_speed) & ~r["in_blend"].astype(bool) & ~r["fallen"].astype(bool)
    if keep.sum() < 50:
        print(f"{path}: {int(keep.sum())} steady frames, skipped")
        continue
    q, qr, sat = r["qpos"][keep, 7:], r["ref_joint_pos"][keep], r["torque_saturated"][keep]
    span = lambda x: float(np.percentile(x, 95) - np.percentile(x, 5))
    knee, knee_ref = np.mean([span(q[:, k]) for k in KNEES]), np.mean([span(qr[:, k]) for k in KNEES])
    load = r["foot_force"][keep] / float(r["weight"])
    ds = float(((load[:, 0] > 0.1) & (load[:, 1] > 0.1)).mean())
    sats = {g: float(sat[:, j].mean()) for g, j in GROUPS.items()}
    rows.append((knee, knee_ref, ds, float(sat.mean())))
    print(f"{path.split('/')[-1]}: {int(keep.sum())} frames | knee range {knee:.2f} rad (plan {knee_ref:.2f}) | "
          f"double support {100 * ds:.1f} % | saturation {100 * sat.mean():.1f} % ("
          + ", ".join(f"{g} {100 * s:.0f}" for g, s in sats.items()) + ")")
if rows:
    k, kr, ds, s = np.mean(rows, axis=0)
    print(f"mean of {len(rows)}: knee range {k:.2f} rad (plan {kr:.2f}), double support {100 * ds:.1f} %, saturation {100 * s:.1f} %")
