"""ZMP reference and preview control (pipeline step 2 in model.py's docstring): the piecewise-linear ZMP
reference on the support feet (`zmp_reference`) and Kajita's ZMP preview control on the cart-table model
(`preview_control`), which turns it into the planned COM path.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from reference.gait.kinematics import SIDE_SIGN, LegGeometry
from reference.gait.plan import GaitParams, Step
from wildrobot_gym.robot import GRAVITY


def _support_zmp(p: GaitParams, geo: LegGeometry, side: str, x_ankle: float, width: float) -> np.ndarray:
    """ZMP reference on one support foot: sole centre in x, `zmp_inset` towards the midline in y."""
    s = SIDE_SIGN[side]
    return np.array([x_ankle + geo.sole_center_x, s * (width - p.zmp_inset)])


def zmp_reference(p: GaitParams, geo: LegGeometry, steps: list[Step], t: np.ndarray, width: float) -> np.ndarray:
    """Piecewise-linear ZMP reference: on the support foot in single support, moving over in double support."""
    ref = np.zeros((len(t), 2))
    feet = {"left": 0.0, "right": 0.0}
    mid0 = np.array([geo.sole_center_x, 0.0])
    ref[:] = mid0
    prev = mid0
    for st in steps:
        support = "right" if st.swing == "left" else "left"
        target = _support_zmp(p, geo, support, feet[support], width)
        ds = (t >= st.t_start) & (t < st.t_lift)
        a = (t[ds] - st.t_start) / (st.t_lift - st.t_start)
        ref[ds] = prev + a[:, None] * (target - prev)
        ref[(t >= st.t_lift)] = target
        feet[st.swing] = st.x1
        prev = target
    # final double support: back to the middle of the (closed) feet, over one double-support time
    t_end = steps[-1].t_land
    t_ds = p.double_support * p.step_time
    final = np.array([feet["left"] + geo.sole_center_x, 0.0])
    ds = (t >= t_end) & (t < t_end + 2 * t_ds)
    a = (t[ds] - t_end) / (2 * t_ds)
    ref[ds] = prev + a[:, None] * (final - prev)
    ref[t >= t_end + 2 * t_ds] = final
    return ref


@lru_cache(maxsize=16)
def _preview_gains(z_c: float, dt: float, n_preview: int, q_e: float = 1.0, r: float = 1e-8) -> tuple:
    """Gains of Kajita's ZMP preview controller (integral-augmented cart-table model, jerk input)."""
    A = np.array([[1.0, dt, dt * dt / 2], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
    B = np.array([[dt**3 / 6], [dt * dt / 2], [dt]])
    C = np.array([[1.0, 0.0, -z_c / GRAVITY]])
    At = np.block([[np.eye(1), C @ A], [np.zeros((3, 1)), A]])
    Bt = np.vstack([C @ B, B])
    Q = np.zeros((4, 4))
    Q[0, 0] = q_e
    P = Q.copy()
    for _ in range(20000):  # discrete Riccati iteration: converges in a few hundred steps here
        S = r + (Bt.T @ P @ Bt)[0, 0]
        Pn = Q + At.T @ P @ At - (At.T @ P @ Bt) @ (Bt.T @ P @ At) / S
        if np.max(np.abs(Pn - P)) < 1e-12 * max(1.0, np.max(np.abs(P))):
            P = Pn
            break
        P = Pn
    S = r + (Bt.T @ P @ Bt)[0, 0]
    K = (Bt.T @ P @ At) / S
    gi, gx = K[0, 0], K[0, 1:]
    Ac = At - Bt @ K
    X = -Ac.T @ P @ np.array([[1.0], [0.0], [0.0], [0.0]])
    gd = np.zeros(n_preview)
    gd[0] = -gi
    for j in range(1, n_preview):
        gd[j] = ((Bt.T @ X) / S)[0, 0]
        X = Ac.T @ X
    return A, B, C, gi, gx, gd


def preview_control(zmp_ref: np.ndarray, z_c: float, dt: float, preview_s: float = 1.6) -> tuple[np.ndarray, np.ndarray]:
    """COM path (N, 2) whose cart-table ZMP tracks `zmp_ref` (N, 2); also returns that ZMP (N, 2)."""
    n_prev = int(round(preview_s / dt))
    A, B, C, gi, gx, gd = _preview_gains(float(z_c), float(dt), n_prev)
    n = len(zmp_ref)
    padded = np.vstack([zmp_ref, np.repeat(zmp_ref[-1:], n_prev, axis=0)])
    com = np.zeros((n, 2))
    zmp = np.zeros((n, 2))
    for axis in range(2):
        x = np.array([zmp_ref[0, axis], 0.0, 0.0])
        err = 0.0
        for k in range(n):
            com[k, axis] = x[0]
            zmp[k, axis] = (C @ x)[0]
            err += zmp[k, axis] - zmp_ref[k, axis]
            u = -gi * err - gx @ x - gd @ padded[k + 1 : k + 1 + n_prev, axis]  # gd[0] = -gi weighs ref[k+1]
            x = A @ x + B[:, 0] * u
    return com, zmp
