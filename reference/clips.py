"""Motion clips: the in-memory `Clip`, and the project's own versioned `.npz` clip format.

Project clip format (version 1), one clip per `.npz` file, readable with plain numpy
(`np.load(path, allow_pickle=False)`):

=================  ==========  =====================================================
array              shape       meaning
=================  ==========  =====================================================
format_version     ()          int, 1
fps                ()          float, frames per second (the project stores 50)
root_pos           (N, 3)      waist position in the world, m
root_quat_wxyz     (N, 4)      waist orientation, unit quaternion (w, x, y, z)
joint_pos          (N, 8)      joint angles, rad, in the robot's actuator order
joint_names        (8,)        str, the actuator order the columns follow
metadata_json      ()          str, JSON object: name, source, speed, step length, ...
=================  ==========  =====================================================

Retargeted human clips (clip_format.md section 1, pickles with an x, y, z, w quaternion) are read by
`load_pickle_clip`; `load_clip` / `load_clips` dispatch on the suffix and validate. `resample` and
`to_heading_frame` bring a clip to the project's 50 Hz, heading-free convention.
"""
from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wildrobot_gym.atomic_io import atomic_write
from wildrobot_gym.robot import JOINT_NAMES, NUM_JOINTS

CLIP_FORMAT_VERSION = 1


@dataclass
class Clip:
    """A motion clip in the robot's joint order; quaternions are (w, x, y, z) like MuJoCo."""

    name: str
    fps: float
    root_pos: np.ndarray  # (N, 3)
    root_quat: np.ndarray  # (N, 4) wxyz
    joint_pos: np.ndarray  # (N, 8)
    metadata: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.joint_pos.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def save_clip(clip: Clip, path: str | Path) -> Path:
    """Write `clip` in the project's format, atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    meta = dict(clip.metadata, name=clip.name)
    atomic_write(
        path,
        lambda f: np.savez(
            f,
            format_version=np.int64(CLIP_FORMAT_VERSION),
            fps=np.float64(clip.fps),
            root_pos=np.asarray(clip.root_pos, dtype=np.float64),
            root_quat_wxyz=np.asarray(clip.root_quat, dtype=np.float64),
            joint_pos=np.asarray(clip.joint_pos, dtype=np.float64),
            joint_names=np.array(JOINT_NAMES),
            metadata_json=np.array(json.dumps(meta)),
        ),
    )
    return path


def load_npz_clip(path: str | Path) -> Clip:
    """Read a clip in the project's format; problems raise ValueError naming the file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise ValueError(f"{path}: not a readable .npz clip: {exc}") from exc
    need = ("format_version", "fps", "root_pos", "root_quat_wxyz", "joint_pos", "joint_names")
    missing = [k for k in need if k not in arrays]
    if missing:
        raise ValueError(f"{path}: missing array(s) {missing}")
    if int(arrays["format_version"]) != CLIP_FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {int(arrays['format_version'])}, expected {CLIP_FORMAT_VERSION}")
    names = tuple(str(n) for n in arrays["joint_names"])
    if names != JOINT_NAMES:
        raise ValueError(f"{path}: joint_names {names} differ from the robot's order {JOINT_NAMES}")
    meta = json.loads(str(arrays["metadata_json"])) if "metadata_json" in arrays else {}
    joint_pos = arrays["joint_pos"]
    if joint_pos.ndim != 2 or joint_pos.shape[1] != NUM_JOINTS:
        raise ValueError(f"{path}: joint_pos has shape {joint_pos.shape}, expected (N, {NUM_JOINTS})")
    return Clip(
        name=str(meta.get("name", path.stem)),
        fps=float(arrays["fps"]),
        root_pos=arrays["root_pos"],
        root_quat=arrays["root_quat_wxyz"],
        joint_pos=joint_pos,
        metadata=meta,
    )


# ---------------------------------------------------------------------------------------------
# Quaternion helpers (w, x, y, z), vectorised over leading dimensions.
# ---------------------------------------------------------------------------------------------

