"""AMP discriminator features: the ONE function both sides use (policy rollouts and reference data).

The env (policy side) and the reference miner (reference side) both call `compute_features` on the
same simulator quantities, so the two feature distributions are the same by construction. The layout
is versioned (`FEATURE_VERSION`) and every dataset carries `LAYOUT.to_dict()` so that a stored
dataset can be checked against (or recomputed for) the layout a trainer expects.

Layout (version ``wr-amp-2``), in column order:

===============  ===  =========  =================================================================
component        dim  droppable  formula
===============  ===  =========  =================================================================
joint_pos        8    no         q_j = qpos[7:15], rad, actuator order
joint_vel        8    no         qdot_j = qvel[6:14], rad/s
root_ang_vel     3    no         omega_body = qvel[3:6] (MuJoCo's free-joint angular velocity is
                                 already in the body frame), rad/s
root_lin_vel     3    no         v_h = Rz(-yaw) v_world, with v_world = qvel[0:3] and yaw the heading
                                 of the root quaternion; then either clipped per axis to
                                 [-c, c] (``lin_vel_mode='clip'``, c = 1.5 m/s) or normalised to a
                                 direction v_h / (|v_h| + 1e-6) (``'direction'``). Both stop the
                                 discriminator from winning on "the policy is slower" (seed 000).
root_gravity     3    no         g_body = R^T (0, 0, -1), R the root's rotation (qpos[3:7]): the
                                 unit gravity in the body frame, i.e. the torso's roll and pitch
                                 (its posture) without the heading. Added in wr-amp-2: without it
                                 a policy leaning 25 deg matched a reference leaning 13 deg.
root_height      1    yes        z_root = qpos[2], m
foot_contact     4    yes        pad contact flags as 0/1 (left_toe, left_heel, right_toe, right_heel)
foot_height      2    yes        sole point height (left, right), m: continuous contact proxy
foot_z_vel       2    yes        d(foot_height)/dt (left, right), m/s: continuous contact proxy
===============  ===  =========  =================================================================

Stage 0 (seed 000) drops ``foot_contact`` and ``root_height``: ``select(features, STAGE0_DROP)``.

Mirroring (left-right reflection through the sagittal x-z plane, used for augmentation): joints via
`wildrobot_gym.robot.mirror_joints`; a reflection y -> -y negates the lateral component of a
polar vector, v' = (vx, -vy, vz), and the roll and yaw components of an axial vector (angular
velocity), w' = (-wx, wy, -wz); left/right pads and feet swap. Mirroring twice is the identity.

Frame history (``discriminator.history_frames`` = H of configs/amp.yaml). The per-frame layout above
(and so `FEATURE_VERSION` and every dataset) does not depend on H; H only stacks frames:

* a **history block** is the last H frames, newest first: [Phi_t | Phi_{t-1} | ... | Phi_{t-H+1}]
  (H x LAYOUT.dim columns; its first LAYOUT.dim columns are the current frame, as with H = 1). The
  policy side carries it in the observation (`push_frame`: AMPFeatureObservation and the batched env;
  at an episode start every slot holds the first frame, so a block never reaches across a reset); the
  reference side gathers it from consecutive frames of one segment (`history_block`).
* the discriminator's input of a transition (block(s), block(s')) is (Phi_{t-H+1}, ..., Phi_t,
  Phi_{t+1}), oldest first: `transition_frames`, the ONE definition both sides (real and fake) go
  through. H = 1 gives (Phi(s), Phi(s')).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from wildrobot_gym.robot import NUM_JOINTS, mirror_joints

#: wr-amp-1 (31 columns) had no root_gravity; its datasets are recomputed from their stored state on load
#: (`reference.miner.load_dataset`), its discriminators (amp.pt) must be retrained.
FEATURE_VERSION = "wr-amp-2"
LIN_VEL_MODES = ("clip", "direction")
#: The seed's Stage 0 feature set drops these (shortcut-prone early in training).
STAGE0_DROP: tuple[str, ...] = ("foot_contact", "root_height")
#: Stage 0 plus the continuous contact proxies: only the KEEP set of the seed remains.
CORE_DROP: tuple[str, ...] = ("root_height", "foot_contact", "foot_height", "foot_z_vel")

_PAD_MIRROR = np.array([2, 3, 0, 1])  # (left_toe, left_heel, right_toe, right_heel) -> swapped
_FOOT_MIRROR = np.array([1, 0])


@dataclass(frozen=True)
class Component:
    """One named block of feature columns."""

    name: str
    dim: int
    droppable: bool


COMPONENTS: tuple[Component, ...] = (
    Component("joint_pos", NUM_JOINTS, False),
    Component("joint_vel", NUM_JOINTS, False),
    Component("root_ang_vel", 3, False),
    Component("root_lin_vel", 3, False),
    Component("root_gravity", 3, False),
    Component("root_height", 1, True),
    Component("foot_contact", 4, True),
    Component("foot_height", 2, True),
    Component("foot_z_vel", 2, True),
)


@dataclass(frozen=True)
class FeatureLayout:
    """An ordered subset of `COMPONENTS` with the column slice of each one."""

    components: tuple[Component, ...] = COMPONENTS
    version: str = FEATURE_VERSION

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components)

    @property
    def dim(self) -> int:
        return int(sum(c.dim for c in self.components))

    def slices(self) -> dict[str, slice]:
        """Column slice of every component, in layout order."""
        out: dict[str, slice] = {}
        start = 0
        for c in self.components:
            out[c.name] = slice(start, start + c.dim)
            start += c.dim
        return out

    def column_names(self) -> tuple[str, ...]:
        """One name per column: 'joint_pos[0]', ..., 'foot_z_vel[1]'."""
        return tuple(f"{c.name}[{i}]" for c in self.components for i in range(c.dim))

    def slice(self, name: str) -> slice:
        """Column slice of one component; KeyError names the missing component."""
        s = self.slices()
        if name not in s:
            raise KeyError(f"feature component {name!r} is not in this layout (has {list(s)})")
        return s[name]

    def without(self, drop: Iterable[str]) -> "FeatureLayout":
        """The layout with `drop` removed; only droppable components may be dropped."""
        drop = tuple(drop)
        known = {c.name: c for c in self.components}
        for name in drop:
            if name not in known:
                all_names = [c.name for c in COMPONENTS]
                if name in all_names:
                    continue  # already dropped: dropping twice is harmless
                raise KeyError(f"unknown feature component {name!r} (known: {all_names})")
            if not known[name].droppable:
                raise ValueError(f"feature component {name!r} is not droppable")
        return FeatureLayout(tuple(c for c in self.components if c.name not in drop), self.version)

    def columns(self, names: Sequence[str]) -> np.ndarray:
        """Integer column indices of the named components, in layout order."""
        s = self.slices()
        parts = [np.arange(s[n].start, s[n].stop) for n in self.names if n in names]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def to_dict(self) -> dict:
        """JSON-friendly description stored with every dataset."""
        sl = self.slices()
        return {
            "version": self.version,
            "dim": self.dim,
            "components": [
                {"name": c.name, "dim": c.dim, "droppable": c.droppable, "start": sl[c.name].start, "stop": sl[c.name].stop}
                for c in self.components
            ],
        }

    @staticmethod
    def from_dict(d: Mapping) -> "FeatureLayout":
        """Inverse of `to_dict`; raises ValueError naming the bad entry."""
        try:
            comps = tuple(Component(str(c["name"]), int(c["dim"]), bool(c["droppable"])) for c in d["components"])
            version = str(d["version"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"feature layout: missing or malformed entry {exc}") from exc
        return FeatureLayout(comps, version)


LAYOUT = FeatureLayout()


def yaw_from_quat(quat_wxyz: np.ndarray) -> np.ndarray:
    """Heading angle (rotation about world z) of (..., 4) wxyz quaternions, rad."""
    w, x, y, z = np.moveaxis(np.asarray(quat_wxyz, dtype=np.float64), -1, 0)
    return np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def heading_frame_velocity(quat_wxyz: np.ndarray, vel_world: np.ndarray) -> np.ndarray:
    """Rotate (..., 3) world-frame velocities into the yaw-only heading frame: Rz(-yaw) v."""
    yaw = yaw_from_quat(quat_wxyz)
    c, s = np.cos(yaw), np.sin(yaw)
    vx, vy, vz = np.moveaxis(np.asarray(vel_world, dtype=np.float64), -1, 0)
    return np.stack([c * vx + s * vy, -s * vx + c * vy, vz], axis=-1)


def projected_gravity(quat_wxyz: np.ndarray) -> np.ndarray:
    """Unit gravity (0, 0, -1) in the body frame of (..., 4) wxyz quaternions: R^T (0, 0, -1), i.e. minus
    the third row of R. Upright gives (0, 0, -1); a forward pitch tilts it towards +x."""
    w, x, y, z = np.moveaxis(np.asarray(quat_wxyz, dtype=np.float64), -1, 0)
    n = w * w + x * x + y * y + z * z  # no need for a unit quaternion
    return -np.stack([2.0 * (x * z - w * y), 2.0 * (y * z + w * x), w * w - x * x - y * y + z * z], axis=-1) / n[..., None]


def foot_z_velocity(foot_height: np.ndarray, fps: float, restart: np.ndarray | None = None) -> np.ndarray:
    """Backward finite difference of (T, 2) foot heights at `fps`: (h[t] - h[t-1]) * fps.

    Backward, not central, because the env can only compute it online from the previous step; the
    first frame, and each frame flagged in `restart` (a physics (re)start), has no predecessor and
    gets 0 (the env likewise reports 0 right after a reset).
    """
    h = np.asarray(foot_height, dtype=np.float64)
    v = np.zeros_like(h)
    if h.shape[0] > 1:
        v[1:] = (h[1:] - h[:-1]) * float(fps)
    if restart is not None:
        v[np.asarray(restart, dtype=bool)] = 0.0
    return v


def _as_2d(a: np.ndarray, width: int, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != width:
        raise ValueError(f"compute_features: {name} must have shape (T, {width}) or ({width},), got {a.shape}")
    return a


def compute_features(
    qpos: np.ndarray,
    qvel: np.ndarray,
    pad_contact: np.ndarray,
    foot_height: np.ndarray,
    foot_z_vel: np.ndarray,
    *,
    lin_vel_mode: str = "clip",
    lin_vel_clip: float = 1.5,
) -> np.ndarray:
    """Full-layout AMP features (T, LAYOUT.dim) float32 from batched state; 1-D inputs mean T = 1.

    qpos (T, 15): root pos, root quat wxyz, 8 joints. qvel (T, 14): root linear velocity (world),
    root angular velocity (body), 8 joints. pad_contact (T, 4) bool, foot_height (T, 2) m,
    foot_z_vel (T, 2) m/s (see `foot_z_velocity`). Formulas: module docstring.
    """
    if lin_vel_mode not in LIN_VEL_MODES:
        raise ValueError(f"lin_vel_mode must be one of {LIN_VEL_MODES}, got {lin_vel_mode!r}")
    qpos = _as_2d(qpos, 7 + NUM_JOINTS, "qpos")
    qvel = _as_2d(qvel, 6 + NUM_JOINTS, "qvel")
    contact = _as_2d(pad_contact, 4, "pad_contact")
    fh = _as_2d(foot_height, 2, "foot_height")
    fv = _as_2d(foot_z_vel, 2, "foot_z_vel")
    t = qpos.shape[0]
    for name, a in (("qvel", qvel), ("pad_contact", contact), ("foot_height", fh), ("foot_z_vel", fv)):
        if a.shape[0] != t:
            raise ValueError(f"compute_features: {name} has {a.shape[0]} frames, qpos has {t}")

    v = heading_frame_velocity(qpos[:, 3:7], qvel[:, 0:3])
    if lin_vel_mode == "clip":
        v = np.clip(v, -lin_vel_clip, lin_vel_clip)
    else:
        v = v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-6)
    out = np.concatenate(
        [qpos[:, 7:], qvel[:, 6:], qvel[:, 3:6], v, projected_gravity(qpos[:, 3:7]), qpos[:, 2:3],
         (contact > 0.5).astype(np.float64), fh, fv],
        axis=1,
    )
    return out.astype(np.float32)


def select(features: np.ndarray, drop: Iterable[str] = STAGE0_DROP, layout: FeatureLayout = LAYOUT) -> np.ndarray:
    """Drop components from (..., layout.dim) features; returns the columns of `layout.without(drop)`."""
    features = np.asarray(features)
    if features.shape[-1] != layout.dim:
        raise ValueError(f"select: features have {features.shape[-1]} columns, layout has {layout.dim}")
    kept = layout.without(drop)
    return features[..., layout.columns(kept.names)]


def mirror_features(features: np.ndarray, layout: FeatureLayout = LAYOUT) -> np.ndarray:
    """Left-right mirror of (..., layout.dim) features (works on reduced layouts too)."""
    f = np.array(features, copy=True)
    if f.shape[-1] != layout.dim:
        raise ValueError(f"mirror_features: features have {f.shape[-1]} columns, layout has {layout.dim}")
    sl = layout.slices()
    for name, s in sl.items():
        block = f[..., s]
        if name in ("joint_pos", "joint_vel"):
            f[..., s] = mirror_joints(block)
        elif name == "root_ang_vel":  # axial vector: roll and yaw rates flip under y -> -y
            f[..., s] = block * np.array([-1.0, 1.0, -1.0], dtype=f.dtype)
        elif name in ("root_lin_vel", "root_gravity"):  # polar vectors: the lateral component flips
            f[..., s] = block * np.array([1.0, -1.0, 1.0], dtype=f.dtype)
        elif name == "foot_contact":
            f[..., s] = block[..., _PAD_MIRROR]
        elif name in ("foot_height", "foot_z_vel"):
            f[..., s] = block[..., _FOOT_MIRROR]
        # root_height is symmetric
    return f


# ------------------------------------------------------------------------------------------------
# Frame history (module docstring): blocks of the last H frames, newest first
# ------------------------------------------------------------------------------------------------
def push_frame(block: np.ndarray, frame: np.ndarray, restart: bool | np.ndarray) -> np.ndarray:
    """The history block one step later (policy side): `frame` (..., D) becomes the newest of `block`
    (..., H D) and the oldest frame leaves; where `restart` (a bool, or one per row) the frame starts
    an episode and fills every slot (the first frame repeated). Returns a new array."""
    block = np.asarray(block)
    frame = np.asarray(frame, dtype=block.dtype)
    d = frame.shape[-1]
    if d == 0 or block.shape[-1] % d or block.shape[:-1] != frame.shape[:-1]:
        raise ValueError(f"push_frame: block {block.shape} is not a stack of frames {frame.shape}")
    h = block.shape[-1] // d
    shifted = np.concatenate([frame, block[..., : (h - 1) * d]], axis=-1)
    restart = np.asarray(restart, dtype=bool)
    if restart.ndim == 0:
        return np.tile(frame, h) if restart else shifted
    return np.where(restart[..., None], np.tile(frame, h), shifted)


def history_block(features: np.ndarray, rows: np.ndarray, history_frames: int) -> np.ndarray:
    """History blocks (n, H D) of frames `rows` of a (F, D) frame array (reference side): rows t, t - 1,
    ..., t - H + 1, newest first. The caller keeps them inside one segment (`ReferenceSampler` samples
    only rows with H - 1 predecessors in their segment)."""
    rows = np.asarray(rows, dtype=np.int64)
    idx = rows[:, None] - np.arange(int(history_frames))[None, :]
    if len(rows) and idx.min() < 0:
        bad = int(rows[idx.min(axis=1).argmin()])
        raise ValueError(f"history_block: row {bad} has fewer than {history_frames - 1} predecessors")
    return np.asarray(features)[idx].reshape(len(rows), -1)


def transition_frames(state: np.ndarray | Any, next_state: np.ndarray | Any, history_frames: int) -> np.ndarray | Any:
    """The discriminator's frames of transitions (..., H + 1, D), oldest first: (Phi_{t-H+1}, ...,
    Phi_t, Phi_{t+1}) from the history blocks (..., H D) of s and s' (the newest frame of s' is
    Phi_{t+1}). numpy arrays or torch tensors. The one definition for real and fake samples."""
    h = int(history_frames)
    if h < 1 or state.shape[-1] % h or next_state.shape[-1] != state.shape[-1]:
        raise ValueError(f"transition_frames: blocks {tuple(state.shape)} / {tuple(next_state.shape)} are not "
                         f"{h} frames each")
    d = state.shape[-1] // h
    past = state.reshape(*state.shape[:-1], h, d)[..., list(range(h - 1, -1, -1)), :]  # oldest first
    newest = next_state[..., None, :d]
    if isinstance(state, np.ndarray):
        return np.concatenate([past, newest], axis=-2)
    import torch  # torch tensors: the discriminator's side

    return torch.cat([past, newest], dim=-2)
