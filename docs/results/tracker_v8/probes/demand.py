"""Probe: inverse-dynamics swing torque of a clip as planned (Cartesian swing) and with a joint-space swing
(joint_swing.py), and the lowest swing pad height.

    python docs/results/tracker_v8/probes/demand.py walk_v020_l080 walk_v070_l160 ...
"""
import sys, dataclasses, numpy as np, mujoco
sys.path.insert(0, __import__("os").path.dirname(__file__))
from joint_swing import joint_swing
from reference.make_clips import load_gait_config
from reference.gait import generate_gait
from wildrobot_gym.robot import load_model
model = load_model(); model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT; data = mujoco.MjData(model)
def demand(plan, joints):
    n = len(plan.t); qpos = np.zeros((n, model.nq)); qpos[:, :3] = plan.waist
    from reference.gait import _quat_pitch
    qpos[:, 3:7] = _quat_pitch(plan.params.torso_pitch); qpos[:, 7:] = joints
    pk = np.zeros(4); taus = []; minz = 1.0
    for t in range(1, n - 1):
        v1 = np.zeros(model.nv); v0 = np.zeros(model.nv)
        mujoco.mj_differentiatePos(model, v1, 0.02, qpos[t], qpos[t + 1]); mujoco.mj_differentiatePos(model, v0, 0.02, qpos[t - 1], qpos[t])
        data.qpos[:] = qpos[t]; data.qvel[:] = 0.5 * (v0 + v1); data.qacc[:] = (v1 - v0) / 0.02; mujoco.mj_inverse(model, data)
        for side, sl in (("left", slice(6, 10)), ("right", slice(10, 14))):
            if plan.contact[side][t]: continue
            tau = np.abs(data.qfrc_inverse[sl]); pk = np.maximum(pk, tau); taus.append(tau)
            # lowest pad corner height of the swing foot
            g = model.geom(f"{side}_toe").id, model.geom(f"{side}_heel").id
            for gid in g:
                R = data.geom_xmat[gid].reshape(3, 3); sz = model.geom_size[gid]
                for sx in (-1, 1):
                    p = data.geom_xpos[gid] + R @ np.array([sx * sz[0], 0, -sz[2]]); minz = min(minz, p[2])
    taus = np.array(taus)
    return pk, np.percentile(taus, 90, axis=0), (taus > 4).mean(), minz
if __name__ == "__main__":
    gs = {g.name: g for g in load_gait_config("configs/gaits.yaml")}
    for name in sys.argv[1:]:
        plan = generate_gait(gs[name])
        for lab, j in (("cartesian", plan.joints), ("joint", joint_swing(plan)), ("joint-nobump", joint_swing(plan, False))):
            pk, p90, over, minz = demand(plan, j)
            print(f"{name} {lab:13s} peak " + " ".join(f"{x:5.1f}" for x in pk) + " p90 " + " ".join(f"{x:5.1f}" for x in p90) + f" over4 {over:.2f} min pad z {minz*1000:+.1f} mm")
