"""Joint ranges of a policy's walk against clips: mean and p5-p95 of the left leg's joints, root height and its bob.

    python docs/results/tracker_v10/probes/compare_kin.py policies/phase3.zip 0.7 wildrobot_gym/assets/clips/walk_v070_l150.npz
"""
import sys
from pathlib import Path
import numpy as np
ROOT = Path(__file__).resolve().parents[4]; sys.path[:0] = [str(ROOT), str(ROOT / "training")]
from evaluate import load_policy
from wildrobot_gym.checkpoints import resolve_checkpoint
names = ('hip', 'roll', 'knee', 'ankle')
def row(label, q, z):
    q = np.asarray(q)
    s = "  ".join(f"{n} {q[:, i].mean():+.2f} [{np.percentile(q[:, i], 5):+.2f},{np.percentile(q[:, i], 95):+.2f}]" for i, n in enumerate(names))
    print(f"{label:28s} {s}  z {np.mean(z):.3f} bob {np.percentile(z, 95) - np.percentile(z, 5):.3f}")
cmd = float(sys.argv[2])
model, venv, cfg, st = load_policy(resolve_checkpoint(sys.argv[1]), env_overrides={"fixed_command": cmd})
venv.seed(0); obs = venv.reset(); Q, Z = [], []
for t in range(600):
    a, _ = model.predict(obs, deterministic=True); obs, _, d, inf = venv.step(a)
    if t > 50: Q.append(inf[0]["joint_pos"]); Z.append(inf[0]["root_height"])
Q = np.array(Q); row(f"policy @ {cmd}", Q[:, :4], Z)
for c in sys.argv[3:]:
    d = np.load(c); q = d["joint_pos"]; n = len(q); q = q[n // 4: 3 * n // 4]
    row(c.split('/')[-2][-6:] + "/" + c.split('/')[-1][:-4], q[:, :4], d["root_pos"][n // 4: 3 * n // 4, 2])
