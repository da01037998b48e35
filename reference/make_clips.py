"""Regenerate the project's gait clip library: `python -m reference.make_clips [--output-dir D] [--config C]`.

Reads the gait list from YAML (configs/gaits.yaml: `defaults` merged into each entry of `gaits`),
generates each gait with `reference.gait`, writes `<name>.npz` atomically with `save_clip`, then
plays every clip open-loop on the model (PD servos, no harness) and prints a summary table.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import yaml

from reference.clips import save_clip
from wildrobot_gym.paths import CLIP_LIBRARY, CONFIG_DIR
from reference.gait import GaitModel, GaitParams, TrackResult, generate_gait, plan_to_clip, track_clip

DEFAULT_CONFIG = CONFIG_DIR / "gaits.yaml"
DEFAULT_OUTPUT = CLIP_LIBRARY


def load_gait_config(path: str | Path) -> list[GaitParams]:
    """Parse the YAML gait list; unknown keys or a missing name/speed/step_length raise ValueError."""
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read gait config: {exc}") from exc
    allowed = {f.name for f in dataclasses.fields(GaitParams)}
    defaults = cfg.get("defaults", {}) or {}
    gaits = cfg.get("gaits")
    if not isinstance(gaits, list) or not gaits:
        raise ValueError(f"{path}: `gaits` must be a non-empty list")
    out = []
    for i, entry in enumerate(gaits):
        merged = {**defaults, **entry}
        unknown = set(merged) - allowed
        if unknown:
            raise ValueError(f"{path}: gait #{i}: unknown field(s) {sorted(unknown)}")
        for need in ("name", "speed", "step_length"):
            if need not in merged:
                raise ValueError(f"{path}: gait #{i}: missing `{need}`")
        params = GaitParams(**merged)
        params.validate()
        out.append(params)
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate gait names")
    return out


def format_table(rows: list[tuple[GaitParams, int, TrackResult | None]]) -> str:
    """Fixed-width summary: plan figures and, when tracked, survival / speed / saturation."""
    head = (f"{'name':<16} {'v':>5} {'L':>5} {'T':>5} {'frames':>6} | {'survived/len s':>14} "
            f"{'v achieved':>10} {'sat %':>6} {'max roll':>8} {'max pitch':>9}")
    lines = [head, "-" * len(head)]
    for p, frames, r in rows:
        left = f"{p.name:<16} {p.speed:5.2f} {p.step_length:5.3f} {p.step_time:5.3f} {frames:6d} | "
        if r is None:
            lines.append(left + "(not tracked)")
        else:
            lines.append(left + f"{r.survived_s:6.2f}/{r.duration_s:<6.2f}{'*' if r.fell else ' '} "
                         f"{r.achieved_speed:10.3f} {100 * r.saturation:6.1f} {r.max_abs_roll_deg:8.1f} "
                         f"{r.max_abs_pitch_deg:9.1f}")
    tracked = [r for _, _, r in rows if r is not None]
    if tracked:
        full = sum(not r.fell for r in tracked)
        total = sum(r.survived_s for r in tracked)
        lines.append(f"{full}/{len(tracked)} clips tracked to the end without a fall (* = fell); "
                     f"{total:.1f} s survived of {sum(r.duration_s for r in tracked):.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--no-track", action="store_true", help="skip the open-loop PD trackability check")
    args = ap.parse_args(argv)

    gm = GaitModel()
    rows = []
    for params in load_gait_config(args.config):
        plan = generate_gait(params, gm)
        clip = plan_to_clip(plan)
        if not (np.all(np.isfinite(clip.joint_pos)) and np.all(np.isfinite(clip.root_pos))):
            raise RuntimeError(f"{params.name}: non-finite values in the generated clip")
        result = None if args.no_track else track_clip(clip, gm)
        if result is not None:
            clip.metadata["open_loop_survived_s"] = result.survived_s
            clip.metadata["open_loop_speed"] = result.achieved_speed
        save_clip(clip, args.output_dir / f"{params.name}.npz")
        rows.append((params, clip.num_frames, result))
    print(format_table(rows))
    print(f"wrote {len(rows)} clips to {args.output_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
