"""Check of the slip measure (docs/results/tracker.md, "Slip, measured where the foot bears"): on the loaded foot-frames
of a library's records, foot_slip_speed (wildrobot_gym.metrics) and the sole point's speed (the measure before it)
against the exact horizontal speed of the foot at MuJoCo's contact points (force-weighted), split into feet on one
pad (rolling about a toe or heel edge) and feet on both pads.

    python docs/results/tracker_v8/verify_slip.py DATASET/records [--every 3]
"""
import argparse
from pathlib import Path

import mujoco
import numpy as np

from wildrobot_gym.robot import RobotSpec, load_model

p = argparse.ArgumentParser()
p.add_argument("records", type=Path)
p.add_argument("--every", type=int, default=3, help="use every n-th base-variant rollout and every 2nd frame")
args = p.parse_args()
model = load_model()
data = mujoco.MjData(model)
spec = RobotSpec.from_model(model)
pad_of = {int(g): k for k, g in enumerate(spec.pad_geoms)}
feet = [model.body(f"{s}_foot").id for s in ("left", "right")]
rows = {"one pad": [], "both pads": []}
for path in sorted(args.records.glob("*__base.npz"))[:: args.every]:
    r = np.load(path, allow_pickle=False)
    load = r["foot_force"] / float(r["weight"])
    pads = r["pad_contact"]
    for t in range(0, len(load), 2):
        for i in range(2):
            toe, heel = pads[t, 2 * i], pads[t, 2 * i + 1]
            if load[t, i] <= 0.10 or not (toe or heel):
                continue
            data.qpos[:], data.qvel[:] = r["qpos"][t], r["qvel"][t]
            mujoco.mj_forward(model, data)
            twist = np.zeros(6)  # (angular, linear) at the foot frame's origin, world axes
            mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_XBODY, feet[i], twist, 0)
            speeds, forces = [], []
            for k in range(data.ncon):
                c = data.contact[k]
                g = c.geom1 if int(c.geom1) in pad_of else c.geom2
                if pad_of.get(int(g), -1) // 2 != i:
                    continue
                f = np.zeros(6)
                mujoco.mj_contactForce(model, data, k, f)
                v = twist[3:] + np.cross(twist[:3], c.pos - data.xpos[feet[i]])
                speeds.append(np.hypot(v[0], v[1]))
                forces.append(max(f[0], 1e-9))
            if speeds:
                sole = np.hypot(*data.sensordata[spec.sole_vel].reshape(2, 3)[i, :2])
                rows["both pads" if toe and heel else "one pad"].append(
                    (r["foot_slip_speed"][t, i], np.average(speeds, weights=forces), sole))
for kind, a in rows.items():
    a = np.array(a)
    slip = a > 0.10
    print(f"{kind}: {len(a)} loaded foot-frames; sliding > 0.10 m/s: exact {slip[:, 1].mean():.3f}, foot_slip_speed "
          f"{slip[:, 0].mean():.3f}, sole point {slip[:, 2].mean():.3f}; label agreement with the exact: foot_slip_speed "
          f"{np.mean(slip[:, 0] == slip[:, 1]):.3f}, sole point {np.mean(slip[:, 2] == slip[:, 1]):.3f}; "
          f"|foot_slip_speed - exact| median {np.median(np.abs(a[:, 0] - a[:, 1])):.3f} m/s")