#: A quaternion whose norm differs from 1 by more than this is rejected rather than renormalised:
#: a retargeting tool writes unit quaternions, so a larger error means corrupt or mis-ordered data.
QUAT_NORM_TOL = 1e-3


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of (..., 4) wxyz quaternions (broadcasts)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def yaw_quat(yaw: float | np.ndarray) -> np.ndarray:
    """Quaternion (wxyz) of a rotation by `yaw` radians about the world z axis."""
    half = 0.5 * np.asarray(yaw, dtype=np.float64)
    zero = np.zeros_like(half)
    return np.stack([np.cos(half), zero, zero, np.sin(half)], axis=-1)


def quat_yaw(q: np.ndarray) -> np.ndarray:
    """Heading of (..., 4) wxyz quaternions: the world-z angle of the body x axis projected on the floor."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    return np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def slerp(q0: np.ndarray, q1: np.ndarray, u: float | np.ndarray) -> np.ndarray:
    """Spherical interpolation from q0 (u=0) to q1 (u=1) of (..., 4) wxyz unit quaternions.

    q and -q are the same rotation: when the pair is more than 90 deg apart in 4-D, q1 is flipped
    so the interpolation takes the short way. u = 0 and u = 1 return q0 and (the flipped) q1 exactly
    up to rounding; nearly equal quaternions fall back to normalised linear interpolation, where the
    sin(theta) division would lose precision.
    """
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0.0, -q1, q1)
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin_theta = np.sin(theta)
    close = sin_theta < 1e-6
    safe = np.where(close, 1.0, sin_theta)
    w0 = np.where(close, 1.0 - u, np.sin((1.0 - u) * theta) / safe)
    w1 = np.where(close, u, np.sin(u * theta) / safe)
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# Retargeted human clips (pickle), validation and the format-dispatching loaders.
# ---------------------------------------------------------------------------------------------

#: Keys a retargeted pickle must carry (clip_format.md section 1). `duration_sec` is checked when
#: present; `local_body_pos`, `link_body_list`, `source_file`, `robot` are optional provenance.
PICKLE_REQUIRED_KEYS: tuple[str, ...] = ("fps", "root_pos", "root_rot", "dof_pos", "num_frames")

# Only what numpy needs to rebuild arrays and scalars (numpy 1.x `core` and 2.x `_core` spellings):
# unpickling runs any callable the file names, so a clip file must not be able to name os.system.
_PICKLE_ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")]
    + [(m, "_frombuffer") for m in ("numpy.core.numeric", "numpy._core.numeric")]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("collections", "OrderedDict")]
)


class _ClipUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the numpy globals needed for plain arrays and scalars."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _PICKLE_ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} (not a plain numpy array)")
        return super().find_class(module, name)


def _float_array(path: Path, key: str, value: object) -> np.ndarray:
    """`value` as a float64 array, or a ValueError naming the file and key."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: key {key!r} is not a numeric array ({type(value).__name__}): {exc}") from exc
    return arr


