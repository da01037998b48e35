"""Phase configs: load a YAML file and check it before any training starts.

A bad config (an unknown reward term, a missing key, a wrong type, a value out of range) raises
`ConfigError` naming the key's dotted path, e.g. ``ppo.batch_size: expected a positive integer >= 2,
got '2048'``. The checks are pydantic models, one per section; `load_config` / `validate_config`
return the validated config as a plain nested dict, which the rest of the code reads.

Sections (see ``configs/phase1e.yaml`` for the documented defaults)     model (module)
    phase             "1e", "2" or "3"                                  PhaseConfig (phase)
    env               `WildRobotWalkEnv` keyword arguments              EnvSection (env)
    reward_weights    every term of `wildrobot_gym.rewards.TERMS`, >= 0 RewardWeights (rewards)
    reward_params     shape parameters of `rewards.DEFAULT_PARAMS`      RewardParams (rewards)
    ppo               SB3 PPO hyperparameters and the policy network    PPOSection (ppo)
    training          run length, vectorisation, normalisation, ...     TrainingSection (ppo)
    success_criteria  the seed's table for the phase                    SuccessCriterion (report)
    checkpoint_checks the seed's checks at fractions of training        CheckpointCheck (report)
    decision          the seed's decision point after the phase         Decision (report)
    curriculum        Phase 2 only: contact-weight stages, velocity rules  Curriculum (phase)
    amp               Phase 3 only: task weight, style weight schedule  AMPSection (phase)

The value types and their error wording are in `values`, the error translation in `errors`; the AMP
run config (configs/amp.yaml) uses both from `wildrobot_gym.amp`.
"""
from __future__ import annotations

from wildrobot_gym.paths import CONFIG_DIR

from .env import NOT_FROM_CONFIG, EnvSection
from .errors import ConfigError, format_error, read_yaml
from .phase import (DEFAULT_CONFIG_PATH, PHASES, AMPSection, Curriculum, CurriculumStage, PhaseConfig,
                    load_config, validate_config)
from .ppo import ACTIVATIONS, START_METHODS, PPOSection, TrainingSection
from .report import CheckpointCheck, Decision, SuccessCriterion
from .rewards import RewardParams, RewardWeights, StageWeights

CONTACT_TERMS = ("foot_contact", "foot_sliding", "foot_air_time")

__all__ = [
    "ACTIVATIONS", "CONFIG_DIR", "CONTACT_TERMS", "DEFAULT_CONFIG_PATH", "NOT_FROM_CONFIG", "PHASES",
    "START_METHODS", "AMPSection", "CheckpointCheck", "ConfigError", "Curriculum", "CurriculumStage",
    "Decision", "EnvSection", "PPOSection", "PhaseConfig", "RewardParams", "RewardWeights", "StageWeights",
    "SuccessCriterion", "TrainingSection", "format_error", "load_config", "read_yaml", "validate_config",
]
