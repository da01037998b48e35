"""Look at mined reference data: a GIF of Tier 0+ segments, the robot drawn from each frame's recorded state.

    python -m reference.render_dataset --dataset DIR --output segments.gif [--walking-only] [--min-speed 0.3]
        [--segments 3] [--seconds 2] [--size 320x240]

Pass marks can be met by the wrong motion (a robot standing still is Tier 0+), so the data should be looked at.
This picks the fastest `--segments` segments of the dataset (`reference.miner.load_dataset`; only walking ones
with ``--walking-only``, only those whose mean forward speed is at least ``--min-speed``), sets the model to
each recorded frame (qpos, then ``mj_forward``: nothing is simulated) and renders it with the env's tracking
camera, at most ``--seconds`` of each segment one after the other. Prints which segments it drew (clip,
speed, walking label). Needs an offscreen GL backend (``MUJOCO_GL=egl`` or ``osmesa``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # training/ is not a package of the wheel


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 320x240, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"expected a size of at least 16x16, got {text!r}")
    return w, h


def pick_segments(arrays: dict, count: int, walking_only: bool, min_speed: float) -> np.ndarray:
    """Indices of the fastest `count` segments that pass the filters (fastest first)."""
    speed = arrays["segment_forward_velocity"]
    keep = speed >= min_speed
    if walking_only:
        keep &= arrays["segment_walking"].astype(bool)
    idx = np.flatnonzero(keep)
    return idx[np.argsort(-speed[idx])][:count]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reference.render_dataset", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", type=Path, required=True, help="a mined dataset folder (tier0plus.npz + .json)")
    p.add_argument("--output", type=Path, required=True, help="the GIF to write")
    p.add_argument("--segments", type=int, default=3, help="how many segments (the fastest that pass the filters)")
    p.add_argument("--seconds", type=float, default=2.0, help="at most this much of each segment, s")
    p.add_argument("--walking-only", action="store_true", help="only segments labelled walking")
    p.add_argument("--min-speed", type=float, default=0.0, help="only segments at least this fast, m/s")
    p.add_argument("--size", type=parse_size, default=(320, 240), help="WIDTHxHEIGHT (default 320x240)")
    args = p.parse_args(argv)
    if args.segments < 1:
        p.error(f"--segments: expected at least 1, got {args.segments}")
    if not args.seconds > 0:
        p.error(f"--seconds: expected a positive length, got {args.seconds}")
    if args.output.suffix.lower() != ".gif":
        p.error(f"--output: expected a .gif file, got {args.output.name!r}")

    import mujoco

    from reference.miner import load_dataset
    from training.evaluate import GIF_FRAME_STEP, write_gif
    from wildrobot_gym.env import WildRobotWalkEnv

    try:
        data = load_dataset(args.dataset, check_feature_version=False)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    a = data.arrays
    if args.walking_only and not data.has_walking_label:
        print(f"error: {args.dataset}: the dataset has no walking label (mined before it); drop --walking-only",
              file=sys.stderr)
        return 2
    chosen = pick_segments(a, args.segments, args.walking_only, args.min_speed)
    if len(chosen) == 0:
        print(f"error: {args.dataset}: no segment passes the filters (walking only: {args.walking_only}, "
              f"min speed {args.min_speed} m/s)", file=sys.stderr)
        return 1
    env = WildRobotWalkEnv(render_mode="rgb_array", width=args.size[0], height=args.size[1])
    names = a["motion_names"]
    frames = []
    try:
        m, d = env.model, env.data
        for s in chosen:
            start, length = int(a["segment_start"][s]), int(a["segment_length"][s])
            n = min(length, max(1, round(args.seconds * data.fps)))
            print(f"segment {int(a['segment_id'][s])}: {names[int(a['segment_motion'][s])]}, "
                  f"{a['segment_forward_velocity'][s]:.2f} m/s, walking {bool(a['segment_walking'][s])}, "
                  f"{n / data.fps:.1f} of {length / data.fps:.1f} s")
            for f in range(start, start + n, GIF_FRAME_STEP):
                d.qpos[:] = a["qpos"][f]
                d.qvel[:] = 0.0
                mujoco.mj_forward(m, d)
                frames.append(env.render().copy())
    finally:
        env.close()
    write_gif(frames, args.output, duration_ms=1000.0 * GIF_FRAME_STEP / data.fps)  # atomic: never half a GIF
    print(f"wrote {args.output} ({len(frames)} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
