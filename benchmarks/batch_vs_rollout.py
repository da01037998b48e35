"""Physics only: MuJoCo's `mujoco.batch.Batch` against `mujoco.rollout` on a thread pool, this robot.

    python benchmarks/batch_vs_rollout.py [--n-envs 256] [--threads 2] [--calls 60]

Both advance N simulations by one control step (10 substeps) per call, from the state of the last
call, with the servo targets held for the step, in C threads with the GIL released. The batch keeps the
state in its own rows and copies out the bound fields the env reads; rollout takes and returns full
state arrays (and sensordata) per call. Prints control steps/s of each; the env uses the faster.
"""
from __future__ import annotations

import argparse
import time

import mujoco
import mujoco.batch
import mujoco.rollout
import numpy as np

from wildrobot_gym.robot import RobotSpec, load_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n-envs", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--calls", type=int, default=60)
    args = p.parse_args()
    m = load_model()
    s = RobotSpec.from_model(m)
    n, k = args.n_envs, args.calls
    home = s.home_qpos[s.joint_qpos_adr]

    b = mujoco.batch.Batch(m, nsim=n, nthread=args.threads)
    b.reset()
    qpos, ctrl = b.bind("qpos"), b.bind("ctrl")
    qpos[:] = s.home_qpos
    ctrl[:] = home
    b.forward()
    for name in ("sensordata", "xmat", "site_xpos", "actuator_force"):
        b.bind(name)  # the fields the env reads after each step
    t = time.perf_counter()
    for _ in range(k):
        b.step(nstep=10)
    batch_rate = n * k / (time.perf_counter() - t)

    d = mujoco.MjData(m)
    d.qpos[:] = s.home_qpos
    d.ctrl[:] = home
    mujoco.mj_forward(m, d)
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state0 = np.empty(mujoco.mj_stateSize(m, spec))
    mujoco.mj_getState(m, d, state0, spec)
    state = np.tile(state0, (n, 1))
    control = np.tile(home, (n, 10, 1))
    datas = [mujoco.MjData(m) for _ in range(args.threads)]
    with mujoco.rollout.Rollout(nthread=args.threads) as r:
        t = time.perf_counter()
        for _ in range(k):
            states, _ = r.rollout(m, datas, state, control, nstep=10)
            state = states[:, -1]
        rollout_rate = n * k / (time.perf_counter() - t)
    print(f"{n} envs, {args.threads} threads: mujoco.batch {batch_rate:.0f} control steps/s, "
          f"mujoco.rollout {rollout_rate:.0f} control steps/s, batch/rollout {batch_rate / rollout_rate:.2f}")


if __name__ == "__main__":
    main()
