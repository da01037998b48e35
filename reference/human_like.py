"""Synthetic stand-ins for retargeted human walking clips (clip_format.md section 1 pickles).

The project ships no retargeted human clip; the robot's own attempt got 0.0 s of Tier 0+ data from
68 s of them (robot.md). To measure how the reference pipeline copes with such input, this module
DEGRADES the project's own gait clips (assets/clips, reference.gait) until they show the documented
pathologies. These are synthetic approximations of the described statistics, NOT human motion:
the underlying stepping pattern is still the project's LIPM gait, only slowed, stiffened, clamped,
skewed and rotated. A result on them is evidence about the pathologies listed below, not a promise
about real retargeted data.

Pathologies reproduced (robot.md "What is known from the robot's own history", clip_format.md):
  * about 33.3 fps (resampled from 50 Hz), 3 to 7 s per clip;
  * walking toward world -x (heading about 180 deg) with some curving (a constant yaw rate);
  * mean forward speed 0.13 to 0.43 m/s (the gait is time-warped to a drawn speed; the stand holds,
    and since gait-1.2 the 3-step start/stop ramps, in the window lower the clip's mean: the default
    14-clip set measures 0.09-0.24 m/s, 0.13-0.31 m/s with the gait-1.1 library);
  * root height 0.42 to 0.48 m (the straightened legs' height, with a drawn offset);
  * stiff knees: each knee is shifted down by its own quantile and clamped at exactly 0, so it is
    at 0 in a drawn 44 to 75 % of frames;
  * hip pitch at its extension limit (robot.md: left -5 deg, right +5 deg) in about 39 % of frames:
    the hip is biased into the limit and clamped there exactly;
  * left/right asymmetry: one leg's swing amplitude scaled, a hip-roll offset on one side;
  * double-stance dominated: with straight knees the swing foot barely leaves the floor;
  * every joint clamped to its range, so values sit exactly at joint limits.
The quaternion is written in x, y, z, w order, as the retargeting tool does.

The defaults degrade the 12 gaits the library had when this module was written (`LEGACY_SOURCES`,
0.20-0.60 m/s) with the ranges above. More variety is opt-in: `VARIED_PARAMS` (speeds up to 0.8 m/s,
knees from stiff to fully bent, stronger swing and timing asymmetry) and `source_names=None` (every
gait of the library, 0.20-0.80 m/s), or the CLI flags below.

    python -m reference.human_like --output-dir /tmp/human_like [--num-clips 14] [--total-seconds 68]
        [--varied] [--all-sources] [--speed LO HI] [--knee-zero LO HI] [--asymmetry LO HI]
        [--timing-shift LO HI]
"""
from __future__ import annotations

import argparse
import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reference.augment import time_warp
from reference.clips import Clip, load_clips, quat_mul, read_pickle_dict, resample, yaw_quat
from wildrobot_gym.atomic_io import atomic_write
from wildrobot_gym.paths import CLIP_LIBRARY
from wildrobot_gym.robot import JOINT_NAMES

HUMAN_FPS = 100.0 / 3.0  # the retargeting tool's rate, about 33.3 fps
# Joint ranges of robot.md (rad), actuator order; duplicated here so the synthesiser needs no model.
JOINT_RANGE = np.radians(np.array([[-5, 90], [-90, 10], [0, 80], [-45, 45],
                                   [-90, 5], [-10, 90], [0, 80], [-45, 45]], dtype=np.float64))
KNEES = (2, 6)
HIP_PITCH = (0, 4)
HIP_ROLL = (1, 5)
# The library's gaits when the defaults were calibrated; synthesize() degrades only these by default,
# so adding gaits to the library does not change what the defaults draw.
LEGACY_SOURCES = ("walk_v020_l060", "walk_v020_l080", "walk_v025_l060", "walk_v025_l100", "walk_v030_l080",
                  "walk_v030_l100", "walk_v035_l120", "walk_v040_l100", "walk_v040_l140", "walk_v050_l120",
                  "walk_v050_l140", "walk_v060_l140")


