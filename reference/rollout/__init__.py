"""Physics reference generation: loop a clip, track it with the servos, record every frame at 50 Hz.

One job per module (each module's docstring has its part of the protocol):

    config.py    the `generation:` schema (from wildrobot_gym/config/reference.py), `DEFAULT_CONFIG`,
                 `config_from_dict`
    timeline.py  the looped reference: `Timeline`, `build_timeline`, `reference_velocities`, the quaternion
                 helpers, the sole pads' heights (`standing_height`, `lowest_pad_z`, `pad_bottom_z`)
    harness.py   the assist harness (`Harness`), the balance and speed feedback (`balance_correction`,
                 `speed_correction`), `forward_progress`
    variants.py  clip variants and preconditioning: `apply_variant`, `precondition_clip` / `precondition_joints`,
                 `clip_timeline`
    physics.py   the rollout itself (`rollout`: restarts, falls, the learned tracker via `tracker_for`), the
                 saturation check, `rollout_clip` (one clip, end to end), `default_model`
    records.py   the records contract (`FRAME_KEYS`, its table) and its files: `save_records`, `load_records`,
                 `records_filename`

Everything the rest of the repo uses is importable from `reference.rollout` itself
(`reference.rollout.rollout` is the function).
"""
from __future__ import annotations

from reference.rollout.config import (
    DEFAULT_CONFIG,
    DEFAULT_REFERENCE_CONFIG,
    BalanceConfig,
    GenerationConfig,
    HarnessConfig,
    PreconditionConfig,
    config_from_dict,
    load_generation_config,
    section_from_dict,
)
from reference.rollout.harness import Harness, balance_correction, forward_progress, speed_correction
from reference.rollout.physics import (
    _quat_roll_pitch,
    check_saturation,
    default_model,
    learned_controller,
    reference_forward_speed,
    restart_state,
    rollout,
    rollout_clip,
    saturation_rate,
    timeline_speed,
    tracker_for,
)
from reference.rollout.records import (
    FRAME_KEYS,
    RECORDS_FORMAT_VERSION,
    load_records,
    records_filename,
    save_records,
)
from reference.rollout.timeline import (
    Timeline,
    build_timeline,
    lowest_pad_z,
    pad_bottom_z,
    reference_velocities,
    standing_height,
)
from reference.rollout.variants import (
    _gaussian_smooth,
    apply_variant,
    clip_timeline,
    precondition_clip,
    precondition_joints,
)

__all__ = [
    # config.py
    "DEFAULT_CONFIG",
    "DEFAULT_REFERENCE_CONFIG",
    "BalanceConfig",
    "GenerationConfig",
    "HarnessConfig",
    "PreconditionConfig",
    "config_from_dict",
    "load_generation_config",
    "section_from_dict",
    # timeline.py
    "Timeline",
    "build_timeline",
    "lowest_pad_z",
    "pad_bottom_z",
    "reference_velocities",
    "standing_height",
    # harness.py
    "Harness",
    "balance_correction",
    "forward_progress",
    "speed_correction",
    # variants.py
    "_gaussian_smooth",  # private, but reference/tracker/reference_track.py smooths with it
    "apply_variant",
    "clip_timeline",
    "precondition_clip",
    "precondition_joints",
    # physics.py
    "_quat_roll_pitch",  # private, but reference/tracker/reference_track.py uses it
    "check_saturation",
    "default_model",
    "learned_controller",
    "reference_forward_speed",
    "restart_state",
    "rollout",
    "rollout_clip",
    "saturation_rate",
    "timeline_speed",
    "tracker_for",
    # records.py
    "FRAME_KEYS",
    "RECORDS_FORMAT_VERSION",
    "load_records",
    "records_filename",
    "save_records",
]
