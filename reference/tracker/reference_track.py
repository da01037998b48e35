"""What the tracker reads of a looped reference, per frame, computed once per timeline.

`ReferenceTrack.from_timeline` turns a `reference.rollout.Timeline` (the looped clip with its neutral
blends, chained in the plane) into the per-frame arrays the observation and the reward use:

=============  ======  ==========================================================================
array          shape   meaning
=============  ======  ==========================================================================
joints         (T, 8)  reference joint angles, rad
pos_xy         (T, 2)  reference root position in the plane, m
yaw            (T,)    reference heading, rad, unwrapped (continuous over the loop)
velocity       (T, 3)  forward and lateral root velocity in the reference's heading frame (m/s) and
                       yaw rate (rad/s), finite differences Gaussian-smoothed over `smooth_s`
height         (T,)    root height with the lowest pad on the floor (the clip's own height is not
                       trusted: retargeted clips float or sink), m
vertical_velocity (T,) rate of change of `height`, Gaussian-smoothed over `smooth_s`, m/s
roll_pitch     (T, 2)  reference root attitude, rad
contact        (T, 2)  bool, reference foot contact (left, right): the foot's lowest pad corner is
                       within `contact_height` of the lower foot's (one foot is always down) and, with
                       `contact_speed` set, one of its pads moves slower than that across the floor. By
                       height alone a swing foot that skims the floor counts: the fast clips then have
                       both feet down in 55-60 % of their steady walking frames against the plans' 20-25 %
                       of double support; planted (1 cm, 0.1 m/s), 19-28 % (docs/results/tracker.md)
phase          (T,)    position in the clip + blend period, in [0, 1)
in_blend       (T,)    bool, the frame lies in a neutral blend
=============  ======  ==========================================================================

`Anchor` is the re-anchoring of the reference's planar pose (x, y, yaw) onto the robot: at a (re)start the
robot IS the reference (identity); every ``reanchor_interval`` frames the reference is moved onto the robot
again, so that the position and heading errors count the drift since then. `Anchor` holds one anchor or one
per env of a batch, and `concatenate_tracks` stacks several tracks into one for a batch's lookups.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

import mujoco
import numpy as np

from reference.rollout import Timeline, _gaussian_smooth, _quat_roll_pitch, pad_bottom_z
from reference.clips import quat_yaw
from wildrobot_gym.robot import RobotSpec


@dataclass
class ReferenceTrack:
    """Per-frame reference features of one timeline (module docstring)."""

    joints: np.ndarray
    pos_xy: np.ndarray
    yaw: np.ndarray
    velocity: np.ndarray
    height: np.ndarray
    vertical_velocity: np.ndarray
    roll_pitch: np.ndarray
    contact: np.ndarray
    phase: np.ndarray
    in_blend: np.ndarray

    def __len__(self) -> int:
        return int(self.joints.shape[0])

    @staticmethod
    def options(env_cfg: Mapping[str, Any]) -> dict[str, Any]:
        """`from_timeline`'s keyword arguments from a tracker config's env section: the one place that says which
        env settings shape the track (training, generation and the training references' cache all read it)."""
        return {"smooth_s": env_cfg["velocity_smooth_s"], "contact_height": env_cfg["contact_height"],
                "contact_speed": env_cfg.get("contact_speed")}

    @staticmethod
    def from_timeline(model: mujoco.MjModel, spec: RobotSpec, timeline: Timeline, smooth_s: float = 0.1,
                      contact_height: float = 0.01, contact_speed: float | None = None) -> "ReferenceTrack":
        q, fps = timeline.qpos, timeline.fps
        T = len(timeline)
        yaw = np.unwrap(quat_yaw(q[:, 3:7]))
        c, s = np.cos(yaw), np.sin(yaw)
        vx, vy = timeline.qvel[:, 0], timeline.qvel[:, 1]
        rate = np.gradient(yaw) * fps if T > 1 else np.zeros(T)
        vel = np.stack([c * vx + s * vy, -s * vx + c * vy, rate], axis=1)
        vel = _gaussian_smooth(vel, smooth_s * fps)
        scratch = mujoco.MjData(model)
        pads = np.zeros((T, 4))
        pad_xy = np.zeros((T, 4, 2))
        for i in range(T):
            pads[i] = pad_bottom_z(model, spec, q[i], scratch)  # runs the kinematics of frame i
            pad_xy[i] = scratch.geom_xpos[spec.pad_geoms, :2]
        feet = np.minimum(pads[:, 0::2], pads[:, 1::2])  # (T, 2) lowest corner per foot
        low = feet.min(axis=1)
        contact = feet - low[:, None] < contact_height
        if contact_speed is not None and T > 1:
            pad_speed = np.linalg.norm(np.gradient(pad_xy, axis=0), axis=2) * fps  # (T, 4) m/s
            contact &= np.minimum(pad_speed[:, 0::2], pad_speed[:, 1::2]) < contact_speed
        roll_pitch = np.array([_quat_roll_pitch(qq) for qq in q[:, 3:7]])
        height = q[:, 2] - low
        vz = np.gradient(height) * fps if T > 1 else np.zeros(T)
        vz = _gaussian_smooth(vz[:, None], smooth_s * fps)[:, 0]
        return ReferenceTrack(
            joints=q[:, 7:].copy(), pos_xy=q[:, :2].copy(), yaw=yaw, velocity=vel,
            height=height, vertical_velocity=vz, roll_pitch=roll_pitch, contact=contact,
            phase=loop_phase(timeline.cycle), in_blend=np.asarray(timeline.in_blend, dtype=bool).copy())


def concatenate_tracks(tracks: list[ReferenceTrack]) -> tuple[ReferenceTrack, np.ndarray]:
    """Every track's arrays one after the other, and each track's first row: frame t of track i is row
    ``offsets[i] + t`` of the result, so that a batch looks up the frames of all its envs with one fancy
    index (`reference.tracker.batch_env`; a lookup never crosses into the next track: the callers clamp
    to the track's own last frame, ``offsets[i] + len(tracks[i]) - 1``)."""
    if not tracks:
        raise ValueError("tracks: expected at least one ReferenceTrack")
    lengths = np.array([len(tr) for tr in tracks], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    joined = ReferenceTrack(**{f.name: np.concatenate([getattr(tr, f.name) for tr in tracks])
                               for f in fields(ReferenceTrack)})
    return joined, offsets


def loop_phase(cycle: np.ndarray) -> np.ndarray:
    """Phase in [0, 1) of each frame in its period (one clip repetition and the blend after it).

    `cycle` is the timeline's per-frame repetition index, -1 in blends; a blend belongs to the
    repetition before it. The period is the first repetition's (clip + blend) length, so the phase runs
    at one rate over the whole loop (the last repetition, without a blend, stops short of 1)."""
    cycle = np.asarray(cycle)
    T = len(cycle)
    seg = np.maximum(np.maximum.accumulate(cycle), 0)  # a blend (-1) takes the repetition before it
    starts = np.flatnonzero(np.r_[True, np.diff(seg) != 0])  # first frame of each period, in order
    period = starts[1] - starts[0] if len(starts) > 1 else T
    start_of = starts[np.searchsorted(starts, np.arange(T), side="right") - 1]
    return ((np.arange(T) - start_of) / max(period, 1)) % 1.0


class Anchor:
    """The planar transform (x, y, yaw) that places the reference on the robot (module docstring).

    One anchor (``n_envs=None``: `errors` returns numbers) or one per env of a batch (``(N,)`` arrays,
    `reference.tracker.batch_env`): the same formulas, every argument with a leading env axis."""

    def __init__(self, n_envs: int | None = None) -> None:
        lead = () if n_envs is None else (int(n_envs),)
        self.ref_xy = np.zeros(lead + (2,))
        self.robot_xy = np.zeros(lead + (2,))
        self.dyaw = np.zeros(lead)
        self.cos, self.sin = np.ones(lead), np.zeros(lead)

    def set(self, ref_xy: np.ndarray, ref_yaw, robot_xy: np.ndarray, robot_yaw, index: Any = ...) -> None:
        """From now on the reference frame at `ref_xy`, `ref_yaw` is taken to be where the robot is (for the
        envs `index` of a batch, ``...``: all; the arguments are then those envs' rows, in order)."""
        self.ref_xy[index] = ref_xy[..., :2]
        self.robot_xy[index] = robot_xy[..., :2]
        dyaw = np.subtract(robot_yaw, ref_yaw)
        self.dyaw[index] = dyaw
        self.cos[index] = np.cos(dyaw)
        self.sin[index] = np.sin(dyaw)

    def take(self, index: Any) -> "Anchor":
        """The anchors of envs `index` of a batch, as a batch of their own (a copy)."""
        out = Anchor.__new__(Anchor)
        out.ref_xy, out.robot_xy = self.ref_xy[index], self.robot_xy[index]
        out.dyaw, out.cos, out.sin = self.dyaw[index], self.cos[index], self.sin[index]
        return out

    def errors(self, ref_xy: np.ndarray, ref_yaw, robot_xy: np.ndarray, robot_yaw) -> tuple[Any, Any, Any]:
        """(forward, lateral) root position error of the robot in the anchored reference's heading frame (m)
        and the heading error robot - reference (rad, wrapped to [-pi, pi)); numbers for one anchor, (N,)
        arrays for a batch's (every argument with the leading env axis)."""
        # x.T[k]: component k of one vector (a number: numpy's scalar arithmetic, the single env's hot path)
        # or of every row of a batch ((N,) view)
        a_ref, a_robot = self.ref_xy.T, self.robot_xy.T
        cos, sin, dyaw = self.cos[()], self.sin[()], self.dyaw[()]
        dx, dy = ref_xy.T[0] - a_ref[0], ref_xy.T[1] - a_ref[1]
        ax = a_robot[0] + cos * dx - sin * dy  # the anchored reference position
        ay = a_robot[1] + sin * dx + cos * dy
        yaw = ref_yaw + dyaw
        ex, ey = robot_xy.T[0] - ax, robot_xy.T[1] - ay
        c, s = np.cos(yaw), np.sin(yaw)
        heading = (robot_yaw - yaw + math.pi) % (2 * math.pi) - math.pi
        return c * ex + s * ey, -s * ex + c * ey, heading
