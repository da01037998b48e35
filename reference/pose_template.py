"""Build the gait clock's pose template (`wildrobot_gym.pose_template`) from walking clips or mined walking data.

From clips (the default): for each clip, the sole heights by forward kinematics, the swing peaks of its steady
walk (metadata ``steady_start_s`` .. ``steady_end_s``; the whole clip when absent), a gait phase for every frame
between two peaks (right swing peak = 0.25, left = 0.75, linear in time between them: the env clock's
convention), and the joint angles at ``bins`` phases from a Fourier fit over those frames. Clips of one planned
speed (metadata ``speed``) are averaged. The sole heights are the env's ``foot_height`` definition (the sole
sites). A clip without a clean alternation of swing peaks is reported and left out; the batch goes on.

From a mined dataset (``--dataset``): the same phases and fit over the walking segments' frames (their recorded
``foot_height`` and ``qpos``), pooled by speed band (``--band`` m/s of segment forward velocity; the band's speed
is its frames' mean). This is the walk the robot made in physics, the one the discriminator and the
joint-trajectory correlation judge against; the clips are the plan it tracked (at 0.5-0.8 m/s the tracked
knees bend 0.1-0.2 rad more than planned, docs/results/phase3_walking.md).

    python -m reference.pose_template [--clips wildrobot_gym/assets/clips] [--output wildrobot_gym/assets/pose_template.npz]
    python -m reference.pose_template --dataset data/tier0plus --output wildrobot_gym/assets/pose_template_tier0plus.npz
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mujoco
import numpy as np

from reference.clips import Clip, load_clips
from reference.miner import MinedDataset, load_dataset
from wildrobot_gym.paths import CLIP_LIBRARY
from wildrobot_gym.pose_template import DEFAULT_POSE_TEMPLATE, PoseTemplate
from wildrobot_gym.robot import FOOT_NAMES, NUM_JOINTS, SCENE_XML

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


def peak_phases(height: np.ndarray, first: int = 0, last: int | None = None) -> np.ndarray:
    """(N,) gait phase of each frame between two swing peaks of alternate feet, both in frames [first, last]
    (NaN elsewhere, and between two peaks of one foot)."""
    last = len(height) - 1 if last is None else last
    peaks = swing_peaks(height)
    phase = np.full(len(height), np.nan)
    for (f0, foot0), (f1, foot1) in zip(peaks, peaks[1:]):
        if foot0 == foot1 or f0 < first or f1 > last:
            continue
        p0 = 0.25 if foot0 == 1 else 0.75  # right swing peak: left mid-stance, phase 0.25
        k = np.arange(f0, f1)
        phase[k] = (p0 + 0.5 * (k - f0) / (f1 - f0)) % 1.0
    return phase


def clip_phases(clip: Clip, model: mujoco.MjModel) -> np.ndarray:
    """(N,) gait phase of each frame of the steady walk (NaN outside it or where feet do not alternate)."""
    t = np.arange(clip.num_frames) / clip.fps
    start = float(clip.metadata.get("steady_start_s", 0.0))
    end = float(clip.metadata.get("steady_end_s", t[-1]))
    inside = np.flatnonzero((t >= start) & (t <= end))
    if len(inside) == 0:
        return np.full(clip.num_frames, np.nan)
    return peak_phases(sole_heights(clip, model), int(inside[0]), int(inside[-1]))


def fourier_table(phase: np.ndarray, joint_pos: np.ndarray, name: str, bins: int = DEFAULT_BINS,
                  harmonics: int = DEFAULT_HARMONICS) -> np.ndarray:
    """(bins, J) joint angles at the phase-bin starts b / bins: a least-squares Fourier series of `harmonics`
    harmonics in the phase, fitted to every frame with a finite phase. (At 50 Hz a half cycle is ~11 frames, so
    plain bin means would leave bins empty.) ValueError naming `name` when too few frames have a phase."""
    ok = np.isfinite(phase)
    if ok.sum() < 4 * (2 * harmonics + 1):
        raise ValueError(f"{name}: {int(ok.sum())} frames of an alternating walk, fewer than the "
                         f"{4 * (2 * harmonics + 1)} a {harmonics}-harmonic fit needs")

    def basis(ph: np.ndarray) -> np.ndarray:
        k = np.arange(1, harmonics + 1)
        a = 2.0 * np.pi * ph[:, None] * k
        return np.concatenate([np.ones((len(ph), 1)), np.cos(a), np.sin(a)], axis=1)

    coef, *_ = np.linalg.lstsq(basis(phase[ok]), joint_pos[ok], rcond=None)
    return basis(np.arange(bins) / bins) @ coef


def clip_table(clip: Clip, model: mujoco.MjModel, bins: int = DEFAULT_BINS, harmonics: int = DEFAULT_HARMONICS) -> np.ndarray:
    """(bins, J) joint angles of the clip's steady walk at the phase-bin starts (`fourier_table`)."""
    return fourier_table(clip_phases(clip, model), clip.joint_pos, clip.name, bins, harmonics)


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


