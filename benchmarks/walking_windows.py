"""Why a generated dataset's walking windows fail Tier 0+: per rollout of the faster clips, the walking windows
(`reference.walking`: >= 0.7 x the clip's speed, single stance >= 15 %; gates aside), how many pass every gate,
their median gate metrics and the count failing each gate.

    python benchmarks/walking_windows.py DATASET_DIR [--min-speed 0.5] [--config configs/reference.yaml]
        [--slip-by-stance-frame]

DATASET_DIR is a `reference.generate --output-dir` (its records/ are re-mined with the config's mining section).
Columns: clip:variant, the clip's speed, walking windows, median forward speed v, windows passing, medians of
load p10 (m g), unloaded fraction, stance slip rate, flight and double-stance fractions, actuator saturation,
then {gate: walking windows failing it}. With --slip-by-stance-frame, each line also gives where in a foot's
stance (a run of frames loaded above the gate's stance threshold) the foot slips: the share of stances whose
first / second / middle / second-last / last frame slides faster than the gate's slip speed, and the median
stance length in frames.
A last table gives, per 0.1 m/s band of the window's forward speed, the walking windows of every rollout (not
only the faster clips'), how many pass every gate, and the median actuator saturation of those that pass (the
share of servo-steps at the torque limit: the per-step metrics' ``torque_saturated``, as in `evaluate.py`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from reference import miner
from reference import walking as walk
from wildrobot_gym.config.reference import DEFAULT_REFERENCE_CONFIG, load_mining_config

COLUMNS = ("load_p10", "unloaded_fraction", "stance_slip_rate", "flight_fraction", "double_stance_fraction",
           "actuator_saturation_rate")


def slip_by_stance_frame(records: dict, gates) -> str:
    """Where in the stances the loaded feet slip (module docstring), over the frames before any fall."""
    load = np.asarray(records["foot_force"], dtype=np.float64) / float(records["weight"])
    slipping = np.asarray(records["foot_slip_speed"]) > gates.slip_speed_threshold
    ok = ~np.asarray(records["fallen"], dtype=bool)
    at = {"first": [], "second": [], "middle": [], "second-last": [], "last": []}
    lengths = []
    for i in range(load.shape[1]):
        edges = np.diff(np.r_[0, ((load[:, i] > gates.stance_load_threshold) & ok).astype(int), 0])
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if b - a < 5:  # too short to have a middle
                continue
            s = slipping[a:b, i]
            lengths.append(b - a)
            at["first"].append(s[0]), at["second"].append(s[1]), at["middle"].extend(s[2:-2])
            at["second-last"].append(s[-2]), at["last"].append(s[-1])
    if not lengths:
        return "no stance"
    return " ".join(f"{k} {np.mean(v):.2f}" for k, v in at.items()) + f" (stance {np.median(lengths):.0f} frames)"


def rollout_line(m: miner.RolloutMining, records: dict, cfg: miner.MiningConfig, min_speed: float,
                 slip_position: bool = False) -> str | None:
    """One mined rollout's summary line, or None when its clip is slower than `min_speed` or nothing walks."""
    if m.clip_speed is None or m.clip_speed < min_speed or not m.window_walking.any():
        return None
    w = m.window_walking
    met = {k: v[w] for k, v in m.window_metrics.items()}
    flags = miner.gate_matrix(met, cfg.gates)
    fails = {g: int((~ok).sum()) for g, ok in flags.items() if (~ok).any()}
    medians = " ".join(f"{np.median(met[c]):.2f}" for c in COLUMNS)
    line = (f"{m.clip}:{m.variant:<10s} clip {m.clip_speed:.2f} windows {int(w.sum()):3d} "
            f"v {np.median(met['forward_velocity_mean']):.2f} pass {int(m.window_passed[w].sum()):3d} | {medians} | {fails}")
    return line + " | slips at " + slip_by_stance_frame(records, cfg.gates) if slip_position else line


def band_table(speed: np.ndarray, passed: np.ndarray, saturation: np.ndarray, width: float = 0.1) -> list[str]:
    """Lines of the per-band table (module docstring) from the walking windows' speed, pass flag and saturation."""
    bands = np.array([walk.speed_band(float(v), width) for v in speed])
    lines = ["band m/s | walking windows | passing | median saturation of the passing"]
    for band in sorted(set(bands.tolist()), key=walk.band_lower_edge):
        sel = bands == band
        ok = sel & passed
        sat = f"{100 * np.median(saturation[ok]):.1f} %" if ok.any() else "-"
        lines.append(f"{band} | {int(sel.sum())} | {int(ok.sum())} | {sat}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("--min-speed", type=float, default=0.5, help="only clips at least this fast, m/s")
    p.add_argument("--config", type=Path, default=DEFAULT_REFERENCE_CONFIG)
    p.add_argument("--slip-by-stance-frame", action="store_true", help="also where in the stance the feet slip")
    args = p.parse_args(argv)
    files = sorted((args.dataset_dir / "records").glob("*.npz"))
    if not files:
        print(f"{args.dataset_dir}/records: no rollout records (*.npz)", file=sys.stderr)
        return 2
    cfg = load_mining_config(args.config)
    print("rollout | " + " ".join(COLUMNS) + " | failing gates")
    speed, passed, saturation = [], [], []
    for path in files:
        try:
            with np.load(path, allow_pickle=False) as f:
                records = dict(f)
            m = miner.mine_rollout(records, cfg, str(path))
            line = rollout_line(m, records, cfg, args.min_speed, args.slip_by_stance_frame)
        except (ValueError, KeyError, OSError) as e:  # a bad file is reported, the rest still run
            print(f"{path.name}: skipped ({e})", file=sys.stderr)
            continue
        if line:
            print(line)
        w = m.window_walking
        speed.append(m.window_metrics["forward_velocity_mean"][w])
        passed.append(m.window_passed[w])
        saturation.append(m.window_metrics["actuator_saturation_rate"][w])
    if speed:
        print()
        print("\n".join(band_table(np.concatenate(speed), np.concatenate(passed), np.concatenate(saturation))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
