"""Adversarial Motion Priors (AMP) for Phase 3, on top of `imitation` 1.0.1.

Design: where the discriminator's observation comes from
--------------------------------------------------------
The discriminator judges AMP feature transitions with the ONE feature function
`wildrobot_gym.amp_features.compute_features`, the same one the reference miner uses: with
``discriminator.history_frames`` = H, (Phi_{t-H+1}, ..., Phi_t, Phi_{t+1}); H = 1 is the pair
(Phi(s), Phi(s')). imitation's
`AdversarialTrainer` records the *observations* of its VecEnv (`BufferingWrapper`) and hands them to a
`RewardNet`. So the features travel in the observation, and are hidden from the policy again above the
recorder::

    gym env (per worker) : make_phase_env(cfg) -> AMPFeatureObservation     obs = [policy obs | Phi_t .. Phi_t-H+1]
    VecEnv (trainer side): venv -> BufferingWrapper (imitation: records [obs | Phi] for the replay)
                                -> AMPRewardVecEnvWrapper  (task + w_style * style, style from Phi only)
                                -> StripAMPFeatures        (obs = policy obs, also terminal_observation)
                                -> policy_venv_fn(...)     (e.g. VecNormalize: policy side only)
                                -> PPO

* Features are computed inside each env process (`AMPFeatureObservation`), from the MuJoCo state and the
  env's metrics (`info`), so they work with any VecEnv, including `BatchedSubprocVecEnv`, which drops
  per-step infos. The batched env (`wildrobot_gym.batch_env`) computes them for the whole batch.
* Frame history: the feature columns are a history block, the last H frames newest first, kept by
  `amp_features.push_frame` (both env kinds; at an episode start the first frame fills every slot, so
  nothing reaches across a reset). The reference side gathers the same blocks from consecutive frames
  of one segment (`ReferenceSampler`, `amp_features.history_block`; never across a segment boundary).
  Both sides' blocks then go through the one definition of the discriminator's input,
  `amp_features.transition_frames` (in `AMPDiscriminatorNet.disc_input`).
* The policy's observation space is unchanged, so a Phase 2 checkpoint (and its VecNormalize
  statistics) loads as is. No VecNormalize sits between the env and the discriminator: the
  discriminator normalises its inputs itself (`RunningNorm`, updated from real + fake batches).
* The discriminator reads only the feature columns of an observation (`feature_start`); reference
  transitions are given to imitation as observations [zeros | block], actions 0, dones 0.

Discriminator (AMP paper, Peng et al. 2021, eq. 6 and 7)
--------------------------------------------------------
D(s, s') = MLP([n(Phi_{t-H+1}) * m, ..., n(Phi_t) * m, n(Phi_{t+1}) * m]) (H = 1: [n(Phi(s)) m, n(Phi(s')) m]);
n the running normaliser (per component, shared by the frames; clipped to +-norm_clip), m the stage mask
(1 for kept feature components, 0 for dropped: `FeatureSchedule`).

    loss  = E_real[(D - 1)^2] + E_fake[(D + 1)^2] + (w_gp / 2) E_real[ |grad_x D(x)|^2 ]
    style = max(0, 1 - 0.25 (D - 1)^2)

x is the normalised, masked discriminator input (with input noise); the gradient is taken over the kept
columns only. With ``discriminator.min_style_reward`` set, an update whose policy batch already earns less
mean style than that is skipped (the judge is held where it still pays). Fake samples are a mix of the
latest rollout and a replay of older ones (`PolicyReplay`); real samples come from `ReferenceSampler`
(softmax(score / T) weights, at least min(3, motions) distinct motion ids per batch, optional mirroring;
with ``reference.walking_only`` only the segments the miner labelled walking).

Reward (`AMPRewardVecEnvWrapper`)::

    total = w_task * task + w_sched(progress) * style_weight * amp_weight * style_scale * min(style, clip)

w_task = ``reward.task_weight``; w_sched = seed 002's schedule (phase3.yaml ``amp.style_weights`` 0.1 / 0.5 /
1.0, switching at ``schedule_boundaries`` of the run's total_timesteps; applied by training/train_ppo.py,
1 elsewhere); style_weight and style_scale = ``reward.style_weight`` / ``reward.style_scale``; amp_weight =
the ramp (`AMPWeightRamp`: its steps count only while its gate is open, ``ramp.gate: auc`` with AUC in
[auc_min, auc_max], ``always``: always); clip = phase3.yaml ``amp.style_reward_clip``. The schedule and the
ramp multiply: the schedule sets the ceiling at each part of training, the ramp how much of it the
discriminator has earned. The feature set follows `FeatureSchedule`; ramp and features advance on the
global env step count of the AMP run (`StepClock`), never on SB3's per-learn() progress.

Metrics (`AMPTrainer.last_metrics`, TensorBoard ``amp/...``): disc_loss, lsq_loss, grad_penalty,
accuracy, auc, expert_logit_mean, policy_logit_mean, max_abs_logit, style_reward_mean,
style_reward_var (on the policy samples of the discriminator batch), update_skipped (share of the
round's updates held back), env_style_reward_mean (what the policy was paid), amp_weight, feature_stage,
fall_rate.

Every number lives in ``configs/amp.yaml`` (`load_amp_config`).

Layout
------
One job a module; every name is re-exported here (``from wildrobot_gym.amp import X`` as before)::

    amp/config.py         the config dataclasses of configs/amp.yaml, config_from_dict, load_amp_config
    amp/observation.py    features_from_env, AMPFeatureObservation, StripAMPFeatures (features in the VecEnv)
                          (frame history helpers: wildrobot_gym.amp_features, numpy only, shared with batch_env)
    amp/discriminator.py  RunningNorm, AMPDiscriminatorNet (the RewardNet), style_reward, AMPStyleRewardNet
    amp/losses.py         least_squares_loss, gradient_penalty, roc_auc, disc_metrics, discriminator_update
    amp/reference.py      ReferenceSampler, PolicyReplay, mix_policy_samples (real and fake samples)
    amp/schedules.py      AMPWeightRamp, FeatureSchedule, StepClock, GlobalProgressSchedule
    amp/reward.py         AMPRewardVecEnvWrapper (task + weighted style reward)
    amp/trainer.py        AMPTrainer (imitation's AdversarialTrainer, the Phase 3 loop)
"""
from __future__ import annotations

