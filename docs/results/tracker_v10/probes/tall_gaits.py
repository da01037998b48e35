"""The first kinematically valid tall heel-toe posture (>= 3 deg to every joint stop, every target reached, ZMP inside)
for each fast speed and step length; prints gaits.yaml lines (docs/results/tracker_v10/gaits_tall.yaml).

    python docs/results/tracker_v10/probes/tall_gaits.py
"""
import itertools, numpy as np
from reference.gait import GaitParams, generate_gait, plan_to_clip, check_plan
out = []
for speed, L in itertools.product([0.55, 0.6, 0.65, 0.7, 0.75, 0.8], [0.16, 0.17, 0.18]):
    for lean, clr, ho, hs, com in itertools.product([10.0, 15.0, 12.5], [0.035, 0.03, 0.025], [25, 20, 30], [10], [0.30]):
        g = GaitParams(name="x", speed=speed, step_length=L, com_height=com, clearance=clr, torso_pitch=np.radians(lean),
                       double_support=0.15, swing_peak=0.6, lateral_sway=-0.5, ramp_steps=3, heel_off=np.radians(ho),
                       heel_strike=np.radians(hs), level_com=1.0)
        try:
            plan = generate_gait(g); c = check_plan(plan)
        except Exception:
            continue
        if c.ok(np.radians(3)):
            n = len(plan.t)
            print(f"  - {{name: walk_v{int(round(speed*100)):03d}_l{int(round(L*1000)):03d}_tall, speed: {speed}, step_length: {L}, com_height: {com}, "
                  f"torso_pitch_deg: {lean}, clearance: {clr}, double_support: 0.15, lateral_sway: -0.5, heel_off_deg: {ho}.0, "
                  f"heel_strike_deg: {hs}.0, level_com: 1.0}}   # margin {np.degrees(c.min_joint_margin):.1f} deg, load p10 {c.implied_load_p10:.2f}", flush=True)
            break
