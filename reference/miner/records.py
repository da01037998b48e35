"""A rollout's records: their contract, their validation and the per-frame signals the gates read.

Input: per-rollout `records` (reference/rollout/records.py), a dict of 50 Hz numpy arrays (see
`RECORD_ARRAYS`) plus the meta entries ``clip``, ``variant``, ``fps``, ``weight`` (m g, N).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

#: Array entries of a rollout's records: name -> trailing shape (T is the leading dimension).
RECORD_ARRAYS: dict[str, tuple[int, ...]] = {
    "qpos": (15,),
    "qvel": (14,),
    "foot_force": (2,),
    "pad_contact": (4,),
    "foot_slip_speed": (2,),
    "foot_height": (2,),
    "harness_force": (3,),
    "harness_torque": (3,),
    "harness_equiv_force": (),
    "harness_saturated": (),
    "actuator_torque": (8,),
    "torque_saturated": (8,),
    "roll": (),
    "pitch": (),
    "root_height": (),
    "forward_velocity": (),
    "ref_joint_pos": (8,),
    "restart": (),
    "fallen": (),
}
RECORD_META: dict[str, type] = {"clip": str, "variant": str, "fps": float, "weight": float}


# ------------------------------------------------------------------------------------------------
# Records
# ------------------------------------------------------------------------------------------------
def validate_records(records: Mapping[str, Any], name: str = "records") -> int:
    """Check keys, shapes and meta of one rollout's records; returns T. Errors name the key."""
    for key, typ in RECORD_META.items():
        if key not in records:
            raise ValueError(f"{name}: missing meta entry {key!r}")
        value = records[key]
        value = value.item() if isinstance(value, np.ndarray) else value
        if typ is str and not isinstance(value, str):
            raise ValueError(f"{name}: meta entry {key!r} must be a string, got {value!r}")
        if typ is float and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
            raise ValueError(f"{name}: meta entry {key!r} must be a number, got {value!r}")
    if not float(np.asarray(records["weight"])) > 0:
        raise ValueError(f"{name}: meta entry 'weight' must be > 0")
    t = None
    for key, trailing in RECORD_ARRAYS.items():
        if key not in records:
            raise ValueError(f"{name}: missing array {key!r}")
        a = np.asarray(records[key])
        if a.ndim != 1 + len(trailing) or a.shape[1:] != trailing:
            raise ValueError(f"{name}: array {key!r} must have shape (T, {', '.join(map(str, trailing))}), got {a.shape}")
        if t is None:
            t = a.shape[0]
        elif a.shape[0] != t:
            raise ValueError(f"{name}: array {key!r} has {a.shape[0]} frames, 'qpos' has {t}")
    return int(t or 0)


def frame_signals(records: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The per-frame signals the gates read, normalised by m g where the gates say so."""
    w = float(np.asarray(records["weight"]))
    return {
        "foot_load": np.asarray(records["foot_force"], dtype=np.float64) / w,
        "foot_slip_speed": np.asarray(records["foot_slip_speed"], dtype=np.float64),
        "harness_ratio": np.asarray(records["harness_equiv_force"], dtype=np.float64) / w,
        "harness_saturated": np.asarray(records["harness_saturated"], dtype=bool),
        "pitch": np.asarray(records["pitch"], dtype=np.float64),
        "roll": np.asarray(records["roll"], dtype=np.float64),
        "torque_saturated": np.asarray(records["torque_saturated"], dtype=bool),
        "fallen": np.asarray(records["fallen"], dtype=bool),
        "forward_velocity": np.asarray(records["forward_velocity"], dtype=np.float64),
    }