def _validate_motion(path: Path, fps: float, root_pos: np.ndarray, root_quat: np.ndarray, joint_pos: np.ndarray,
                     names: tuple[str, str, str] = ("root_pos", "root_quat", "joint_pos")) -> np.ndarray:
    """Check shapes, finiteness, frame count and unit quaternions; return the quaternions renormalised.

    `names` are the keys as the file spells them, so that messages point at the right field.
    Joint values are not range-checked: clips sit exactly at joint limits by design (clip_format.md).
    """
    pos_key, quat_key, joint_key = names
    if not np.isfinite(fps) or fps <= 0.0:
        raise ValueError(f"{path}: fps must be a finite number > 0, got {fps}")
    if joint_pos.ndim != 2:
        raise ValueError(f"{path}: key {joint_key!r} has shape {joint_pos.shape}, expected (N, {NUM_JOINTS})")
    if joint_pos.shape[1] != NUM_JOINTS:
        raise ValueError(f"{path}: key {joint_key!r} has {joint_pos.shape[1]} joints, expected {NUM_JOINTS} "
                         f"({', '.join(JOINT_NAMES)})")
    n = joint_pos.shape[0]
    for key, arr, width in ((pos_key, root_pos, 3), (quat_key, root_quat, 4)):
        if arr.shape != (n, width):
            raise ValueError(f"{path}: key {key!r} has shape {arr.shape}, expected ({n}, {width}) "
                             f"to match {joint_key!r} {joint_pos.shape}")
    if n < 2:
        raise ValueError(f"{path}: {n} frame(s), a clip needs at least 2")
    for key, arr in ((pos_key, root_pos), (quat_key, root_quat), (joint_key, joint_pos)):
        bad = ~np.isfinite(arr)
        if bad.any():
            frame = int(np.argwhere(bad)[0, 0])
            raise ValueError(f"{path}: key {key!r} has {int(bad.sum())} NaN/infinite value(s), first at frame {frame}")
    norms = np.linalg.norm(root_quat, axis=1)
    off = np.abs(norms - 1.0) > QUAT_NORM_TOL
    if off.any():
        zero = np.flatnonzero(norms == 0.0)
        if zero.size:
            # Never renormalise a zero quaternion: it carries no orientation at all.
            raise ValueError(f"{path}: key {quat_key!r} has {zero.size} zero quaternion(s), first at frame {int(zero[0])}")
        frame = int(np.argmax(off))
        raise ValueError(f"{path}: key {quat_key!r} has {int(off.sum())} non-unit quaternion(s); frame {frame} "
                         f"has norm {norms[frame]:.6g} (tolerance |norm - 1| <= {QUAT_NORM_TOL})")
    # Within tolerance: renormalise so downstream slerp and MuJoCo see exact unit quaternions.
    return root_quat / norms[:, None]


def read_pickle_dict(path: str | Path) -> dict:
    """The raw dict of a clip pickle, unpickled with `_ClipUnpickler` (plain numpy arrays, scalars and
    builtin containers only); ValueError naming the file when it is unreadable or not a dict."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = _ClipUnpickler(f).load()
    except Exception as exc:  # OSError, UnpicklingError, EOFError, truncated data ...
        raise ValueError(f"{path}: not a readable clip pickle: {type(exc).__name__}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: pickle holds a {type(data).__name__}, expected a dict with keys "
                         f"{list(PICKLE_REQUIRED_KEYS)}")
    return data


def load_pickle_clip(path: str | Path) -> Clip:
    """Load a retargeted human clip (clip_format.md section 1) into a `Clip`.

    The pickle holds a dict with `fps`, `root_pos` (N, 3), `root_rot` (N, 4) in **x, y, z, w** order,
    `dof_pos` (N, 8) in actuator order and `num_frames`; the quaternion is reordered to (w, x, y, z).
    The motion is returned as recorded (world frame, heading about 180 deg, source fps): call
    `to_heading_frame` and `resample` before use.

    Only numpy arrays/scalars and builtin containers are unpickled (no arbitrary callables).
    Every problem raises ValueError naming the file and the problem: unreadable or non-dict pickle,
    a missing key, wrong shapes, a joint count other than 8, NaN/inf, a zero or non-unit quaternion
    (|norm - 1| > QUAT_NORM_TOL), fps <= 0, fewer than 2 frames, or `num_frames` / `duration_sec`
    inconsistent with the arrays. Joint values exactly at (or beyond) joint limits are accepted.
    """
    path = Path(path)
    data = read_pickle_dict(path)
    missing = [k for k in PICKLE_REQUIRED_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path}: missing key(s) {missing}")

    # Strings and bools would pass np.asarray(..., float); a frame rate must be a plain number.
    if isinstance(data["fps"], (str, bytes, bool)):
        raise ValueError(f"{path}: key 'fps' must be a number, got {data['fps']!r}")
    fps_arr = _float_array(path, "fps", data["fps"])
    if fps_arr.shape != ():
        raise ValueError(f"{path}: key 'fps' must be a number, got {data['fps']!r}")
    fps = float(fps_arr)
    root_pos = _float_array(path, "root_pos", data["root_pos"])
    root_rot = _float_array(path, "root_rot", data["root_rot"])
    dof_pos = _float_array(path, "dof_pos", data["dof_pos"])
    root_quat_xyzw = _validate_motion(path, fps, root_pos, root_rot, dof_pos, ("root_pos", "root_rot", "dof_pos"))
    n = dof_pos.shape[0]

    num_frames = data["num_frames"]
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)):
        # A float like 120.0 is tolerated (some tools write it); 120.5 or "120" is not.
        if not (isinstance(num_frames, (float, np.floating)) and float(num_frames).is_integer()):
            raise ValueError(f"{path}: key 'num_frames' must be an integer, got {num_frames!r}")
    if int(num_frames) != n:
        raise ValueError(f"{path}: key 'num_frames' is {int(num_frames)} but the arrays have {n} frames")
    duration = data.get("duration_sec")
    if duration is not None:
        try:
            duration = float(duration)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: key 'duration_sec' is not a number: {duration!r}") from exc
        # Tools differ on N/fps vs (N-1)/fps: accept anything within one frame of N/fps.
        if not np.isfinite(duration) or abs(duration - n / fps) > 1.0 / fps + 1e-9:
            raise ValueError(f"{path}: key 'duration_sec' is {duration} but {n} frames at {fps} fps last {n / fps:.4f} s")

    # x, y, z, w (file) -> w, x, y, z (MuJoCo, Clip)
    root_quat = root_quat_xyzw[:, [3, 0, 1, 2]]
    meta: dict = {"source_format": "retargeted_pickle", "source_path": str(path), "source_fps": fps}
    for key in ("source_file", "robot"):
        if isinstance(data.get(key), str):
            meta[key] = data[key]
    return Clip(name=path.stem, fps=fps, root_pos=root_pos, root_quat=root_quat, joint_pos=dof_pos, metadata=meta)


def load_clip(path: str | Path) -> Clip:
    """Load one clip by suffix: `.pkl` (retargeted human clip) or `.npz` (project format).

    `.npz` clips get the same shape/finite/unit-quaternion checks as pickles, so every clip
    returned here is safe to resample and play. Problems raise ValueError naming the file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".pkl", ".pickle"):
        return load_pickle_clip(path)
    if suffix == ".npz":
        clip = load_npz_clip(path)
        quat = _validate_motion(path, float(clip.fps), np.asarray(clip.root_pos, dtype=np.float64),
                                np.asarray(clip.root_quat, dtype=np.float64),
                                np.asarray(clip.joint_pos, dtype=np.float64),
                                ("root_pos", "root_quat_wxyz", "joint_pos"))
        clip.root_quat = quat
        return clip
    raise ValueError(f"{path}: unknown clip file type {path.suffix!r} (expected .pkl or .npz)")


