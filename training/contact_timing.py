"""When the feet are down over the gait clock's cycle, on many envs at once: the Phase 2 contact diagnosis.

    python training/contact_timing.py CHECKPOINT [--randomize] [--stochastic] [--envs 64] [--json-output FILE]

Runs the checkpoint's policy on `--envs` envs of the batched env for `--steps` control steps (the first
`--warmup` dropped: the start from standing) on the nominal robot, or with `--randomize` under the
checkpoint's own training randomisation. Prints flight and double support, the proper-contact fraction
(Phase 2's: both feet as the clock wants, judged on the command phase as in training) overall and per
drawn action latency, and for each tenth of the clock's cycle how often each foot is down beside where
the clock wants it (left in [0, 0.5), right in [0.5, 1)). A pattern that is regular but shifted against
the clock shows there as a shifted block; a free-running one as smeared columns.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from training.common import open_checkpoint, wrap_normalize  # noqa: E402
from wildrobot_gym.atomic_io import atomic_write_json  # noqa: E402
from wildrobot_gym.batch_env import BatchedWalkVecEnv  # noqa: E402
from wildrobot_gym.checkpoints import VECNORM_FILE, read_state  # noqa: E402
from wildrobot_gym.config.phase import validate_config  # noqa: E402
from wildrobot_gym.policy_io import load_ppo  # noqa: E402
from wildrobot_gym.rewards import DEFAULT_PARAMS, foot_contact  # noqa: E402

BINS = 10


def record(ckpt, envs: int, steps: int, randomize: bool, deterministic: bool, seed: int):
    """(command phase, contacts (T, 2), action latency) of every env-step after the warm-up, stacked."""
    cfg = validate_config(read_state(ckpt)["config"])
    if cfg["phase"] == "3":
        raise SystemExit("contact_timing: Phase 3 checkpoints are not supported (their envs carry AMP features)")
    batch = BatchedWalkVecEnv(cfg, envs, n_threads=cfg["training"]["n_workers"], randomize=randomize)
    try:
        venv = wrap_normalize(batch, cfg, ckpt / VECNORM_FILE, training=False)
        model = load_ppo(ckpt, None, cfg, device="cpu", observation_space=venv.observation_space,
                         action_space=venv.action_space)
        venv.seed(seed)
        obs = venv.reset()
        rows = []
        for _ in range(steps):
            action, _ = model.predict(obs, deterministic=deterministic)
            obs, *_ = venv.step(action)
            info = batch.last_step_info
            latency = (batch.randomizer.action_latency.copy() if batch.randomizer is not None
                       else np.zeros(envs, dtype=np.int64))
            rows.append((info["command_phase"].copy(), info["foot_contact"].copy(), latency))
    finally:
        batch.close()
    return rows


def summarize(rows, warmup: int) -> dict:
    """The figures printed (and written as JSON) from `record`'s rows."""
    kept = rows[warmup:]
    phase = np.concatenate([r[0] for r in kept])
    contact = np.concatenate([r[1] for r in kept])
    latency = np.concatenate([r[2] for r in kept])
    proper = foot_contact({"command_phase": phase, "foot_contact": contact}, DEFAULT_PARAMS) == 1.0
    bins = np.minimum((phase * BINS).astype(int), BINS - 1)
    return {
        "env_steps": int(len(phase)),
        "flight": float(np.mean(~contact.any(axis=1))),
        "double_support": float(np.mean(contact.all(axis=1))),
        "proper_contact_fraction": float(np.mean(proper)),
        "proper_by_action_latency": {int(k): float(np.mean(proper[latency == k])) for k in np.unique(latency)},
        "by_phase": [{"phase": [b / BINS, (b + 1) / BINS],
                      "left_down": float(np.mean(contact[bins == b, 0])) if np.any(bins == b) else None,
                      "right_down": float(np.mean(contact[bins == b, 1])) if np.any(bins == b) else None}
                     for b in range(BINS)],
    }


def print_summary(s: dict) -> None:
    print(f"{s['env_steps']} env-steps: flight {100 * s['flight']:.1f} %, double support "
          f"{100 * s['double_support']:.1f} %, proper contacts {s['proper_contact_fraction']:.3f}")
    print("proper contacts by action latency (control steps): "
          + ", ".join(f"{k}: {v:.3f}" for k, v in s["proper_by_action_latency"].items()))
    print("clock phase   left down  right down   the clock wants")
    for row in s["by_phase"]:
        lo, hi = row["phase"]
        want = "left" if hi <= 0.5 else "right"
        left, right = (" " * 6 + "-" if v is None else f"{v:7.2f}" for v in (row["left_down"], row["right_down"]))
        print(f"{lo:.1f} - {hi:.1f}    {left}   {right}      {want}")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=400, help="control steps per env (20 ms each)")
    p.add_argument("--warmup", type=int, default=50, help="first steps left out (the start from standing)")
    p.add_argument("--randomize", action="store_true", help="the checkpoint's training randomisation")
    p.add_argument("--stochastic", action="store_true", help="sample actions (default: deterministic)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--json-output", type=Path)
    a = p.parse_args(argv)
    for name in ("envs", "steps"):
        if getattr(a, name) < 1:
            p.error(f"--{name}: expected a positive integer, got {getattr(a, name)}")
    if not 0 <= a.warmup < a.steps:
        p.error(f"--warmup: expected 0 <= warmup < --steps ({a.steps}), got {a.warmup}")
    ckpt = open_checkpoint("checkpoint", a.checkpoint)
    s = summarize(record(ckpt, a.envs, a.steps, a.randomize, not a.stochastic, a.seed), a.warmup)
    s.update(checkpoint=str(a.checkpoint), randomize=a.randomize, deterministic=not a.stochastic, seed=a.seed)
    print_summary(s)
    if a.json_output:
        atomic_write_json(a.json_output, s, indent=1)
    return s


if __name__ == "__main__":
    main()
