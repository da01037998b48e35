"""Sole velocity (heading frame: forward, down) at the last unloaded frame before each touchdown, and at the first loaded.

    python docs/results/tracker_v8/probes/pre_td.py DATASET/records walk_v025_l100 walk_v050_l140 ...
"""
import sys, numpy as np, mujoco
from pathlib import Path
from wildrobot_gym.robot import load_model, RobotSpec
model = load_model(); data = mujoco.MjData(model); spec = RobotSpec.from_model(model)
for pat in sys.argv[2:]:
    path = next(Path(sys.argv[1]).glob(f"*{pat}__base.npz"))
    r = np.load(path, allow_pickle=False); load = r["foot_force"] / float(r["weight"]); bad = r["fallen"] | r["restart"]
    pre, first = [], []
    for i in range(2):
        L = load[:, i] > 0.10
        for t in range(2, min(len(L), 1200)):
            if L[t] and not L[t-1] and not L[t-2] and not bad[t-1:t+1].any():
                for k, out in ((t-1, pre), (t, first)):
                    data.qpos[:] = r["qpos"][k]; data.qvel[:] = r["qvel"][k]; mujoco.mj_forward(model, data)
                    sv = data.sensordata[spec.sole_vel].reshape(2, 3)[i]
                    q = data.qpos[3:7]; yaw = np.arctan2(2*(q[0]*q[3]+q[1]*q[2]), 1-2*(q[2]**2+q[3]**2))
                    out.append((np.cos(yaw)*sv[0] + np.sin(yaw)*sv[1], sv[2]))
    pre, first = np.array(pre), np.array(first)
    print(f"{pat:16s} n {len(pre):3d} before touchdown: fwd {np.median(pre[:,0]):+.2f} vz {np.median(pre[:,1]):+.2f} m/s | first loaded: fwd {np.median(first[:,0]):+.2f} vz {np.median(first[:,1]):+.2f}")
