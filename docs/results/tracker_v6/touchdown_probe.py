"""Probe (tracker v6 notes): at each stance edge of the >= MIN_SPEED library rollouts, the sole velocity in the
robot's heading frame and the foot load.  python docs/results/tracker_v6/touchdown_probe.py DATASET/records 0.55"""
import sys, re, numpy as np, mujoco
from pathlib import Path
from wildrobot_gym.robot import load_model, RobotSpec
model = load_model(); data = mujoco.MjData(model); spec = RobotSpec.from_model(model) 
for path in sorted(Path(sys.argv[1]).glob("*__base.npz")):
    v = int(re.search(r"v(\d+)", path.name).group(1)) / 100
    if v < float(sys.argv[2]): continue
    r = np.load(path, allow_pickle=False)
    load = r["foot_force"] / float(r["weight"]); ok = ~r["fallen"].astype(bool)
    n = min(len(load), 1500); L = (load[:n] > 0.10) & ok[:n, None]
    rows = {"first": [], "second": [], "mid": [], "last": []}
    for t in range(n):
        data.qpos[:] = r["qpos"][t]; data.qvel[:] = r["qvel"][t]; mujoco.mj_forward(model, data)
        sv = data.sensordata[spec.sole_vel].reshape(2, 3)
        q = data.qpos[3:7]; yaw = np.arctan2(2*(q[0]*q[3]+q[1]*q[2]), 1-2*(q[2]**2+q[3]**2))
        c, s = np.cos(yaw), np.sin(yaw)
        for i in range(2):
            if not L[t, i]: continue
            fwd = c*sv[i,0] + s*sv[i,1]; lat = -s*sv[i,0] + c*sv[i,1]
            prev = t > 0 and L[t-1, i]; nxt = t+1 < n and L[t+1, i]
            prev2 = t > 1 and L[t-2, i]
            k = "first" if not prev else ("last" if not nxt else ("second" if not prev2 else "mid"))
            rows[k].append((fwd, lat, load[t, i], r["forward_velocity"][t]))
    out = []
    for k, a in rows.items():
        a = np.array(a)
        if len(a) == 0: continue
        sl = np.hypot(a[:,0], a[:,1])
        out.append(f"{k}: n={len(a)} slip>{0.1}:{(sl>0.1).mean():.2f} fwd med {np.median(a[:,0]):+.2f} lat med {np.median(np.abs(a[:,1])):.2f} load med {np.median(a[:,2]):.2f}")
    print(f"{path.stem[:30]:30s} v={v:.2f}  " + " | ".join(out))
