"""Training throughput against the physics limit, old and new VecEnv side by side, in one run.

    python benchmarks/train_speed.py [--config configs/phase1e.yaml] [--rollouts 5] [--seconds 5]
        [--n-envs N] [--n-workers W] [--torch-threads T] [--n-steps S] [--batch-size B] [--n-epochs E]
        [--skip-subprocess]

1. Physics limit: raw MuJoCo on this robot, one process per core (`mujoco.mj_step`, 10 substeps a
   control step), on the workload the training envs see at the start: servo targets home + N(0, 0.3 rad),
   the spread of the untrained policy (log_std_init -0.5: std 0.6 x action_scale 0.5), a restart from
   home on a fall (root below 0.25 m) or after 10 s. In control steps/s.
2. For each VecEnv kind, ``subprocess`` (the worker-process VecEnv) and ``batched`` (all envs in this
   process on MuJoCo's batch API), built exactly as training/train_ppo.py builds it (VecNormalize, PPO
   with the config's hyperparameters, the torch-threads callback): one warm-up rollout + update, then
   ``--rollouts`` more, timed. Collection = the rollouts (policy calls included), train = rollouts and
   PPO updates.
The limit is measured before and after the rest (the mean is used: a shared CPU's speed drifts). The last
line is ``train/physics ratio: X``, the batched VecEnv's end-to-end steps/s over the limit.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback, CallbackList  # noqa: E402
from stable_baselines3.common.logger import Logger  # noqa: E402

from training.common import (  # noqa: E402
    TorchThreadsCallback, make_vec_env, ppo_kwargs, set_torch_threads, wrap_normalize,
)
from wildrobot_gym.config import DEFAULT_CONFIG_PATH, load_config, validate_config  # noqa: E402


def _raw_steps(seconds: float, seed: int) -> float:
    """Control steps/s of one process stepping one MjData (the physics limit's worker)."""
    import mujoco

    from wildrobot_gym.robot import RobotSpec, load_model

    m = load_model()
    d = mujoco.MjData(m)
    s = RobotSpec.from_model(m)
    home = s.home_qpos[s.joint_qpos_adr]
    rng = np.random.default_rng(seed)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        mujoco.mj_resetData(m, d)
        d.qpos[:] = s.home_qpos
        mujoco.mj_forward(m, d)
        for _ in range(500):  # 10 s, or until a fall
            d.ctrl[:] = np.clip(home + 0.3 * rng.standard_normal(len(home)), s.joint_range[:, 0], s.joint_range[:, 1])
            mujoco.mj_step(m, d, nstep=10)
            steps += 1
            if d.qpos[2] < 0.25:
                break
    return steps / (time.perf_counter() - t0)


def physics_limit(seconds: float, processes: int) -> float:
    """Summed control steps/s of `processes` processes stepping raw MuJoCo at once."""
    with mp.get_context("spawn").Pool(processes) as pool:
        return float(sum(pool.starmap(_raw_steps, [(seconds, i) for i in range(processes)])))


class _CollectTimer(BaseCallback):
    """Sums the wall time spent collecting rollouts (the rest of learn() is the PPO update)."""

    def __init__(self) -> None:
        super().__init__()
        self.collect = 0.0
        self._t = 0.0

    def _on_rollout_start(self) -> None:
        self._t = time.perf_counter()

    def _on_rollout_end(self) -> None:
        self.collect += time.perf_counter() - self._t

    def _on_step(self) -> bool:
        return True


def measure(cfg: dict, rollouts: int, kind: str) -> tuple[float, float]:
    """(collection steps/s, train steps/s) of PPO on VecEnv `kind` over ``rollouts`` rollouts + updates."""
    t = cfg["training"]
    set_torch_threads(t["torch_threads"])
    venv = wrap_normalize(make_vec_env(cfg, t["n_envs"], t["n_workers"], t["start_method"], kind=kind), cfg)
    try:
        model = PPO(env=venv, seed=t["seed"], device=t["device"], verbose=0, **ppo_kwargs(cfg, policy=True))
        # A logger of its own: without one, every learn() makes an empty $TMPDIR/SB3-<date> folder (SB3's
        # configure(folder=None)), which is never removed.
        model.set_logger(Logger(folder=None, output_formats=[]))
        per_rollout = cfg["ppo"]["n_steps"] * t["n_envs"]
        threads = TorchThreadsCallback(t["torch_threads"])
        model.learn(per_rollout, callback=threads)  # warm-up: workers, first reset, torch first calls
        timer = _CollectTimer()
        t0 = time.perf_counter()
        model.learn(per_rollout * rollouts, callback=CallbackList([timer, threads]), reset_num_timesteps=False)
        wall = time.perf_counter() - t0
        return per_rollout * rollouts / timer.collect, per_rollout * rollouts / wall
    finally:
        venv.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    p.add_argument("--rollouts", type=int, default=5)
    p.add_argument("--seconds", type=float, default=5.0, help="length of the physics-limit measurement")
    p.add_argument("--skip-subprocess", action="store_true", help="measure the batched VecEnv only")
    for name in ("n_envs", "n_workers", "torch_threads", "n_steps", "batch_size", "n_epochs"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    args = p.parse_args()
    cfg = load_config(args.config)
    for key in ("n_envs", "n_workers", "torch_threads", "n_steps", "batch_size", "n_epochs"):
        if getattr(args, key) is not None:
            cfg["ppo" if key in ("n_steps", "batch_size", "n_epochs") else "training"][key] = getattr(args, key)
    cfg = validate_config(cfg)
    t, p_ = cfg["training"], cfg["ppo"]
    cores = os.cpu_count() or 1
    print(f"config {args.config}: n_envs={t['n_envs']} n_workers={t['n_workers']} n_steps={p_['n_steps']} "
          f"batch_size={p_['batch_size']} n_epochs={p_['n_epochs']} net={p_['pi_net']} "
          f"torch_threads={t['torch_threads']} cores={cores}")

    # The speed of a shared virtual CPU drifts by tens of per cent within minutes: the limit is measured
    # before and after the training measurements, and their mean is the figure the ratios use.
    before = physics_limit(args.seconds, cores)
    kinds = ["batched"] if args.skip_subprocess else ["subprocess", "batched"]
    measured = {kind: measure(cfg, args.rollouts, kind) for kind in kinds}
    after = physics_limit(args.seconds, cores)
    limit = 0.5 * (before + after)
    print(f"physics limit (raw mj_step, {cores} processes): {limit:.0f} control steps/s "
          f"(before {before:.0f}, after {after:.0f})")
    for kind, (collect, train) in measured.items():
        print(f"{kind:>10} VecEnv: collection {collect:.0f} steps/s ({collect / limit:.2f} of the limit), "
              f"train {train:.0f} steps/s ({train / limit:.2f})")
    if "subprocess" in measured:
        print(f"batched / subprocess (train): {measured['batched'][1] / measured['subprocess'][1]:.2f}")
    print(f"train/physics ratio: {measured['batched'][1] / limit:.2f}")


if __name__ == "__main__":
    main()
