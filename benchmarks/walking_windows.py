"""Why a generated dataset's walking windows fail Tier 0+: per rollout of the faster clips, the walking windows
(`reference.walking`: >= 0.7 x the clip's speed, single stance >= 15 %; gates aside), how many pass every gate,
their median gate metrics and the count failing each gate.

    python benchmarks/walking_windows.py DATASET_DIR [--min-speed 0.5] [--config configs/reference.yaml]

DATASET_DIR is a `reference.generate --output-dir` (its records/ are re-mined with the config's mining section).
Columns: clip:variant, the clip's speed, walking windows, median forward speed v, windows passing, medians of
load p10 (m g), unloaded fraction, stance slip rate, flight and double-stance fractions, actuator saturation,
then {gate: walking windows failing it}.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from reference import miner
from wildrobot_gym.config.reference import DEFAULT_REFERENCE_CONFIG, load_mining_config

COLUMNS = ("load_p10", "unloaded_fraction", "stance_slip_rate", "flight_fraction", "double_stance_fraction",
           "actuator_saturation_rate")


def rollout_line(path: Path, cfg: miner.MiningConfig, min_speed: float) -> str | None:
    """One rollout's summary line, or None when its clip is slower than `min_speed` or nothing walks."""
    with np.load(path, allow_pickle=False) as f:
        records = dict(f)
    m = miner.mine_rollout(records, cfg, str(path))
    if m.clip_speed is None or m.clip_speed < min_speed or not m.window_walking.any():
        return None
    w = m.window_walking
    met = {k: v[w] for k, v in m.window_metrics.items()}
    flags = miner.gate_matrix(met, cfg.gates)
    fails = {g: int((~ok).sum()) for g, ok in flags.items() if (~ok).any()}
    medians = " ".join(f"{np.median(met[c]):.2f}" for c in COLUMNS)
    return (f"{m.clip}:{m.variant:<10s} clip {m.clip_speed:.2f} windows {int(w.sum()):3d} "
            f"v {np.median(met['forward_velocity_mean']):.2f} pass {int(m.window_passed[w].sum()):3d} | {medians} | {fails}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("--min-speed", type=float, default=0.5, help="only clips at least this fast, m/s")
    p.add_argument("--config", type=Path, default=DEFAULT_REFERENCE_CONFIG)
    args = p.parse_args(argv)
    files = sorted((args.dataset_dir / "records").glob("*.npz"))
    if not files:
        print(f"{args.dataset_dir}/records: no rollout records (*.npz)", file=sys.stderr)
        return 2
    cfg = load_mining_config(args.config)
    print("rollout | " + " ".join(COLUMNS) + " | failing gates")
    for path in files:
        try:
            line = rollout_line(path, cfg, args.min_speed)
        except (ValueError, KeyError, OSError) as e:  # a bad file is reported, the rest still run
            print(f"{path.name}: skipped ({e})", file=sys.stderr)
            continue
        if line:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
