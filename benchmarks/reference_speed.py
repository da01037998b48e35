"""Throughput of physics reference generation, in simulated seconds per wall-clock second per core.

Goal (reference generation task): >= 20 s of simulated reference per wall second on one core.
Runs the full recorder (PD tracking, balance feedback, harness, MetricsTracker, multi-start
restarts, writing the records .npz) in this single process on the fastest gait of the clip
library (else a generated gait, else a standing sway), repeated `--repeats` times; reports the
best repeat.

    python benchmarks/reference_speed.py [--seconds 20] [--repeats 3]

The last line is ``reference sim-s per wall-s per core: X``.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from reference.clips import Clip, to_heading_frame
from reference.rollout import (GenerationConfig, build_timeline, default_model, load_generation_config, rollout,
                               save_records)
from wildrobot_gym.robot import NUM_JOINTS, RobotSpec


def benchmark_clip() -> Clip:
    """The project's fastest library gait (assets/clips), else a generated 0.15 m/s gait, else a sway."""
    from reference.generate import CLIP_LIBRARY, prepare_clips

    clips, _ = prepare_clips(CLIP_LIBRARY, 50.0) if CLIP_LIBRARY.is_dir() else ([], [])
    if clips:  # the fastest gait has the most contact changes: the least favourable case
        return max(clips, key=lambda c: float(c.metadata.get("speed", 0.0)))
    try:
        from reference.gait import GaitParams, generate_gait, plan_to_clip

        return to_heading_frame(plan_to_clip(generate_gait(GaitParams(name="bench_walk", speed=0.15,
                                                                      step_length=0.05))))
    except Exception:  # the gait generator is optional here; the physics cost is what is measured
        n = 150
        t = np.arange(n) / 50.0
        joints = np.zeros((n, NUM_JOINTS))
        joints[:, 1] = joints[:, 5] = 0.05 * np.sin(2 * np.pi * t / 1.5)
        pos = np.tile([0.0, 0.0, 0.4699], (n, 1))
        quat = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
        return Clip("bench_sway", 50.0, pos, quat, joints)


def measure(seconds: float, repeats: int) -> float:
    """Best-of-`repeats` simulated seconds per wall second for `seconds` of looped reference."""
    model = default_model()
    spec = RobotSpec.from_model(model)
    base = load_generation_config()
    cfg = GenerationConfig(**{**base.__dict__, "duration_s": seconds, "cycles": None})
    timeline = build_timeline(model, benchmark_clip(), cfg, spec)
    best = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            t0 = time.perf_counter()
            rec = rollout(model, timeline, cfg, clip_name="bench", spec=spec)
            save_records(rec, Path(tmp) / "bench.npz")  # writing the records is part of the job
            wall = time.perf_counter() - t0
            best = max(best, rec["sim_seconds"] / wall)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=20.0, help="looped reference length per repeat, s")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    rate = measure(args.seconds, args.repeats)
    print(f"goal: >= 20 ({'met' if rate >= 20 else 'NOT met'})")
    print(f"reference sim-s per wall-s per core: {rate:.1f}")


if __name__ == "__main__":
    main()
