"""Prototype: replace each swing of a plan by a joint-space quintic (Hermite: position and velocity matched at
lift-off and landing) plus a bump that puts the leg at the Cartesian IK pose at the swing's peak.

    (imported by demand.py)
"""
import numpy as np, mujoco
from reference.gait import _swing_profile

SIDE_IDX = {"left": slice(0, 4), "right": slice(4, 8)}

def hermite5(q0, v0, q1, v1, s, T):
    # quintic with zero boundary accelerations; v in rad/s, s in [0,1], T swing duration
    h00 = 1 - 10*s**3 + 15*s**4 - 6*s**5; h01 = 10*s**3 - 15*s**4 + 6*s**5
    h10 = s - 6*s**3 + 8*s**4 - 3*s**5;   h11 = -4*s**3 + 7*s**4 - 3*s**5
    return h00[:, None]*q0 + h01[:, None]*q1 + T*(h10[:, None]*v0 + h11[:, None]*v1)

def joint_swing(plan, bump=True):
    q = plan.joints.copy(); fps = plan.params.fps; peak = plan.params.swing_peak
    for side, sl in SIDE_IDX.items():
        c = plan.contact[side]
        lifts = np.where(c[:-1] & ~c[1:])[0] + 1   # first swing frame
        for lo in lifts:
            la = lo + np.argmax(c[lo:])             # first stance frame after
            if la <= lo or la + 1 >= len(c) or lo < 2: continue
            a, b = lo - 1, la                        # boundary frames (stance)
            T = (b - a) / fps
            v0 = (q[a, sl] - q[a - 1, sl]) * fps; v1 = (q[b + 1, sl] - q[b, sl]) * fps
            s = (np.arange(a, b + 1) - a) / (b - a)
            traj = hermite5(q[a, sl], v0, q[b, sl], v1, s, T)
            if bump:
                _, h = _swing_profile(s, peak)
                k = a + int(np.argmax(h))
                traj = traj + h[:, None] * (plan.joints[k, sl] - traj[np.argmax(h)])
            q[a:b + 1, sl] = traj
    return q
