"""End-to-end training throughput of the default Phase 1E config (env steps per second, PPO updates included).

    python benchmarks/train_speed.py [--config configs/phase1e.yaml] [--rollouts 3] [--n-envs N]
        [--n-workers W] [--n-steps S] [--batch-size B] [--n-epochs E] [--torch-threads T]

Builds exactly what training/train_ppo.py builds (batched worker VecEnv, VecNormalize, PPO with the
config's hyperparameters), runs one warm-up rollout + update, then times ``--rollouts`` more
(collection + update each). The last line is ``train steps/s: X``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402

from training.common import make_vec_env, ppo_kwargs, set_torch_threads, wrap_normalize  # noqa: E402
from wildrobot_gym.config import DEFAULT_CONFIG_PATH, load_config, validate_config  # noqa: E402


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


def measure(cfg: dict, rollouts: int) -> tuple[float, float, float]:
    """(train steps/s, wall seconds, seconds of it spent collecting) over ``rollouts`` rollouts + updates."""
    t = cfg["training"]
    set_torch_threads(t["torch_threads"])
    venv = wrap_normalize(make_vec_env(cfg, t["n_envs"], t["n_workers"], t["start_method"]), cfg)
    try:
        model = PPO("MlpPolicy", venv, seed=t["seed"], device=t["device"], verbose=0, **ppo_kwargs(cfg))
        per_rollout = cfg["ppo"]["n_steps"] * t["n_envs"]
        model.learn(per_rollout)  # warm-up: worker start, first reset, torch first-call overheads
        timer = _CollectTimer()
        t0 = time.perf_counter()
        model.learn(per_rollout * rollouts, callback=timer, reset_num_timesteps=False)
        wall = time.perf_counter() - t0
        return per_rollout * rollouts / wall, wall, timer.collect
    finally:
        venv.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    p.add_argument("--rollouts", type=int, default=3)
    for name in ("n_envs", "n_workers", "torch_threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    for name in ("n_steps", "batch_size", "n_epochs"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    args = p.parse_args()
    cfg = load_config(args.config)
    for key in ("n_envs", "n_workers", "torch_threads"):
        if getattr(args, key) is not None:
            cfg["training"][key] = getattr(args, key)
    for key in ("n_steps", "batch_size", "n_epochs"):
        if getattr(args, key) is not None:
            cfg["ppo"][key] = getattr(args, key)
    validate_config(cfg)
    t, p_ = cfg["training"], cfg["ppo"]
    print(f"config {args.config}: n_envs={t['n_envs']} n_workers={t['n_workers']} n_steps={p_['n_steps']} "
          f"batch_size={p_['batch_size']} n_epochs={p_['n_epochs']} net={p_['pi_net']} "
          f"torch_threads={t['torch_threads']}")
    sps, wall, collect = measure(cfg, args.rollouts)
    steps = cfg["ppo"]["n_steps"] * t["n_envs"] * args.rollouts
    print(f"timed {args.rollouts} rollouts + updates in {wall:.1f} s: collection {collect:.1f} s "
          f"({steps / collect:.0f} steps/s), PPO updates {wall - collect:.1f} s")
    print(f"train steps/s: {sps:.0f}")


if __name__ == "__main__":
    main()
