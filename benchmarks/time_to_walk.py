"""Wall time until a Phase 1E training walks: train, then evaluate every checkpoint against the criteria.

    python benchmarks/time_to_walk.py --logdir runs/ttw_new [--config configs/phase1e.yaml]
        [--total-timesteps 1500000] [--checkpoint-interval 250000] [--episodes 20]
        [--set training.vec_env=subprocess --set training.torch_threads=1 ...] [--json-output FILE]

Runs ``training/train_ppo.py`` on the config (with ``--set SECTION.KEY=VALUE`` overrides, YAML values),
notes each checkpoint's wall time since the start (the checkpoint folder's modification time), then
evaluates each one (``training/evaluate.py``, deterministic, ``--episodes`` episodes) on seed 002's
Phase 1E criteria as the issue words them: mean forward velocity >= 0.5 m/s, success >= 70 %, no
episode going backward (min episode mean velocity >= 0). Prints a row per checkpoint and, last,
``time to walk: X s`` (the first checkpoint that passes; ``none`` when none does). The JSON has the
rows and the run's ``time/steps_per_second`` curve.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wildrobot_gym.checkpoints import list_checkpoints  # noqa: E402
from wildrobot_gym.atomic_io import atomic_write_text  # noqa: E402
from wildrobot_gym.config import DEFAULT_CONFIG_PATH, load_config, validate_config  # noqa: E402

CRITERIA = {"forward_velocity_mean": 0.5, "success_rate": 0.7, "min_episode_forward_velocity": 0.0}


def with_overrides(config: Path, overrides: list[str]) -> dict:
    """The config with ``SECTION.KEY=VALUE`` overrides applied (values parsed as YAML), validated."""
    cfg = load_config(config)
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in cfg or not isinstance(cfg[section], dict):
            raise SystemExit(f"--set {item!r}: expected SECTION.KEY=VALUE with a section of the config")
        cfg[section][name] = yaml.safe_load(value)
    return validate_config(cfg)


def passes(ev: dict) -> bool:
    return all(ev[k] >= v for k, v in CRITERIA.items())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--logdir", type=Path, required=True)
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    p.add_argument("--total-timesteps", type=int, default=1_500_000)
    p.add_argument("--checkpoint-interval", type=int, default=250_000)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--json-output", type=Path, default=None)
    args = p.parse_args()
    cfg = with_overrides(args.config, args.set)
    if list_checkpoints(args.logdir / "checkpoints"):
        raise SystemExit(f"--logdir {args.logdir}: holds checkpoints already; pass a new folder")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    cmd = [sys.executable, str(REPO / "training" / "train_ppo.py"), "--config", f.name, "--logdir", str(args.logdir),
           "--total-timesteps", str(args.total_timesteps), "--checkpoint-interval", str(args.checkpoint_interval),
           "--no-progress-bar"]
    start = time.time()
    try:
        subprocess.run(cmd, check=True)
    finally:
        os.unlink(f.name)
    train_wall = time.time() - start

    rows = []
    for ckpt in list_checkpoints(args.logdir / "checkpoints"):
        wall = ckpt.stat().st_mtime - start
        out = args.logdir / "evals" / f"{ckpt.name}.json"
        subprocess.run([sys.executable, str(REPO / "training" / "evaluate.py"), str(ckpt), "--episodes",
                        str(args.episodes), "--json-output", str(out)], check=True, stdout=subprocess.DEVNULL)
        ev = json.loads(out.read_text())
        row = {"checkpoint": ckpt.name, "steps": ev["num_timesteps"], "wall_s": round(wall, 1),
               **{k: ev[k] for k in CRITERIA}, "pass": passes(ev)}
        rows.append(row)
        print(f"{row['steps']:>10,} steps  {wall:7.1f} s  v {ev['forward_velocity_mean']:.3f} m/s  "
              f"success {ev['success_rate']:.0%}  min episode v {ev['min_episode_forward_velocity']:+.3f}  "
              f"{'PASS' if row['pass'] else 'fail'}")
    first = next((r for r in rows if r["pass"]), None)
    t = cfg["training"]
    result = {"config": str(args.config), "overrides": args.set, "vec_env": t.get("vec_env"), "n_envs": t["n_envs"],
              "n_steps": cfg["ppo"]["n_steps"], "torch_threads": t["torch_threads"], "train_wall_s": round(train_wall, 1),
              "rows": rows, "time_to_walk_s": first["wall_s"] if first else None,
              "steps_to_walk": first["steps"] if first else None}
    if args.json_output is not None:
        args.json_output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json_output, json.dumps(result, indent=1))
    print(f"time to walk: {first['wall_s']:.0f} s ({first['steps']:,} steps)" if first else "time to walk: none")


if __name__ == "__main__":
    main()
