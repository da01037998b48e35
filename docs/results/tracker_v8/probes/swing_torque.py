"""Inverse dynamics of each clip's swing leg (contacts off: nothing but its joints and gravity act on a swinging leg):
peak |tau| per joint during swing, against the servos' 4 N m.

    python docs/results/tracker_v8/probes/swing_torque.py [GAITS_YAML]
"""
import sys, numpy as np, mujoco
from reference.make_clips import load_gait_config
from reference.gait import generate_gait, plan_to_clip, check_plan
from wildrobot_gym.robot import load_model
model = load_model(); model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
data = mujoco.MjData(model)
cfg = sys.argv[1] if len(sys.argv) > 1 else "configs/gaits.yaml"
names = [model.actuator(i).name for i in range(model.nu)]
jid = [model.actuator_trnid[i, 0] for i in range(model.nu)]
dofs = [model.jnt_dofadr[j] for j in jid]
print("actuators", names)
for g in load_gait_config(cfg):
    plan = generate_gait(g); clip = plan_to_clip(plan); dt = 1 / clip.fps
    n = len(plan.t)
    qpos = np.zeros((n, model.nq)); qpos[:, :3] = clip.root_pos; qpos[:, 3:7] = clip.root_quat
    for k, j in enumerate(jid): qpos[:, model.jnt_qposadr[j]] = clip.joint_pos[:, k]
    qvel = np.zeros((n, model.nv)); qacc = np.zeros((n, model.nv))
    for t in range(1, n - 1):
        v1 = np.zeros(model.nv); v0 = np.zeros(model.nv)
        mujoco.mj_differentiatePos(model, v1, dt, qpos[t], qpos[t + 1]); mujoco.mj_differentiatePos(model, v0, dt, qpos[t - 1], qpos[t])
        qvel[t] = 0.5 * (v0 + v1); qacc[t] = (v1 - v0) / dt
    peak = np.zeros(model.nu); sat = 0; tot = 0
    for t in range(1, n - 1):
        data.qpos[:] = qpos[t]; data.qvel[:] = qvel[t]; data.qacc[:] = qacc[t]
        mujoco.mj_inverse(model, data)
        for side, idx in (("left", [k for k, nm in enumerate(names) if nm.startswith("left")]), ("right", [k for k, nm in enumerate(names) if nm.startswith("right")])):
            if plan.contact[side][t]: continue
            tau = data.qfrc_inverse[[dofs[k] for k in idx]]
            peak[idx] = np.maximum(peak[idx], np.abs(tau)); tot += len(idx); sat += int((np.abs(tau) > 4.0).sum())
    print(f"{g.name:16s} T {g.step_time:.3f} swing {g.step_time*(1-g.double_support):.3f}s  peak |tau| L " +
          " ".join(f"{p:4.1f}" for p in peak[:4]) + f"  over 4 Nm: {sat/max(tot,1):.2f} of swing joint-frames")
