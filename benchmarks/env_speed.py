"""Control steps per second: raw MuJoCo vs WildRobotWalk-v0.step vs Gymnasium's Humanoid-v4.

All three run the same kind of workload in one process on one core: a constant control (the home
pose for WildRobot, zeros for Humanoid), 10 physics substeps per control step for WildRobot
(Humanoid-v4 uses its own frame_skip of 5), episodes reset when they end. Goal: env/raw >= 0.8.

The speed of a shared virtual CPU drifts by tens of per cent over a minute, so the three are measured
in interleaved rounds (a, b, c, a, b, c, ...) and each ratio is the median of the per-round ratios.

    python benchmarks/env_speed.py [--steps 5000] [--rounds 7]
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


def gym_env(env: gym.Env, steps: int) -> float:
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    t = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(action)
        if term or trunc:
            env.reset()
    return steps / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000, help="control steps per measurement")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; ratios are per-round medians")
    args = parser.parse_args()
    wildrobot, humanoid = gym.make("WildRobotWalk-v0"), gym.make("Humanoid-v4")
    gym_env(wildrobot, 500), gym_env(humanoid, 500)  # warm up (first-step checks, caches)
    rates = np.array([
        (raw_mujoco(args.steps), gym_env(wildrobot, args.steps), gym_env(humanoid, args.steps))
        for _ in range(args.rounds)
    ])
    a, b, c = np.median(rates, axis=0)
    print(f"mujoco {mujoco.__version__}, {args.rounds} interleaved rounds of {args.steps} control steps (medians)")
    print(f"(a) raw MuJoCo loop, 10 substeps:    {a:9.0f} steps/s")
    print(f"(b) WildRobotWalk-v0.step:           {b:9.0f} steps/s")
    print(f"(c) Humanoid-v4.step:                {c:9.0f} steps/s")
    print(f"env/raw per round: {' '.join(f'{r:.2f}' for r in rates[:, 1] / rates[:, 0])}")
    print(f"env/humanoid ratio: {np.median(rates[:, 1] / rates[:, 2]):.2f}")
    print(f"env/raw ratio: {np.median(rates[:, 1] / rates[:, 0]):.2f}")


if __name__ == "__main__":
    main()
