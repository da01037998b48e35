"""Regenerate the project's gait clip library: `python -m reference.make_clips [--output-dir D] [--config C]`.

Reads the gait list from YAML (configs/gaits.yaml: `defaults` merged into each entry of `gaits`;
`torso_pitch_deg`, `heel_off_deg` and `heel_strike_deg` may stand for those angles in rad), generates
each gait with `reference.gait`, checks its kinematic validity (`reference.gait.check_plan`: a gait that
needs a joint beyond its range, an unreachable foot target or a ZMP outside the support is refused,
nothing is written), writes
`<name>.npz` atomically with `save_clip`, then plays every clip open-loop on the model (PD servos, no
harness) and prints a validity table and a tracking table. `--report PATH` also writes both tables
as markdown (docs/results/gait_library.md).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

import numpy as np
import yaml

from reference.clips import save_clip
from wildrobot_gym.atomic_io import atomic_write_text
from wildrobot_gym.paths import CLIP_LIBRARY, CONFIG_DIR
from reference.gait import (GENERATOR_VERSION, GaitModel, GaitParams, PlanCheck, TrackResult, check_plan, generate_gait,
                            plan_to_clip, track_clip)

DEFAULT_CONFIG = CONFIG_DIR / "gaits.yaml"
DEFAULT_OUTPUT = CLIP_LIBRARY
JOINT_GROUPS = ("hip_pitch", "hip_roll", "knee", "ankle")  # per-joint margins: min over the two legs
DEGREE_FIELDS = ("torso_pitch", "heel_off", "heel_strike")  # angles the YAML may give in degrees (`<name>_deg`)


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
        for key in DEGREE_FIELDS:  # `<key>_deg` may stand for `<key>` (rad); the entry's value, in either unit, wins
            deg = f"{key}_deg"
            for src in (defaults, entry):
                if deg in src and key in src:
                    raise ValueError(f"{path}: gait #{i}: give {key} or {deg}, not both")
            src = entry if (key in entry or deg in entry) else defaults
            merged.pop(deg, None)
            if deg in src:
                merged[key] = math.radians(float(src[deg]))
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


def joint_group_margins(check: PlanCheck) -> np.ndarray:
    """(4,) smallest joint-range margin (rad) of hip pitch, hip roll, knee, ankle over both legs."""
    return check.joint_margin.reshape(2, 4).min(axis=0)


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


def validity_rows(rows: list[tuple[GaitParams, PlanCheck]]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the library table (plan figures and `check_plan` results)."""
    head = ["name", "v m/s", "L m", "T s", "steps/s", "strides/s/foot", "DS plan", "DS kin", "lean deg",
            "COM h m", "clear m", "level COM", "load p10 m g", "load < 0.6", "margin deg hp/hr/kn/an",
            "min margin deg", "ZMP margin mm",
            "COM over support", "sole roll deg", "foot gap mm", "peak qd rad/s", "v steady m/s"]
    cells = []
    for p, c in rows:
        g = np.degrees(joint_group_margins(c))
        cells.append([
            p.name, f"{p.speed:.2f}", f"{p.step_length:.3f}", f"{p.step_time:.3f}", f"{1 / p.step_time:.2f}",
            f"{0.5 / p.step_time:.2f}", f"{p.double_support:.2f}", f"{c.double_support:.2f}",
            f"{math.degrees(p.torso_pitch):.1f}", f"{p.com_height:.3f}", f"{p.clearance:.3f}",
            f"{p.level_com:.1f}", f"{c.implied_load_p10:.2f}", f"{c.implied_unloaded:.2f}",
            "/".join(f"{x:.1f}" for x in g), f"{g.min():.1f}", f"{1e3 * c.zmp_margin:.1f}",
            f"{c.com_over_support:.2f}", f"{math.degrees(c.max_sole_roll):.1f}", f"{1e3 * c.foot_gap:.0f}",
            f"{c.max_joint_speed.max():.1f}",
            f"{c.steady_speed:.3f}",
        ])
    return head, cells


def format_validity(rows: list[tuple[GaitParams, PlanCheck]]) -> str:
    head, cells = validity_rows(rows)
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    lines = [" ".join(h.rjust(w) for h, w in zip(head, widths))]
    lines += [" ".join(x.rjust(w) for x, w in zip(c, widths)) for c in cells]
    return "\n".join(lines)


