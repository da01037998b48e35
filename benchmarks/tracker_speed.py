"""Env steps per second of the tracker's training VecEnvs: the subprocess one against the batched one.

    python benchmarks/tracker_speed.py [--config configs/tracker.yaml] [--n-envs 32] [--workers 2]
        [--steps 6400] [--rounds 3]

Both step ``--n-envs`` `TrackingEnv`s of the config with the same random actions (Gaussian, std 0.37 action
units: the tracker's initial exploration, ``ppo.log_std_init: -1``), episodes auto-resetting as in training:
`BatchedSubprocVecEnv` over ``--workers`` worker processes (``training.vec_env: subprocess``) and
`BatchedTrackingVecEnv` on ``--workers`` physics threads (``batched``). Set-up (building the references,
starting the workers) is not timed. A shared virtual CPU drifts by tens of per cent over a minute, so the two
are measured in interleaved rounds and the ratio is the median of the per-round ratios. Prints the steps/s of
each (median over the rounds) side by side and a last line ``batched/subprocess: X``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # reference.train_tracker imports training/

from reference.tracker.batch_env import BatchedTrackingVecEnv  # noqa: E402
from reference.train_tracker import TrackerEnvFactory  # noqa: E402
from wildrobot_gym.config.tracker import DEFAULT_TRACKER_CONFIG, load_tracker_config  # noqa: E402
from wildrobot_gym.vec_env import BatchedSubprocVecEnv  # noqa: E402


def rate(venv, actions: np.ndarray) -> float:
    """Env steps per second over `actions` ((calls, n_envs, 8))."""
    t = time.perf_counter()
    for a in actions:
        venv.step(a)
    return actions.shape[0] * actions.shape[1] / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=DEFAULT_TRACKER_CONFIG)
    p.add_argument("--n-envs", type=int, default=None, help="envs (default: the config's training.n_envs)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes / physics threads (default: the config's training.n_workers)")
    p.add_argument("--steps", type=int, default=6400, help="env steps per measurement")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    cfg = load_tracker_config(args.config)
    n = args.n_envs or cfg["training"]["n_envs"]
    workers = args.workers if args.workers is not None else cfg["training"]["n_workers"]
    workers = max(int(workers), 1)
    calls = max(args.steps // n, 1)
    rng = np.random.default_rng(args.seed)
    actions = np.clip(rng.normal(0.0, 0.37, (calls, n, 8)), -1.0, 1.0).astype(np.float32)

    t = time.perf_counter()
    subprocess = BatchedSubprocVecEnv([TrackerEnvFactory(cfg) for _ in range(n)], n_workers=workers,
                                      start_method=cfg["training"]["start_method"])
    batched = BatchedTrackingVecEnv(cfg, n, n_threads=workers)
    print(f"{n} envs, {len(batched.references)} references, {workers} workers / threads, {calls * n} steps "
          f"x {args.rounds} rounds (set up in {time.perf_counter() - t:.0f} s)", flush=True)
    rates = []
    try:
        for venv in (subprocess, batched):
            venv.seed(args.seed)
            venv.reset()
            rate(venv, actions[: max(calls // 10, 1)])  # warm up: first-step costs, caches
        for r in range(args.rounds):
            rates.append((rate(subprocess, actions), rate(batched, actions)))
            print(f"round {r + 1}: subprocess {rates[-1][0]:,.0f} steps/s, batched {rates[-1][1]:,.0f} steps/s",
                  flush=True)
    finally:
        subprocess.close()
        batched.close()
    rates_arr = np.array(rates)
    sub, bat = np.median(rates_arr, axis=0)
    print(f"subprocess (BatchedSubprocVecEnv, {workers} processes): {sub:8,.0f} steps/s")
    print(f"batched    (BatchedTrackingVecEnv, {workers} threads):  {bat:8,.0f} steps/s")
    print(f"batched/subprocess: {np.median(rates_arr[:, 1] / rates_arr[:, 0]):.2f}")


if __name__ == "__main__":
    main()
