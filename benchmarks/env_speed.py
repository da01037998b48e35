"""Control steps per second: raw MuJoCo vs WildRobotWalk-v0.step vs Gymnasium's Humanoid-v4.

All three run the same kind of workload in one process on one core: a constant control (the home
pose for WildRobot, zeros for Humanoid), 10 physics substeps per control step for WildRobot
(Humanoid-v4 uses its own frame_skip of 5), episodes reset when they end. Goal: env/raw >= 0.8.

    python benchmarks/env_speed.py [--steps 20000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym
import mujoco
import numpy as np

import wildrobot_gym  # noqa: F401  (registers the env)
from wildrobot_gym.robot import RobotSpec, load_model


def raw_mujoco(steps: int) -> float:
    model = load_model()
    data = mujoco.MjData(model)
    spec = RobotSpec.from_model(model)
    mujoco.mj_resetDataKeyframe(model, data, 0)
    data.ctrl[:] = spec.home_qpos[spec.joint_qpos_adr]
    t = time.perf_counter()
    for i in range(steps):
        mujoco.mj_step(model, data, 10)
        if i % 500 == 499:
            mujoco.mj_resetDataKeyframe(model, data, 0)
    return steps / (time.perf_counter() - t)


def gym_env(env_id: str, steps: int) -> float:
    env = gym.make(env_id)
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    t = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(action)
        if term or trunc:
            env.reset()
    rate = steps / (time.perf_counter() - t)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20000, help="control steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs (least disturbed)")
    args = parser.parse_args()
    best = lambda f: max(f() for _ in range(args.repeats))  # noqa: E731
    a = best(lambda: raw_mujoco(args.steps))
    b = best(lambda: gym_env("WildRobotWalk-v0", args.steps))
    c = best(lambda: gym_env("Humanoid-v4", args.steps))
    print(f"mujoco {mujoco.__version__}, {args.steps} control steps, best of {args.repeats}")
    print(f"(a) raw MuJoCo loop, 10 substeps:    {a:9.0f} steps/s")
    print(f"(b) WildRobotWalk-v0.step:           {b:9.0f} steps/s")
    print(f"(c) Humanoid-v4.step:                {c:9.0f} steps/s")
    print(f"env/humanoid ratio: {b / c:.2f}")
    print(f"env/raw ratio: {b / a:.2f}")


if __name__ == "__main__":
    main()