def dataset_template(dataset: MinedDataset, bins: int = DEFAULT_BINS, band: float = 0.1,
                     min_frames: int = 500) -> tuple[PoseTemplate, list[str]]:
    """(template, a description per speed) of a mined dataset's walking segments: each segment's frames get
    `peak_phases` from its recorded sole heights; the frames are pooled by the segment's forward velocity in bands
    of `band` m/s, and each band with at least `min_frames` phased frames gives one Fourier table at its frames'
    mean speed. ValueError when the dataset lacks the arrays or no band has enough frames."""
    if not band > 0:
        raise ValueError(f"band: expected a width > 0 (m/s), got {band}")
    a = dataset.arrays
    missing = [k for k in ("qpos", "foot_height", "segment_walking", "segment_forward_velocity") if k not in a]
    if missing:
        raise ValueError(f"the dataset lacks {missing} (mined before they were recorded); mine it again")
    phases, joints, speeds = [], [], []
    for i in np.flatnonzero(np.asarray(a["segment_walking"], dtype=bool)):
        s, n = int(a["segment_start"][i]), int(a["segment_length"][i])
        ph = peak_phases(np.asarray(a["foot_height"][s:s + n]))
        ok = np.isfinite(ph)
        phases.append(ph[ok])
        joints.append(np.asarray(a["qpos"][s:s + n, 7:7 + NUM_JOINTS])[ok])
        speeds.append(np.full(int(ok.sum()), float(a["segment_forward_velocity"][i])))
    if not phases:
        raise ValueError("the dataset has no walking segment")
    phase, q, v = np.concatenate(phases), np.concatenate(joints), np.concatenate(speeds)
    rows, tables, names = [], [], []
    for k in np.unique(np.floor(v / band + 1e-9).astype(np.int64)):
        m = np.floor(v / band + 1e-9).astype(np.int64) == k
        if m.sum() < min_frames:
            continue
        rows.append(float(v[m].mean()))
        tables.append(fourier_table(phase[m], q[m], f"band {k * band:.2f}-{(k + 1) * band:.2f} m/s", bins))
        names.append(f"walking {k * band:.2f}-{(k + 1) * band:.2f} m/s: {int(m.sum())} frames")
    if not rows:
        raise ValueError(f"no {band} m/s band has {min_frames} phased walking frames")
    return PoseTemplate(np.asarray(rows), np.stack(tables), source="dataset"), names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=Path, default=CLIP_LIBRARY, help="folder (or file) of walking clips")
    p.add_argument("--output", type=Path, default=DEFAULT_POSE_TEMPLATE)
    p.add_argument("--dataset", type=Path, default=None,
                   help="a mined dataset folder (python -m reference.generate): build from its walking segments instead")
    p.add_argument("--band", type=float, default=0.1, help="with --dataset: m/s of forward velocity per speed band")
    p.add_argument("--bins", type=int, default=DEFAULT_BINS, help="phase bins per gait cycle")
    args = p.parse_args(argv)
    if args.bins < 2:
        raise SystemExit(f"--bins: expected an integer >= 2, got {args.bins}")
    if args.dataset is not None:
        try:
            template, names = dataset_template(load_dataset(args.dataset), args.bins, args.band)
        except ValueError as exc:
            raise SystemExit(f"--dataset {args.dataset}: {exc}") from None
        template.save(args.output, names)
        print(f"wrote {args.output}: {len(template.speeds)} speeds {template.speeds.min():.2f}-{template.speeds.max():.2f} m/s, "
              f"{template.bins} phase bins, from the walking of {args.dataset}")
        return 0
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