CLIP_SUFFIXES: tuple[str, ...] = (".pkl", ".pickle", ".npz")


@dataclass(frozen=True)
class ClipLimits:
    """What a clip must satisfy to be worth generating from (config: `generation:` section).

    A file can be well-formed and still pathological: fps 1e-6 asks resampling for terabytes,
    fps 1e6 leaves one frame, and a frozen pose loops into hours of "walking" data.
    """

    min_fps: float
    max_fps: float
    max_seconds: float
    min_joint_motion: float  # rad, largest joint range (max - min over the clip)
    generation_fps: float = 50.0  # Hz, the rate the clip is resampled to: it must span 2 frames there


def joint_motion(clip: Clip) -> float:
    """Largest range (max - min over the clip) of any joint, rad: 0 for a frozen pose."""
    joints = np.asarray(clip.joint_pos, dtype=np.float64)
    return float(np.ptp(joints, axis=0).max()) if joints.size else 0.0


def check_clip_limits(clip: Clip, path: str | Path, limits: ClipLimits) -> None:
    """Raise ValueError naming `path`, the measured figure and the bound, for a clip outside `limits`.

    Runs before any resampling, so that a bad rate is refused before it can cost time or memory.
    """
    if not limits.min_fps <= clip.fps <= limits.max_fps:
        raise ValueError(f"{path}: fps {clip.fps:g} is outside [{limits.min_fps:g}, {limits.max_fps:g}] "
                         f"(generation.min_clip_fps / max_clip_fps)")
    if clip.duration > limits.max_seconds:
        raise ValueError(f"{path}: lasts {clip.duration:.1f} s ({clip.num_frames} frames at {clip.fps:g} fps), "
                         f"more than generation.max_clip_seconds {limits.max_seconds:g}")
    span = (clip.num_frames - 1) / clip.fps
    if span * limits.generation_fps < 1.0 - 1e-9:  # resampled, it would be a single frame: no timeline
        raise ValueError(f"{path}: spans {span:.3g} s, under 2 frames at generation.fps {limits.generation_fps:g}")
    motion = joint_motion(clip)
    if motion < limits.min_joint_motion:
        raise ValueError(f"{path}: joints barely move (largest joint range {motion:.4f} rad, less than "
                         f"generation.min_joint_motion {limits.min_joint_motion:g}): a still pose, not walking data")


