"""``configs/tracker.yaml``: the learned tracking controller's env, reward, PPO and run settings.

Sections (each a `Section`: unknown keys are errors, every value checked; a bad one raises `ConfigError`
naming its dotted key, e.g. ``env.residual_scale: expected a number > 0, got -0.2``)

    phase       "tracker" (the checkpoints' state.json records it, as a phase config's)
    reference   the motion data: clip library, augmentation variants, synthetic human-like stand-ins
    env         `reference.tracker.TrackingEnv`: residual scale, observation offsets, termination
    reward      weights and scales of the DeepMimic-style terms (`reference.tracker.reward`)
    ppo         SB3 PPO and the networks (the phase configs' `PPOSection`)
    training    run length, VecEnv (`TRACKER_VEC_ENVS`), normalisation, checkpoints (the phase configs'
                `TrainingSection`)

`load_tracker_config` returns the validated config as a plain nested dict with every default filled in
(the training stack, `training/common.py`, reads such dicts); it is what a checkpoint's state.json
``config`` holds, so a saved tracker rebuilds its observation from it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import ValidationError, model_validator

from wildrobot_gym.paths import ASSETS_DIR, CONFIG_DIR

from .base import Section
from .errors import ConfigError, format_error, read_yaml
from .ppo import PPOSection, TrainingSection
from .reference import Variant
from .values import NonNeg, NonNegInt, PosInt, Positive, Text, expect, integer, items, number

DEFAULT_TRACKER_CONFIG = CONFIG_DIR / "tracker.yaml"
#: The tracker shipped as package data (a policy bundle, `wildrobot_gym.checkpoints.export_policy`).
DEFAULT_TRACKER_PATH = ASSETS_DIR / "trackers" / "tracker.zip"
#: The shipped tracker that `reference.generate` adapts to clips it never saw (``generation.adapt_from`` null):
#: trained on human-like stand-ins alone (configs/tracker_general.yaml, ~10 min). Trackers trained on the library
#: as well fall on unseen stand-ins in ~90 % of the episodes (docs/results/tracker.md, "A tracker of the stand-ins alone").
DEFAULT_GENERAL_TRACKER_PATH = ASSETS_DIR / "trackers" / "tracker_general.zip"
#: The shipped specialist for the fast clips (``generation.fast_tracker_min_speed``): the library tracker fine-tuned on
#: the clips from 0.55 m/s alone, on which it mines more walking (docs/results/tracker.md, "Tracker v10", "v11", "v13", "v14").
DEFAULT_FAST_TRACKER_PATH = ASSETS_DIR / "trackers" / "tracker_fast.zip"
#: VecEnvs the tracker trains on (reference/train_tracker.py make_tracker_vec_env): "batched" all in this
#: process on MuJoCo's batch API (reference.tracker.batch_env, n_workers physics threads), "subprocess" over
#: n_workers worker processes, "dummy" one by one in this process (all three step alike:
#: tests/test_tracker_batch_env.py).
TRACKER_VEC_ENVS = ("batched", "subprocess", "dummy")

_Offsets = items(PosInt, "a non-empty list of positive integers (frames ahead)", 1, 16)
_Names = items(Text, "a list of clip names ([]: none of the folder's)", 0)
_Variants = items(Variant, "a non-empty list of variants")


class ReferenceSection(Section):
    """What the tracker is trained on: every clip x every variant, looped as reference/rollout/ does."""

    clips_dir: Optional[Text] = None          # folder of clips; null: the library (wildrobot_gym/assets/clips)
    clips: Optional[_Names] = None  # only these names; null: all; []: none (a tracker of the stand-ins alone)
    human_like_clips: NonNegInt = 14          # synthetic retargeted-like stand-ins (reference.human_like)
    human_like_seconds: Positive = 68.0       # their total length, s
    human_like_seed: integer(ge=0) = 1        # their draw (0 is the benchmarks': keep that one unseen)
    # their ranges: "default" the documented pathologies on the 12 legacy gaits (reference.human_like.HumanLikeParams),
    # "varied" VARIED_PARAMS on every library gait (knees from stiff to bent, 0.13-0.80 m/s), as --varied does
    human_like_variety: Annotated[Literal["default", "varied"], expect("'default' or 'varied'")] = "default"
    timeline_seconds: Positive = 20.0         # looped length of each training timeline, s
    generation_config: Optional[Text] = None  # YAML whose generation: section builds the timelines; null: reference.yaml
    variants: _Variants = [Variant(name="base")]
    sampling: Annotated[Literal["uniform", "failures"], expect("'uniform' or 'failures'")] = "uniform"
    sampling_floor: number(ge=0, le=1) = 0.25     # failures: the share of draws spread uniformly
    sampling_smoothing: number(gt=0, le=1) = 0.05  # failures: moving-average rate per ended episode
    human_like_share: Optional[number(gt=0, lt=1)] = None  # share of episodes on the stand-ins; null: by count


class TrackerEnvSection(Section):
    """`TrackingEnv` settings (units in configs/tracker.yaml)."""

    residual_scale: number(gt=0) = 0.25       # rad of servo target per unit of action
    max_episode_steps: PosInt = 400           # control steps before truncation
    ref_joint_offsets: _Offsets = [1, 2, 5, 10]
    ref_velocity_offsets: _Offsets = [1, 10]
    velocity_smooth_s: NonNeg = 0.1           # s, Gaussian smoothing of the reference root velocities
    contact_height: Positive = 0.01           # m: a reference foot is in contact this close to the lower one
    contact_speed: Optional[Positive] = None  # m/s: ... and one of its pads slower than this (None: height only)
    contact_threshold: NonNeg = 1.0           # N, measured pad contact (MetricsTracker)
    min_root_height: NonNeg = 0.25            # m, fall (MetricsTracker)
    max_tilt_deg: number(gt=0, le=180) = 45.0  # deg, fall (MetricsTracker)
    max_position_error: Positive = 0.3        # m, horizontal root drift from the (re-anchored) reference
    max_heading_error_deg: number(gt=0, le=180) = 30.0  # deg
    reanchor_interval: NonNegInt = 150        # frames between re-anchorings of the reference (0: never)
    min_episode_frames: PosInt = 25           # a start frame leaves at least this many timeline frames
    # a balance assist that fades out over the run (reference/tracker/assist.py; training only, never in generation)
    assist_steps: NonNegInt = 0                # env steps over which it fades from full to zero; 0: no assist
    assist_kp: NonNeg = 8.0                    # N m/rad of roll / pitch error (toppling stiffness m g h ~10)
    assist_kd: NonNeg = 0.8                    # N m s/rad
    assist_cap: NonNeg = 3.0                   # N m per axis (0.3 m g at the 0.30 m COM height)


class TrackerRewardSection(Section):
    """Weights (>= 0) and scales (> 0) of the reward terms (formulas in `reference.tracker.reward`)."""

    joint_weight: NonNeg = 0.4
    root_velocity_weight: NonNeg = 0.2
    vertical_velocity_weight: NonNeg = 0.0  # 0: configs written before the term (the first shipped tracker)
    root_position_weight: NonNeg = 0.1
    heading_weight: NonNeg = 0.1
    height_attitude_weight: NonNeg = 0.1
    contact_weight: NonNeg = 0.1
    action_rate_weight: NonNeg = 0.02
    stance_slip_weight: NonNeg = 0.0  # 0: configs written before the term (trackers v1 and v2)
    support_weight: NonNeg = 0.0      # 0: as stance_slip_weight
    ground_slip_weight: NonNeg = 0.0  # 0: configs written before the term (trackers v1 to v5)
    impact_weight: NonNeg = 0.0       # 0: configs written before the term (trackers v1 to v14)
    double_support_weight: NonNeg = 0.0  # 0: configs written before the term (trackers v1 to v16)
    saturation_weight: NonNeg = 0.0   # penalty per unit share of servos at their torque limit; 0: configs before it
    joint_scale: Positive = 5.0
    velocity_scale: Positive = 15.0
    vertical_scale: Positive = 50.0
    position_scale: Positive = 20.0
    heading_scale: Positive = 10.0
    yaw_rate_scale: Positive = 0.5
    height_scale: Positive = 200.0
    attitude_scale: Positive = 10.0
    slip_scale: Positive = 100.0
    support_load: Positive = 0.6      # fraction of m g from which the feet count as carrying the robot
    ground_slip_height: Positive = 0.01  # m: ground_slip weighs a foot this high above the floor by 1/e
    impact_load: Positive = 1.5       # fraction of m g above which impact charges a load spike
    impact_scale: Positive = 2.0      # 1/(m g)^2: a 2.5 m g spike -> 0.14 of the weight
    double_support_load: Positive = 0.2  # fraction of m g each foot should carry in the planned double support


class TrackerConfig(Section):
    """The whole tracker config file."""

    key_kind = "section"

    phase: Annotated[Literal["tracker"], expect("'tracker'")]
    reference: ReferenceSection
    env: TrackerEnvSection
    reward: TrackerRewardSection
    ppo: PPOSection
    training: TrainingSection

    @model_validator(mode="after")
    def _across(self) -> "TrackerConfig":
        if self.training.vec_env not in TRACKER_VEC_ENVS:
            raise ConfigError(f"training.vec_env: expected one of {TRACKER_VEC_ENVS} for the tracker, "
                              f"got {self.training.vec_env!r}")
        if self.ppo.actor_inputs != "all":
            raise ConfigError("ppo.actor_inputs: expected 'all' (the tracker's actor and critic both see every "
                              f"entry: it runs in simulation only), got {self.ppo.actor_inputs!r}")
        rollout = self.ppo.n_steps * self.training.n_envs
        if rollout == 1 or (self.ppo.batch_size < rollout and rollout % self.ppo.batch_size == 1):
            raise ConfigError(f"ppo.batch_size: the rollout ppo.n_steps * training.n_envs = {rollout} split into "
                              f"minibatches of {self.ppo.batch_size} leaves a last minibatch of 1 sample")
        return self


def validate_tracker_config(cfg: Any) -> dict:
    """A parsed tracker config, checked, as a plain dict with every default filled in."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"config: expected a mapping at the top level, got {type(cfg).__name__}")
    try:
        model = TrackerConfig.model_validate(cfg)
    except ValidationError as e:
        raise format_error(e, TrackerConfig) from None
    out = model.model_dump()
    # a variant is the plain dict of the keys given, as generation.variants (`rollout.apply_variant`)
    out["reference"]["variants"] = [v.model_dump(exclude_unset=True) for v in model.reference.variants]
    return out


def load_tracker_config(path: str | Path = DEFAULT_TRACKER_CONFIG) -> dict:
    """Read and check a tracker config file (`validate_tracker_config`)."""
    return validate_tracker_config(read_yaml(path))


__all__ = ["DEFAULT_FAST_TRACKER_PATH", "DEFAULT_GENERAL_TRACKER_PATH", "DEFAULT_TRACKER_CONFIG",
           "DEFAULT_TRACKER_PATH", "ReferenceSection", "TrackerConfig", "TrackerEnvSection", "TrackerRewardSection",
           "load_tracker_config", "validate_tracker_config"]
