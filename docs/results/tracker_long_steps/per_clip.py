"""Per clip of a generated dataset: its walking Tier 0+ seconds and, over those frames, double support (both feet
above 0.10 m g, the gait metrics' threshold), flight, forward velocity and torso pitch.

    python docs/results/tracker_long_steps/per_clip.py DATASET_DIR
"""
import json, sys
import numpy as np
d = np.load(sys.argv[1] + '/tier0plus.npz'); j = json.load(open(sys.argv[1] + '/tier0plus.json'))
names = [n.split(':')[0] for n in j['motion_names']]
clip = np.array([names[i] for i in d['frame_motion']])
w = d['frame_walking']; ds = (d['foot_load'] > 0.10).all(1); fl = (d['foot_load'] <= 0.10).all(1)
for c in sorted(set(names)):
    s = (clip == c) & w
    if s.sum() == 0:
        print(f"{c:18s} walk    0.0 s"); continue
    print(f"{c:18s} walk {s.sum()/50:6.1f} s  DS {ds[s].mean()*100:5.1f} %  flight {fl[s].mean()*100:4.1f} %  v {d['forward_velocity'][s].mean():.3f}  pitch {np.degrees(d['pitch'][s].mean()):.1f} deg")
