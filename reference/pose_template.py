"""Build the gait clock's pose template (`wildrobot_gym.pose_template`) from walking clips.

For each clip: the sole heights by forward kinematics, the swing peaks of its steady walk (metadata
``steady_start_s`` .. ``steady_end_s``; the whole clip when absent), a gait phase for every frame between two
peaks (right swing peak = 0.25, left = 0.75, linear in time between them: the env clock's convention), and the
joint angles at ``bins`` phases from a Fourier fit over those frames. Clips of one planned speed (metadata
``speed``) are averaged. The sole heights are the env's ``foot_height`` definition (the sole sites).
A clip without a clean alternation of swing peaks is reported and left out; the batch goes on.

    python -m reference.pose_template [--clips wildrobot_gym/assets/clips] [--output wildrobot_gym/assets/pose_template.npz]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mujoco
import numpy as np

from reference.clips import Clip, load_clips
from wildrobot_gym.paths import CLIP_LIBRARY
from wildrobot_gym.pose_template import DEFAULT_POSE_TEMPLATE, PoseTemplate
from wildrobot_gym.robot import FOOT_NAMES, SCENE_XML

DEFAULT_BINS = 50
DEFAULT_HARMONICS = 6  # a joint's path over one cycle; the clips' swings are smooth
MIN_PEAK_HEIGHT = 0.01  # m: a swing peak is a sole local maximum at least this high


def sole_heights(clip: Clip, model: mujoco.MjModel) -> np.ndarray:
    """(N, 2) height of the (left, right) sole sites above z = 0 in every frame of the clip."""
    data = mujoco.MjData(model)
    sites = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, f"{f}_sole") for f in FOOT_NAMES]
    out = np.empty((clip.num_frames, 2))
    for i in range(clip.num_frames):
        data.qpos[:3] = clip.root_pos[i]
        data.qpos[3:7] = clip.root_quat[i]
        data.qpos[7:15] = clip.joint_pos[i]
        mujoco.mj_kinematics(model, data)
        out[i] = data.site_xpos[sites, 2]
    return out


def swing_peaks(height: np.ndarray) -> list[tuple[int, int]]:
    """(frame, foot) of every swing's highest frame, in time order (foot 0 left, 1 right)."""
    peaks = []
    for foot in (0, 1):
        h = height[:, foot]
        edges = np.diff(np.concatenate([[0], (h > MIN_PEAK_HEIGHT).astype(np.int8), [0]]))
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):  # each lifted run
            peaks.append((int(start + np.argmax(h[start:end])), foot))
    return sorted(peaks)


def clip_phases(clip: Clip, model: mujoco.MjModel) -> np.ndarray:
    """(N,) gait phase of each frame of the steady walk (NaN outside it or where feet do not alternate)."""
    t = np.arange(clip.num_frames) / clip.fps
    start = float(clip.metadata.get("steady_start_s", 0.0))
    end = float(clip.metadata.get("steady_end_s", t[-1]))
    peaks = swing_peaks(sole_heights(clip, model))
    phase = np.full(clip.num_frames, np.nan)
    for (f0, foot0), (f1, foot1) in zip(peaks, peaks[1:]):
        if foot0 == foot1 or t[f0] < start or t[f1] > end:
            continue
        p0 = 0.25 if foot0 == 1 else 0.75  # right swing peak: left mid-stance, phase 0.25
        k = np.arange(f0, f1)
        phase[k] = (p0 + 0.5 * (k - f0) / (f1 - f0)) % 1.0
    return phase


def clip_table(clip: Clip, model: mujoco.MjModel, bins: int = DEFAULT_BINS, harmonics: int = DEFAULT_HARMONICS) -> np.ndarray:
    """(bins, J) joint angles of the clip at the phase-bin starts b / bins: a least-squares Fourier series of
    `harmonics` harmonics in the phase, fitted to every frame of the steady walk. (At 50 Hz a half cycle is
    ~11 frames, so plain bin means would leave bins empty.) ValueError naming the clip when too few frames alternate."""
    phase = clip_phases(clip, model)
    ok = np.isfinite(phase)
    if ok.sum() < 4 * (2 * harmonics + 1):
        raise ValueError(f"{clip.name}: {int(ok.sum())} frames of an alternating steady walk, fewer than the "
                         f"{4 * (2 * harmonics + 1)} a {harmonics}-harmonic fit needs")

    def basis(ph: np.ndarray) -> np.ndarray:
        k = np.arange(1, harmonics + 1)
        a = 2.0 * np.pi * ph[:, None] * k
        return np.concatenate([np.ones((len(ph), 1)), np.cos(a), np.sin(a)], axis=1)

    coef, *_ = np.linalg.lstsq(basis(phase[ok]), clip.joint_pos[ok], rcond=None)
    return basis(np.arange(bins) / bins) @ coef


def build_template(clips: list[Clip], bins: int = DEFAULT_BINS) -> tuple[PoseTemplate, list[str], list[tuple[str, str]]]:
    """(template, clip names per speed, rejected (name, reason)) of `clips`; a clip without a usable
    walk, or without ``speed`` in its metadata, is rejected and the rest go on."""
    model = mujoco.MjModel.from_xml_path(str(SCENE_XML))
    by_speed: dict[float, list[tuple[str, np.ndarray]]] = {}
    rejected: list[tuple[str, str]] = []
    for clip in clips:
        try:
            speed = clip.metadata.get("speed")
            if speed is None:
                raise ValueError(f"{clip.name}: metadata has no 'speed' (m/s)")
            by_speed.setdefault(round(float(speed), 3), []).append((clip.name, clip_table(clip, model, bins)))
        except ValueError as exc:
            rejected.append((clip.name, str(exc)))
    if not by_speed:
        raise ValueError(f"no clip gave a pose table (rejected: {rejected})")
    speeds = sorted(by_speed)
    table = np.stack([np.mean([t for _, t in by_speed[s]], axis=0) for s in speeds])
    names = [",".join(n for n, _ in by_speed[s]) for s in speeds]
    return PoseTemplate(np.asarray(speeds), table), names, rejected


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=Path, default=CLIP_LIBRARY, help="folder (or file) of walking clips")
    p.add_argument("--output", type=Path, default=DEFAULT_POSE_TEMPLATE)
    p.add_argument("--bins", type=int, default=DEFAULT_BINS, help="phase bins per gait cycle")
    args = p.parse_args(argv)
    if args.bins < 2:
        raise SystemExit(f"--bins: expected an integer >= 2, got {args.bins}")
    clips, rejected = load_clips(args.clips)
    for path, reason in rejected:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    try:
        template, names, bad = build_template(clips, args.bins)
    except ValueError as exc:
        raise SystemExit(f"--clips {args.clips}: {exc}") from None
    for name, reason in bad:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    template.save(args.output, names)
    print(f"wrote {args.output}: {len(template.speeds)} speeds {template.speeds.min():.2f}-{template.speeds.max():.2f} m/s, "
          f"{template.bins} phase bins, from {sum(len(n.split(',')) for n in names)} clips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
