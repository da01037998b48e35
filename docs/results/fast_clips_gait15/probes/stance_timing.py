"""How a tracked record's feet share the load while it walks fast, against what its clip planned.

    python docs/results/fast_clips_gait15/probes/stance_timing.py RECORD.npz [...] [--min-speed 0.65] [--clips DIR]

Over the frames whose 1-s mean forward velocity reaches --min-speed (no blends, restarts or falls), with a foot
loaded above 0.10 m g (the gait metrics' and the miner's threshold): each foot's duty factor (share of frames
loaded; a walk has > 0.5 and double support = 2 duty - 1 on average), double support and flight, the mean peak
height of a swing (the sole site, m), and the mean load of the first loaded frame of a stance (m g). The clip's plan:
its double support and swing clearance (the metadata of the clip of that name in --clips, default the library),
duty = 0.5 + double support / 2.
"""
from __future__ import annotations

import argparse
import json

from pathlib import Path

import numpy as np

from wildrobot_gym.paths import CLIP_LIBRARY
from wildrobot_gym.robot import RobotSpec, load_model

LOADED = 0.10  # m g


def stance_timing(path: str, min_speed: float, weight: float, clips: Path = CLIP_LIBRARY) -> dict:
    r = np.load(path, allow_pickle=False)
    fps = float(r["fps"])
    load = r["foot_force"] / weight
    loaded = load > LOADED
    v = np.convolve(r["forward_velocity"], np.ones(int(fps)) / int(fps), mode="same")
    ok = (v >= min_speed) & ~r["in_blend"] & ~r["fallen"]
    for s in np.flatnonzero(r["restart"]):
        ok[s:s + int(fps)] = False
    out = {"record": path, "frames": int(ok.sum())}
    if not ok.any():
        return out
    out["duty"] = [float(loaded[ok, k].mean()) for k in range(2)]
    out["double_support"] = float(loaded[ok].all(axis=1).mean())
    out["flight"] = float((~loaded[ok]).all(axis=1).mean())
    peaks, strikes = [], []
    for k in range(2):
        edges = np.flatnonzero(np.diff(loaded[:, k].astype(int)))
        for a, b in zip(edges[:-1], edges[1:]):
            if ok[a + 1:b + 2].all():
                if not loaded[a + 1, k]:  # a swing: a + 1 .. b unloaded, b + 1 the touchdown
                    peaks.append(float(r["foot_height"][a + 1:b + 1, k].max()))
                    strikes.append(float(load[b + 1, k]))
    out["swing_peak_m"] = float(np.mean(peaks)) if peaks else None
    out["touchdown_load"] = float(np.mean(strikes)) if strikes else None
    meta = json.loads(str(np.load(clips / f"{r['clip']}.npz")["metadata_json"]))
    out["plan"] = {"double_support": meta["double_support"], "duty": 0.5 + meta["double_support"] / 2,
                   "clearance_m": meta["clearance"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records", nargs="+")
    ap.add_argument("--min-speed", type=float, default=0.65)
    ap.add_argument("--clips", type=Path, default=CLIP_LIBRARY, help="folder of the records' clips (their plan)")
    args = ap.parse_args()
    weight = RobotSpec.from_model(load_model()).weight
    for p in args.records:
        o = stance_timing(p, args.min_speed, weight, args.clips)
        if "duty" not in o or o["swing_peak_m"] is None:
            print(f"{p}: no whole stride at >= {args.min_speed} m/s")
            continue
        pl = o["plan"]
        print(f"{p}: {o['frames']} frames | duty {o['duty'][0]:.2f} / {o['duty'][1]:.2f} (plan {pl['duty']:.3f}), "
              f"double support {o['double_support']:.1%} (plan {pl['double_support']:.0%}), flight {o['flight']:.1%}, "
              f"swing peak {1000 * o['swing_peak_m']:.0f} mm (plan {1000 * pl['clearance_m']:.0f}), "
              f"touchdown load {o['touchdown_load']:.2f} m g")


if __name__ == "__main__":
    main()