@dataclass(frozen=True)
class HumanLikeParams:
    """Ranges the synthesiser draws from (each clip gets its own draw); defaults follow robot.md."""

    duration_s: tuple[float, float] = (3.0, 7.0)
    speed: tuple[float, float] = (0.13, 0.43)  # m/s, mean forward speed target
    root_height: tuple[float, float] = (0.42, 0.48)  # m, mean root height
    knee_zero_fraction: tuple[float, float] = (0.50, 0.80)  # drawn; resampling to 33.3 fps loses ~5 % at run edges -> 44-75 %
    hip_limit_fraction: tuple[float, float] = (0.33, 0.45)  # fraction at the hip extension limit (~39 %)
    yaw_rate_deg_s: tuple[float, float] = (-6.0, 6.0)  # curving
    asymmetry: tuple[float, float] = (0.75, 1.25)  # one leg's hip-pitch amplitude scale
    hip_roll_offset_deg: tuple[float, float] = (-4.0, 4.0)  # one side's hip-roll offset
    noise_deg: float = 0.3  # retargeting jitter on every joint, deg (std)
    # one leg's joints delayed by this much (s): a limp-like timing asymmetry; (0, 0) = off, no draw
    timing_shift_s: tuple[float, float] = (0.0, 0.0)


# Opt-in variety: faster clips (the library now reaches 0.8 m/s; pair with source_names=None), knees
# from fully stiff to not stiffened at all, hips from never to often at the stop, stronger swing and
# timing asymmetry.
VARIED_PARAMS = HumanLikeParams(
    speed=(0.13, 0.80),
    knee_zero_fraction=(0.0, 0.80),
    hip_limit_fraction=(0.0, 0.45),
    asymmetry=(0.6, 1.4),
    hip_roll_offset_deg=(-6.0, 6.0),
    timing_shift_s=(0.0, 0.06),
)