# The feature layout and the config error, as the single-module version exposed them.
from wildrobot_gym.amp_features import (
    LAYOUT,
    LIN_VEL_MODES,
    FeatureLayout,
    compute_features,
    history_block,
    mirror_features,
    push_frame,
    transition_frames,
)
from wildrobot_gym.config import ConfigError
from wildrobot_gym.paths import CONFIG_DIR

# Private names too (the single module had them): old `amp._X` lookups keep working.
from wildrobot_gym.amp.config import (  # noqa: F401
    CONTACT_COMPONENTS,
    DEFAULT_AMP_CONFIG,
    HEIGHT_COMPONENTS,
    RAMP_GATES,
    AMPConfig,
    DiscriminatorConfig,
    FeaturesConfig,
    FeatureStageConfig,
    Phase3RunConfig,
    RampConfig,
    ReferenceConfig,
    ReplayConfig,
    RewardConfig,
    SmokeTestConfig,
    _adapter,
    _config,
    _default_stages,
    _Flag,
    _Name,
    _NonNeg,
    _NonNegInt,
    _Pos,
    _PosInt,
    _Unit,
    config_from_dict,
    load_amp_config,
)
from wildrobot_gym.amp.observation import AMPFeatureObservation, StripAMPFeatures, features_from_env
from wildrobot_gym.amp.discriminator import (  # noqa: F401
    _ACTIVATIONS,
    AMPDiscriminatorNet,
    AMPStyleRewardNet,
    RunningNorm,
    make_discriminator,
    style_reward,
)
from wildrobot_gym.amp.losses import (
    disc_metrics,
    discriminator_update,
    gradient_penalty,
    least_squares_loss,
    roc_auc,
)
from wildrobot_gym.amp.reference import PolicyReplay, ReferenceSampler, mix_policy_samples
from wildrobot_gym.amp.schedules import (  # noqa: F401
    AMPWeightRamp,
    FeatureSchedule,
    GlobalProgressSchedule,
    StepClock,
    _ClockCallback,
)
from wildrobot_gym.amp.reward import AMPRewardVecEnvWrapper
from wildrobot_gym.amp.trainer import AMPTrainer

__all__ = [
    # config
    "AMPConfig", "CONTACT_COMPONENTS", "DEFAULT_AMP_CONFIG", "DiscriminatorConfig", "FeatureStageConfig",
    "FeaturesConfig", "HEIGHT_COMPONENTS", "Phase3RunConfig", "RAMP_GATES", "RampConfig", "ReferenceConfig", "ReplayConfig",
    "RewardConfig", "SmokeTestConfig", "config_from_dict", "load_amp_config",
    # observation
    "AMPFeatureObservation", "StripAMPFeatures", "features_from_env",
    # discriminator, losses
    "AMPDiscriminatorNet", "AMPStyleRewardNet", "RunningNorm", "make_discriminator", "style_reward",
    "disc_metrics", "discriminator_update", "gradient_penalty", "least_squares_loss", "roc_auc",
    # samples, schedules, reward, trainer
    "PolicyReplay", "ReferenceSampler", "mix_policy_samples",
    "AMPWeightRamp", "FeatureSchedule", "GlobalProgressSchedule", "StepClock",
    "AMPRewardVecEnvWrapper", "AMPTrainer",
    # re-exported from elsewhere, as before
    "CONFIG_DIR", "ConfigError", "FeatureLayout", "LAYOUT", "LIN_VEL_MODES", "compute_features", "mirror_features",
    "history_block", "push_frame", "transition_frames",
]
