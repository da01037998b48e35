"""The posture sweep behind gaits_long.yaml: for one speed and step length, the four most valid postures (COM height,
clearance, planned double support, lean, lateral sway) by their smallest joint margin (deg), with check_plan's
figures. sweep_best.txt: its output for 0.7 / 0.18, 0.75 / 0.18, 0.7 / 0.19 and 0.8 / 0.19.

    python docs/results/tracker_long_steps/sweep.py 0.7 0.18
"""
import itertools, math, sys
import numpy as np, yaml
from reference.gait import GaitModel, GaitParams, check_plan, generate_gait
from reference.make_clips import joint_group_margins
y = yaml.safe_load(open('configs/gaits.yaml'))
d = dict(y['defaults'])
for k in list(d):
    if k.endswith('_deg'): d[k[:-4]] = math.radians(d.pop(k))
gm = GaitModel()
v = float(sys.argv[1]); L = float(sys.argv[2])
best = []
for com, clr, ds, lean, peak, sway in itertools.product((0.285, 0.28, 0.275), (0.04, 0.035, 0.03), (0.22, 0.20),
                                                (17.5, 20, 22.5, 25), (0.65,), (-0.6, -0.5, -0.4)):
    gp = GaitParams(**dict(d, name='x', speed=v, step_length=L, com_height=com, clearance=clr, double_support=ds,
             torso_pitch=math.radians(lean), swing_peak=peak, lateral_sway=sway))
    try:
        gp.validate(); plan = generate_gait(gp, gm); c = check_plan(plan, gm)
    except ValueError:  # a posture GaitParams or the planner refuses
        continue
    g = np.degrees(joint_group_margins(c))
    best.append((g.min(), c.ok(), f"com {com} clr {clr} ds {ds} lean {lean} sway {sway} margins {g.round(1)} ik {c.ik_error*1e3:.1f}mm zmp {c.zmp_margin*1e3:.1f} DSkin {c.double_support:.2f} slip {c.foot_slip*1e3:.1f}"))
best.sort(key=lambda b: -b[0])
for b in best[:4]: print(v, L, b, flush=True)