def _draw(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def stiffen_knees(joints: np.ndarray, zero_fraction: float) -> np.ndarray:
    """Shift each knee down by its `zero_fraction` quantile and clamp at 0 (the knee limit), exactly."""
    out = joints.copy()
    for k in KNEES:
        out[:, k] = np.maximum(out[:, k] - np.quantile(out[:, k], zero_fraction), 0.0)
    return out


def clamp_hip_pitch(joints: np.ndarray, limit_fraction: float) -> np.ndarray:
    """Bias each hip pitch toward its extension limit so that `limit_fraction` of frames sit exactly on it.

    The extension limit is the left joint's lower bound and the right joint's upper bound (the two
    hips have opposite signs); the bias moves the `limit_fraction` quantile of extension onto it.
    """
    out = joints.copy()
    for j, sign in zip(HIP_PITCH, (1.0, -1.0)):  # flexion is + on the left, - on the right
        flex = sign * out[:, j]
        limit = JOINT_RANGE[j, 0] if sign > 0 else -JOINT_RANGE[j, 1]  # extension limit as flexion
        flex = flex - (np.quantile(flex, limit_fraction) - limit)
        out[:, j] = sign * np.maximum(flex, limit)
    return out


def curve_and_turn(pos: np.ndarray, quat: np.ndarray, fps: float, yaw_rate: float,
                   heading: float) -> tuple[np.ndarray, np.ndarray]:
    """Bend the path with a constant yaw rate (rad/s), then rotate it to `heading` (rad) about the start."""
    n = len(pos)
    yaw = heading + yaw_rate * np.arange(n) / fps
    step = np.diff(pos[:, :2], axis=0)
    c, s = np.cos(yaw[:-1]), np.sin(yaw[:-1])
    rotated = np.column_stack([c * step[:, 0] - s * step[:, 1], s * step[:, 0] + c * step[:, 1]])
    out = pos.copy()
    out[1:, :2] = pos[0, :2] + np.cumsum(rotated, axis=0)
    return out, quat_mul(yaw_quat(yaw), quat)


def degrade_clip(clip: Clip, rng: np.random.Generator, p: HumanLikeParams = HumanLikeParams(),
                 name: str | None = None) -> dict:
    """One human-like pickle dict (clip_format.md keys) from a project gait clip at 50 Hz walking +x."""
    planned = float(clip.metadata.get("speed", 0.3))
    target_speed = _draw(rng, p.speed)
    # The clip's stand holds lower its mean speed; aim the walking part a little above the target.
    slow = time_warp(clip, min(1.0, 1.4 * target_speed / planned))
    duration = _draw(rng, p.duration_s)
    n = min(slow.num_frames, int(round(duration * slow.fps)) + 1)
    hold = float(clip.metadata.get("walk_start_s", 0.0)) * slow.num_frames / max(clip.num_frames, 1)
    start = int(rng.integers(0, max(1, min(int(hold * slow.fps), slow.num_frames - n) + 1)))
    joints = slow.joint_pos[start:start + n].copy()
    pos = slow.root_pos[start:start + n].copy()
    pos[:, :2] -= pos[0, :2]
    quat = slow.root_quat[start:start + n].copy()

    joints += rng.normal(0.0, math.radians(p.noise_deg), joints.shape)  # before the clamps: they stay exact
    joints = stiffen_knees(joints, _draw(rng, p.knee_zero_fraction))
    side = int(rng.integers(0, 2))  # which leg is the odd one
    if p.timing_shift_s[1] > 0.0:  # drawn only when enabled: the defaults' random stream is unchanged
        lag = int(round(_draw(rng, p.timing_shift_s) * slow.fps))
        if lag > 0:
            leg = slice(4 * side, 4 * side + 4)
            joints[lag:, leg] = joints[:-lag, leg].copy()
            joints[:lag, leg] = joints[lag, leg]
    hp = HIP_PITCH[side]
    joints[:, hp] = joints[:, hp].mean() + _draw(rng, p.asymmetry) * (joints[:, hp] - joints[:, hp].mean())
    joints[:, HIP_ROLL[side]] += math.radians(_draw(rng, p.hip_roll_offset_deg))
    joints = clamp_hip_pitch(joints, _draw(rng, p.hip_limit_fraction))
    joints = np.clip(joints, JOINT_RANGE[:, 0], JOINT_RANGE[:, 1])  # a retargeter writes the limit itself

    pos[:, 2] += _draw(rng, p.root_height) - pos[:, 2].mean()
    pos, quat = curve_and_turn(pos, quat, slow.fps, math.radians(_draw(rng, p.yaw_rate_deg_s)), math.pi)
    at_50 = Clip(name or clip.name, slow.fps, pos, quat, joints)
    human = resample(at_50, HUMAN_FPS)
    jp = human.joint_pos  # linear interpolation keeps clamped runs exactly at their limit values
    xyzw = human.root_quat[:, [1, 2, 3, 0]]
    return {
        "fps": float(HUMAN_FPS),
        "root_pos": human.root_pos.astype(np.float64),
        "root_rot": xyzw.astype(np.float64),
        "dof_pos": jp.astype(np.float64),
        "num_frames": int(human.num_frames),
        "duration_sec": float(human.num_frames / HUMAN_FPS),
        "local_body_pos": None,
        "link_body_list": None,
        "source_file": f"synthetic:reference.human_like:{clip.name}",
        "robot": "wildrobot",
    }


def clip_stats(d: dict) -> dict:
    """The documented statistics of one pickle dict: fps, duration, speed, height, heading, clamps."""
    pos, dof, fps = np.asarray(d["root_pos"]), np.asarray(d["dof_pos"]), float(d["fps"])
    dur = (len(pos) - 1) / fps
    x, y, z, w = np.asarray(d["root_rot"]).T
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    left_ext = np.isclose(dof[:, 0], JOINT_RANGE[0, 0])
    right_ext = np.isclose(dof[:, 4], JOINT_RANGE[4, 1])
    return {
        "fps": fps,
        "duration_s": dur,
        "mean_speed": float(np.linalg.norm(pos[-1, :2] - pos[0, :2]) / dur),
        "dx": float(pos[-1, 0] - pos[0, 0]),
        "root_height": float(pos[:, 2].mean()),
        "heading_deg": float(np.degrees(np.arctan2(np.sin(yaw).mean(), np.cos(yaw).mean()))),
        "knee_zero_fraction": float(np.mean(dof[:, list(KNEES)] == 0.0)),
        "hip_limit_fraction": float(np.mean(np.concatenate([left_ext, right_ext]))),
    }


def load_pickle_dict(path: str | Path) -> dict:
    """The raw dict of a clip pickle (for `clip_stats`; use reference.clips to load clips). Read with the
    clip loader's restricted unpickler, so a file naming any other global is refused, not run."""
    return read_pickle_dict(path)


def synthesize(output_dir: str | Path, num_clips: int = 14, total_seconds: float = 68.0, seed: int = 0,
               source_dir: str | Path = CLIP_LIBRARY, params: HumanLikeParams = HumanLikeParams(),
               source_names: tuple[str, ...] | None = LEGACY_SOURCES, spread: bool = False) -> list[Path]:
    """Write `num_clips` human-like pickles (about `total_seconds` in all) into `output_dir`.

    The sources are the project gait clips of `source_dir` named in `source_names` (default: the
    12 legacy gaits; None: every gait clip there), in name order; clip i degrades source i mod n, or
    with `spread` source floor(i n / num_clips), so that a few clips span the whole speed range.
    """
    sources, rejected = load_clips(source_dir)
    sources = [c for c in sources if c.metadata.get("source") == "reference.gait"]
    if source_names is not None:
        wanted = set(source_names)
        sources = [c for c in sources if c.name in wanted]
    if not sources:
        raise ValueError(f"{source_dir}: no project gait clip to degrade ({rejected})")
    rng = np.random.default_rng(seed)
    durations = rng.uniform(*params.duration_s, size=num_clips)
    durations = np.clip(durations * total_seconds / durations.sum(), *params.duration_s)
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(num_clips):
        src = sources[(i * len(sources)) // num_clips if spread else i % len(sources)]
        clip_50 = src if abs(src.fps - 50.0) < 1e-9 else resample(src, 50.0)
        p = HumanLikeParams(**{**params.__dict__, "duration_s": (float(durations[i]), float(durations[i]))})
        d = degrade_clip(clip_50, rng, p, name=f"human_like_{i:02d}")
        path = out_dir / f"human_like_{i:02d}.pkl"
        atomic_write(path, lambda f, d=d: pickle.dump(d, f, protocol=pickle.HIGHEST_PROTOCOL))
        paths.append(path)
    return paths


#: The named sets of ranges: "default" (the documented pathologies, the 12 legacy gaits) and "varied" (VARIED_PARAMS
#: on every library gait, spread over the speed range). The tracker's ``reference.human_like_variety`` picks one.
VARIETIES = ("default", "varied")


def synthesis_options(variety: str = "default") -> dict:
    """`synthesize`'s params / source_names / spread for a named variety (`VARIETIES`), as the CLI's --varied sets them."""
    if variety == "default":
        return {"params": HumanLikeParams(), "source_names": LEGACY_SOURCES, "spread": False}
    if variety == "varied":
        return {"params": VARIED_PARAMS, "source_names": None, "spread": True}
    raise ValueError(f"human-like variety: expected one of {list(VARIETIES)}, got {variety!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output-dir", type=Path, required=True)
    ap.add_argument("--num-clips", type=int, default=14)
    ap.add_argument("--total-seconds", type=float, default=68.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--varied", action="store_true",
                    help="VARIED_PARAMS (speeds to 0.8 m/s, bent to stiff knees, more asymmetry), every library "
                         "gait, sources spread over the speed range")
    ap.add_argument("--all-sources", action="store_true", help="degrade every library gait, not only the 12 legacy ones")
    ranges = {"speed": "speed", "knee_zero": "knee_zero_fraction", "asymmetry": "asymmetry",
              "timing_shift": "timing_shift_s"}
    for flag in ranges:
        ap.add_argument(f"--{flag.replace('_', '-')}", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                        help=f"range of HumanLikeParams.{ranges[flag]}")
    args = ap.parse_args(argv)
    opts = synthesis_options("varied" if args.varied else "default")
    overrides = {field: tuple(getattr(args, flag)) for flag, field in ranges.items() if getattr(args, flag) is not None}
    opts["params"] = HumanLikeParams(**{**opts["params"].__dict__, **overrides})
    if args.all_sources:
        opts["source_names"] = None
    paths = synthesize(args.output_dir, args.num_clips, args.total_seconds, args.seed, **opts)
    total = 0.0
    for path in paths:
        s = clip_stats(load_pickle_dict(path))
        total += s["duration_s"]
        print(f"{path.name}: {s['duration_s']:.1f} s, {s['mean_speed']:.2f} m/s, z {s['root_height']:.3f} m, "
              f"heading {s['heading_deg']:.0f} deg, knee at 0 {100 * s['knee_zero_fraction']:.0f} %, "
              f"hip at limit {100 * s['hip_limit_fraction']:.0f} %")
    print(f"wrote {len(paths)} clips, {total:.1f} s, to {args.output_dir} (joints: {', '.join(JOINT_NAMES)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