def markdown_report(valid: list[tuple[GaitParams, PlanCheck]], tracking: str, command: str) -> str:
    head, cells = validity_rows(valid)
    margins = np.array([np.degrees(joint_group_margins(c)) for _, c in valid])  # (clips, 4)
    worst = np.unravel_index(np.argmin(margins), margins.shape)
    speeds = np.array([p.speed for p, _ in valid])
    md = [
        "# Gait clip library",
        "",
        f"Generated by `{command}` from `wildrobot_gym/configs/gaits.yaml` (`reference/gait/` "
        f"{GENERATOR_VERSION}, LIPM/ZMP preview gaits) into `wildrobot_gym/assets/clips/` (50 Hz). The design "
        "choices (posture per gait, shorter quicker steps plus a forward lean for the fast gaits) are "
        "explained in the header of `gaits.yaml`.",
        "",
        f"{len(valid)} clips, {speeds.min():.2f}-{speeds.max():.2f} m/s. Smallest joint margin over the library: "
        f"{margins[worst]:.1f} deg ({JOINT_GROUPS[worst[1]]}, {valid[worst[0]][0].name}); per joint: "
        + ", ".join(f"{g} {m:.1f} deg" for g, m in zip(JOINT_GROUPS, margins.min(axis=0)))
        + f". Largest IK miss {1e3 * max(c.ik_error for _, c in valid):.3f} mm, stance-foot slip "
        f"{1e3 * max(c.foot_slip for _, c in valid):.3f} mm, stance-sole pitch "
        f"{math.degrees(max(c.max_sole_pitch for _, c in valid)):.3f} deg.",
        "",
        "Columns: T = step time (one foot's step, L / v); steps/s = cadence (both feet); strides/s/foot = "
        "1 / (2 T); DS plan = double-support fraction of the step as planned, DS kin = the fraction of the "
        "steady window's frames in which forward kinematics puts both soles on the floor and still "
        "(quantised to 1 / (50 T)); lean = torso pitch forward; level COM = `level_com`, the share of the "
        "whole-body COM's bob the waist height cancels; load p10 / load < 0.6 = the vertical foot load the "
        "clip's COM motion asks for (1 + a_z / g), its 10th percentile and the fraction of steady frames "
        "below the Tier 0+ unloaded threshold (the gate allows 0.10); margin = smallest distance of the "
        "unclipped IK joint angle to its range, per joint (hip pitch / hip roll / knee / ankle, worse of "
        "the two legs); ZMP margin = smallest distance of the planned (LIPM) ZMP inside the support "
        "polygon; COM over support = fraction of frames in which the model's COM projects inside the "
        "support polygon (about half: laterally the waist rocks against the LIPM sway, `lateral_sway` < 0, "
        "so in single support the kinematic COM lies between the feet; without ankle roll a flat foot "
        "keeps the hip over the ankle, so lateral balance is dynamic, see `reference/gait/model.py`); sole roll "
        "= largest roll of a sole on the floor (that rocking; soles are level in pitch, stance feet do "
        "not slide); foot gap = smallest lateral gap between the two soles; peak qd = largest joint speed "
        "of the clip; v steady = mean forward waist speed over the full-stride window (ramps excluded).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    md += ["| " + " | ".join(c) + " |" for c in cells]
    md += ["", "Open-loop PD playback (no harness; `*` = fell). A learned tracker is meant to follow these "
           "clips; open-loop tracking is expected to be poor.", "", "```", tracking, "```", ""]
    return "\n".join(md)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--no-track", action="store_true", help="skip the open-loop PD trackability check")
    ap.add_argument("--report", type=Path, default=None, help="also write the tables as markdown here")
    args = ap.parse_args(argv)

    gm = GaitModel()
    gaits = load_gait_config(args.config)
    planned, valid, bad = [], [], []
    for params in gaits:  # check everything before writing anything
        plan = generate_gait(params, gm)
        check = check_plan(plan, gm)
        if not check.ok():
            g = np.degrees(joint_group_margins(check))
            bad.append(f"{params.name}: joint margins {dict(zip(JOINT_GROUPS, g.round(1)))} deg, "
                       f"IK miss {1e3 * check.ik_error:.1f} mm, ZMP margin {1e3 * check.zmp_margin:.1f} mm")
        planned.append((params, plan, check))
        valid.append((params, check))
    if bad:
        raise SystemExit("refusing gaits that are not kinematically valid:\n  " + "\n  ".join(bad))
    rows = []
    for params, plan, check in planned:
        clip = plan_to_clip(plan)
        if not (np.all(np.isfinite(clip.joint_pos)) and np.all(np.isfinite(clip.root_pos))):
            raise RuntimeError(f"{params.name}: non-finite values in the generated clip")
        clip.metadata.update({
            "min_joint_margin_rad": float(check.min_joint_margin),
            "joint_margin_rad": [float(x) for x in check.joint_margin],
            "double_support_kinematic": check.double_support,
            "zmp_margin_m": check.zmp_margin,
            "max_sole_roll_rad": check.max_sole_roll,
            "foot_gap_m": check.foot_gap,
        })
        result = None if args.no_track else track_clip(clip, gm)
        if result is not None:
            clip.metadata["open_loop_survived_s"] = result.survived_s
            clip.metadata["open_loop_speed"] = result.achieved_speed
        save_clip(clip, args.output_dir / f"{params.name}.npz")
        rows.append((params, clip.num_frames, result))
    print(format_validity(valid))
    print()
    tracking = format_table(rows)
    print(tracking)
    print(f"wrote {len(rows)} clips to {args.output_dir}")
    if args.report is not None:
        cmd = "python -m reference.make_clips" + (f" --report {args.report}" if args.report else "")
        args.report.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.report, markdown_report(valid, tracking, cmd))
        print(f"wrote {args.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
