"""Walk `WildRobotWalk-v0` for one episode with an exported ONNX policy: numpy + onnxruntime only.

    python examples/run_onnx.py policies/phase2.onnx [--seed 12345] [--steps 500]

What a robot runtime does, in simulation: read the graph's metadata (``wildrobot`` in its
metadata_props, written by ``training/export_policy.py --onnx``: observation layout, joint order, home
pose, action scale, control rate, the graph input's layout), feed the raw values of the observation
entries the graph takes, get the action in [-1, 1] (normalisation and clipping are inside the graph).
A policy of ``ppo.actor_inputs: measured`` (or ``measured_symmetric``) takes only the measured entries
(``input_layout``: what the robot has; the env's privileged root velocity and height are never fed); one of
``all`` (and a format-1 graph, without ``input_layout``) the whole observation. No torch and no
Stable-Baselines3 are imported; the env comes from gymnasium + wildrobot_gym, with the env arguments the
policy was trained with (gait clock, action scale, privileged observation). Prints the distance walked,
the mean forward velocity and whether it fell.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import wildrobot_gym  # noqa: E402, F401  (registers WildRobotWalk-v0)


def input_columns(meta: dict) -> np.ndarray:
    """The env observation's columns the graph's input holds, in order (metadata ``input_layout``: each
    entry's ``obs_offset`` and ``size``; without it, format 1: the whole observation)."""
    entries = meta.get("input_layout")
    if entries is None:
        return np.arange(int(meta["observation_dim"]))
    return np.concatenate([np.arange(e["obs_offset"], e["obs_offset"] + e["size"]) for e in entries]).astype(np.int64)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("policy", type=Path, help="an .onnx file from training/export_policy.py --onnx")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--steps", type=int, default=500, help="episode length in control steps (500 = 10 s at 50 Hz)")
    args = p.parse_args(argv)

    sess = ort.InferenceSession(str(args.policy), providers=["CPUExecutionProvider"])
    meta = json.loads(sess.get_modelmeta().custom_metadata_map["wildrobot"])
    kwargs = {k: v for k, v in meta["env_kwargs"].items() if k != "max_episode_steps"}
    env = gym.make(wildrobot_gym.ENV_ID, max_episode_steps=args.steps, **kwargs)
    obs, _ = env.reset(seed=args.seed)
    assert obs.shape == (meta["observation_dim"],), (obs.shape, meta["observation_dim"])
    cols = input_columns(meta)  # what the graph takes of the observation (the robot: its measurements)
    assert len(cols) == meta["inputs"]["obs"][1], (len(cols), meta["inputs"])
    base = env.unwrapped
    x0 = float(base.data.qpos[0])
    speeds, fell, steps = [], False, 0
    for steps in range(1, args.steps + 1):
        action = sess.run(["action"], {"obs": obs[None, cols].astype(np.float32)})[0][0]
        obs, _, terminated, truncated, info = env.step(action)
        speeds.append(float(info["forward_velocity"]))
        if terminated or truncated:
            fell = bool(terminated)
            break
    distance = float(base.data.qpos[0]) - x0
    env.close()
    result = {"policy": str(args.policy), "steps": steps, "seconds": steps / meta["control_rate_hz"],
              "distance_m": distance, "forward_velocity_mean": float(np.mean(speeds)), "fell": fell,
              "fall_reason": info.get("fall_reason") if fell else None}
    print(f"{args.policy}: {steps} steps ({result['seconds']:.1f} s at {meta['control_rate_hz']:.0f} Hz), "
          f"distance {distance:.2f} m, forward velocity {result['forward_velocity_mean']:.3f} m/s, "
          f"{'FELL (' + str(result['fall_reason']) + ')' if fell else 'did not fall'}")
    return result


if __name__ == "__main__":
    main()
