"""Achieved vs planned cadence: median frames between successive touchdowns of the same foot (loaded > 0.1 m g
after >= 2 unloaded frames), over each library rollout's base variant, against the clip's stride (2 T).

    python docs/results/tracker_v8/probes/cadence.py DATASET/records
"""
import sys, numpy as np
from pathlib import Path
from reference.make_clips import load_gait_config
gs = {g.name: g for g in load_gait_config("configs/gaits.yaml")}
for path in sorted(Path(sys.argv[1]).glob("*__base.npz")):
    r = np.load(path, allow_pickle=False); g = gs[str(r["clip"])]
    load = r["foot_force"] / float(r["weight"]); bad = r["fallen"] | r["in_blend"] | r["restart"]
    per = []
    for i in range(2):
        L = load[:, i] > 0.10
        td = [t for t in range(2, len(L)) if L[t] and not L[t-1] and not L[t-2]]
        for a, b in zip(td, td[1:]):
            if 10 <= b - a <= 60 and not bad[a:b+1].any(): per.append(b - a)
    stride = 2 * g.step_time * 50
    if per:
        print(f"{g.name:16s} steps/s planned {1/g.step_time:4.2f} achieved {100/np.median(per):4.2f}  (stride frames {stride:5.1f} vs {np.median(per):5.1f}, n {len(per)}) speed ratio {np.mean(r['forward_velocity'][~bad])/g.speed:.2f}")
