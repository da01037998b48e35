"""A tiny training run for tests: `train_ppo.main` on a config written to `tmp`, one physics worker."""
from __future__ import annotations

from pathlib import Path

import yaml


def train_tiny(cfg: dict, tmp: Path, name: str = "tiny", total_timesteps: int = 2048) -> Path:
    """Train `cfg` (4 envs, a checkpoint every 1024 steps) into ``tmp / "run"``; returns the final checkpoint."""
    from training import train_ppo

    cfg["training"].update(n_envs=4, n_workers=1, total_timesteps=total_timesteps, checkpoint_interval=1024,
                           start_method="fork", logdir=str(tmp / "run"))
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return train_ppo.main(["--config", str(path), "--n-workers", "1", "--no-progress-bar", "--log-every", "0"])