def load_clips(paths_or_dir: str | Path | Iterable[str | Path],
               limits: ClipLimits | None = None) -> tuple[list[Clip], list[tuple[str, str]]]:
    """Load many clips; a bad file is reported, never raised, and the batch goes on.

    `paths_or_dir` is a directory (its `*.pkl`, `*.pickle` and `*.npz` files, sorted, not recursive),
    a single file, or an iterable of files. Returns `(clips, rejected)` where `rejected` holds
    `(path, reason)` for every file that could not be loaded (including a missing directory).
    With `limits`, a clip that loads but falls outside them (`check_clip_limits`) is rejected too.
    """
    if isinstance(paths_or_dir, (str, os.PathLike)):
        root = Path(paths_or_dir)
        if root.is_dir():
            paths = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in CLIP_SUFFIXES)
        else:
            paths = [root]
    else:
        paths = [Path(p) for p in paths_or_dir]
    clips: list[Clip] = []
    rejected: list[tuple[str, str]] = []
    for p in paths:
        try:
            clip = load_clip(p)
            if limits is not None:
                check_clip_limits(clip, p, limits)
            clips.append(clip)
        except Exception as exc:  # the contract is "never raises for a bad file"
            reason = str(exc) if isinstance(exc, ValueError) else f"{p}: {type(exc).__name__}: {exc}"
            rejected.append((str(p), reason))
    return clips, rejected


# ---------------------------------------------------------------------------------------------
# Resampling and the heading frame.
# ---------------------------------------------------------------------------------------------


