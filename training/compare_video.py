"""Two or more policies side by side in one GIF or MP4: the same camera, seed and command for each.

    python training/compare_video.py policies/phase2.zip policies/phase3.zip --labels "Phase 2" "Phase 3" \
        --out docs/results/phase3/side_by_side.gif [--command 0.65] [--seconds 4] [--seed 0]

Each policy runs one deterministic episode on the nominal robot (`evaluate.collect_frames`) with its
command range pinned to ``--command``, so every panel is asked for the same speed. The "track" camera
follows the robot's centre of mass; each frame is cropped to the robot (``--crop-width`` of the width about
the centre, the top ``--crop-height`` of the height: the feet and the floor under them) so that the robot
fills its panel. A policy whose episode ends early holds its last frame. A label is drawn on each panel.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

os.environ.setdefault("MUJOCO_GL", "egl")  # the GL backend is chosen when mujoco is imported
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from training.common import open_checkpoint  # noqa: E402
from training.evaluate import Clip, collect_frames, write_clip  # noqa: E402


def crop_to_robot(frame: np.ndarray, width_fraction: float, height_fraction: float) -> np.ndarray:
    """The central `width_fraction` of the columns and the top `height_fraction` of the rows."""
    h, w = frame.shape[:2]
    cw, ch = max(2, round(w * width_fraction)), max(2, round(h * height_fraction))
    cw -= cw % 2  # even sizes: H.264 in yuv420p halves the chroma planes
    ch -= ch % 2
    left = (w - cw) // 2
    return frame[:ch, left:left + cw]


def label_frame(frame: np.ndarray, text: str) -> np.ndarray:
    """`frame` with `text` in white on a dark band at its top left."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(frame)
    draw = ImageDraw.Draw(im)
    box = draw.textbbox((4, 3), text)
    draw.rectangle((box[0] - 3, box[1] - 2, box[2] + 3, box[3] + 2), fill=(20, 20, 20))
    draw.text((4, 3), text, fill=(255, 255, 255))
    return np.asarray(im)


def side_by_side(clips: Sequence[Clip], labels: Sequence[str], width_fraction: float = 0.5,
                 height_fraction: float = 0.75) -> Clip:
    """One clip whose frames are the `clips`' cropped, labelled frames next to each other, left to right.
    Its length is the longest clip's; a shorter clip holds its last frame. The clips must share the fps."""
    if not clips:
        raise ValueError("clips: expected at least one clip, got none")
    if len(labels) != len(clips):
        raise ValueError(f"labels: expected one per clip ({len(clips)}), got {len(labels)}")
    fps = {c.fps for c in clips}
    if len(fps) != 1:
        raise ValueError(f"clips: expected one frame rate, got {sorted(fps)}")
    n = max(len(c.frames) for c in clips)
    longest = max(clips, key=lambda c: len(c.frames))
    frames = []
    for i in range(n):
        panels = [label_frame(crop_to_robot(c.frames[min(i, len(c.frames) - 1)], width_fraction, height_fraction), name)
                  for c, name in zip(clips, labels)]
        frames.append(np.concatenate(panels, axis=1))
    return Clip(frames, list(longest.sim_times), fps.pop())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", type=Path, help="policy bundles or checkpoint directories")
    p.add_argument("--labels", nargs="+", default=None, help="one per checkpoint (default: the file names)")
    p.add_argument("--out", type=Path, required=True, help=".gif (short clips) or .mp4")
    p.add_argument("--command", type=float, default=0.65, help="forward velocity command, m/s (default 0.65)")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", default="480x360", help="WIDTHxHEIGHT rendered per policy, before the crop")
    p.add_argument("--crop-width", type=float, default=0.5, help="share of the width kept, about the centre")
    p.add_argument("--crop-height", type=float, default=0.75, help="share of the height kept, from the top")
    args = p.parse_args(argv)
    if args.labels is None:
        args.labels = [c.stem if c.suffix else c.name for c in args.checkpoints]
    if len(args.labels) != len(args.checkpoints):
        p.error(f"--labels: expected one per checkpoint ({len(args.checkpoints)}), got {len(args.labels)}")
    if args.out.suffix.lower() not in (".gif", ".mp4"):
        p.error(f"--out: expected a .gif or .mp4 file, got {str(args.out)!r}")
    if args.seconds <= 0:
        p.error(f"--seconds: expected a positive number, got {args.seconds}")
    for name in ("crop_width", "crop_height"):
        if not 0.0 < getattr(args, name) <= 1.0:
            p.error(f"--{name.replace('_', '-')}: expected a fraction in (0, 1], got {getattr(args, name)}")
    try:
        args.size = tuple(int(v) for v in args.size.lower().split("x"))
        if len(args.size) != 2 or min(args.size) < 16:
            raise ValueError
    except ValueError:
        p.error(f"--size: expected WIDTHxHEIGHT with both >= 16, e.g. 480x360; got {args.size!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    clips = []
    pinned = {"command_range": [args.command, args.command]}
    for path in args.checkpoints:
        ckpt = open_checkpoint("checkpoint", path)  # a directory or a bundle; a bad one exits naming it
        try:
            clips.append(collect_frames(None, ckpt, args.seed, args.seconds, args.size, env_overrides=pinned))
        except ValueError as exc:  # a file of the checkpoint that does not load (named in the message)
            raise SystemExit(f"checkpoint {path}: {exc}") from None
    clip = side_by_side(clips, args.labels, args.crop_width, args.crop_height)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.stem}.tmp{args.out.suffix}")
    write_clip(clip, tmp)
    tmp.replace(args.out)  # nothing half-written under the real name
    h, w = clip.frames[0].shape[:2]
    print(f"{args.out}: {len(clip.frames)} frames of {w}x{h}, {args.out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
