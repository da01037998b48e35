"""The ``reward_weights:`` and ``reward_params:`` sections (and a curriculum stage's weights).

The weight fields are made from `wildrobot_gym.rewards.TERMS`, so a new term needs no change here.
The parameters are listed with their ranges (how `rewards.py` uses each); tests/test_config.py checks
that they are exactly `DEFAULT_PARAMS`.
"""
from __future__ import annotations

from typing import Optional

from pydantic import create_model

from wildrobot_gym.rewards import LATER_TERMS, TERMS
from wildrobot_gym.robot import NUM_JOINTS

from .base import Section
from .values import Finite, NonNeg, Positive, UnitInterval, items, text


class _Weights(Section):
    key_kind = "reward term"


class _AllWeights(_Weights):
    missing_hint = " (every term needs a weight, 0 disables it)"


#: Every term of `TERMS` with its weight (a number >= 0; penalties are negative terms, 0 disables one).
#: The `LATER_TERMS` default to 0, so configs written before them still validate.
RewardWeights: type[Section] = create_model(
    "RewardWeights", __base__=_AllWeights,
    __doc__="Weight of every reward term (all required but the later ones, which default to 0; >= 0).",
    **{name: (NonNeg, 0.0 if name in LATER_TERMS else ...) for name in TERMS},
)

#: Some terms' weights (a curriculum stage sets only the contact terms; the others keep theirs).
StageWeights: type[Section] = create_model(
    "StageWeights", __base__=_Weights, __doc__="Weights of some reward terms (each >= 0).",
    **{name: (NonNeg, None) for name in TERMS},
)


class RewardParams(Section):
    """Shape parameters of the reward terms (`rewards.DEFAULT_PARAMS` fills the ones not given)."""

    key_kind = "parameter"

    tracking_sigma: Positive = None       # exp(-err^2 / sigma): <= 0 inverts or divides by zero
    tracking_lin_scale: Positive = None   # m/s where tracking_lin_xy reaches 0: a divisor
    joint_limit_soft: UnitInterval = None  # fraction of the half range where the penalty starts
    existential_value: Finite = None      # the per-step constant (the seed's -5.0): either sign
    orientation_pitch_target: Finite = None  # rad: the torso pitch the orientation term pays for (> 0 leans forward)
    air_time_target: NonNeg = None        # s of swing before foot_air_time pays
    air_time_cap: NonNeg = None           # s: most a touchdown can earn
    clock_force_scale: Positive = None    # N of foot load that counts as fully loaded in gait_clock: a divisor
    clock_speed_scale: Positive = None    # m/s: gait_clock's stance-slip scale, a divisor
    clock_smoothing: Positive = None      # width of the stance indicator's edges: a divisor
    clock_overlap: Finite = None          # > 0: double support expected at each switch; < 0: flight
    symmetry_sigma: Positive = None       # rad^2: symmetry's mirror-error scale, a divisor
    swing_height_target: Positive = None  # m of sole height where swing_height pays in full: a divisor
    pose_sigma: Positive = None           # rad^2: pose_reference's squared-error scale, a divisor
    pose_velocity_sigma: Positive = None  # (rad/s)^2: pose_velocity's squared-error scale, a divisor
    # per joint (robot.JOINT_NAMES order): the weight of each joint's squared error in pose_reference and pose_velocity
    pose_joint_weights: items(NonNeg, f"{NUM_JOINTS} numbers >= 0", NUM_JOINTS, NUM_JOINTS) = None
    # the pose terms' template: a .npz path, or a file name in wildrobot_gym/assets (null: the shipped one)
    pose_template: Optional[text("a pose template file (.npz path or a file name in wildrobot_gym/assets)")] = None