def sample_clip(clip: Clip, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root position, root quaternion and joints of `clip` at `times` (s, from the first frame).

    Positions and joints are interpolated linearly, the quaternion by slerp. Times are clamped to
    the clip's span: there is no extrapolation, and a time that falls on a frame (within 1e-9 frame)
    returns that frame exactly.
    """
    n = clip.num_frames
    t = np.asarray(times, dtype=np.float64) * clip.fps  # in source frames
    # Snap rounding noise (k / 50 * 25 = 7.000000000000001) so times on a frame return it exactly.
    snapped = np.round(t)
    t = np.clip(np.where(np.abs(t - snapped) < 1e-9, snapped, t), 0.0, n - 1)
    i0 = np.minimum(np.floor(t).astype(np.int64), n - 2)
    u = t - i0  # in [0, 1]; u == 1 only on the last frame
    pos = np.asarray(clip.root_pos, dtype=np.float64)
    joints = np.asarray(clip.joint_pos, dtype=np.float64)
    quat = np.asarray(clip.root_quat, dtype=np.float64)
    ucol = u[:, None]
    out_pos = (1.0 - ucol) * pos[i0] + ucol * pos[i0 + 1]
    out_joints = (1.0 - ucol) * joints[i0] + ucol * joints[i0 + 1]
    out_quat = slerp(quat[i0], quat[i0 + 1], u)
    # Exact endpoints: frames hit exactly (u == 0 or 1) reproduce the source, free of rounding.
    on0, on1 = u == 0.0, u == 1.0
    out_pos[on0], out_joints[on0], out_quat[on0] = pos[i0[on0]], joints[i0[on0]], quat[i0[on0]]
    out_pos[on1], out_joints[on1], out_quat[on1] = pos[i0[on1] + 1], joints[i0[on1] + 1], quat[i0[on1] + 1]
    return out_pos, out_quat, out_joints


def uniform_times(span: float, step: float) -> np.ndarray:
    """0, step, 2 step, ... up to `span` inclusive (a 1e-9 relative slack keeps an exact end)."""
    count = int(np.floor(span / step * (1.0 + 1e-9) + 1e-9)) + 1
    return np.arange(count) * step


def resample(clip: Clip, fps: float = 50.0) -> Clip:
    """Resample `clip` to `fps` on the grid t_k = k / fps, k = 0 .. floor(T * fps), T = (N-1) / clip.fps.

    Linear interpolation for root position and joints, slerp (short way, q/-q handled) for the root
    quaternion. The first frame is the source's first frame exactly; the last output frame is the
    last grid time not after T, so it equals the source's last frame exactly when T is a multiple of
    1 / fps and otherwise ends less than one output period early (never extrapolates).
    """
    if not np.isfinite(fps) or fps <= 0.0:
        raise ValueError(f"resample {clip.name!r}: fps must be > 0, got {fps}")
    span = (clip.num_frames - 1) / clip.fps
    times = uniform_times(span, 1.0 / fps)
    pos, quat, joints = sample_clip(clip, times)
    meta = dict(clip.metadata, resampled_from_fps=float(clip.fps))
    return Clip(name=clip.name, fps=float(fps), root_pos=pos, root_quat=quat, joint_pos=joints, metadata=meta)


#: Window over which `to_heading_frame` averages the initial heading: about one human gait cycle
#: (stride period 1.0 to 1.2 s), so the waist's periodic yaw sway averages out. A 0.2 s window sits
#: inside one step and inherits its sway: a 3 deg bias is 7 cm of sideways drift over a 1.3 m clip.
HEADING_WINDOW_S = 1.0


def initial_heading(clip: Clip, window_s: float = HEADING_WINDOW_S) -> float:
    """Initial heading (rad): circular mean of the root's yaw over the first `window_s` seconds.

    The root orientation's yaw is used rather than the displacement direction because it is defined
    for a standing or stepping-in-place clip, and is not thrown off by the waist's lateral sway, which
    at 0.13 m/s is a large fraction of the distance travelled in a stride. Averaging over about one
    stride (HEADING_WINDOW_S) cancels the periodic yaw sway; a clip shorter than the window uses all
    its frames.
    """
    count = max(1, min(clip.num_frames, int(round(window_s * clip.fps))))
    yaw = quat_yaw(np.asarray(clip.root_quat[:count], dtype=np.float64))
    # Circular mean: a plain mean of angles near +-pi (the clips' 180 deg heading) would give ~0.
    return float(np.arctan2(np.sin(yaw).mean(), np.cos(yaw).mean()))


def to_heading_frame(clip: Clip, window_s: float = HEADING_WINDOW_S) -> Clip:
    """Express `clip` in its own heading frame: initial heading removed, start at x = y = 0.

    Choice: the heading is `initial_heading` (circular mean of the root yaw over the first
    `window_s` = 1.0 s, about one stride; see there for why not the displacement direction). The whole clip is rotated about the world z axis by minus that heading,
    about its first frame's (x, y), then translated so the first frame sits at x = y = 0; root
    height is kept and joints are untouched. Later heading changes (curving) stay in the motion.
    Clips in clip_format.md face and walk toward world -x (heading about 180 deg): afterwards they
    face and walk toward +x.
    """
    heading = initial_heading(clip, window_s)
    pos = np.asarray(clip.root_pos, dtype=np.float64)
    start = pos[0, :2].copy()
    c, s = np.cos(-heading), np.sin(-heading)
    rel = pos[:, :2] - start
    new_pos = pos.copy()
    new_pos[:, 0] = c * rel[:, 0] - s * rel[:, 1]
    new_pos[:, 1] = s * rel[:, 0] + c * rel[:, 1]
    new_quat = quat_mul(yaw_quat(-heading), np.asarray(clip.root_quat, dtype=np.float64))
    meta = dict(clip.metadata, heading_removed_rad=heading, start_xy_removed=[float(start[0]), float(start[1])])
    return Clip(name=clip.name, fps=clip.fps, root_pos=new_pos, root_quat=new_quat,
                joint_pos=np.array(clip.joint_pos, dtype=np.float64), metadata=meta)
