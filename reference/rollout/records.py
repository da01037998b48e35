"""A rollout's records: the contract below (`FRAME_KEYS`, `RECORDS_FORMAT_VERSION`) and its .npz files
(`save_records`, `load_records`, `records_filename`).

Records contract (one dict per clip and variant; the miner ``reference/miner/`` reads it)
-------------------------------------------------------------------------------------------
Per-frame arrays, T frames at 50 Hz (frames skipped after a fall are absent; see frame_index):

======================  ========  ================================================================
key                     shape     meaning
======================  ========  ================================================================
qpos                    (T, 15)   MuJoCo qpos: root pos (3), root quat wxyz (4), 8 joints
qvel                    (T, 14)   MuJoCo qvel: root lin vel world (3), ang vel body (3), 8 joints
foot_force              (T, 2)    normal force per foot (left, right), N
pad_force               (T, 4)    normal force per pad (left_toe, left_heel, right_toe, right_heel)
pad_contact             (T, 4)    bool, pad in contact
foot_contact            (T, 2)    bool, any pad of the foot in contact
foot_slip_speed         (T, 2)    horizontal foot speed where it bears on the floor, m/s (wildrobot_gym.metrics)
foot_height             (T, 2)    sole height, m
harness_force           (T, 3)    harness force on the waist COM, world frame, N
harness_torque          (T, 3)    harness torque on the waist, world frame, N m
harness_equiv_force     (T,)      |F| + |tau| / lever_arm, N: the |F_stab| of the harness gates
harness_saturated       (T,)      bool, the harness command was clipped at the cap
actuator_torque         (T, 8)    servo torques, N m
torque_saturated        (T, 8)    bool, |torque| >= 99 % of the limit
roll, pitch             (T,)      root attitude, rad
root_height             (T,)      m
forward_velocity        (T,)      root velocity along the heading frame's x (the env's), m/s
root_ang_vel            (T, 3)    body-frame angular velocity, rad/s
ref_joint_pos           (T, 8)    the reference joint targets (before feedback), rad
ctrl                    (T, 8)    the servo targets actually sent (feedback added, clipped), rad
ref_root_pos            (T, 3)    the reference root position, m
ref_root_quat           (T, 4)    the reference root orientation, wxyz
frame_index             (T,)      int, index into the looped reference timeline
cycle                   (T,)      int, loop repetition (-1 in blends)
in_blend                (T,)      bool, the frame lies in a neutral blend
restart                 (T,)      bool, the physics was (re)started at this frame
fallen                  (T,)      bool, a fall was detected at this frame (the stretch ends here)
fall_reason             (T,)      str, MetricsTracker's fall_reason ("" when none)
======================  ========  ================================================================

Scalars: ``format_version`` (1), ``clip`` (str, clip name), ``variant`` (str), ``fps`` (50.0),
``weight`` (m g, N), ``lever_arm`` (m), ``harness_cap`` (N), ``harness_mode`` (str),
``saturation_rate`` (fraction of actuator samples saturated, sampled at 50 Hz),
``sim_seconds`` (recorded frames / fps), ``num_falls`` (int), ``config_json`` (str, the
generation config used). ``save_records`` writes them to .npz (0-d arrays), ``load_records``
turns them back into Python scalars.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wildrobot_gym.atomic_io import atomic_write

RECORDS_FORMAT_VERSION = 1
#: Per-frame keys of a records dict (the contract above); everything else is a scalar.
FRAME_KEYS: tuple[str, ...] = (
    "qpos", "qvel", "foot_force", "pad_force", "pad_contact", "foot_contact", "foot_slip_speed",
    "foot_height", "harness_force", "harness_torque", "harness_equiv_force", "harness_saturated",
    "actuator_torque", "torque_saturated", "roll", "pitch", "root_height", "forward_velocity",
    "root_ang_vel", "ref_joint_pos", "ctrl", "ref_root_pos", "ref_root_quat", "frame_index", "cycle",
    "in_blend", "restart", "fallen", "fall_reason",
)


# ----------------------------------------------------------------------------------------------
# Records on disk
# ----------------------------------------------------------------------------------------------
def save_records(records: dict, path: str | Path) -> Path:
    """Write a records dict as .npz atomically (temp file in the same folder, then rename)."""
    return atomic_write(path, lambda f: np.savez_compressed(f, **{k: np.asarray(v) for k, v in records.items()}))


def load_records(path: str | Path) -> dict:
    """Read a records .npz (no pickle); 0-d arrays come back as Python scalars."""
    with np.load(path, allow_pickle=False) as z:
        out: dict[str, Any] = {}
        for k in z.files:
            v = z[k]
            out[k] = v.item() if v.ndim == 0 else v
    return out


def records_filename(clip: str, variant: str) -> str:
    """`<clip>__<variant>.npz` with path-unsafe characters replaced."""
    safe = "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in f"{clip}__{variant}")
    return f"{safe}.npz"
