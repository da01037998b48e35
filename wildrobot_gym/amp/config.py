"""AMP configuration: the dataclasses of ``configs/amp.yaml``, `config_from_dict` and `load_amp_config`."""
from __future__ import annotations

import functools
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Mapping, Optional

from annotated_types import MinLen
from pydantic import TypeAdapter, ValidationError, field_validator, model_validator

from wildrobot_gym.amp.discriminator import _ACTIVATIONS
from wildrobot_gym.amp_features import LIN_VEL_MODES
from wildrobot_gym.config import ConfigError, format_error, read_yaml
from wildrobot_gym.config.base import config_dataclass
from wildrobot_gym.config.values import expect, flag, integer, one_of, real, text
from wildrobot_gym.paths import CONFIG_DIR

DEFAULT_AMP_CONFIG = CONFIG_DIR / "amp.yaml"

#: The seed's "contacts": the flags and their continuous proxies (dropped / reintroduced together).
CONTACT_COMPONENTS: tuple[str, ...] = ("foot_contact", "foot_height", "foot_z_vel")
HEIGHT_COMPONENTS: tuple[str, ...] = ("root_height",)
#: ``ramp.gate``: "auc" advances the ramp only while the discriminator is healthy (seed 000), "always" by steps only.
RAMP_GATES: tuple[str, ...] = ("auc", "always")


# Pydantic dataclasses: attribute access, positional construction, `dataclasses.asdict` / `replace`, equality
# and hashing work as for the plain frozen dataclasses they were; the field types carry the ranges
# (wildrobot_gym.config.values), so YAML (`config_from_dict`) and direct construction are checked alike.
# A bad value raises pydantic's ValidationError (a ValueError) on construction, `ConfigError` naming the
# dotted key from `config_from_dict` / `load_amp_config`.
_config = config_dataclass

_PosInt = integer(gt=0)
_NonNegInt = integer(ge=0)
_Pos = real(gt=0)
_NonNeg = real(ge=0)
_Unit = real(ge=0, le=1)
_Flag = flag("true/false")  # amp.yaml's old wording, kept (tests match it); phase configs say "true or false"
_Name = text()  # a feature component's or a stage's name


@_config
class DiscriminatorConfig:
    """Network, optimiser and regularisation of the discriminator."""

    hidden_sizes: Annotated[tuple[_PosInt, ...], MinLen(1),
                            expect("a non-empty list of integers > 0", keep_item_errors=True)] = (256, 256)
    activation: str = "relu"  # a key of _ACTIVATIONS
    learning_rate: _Pos = 1e-4
    weight_decay: _NonNeg = 0.0
    batch_size: _PosInt = 512
    updates_per_round: _PosInt = 4
    grad_penalty_weight: _NonNeg = 10.0
    input_noise_std: _NonNeg = 0.05
    norm_clip: _Pos = 5.0
    norm_eps: _Pos = 1e-5
    # Frames of history: D sees (Phi_{t-H+1}, ..., Phi_t, Phi_{t+1}); 1 = the AMP paper's (s, s') pair, the
    # default of configs saved before the key (amp_features module docstring, "Frame history").
    history_frames: integer("an integer in [1, 16]", ge=1, le=16) = 1
    # Skip an update when the policy batch's mean style reward is below this (`discriminator_update`); None:
    # every update runs (the AMP paper's).
    min_style_reward: Optional[_Unit] = None

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, value: str) -> str:
        if value not in _ACTIVATIONS:  # the discriminator's own table, defined with the network (amp/discriminator.py)
            raise ValueError(f"expected one of {sorted(_ACTIVATIONS)}, got {value!r}")
        return value


@_config
class ReplayConfig:
    """Policy-sample replay: capacity and the fresh / old mix."""

    capacity: _PosInt = 100_000
    fresh_fraction: _Unit = 0.5


@_config
class ReferenceConfig:
    """Reference minibatch sampling."""

    temperature: _Pos = 1.0
    min_motions_per_batch: _NonNegInt = 3
    mirror_prob: _Unit = 0.0
    weight_by_length: _Flag = True
    # Sample only segments labelled walking (`segment_walking`, reference.miner step 6) when the dataset has
    # the label; False (configs saved before the key): every segment.
    walking_only: _Flag = False
    # Sample only segments whose mean forward speed (`segment_forward_velocity`, m/s) is at least this; None:
    # every speed. The discriminator then judges the policy against the walking at the commanded speeds.
    min_speed: Optional[_NonNeg] = None


@_config
class FeatureStageConfig:
    """One stage of the feature reintroduction schedule (`FeatureSchedule` checks the order and the names)."""

    name: _Name = "stage0"
    start_step: _NonNegInt = 0
    drop: tuple[_Name, ...] = ()
    max_fall_rate: Optional[_Unit] = None  # a fraction of episodes; None: no fall-rate gate


def _default_stages() -> tuple[FeatureStageConfig, ...]:
    return (
        FeatureStageConfig("stage0", 0, HEIGHT_COMPONENTS + CONTACT_COMPONENTS, None),
        FeatureStageConfig("height", 50_000, CONTACT_COMPONENTS, 0.2),
        FeatureStageConfig("contacts", 100_000, (), 0.2),
    )


@_config
class FeaturesConfig:
    """Feature parameters (must match the dataset's) and the reintroduction schedule."""

    lin_vel_mode: one_of(*LIN_VEL_MODES) = "clip"
    lin_vel_clip: _Pos = 1.5
    fall_window: _PosInt = 100
    stages: tuple[FeatureStageConfig, ...] = field(default_factory=_default_stages)

    @model_validator(mode="after")
    def _schedule(self) -> "FeaturesConfig":
        # Imported here, not at the top: amp.schedules imports this module (RampConfig() is a default there).
        from wildrobot_gym.amp.schedules import FeatureSchedule

        try:
            FeatureSchedule(self.stages)  # validates names, order and droppability
        except KeyError as exc:  # pydantic turns only ValueErrors into errors that name the key
            raise ValueError(str(exc)) from exc
        return self


@_config
class RewardConfig:
    """total = task_weight * task + style_weight * amp_weight * style_scale * style (`AMPRewardVecEnvWrapper`;
    Phase 3 multiplies style_weight by seed 002's schedule)."""

    task_weight: _NonNeg = 1.0
    style_weight: _NonNeg = 1.0
    style_scale: _NonNeg = 1.0  # multiplies the (clipped) style reward; 1.0: as before the key
    diversity_weight: real("0 (no diversity bonus is implemented)", ge=0, le=0) = 0.0


@_config
class RampConfig:
    """AMP weight ramp and its discriminator-health gate (seed 000); ``gate: always`` ignores the gate."""

    initial: _NonNeg = 0.05
    final: _NonNeg = 1.0
    ramp_start: _NonNegInt = 5000
    ramp_end: _PosInt = 50_000
    auc_min: _Unit = 0.60
    auc_max: _Unit = 0.85
    max_abs_logit: _Pos = 5.0
    gate: one_of(*RAMP_GATES) = "auc"  # auc: the health gate above; always: ramp by steps only

    @model_validator(mode="after")
    def _ordered(self) -> "RampConfig":
        # two keys together: the message names the section and both
        if not self.ramp_start < self.ramp_end:
            raise ValueError(f"need 0 <= ramp_start < ramp_end, got {self.ramp_start}, {self.ramp_end}")
        if not self.auc_min <= self.auc_max:
            raise ValueError(f"need 0 <= auc_min <= auc_max <= 1, got {self.auc_min}, {self.auc_max}")
        return self


@_config
class SmokeTestConfig:
    """Micro-train smoke test gates (seed 000) and sizes."""

    auc_min: _Unit = 0.6
    auc_max: _Unit = 0.9
    min_reward_variance: _NonNeg = 0.05
    policy_steps: _PosInt = 3000
    eval_fraction: _Unit = 0.2
    eval_size: _PosInt = 1000
    log_interval: _PosInt = 100

    @model_validator(mode="after")
    def _ordered(self) -> "SmokeTestConfig":
        if not self.auc_min <= self.auc_max:  # an empty band would fail every smoke test
            raise ValueError(f"need 0 <= auc_min <= auc_max <= 1, got {self.auc_min}, {self.auc_max}")
        return self


@_config
class Phase3RunConfig:
    """How training/train_ppo.py runs Phase 3 (and training/run_pipeline.py its decision tree)."""

    dataset: text("a non-empty path") = "data/tier0plus"
    pretrain_updates: _NonNegInt = 1000
    pretrain_policy_steps: _PosInt = 8192
    path_b_initial_weight: _NonNeg = 0.1
    smoke_test_updates: _PosInt = 5000


@_config
class AMPConfig:
    """Everything of configs/amp.yaml."""

    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    reference: ReferenceConfig = field(default_factory=ReferenceConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    ramp: RampConfig = field(default_factory=RampConfig)
    smoke_test: SmokeTestConfig = field(default_factory=SmokeTestConfig)
    phase3: Phase3RunConfig = field(default_factory=Phase3RunConfig)


@functools.lru_cache(maxsize=None)
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def config_from_dict(cls: type, data: Mapping[str, Any] | None, section: str = "amp") -> Any:
    """Config dataclass `cls` (e.g. `AMPConfig`) from a mapping (YAML, or `dataclasses.asdict` of one as
    saved with a checkpoint); missing keys keep the defaults. An unknown key, a wrong type or a value out
    of range raises `ConfigError` (a ValueError) naming the dotted key, e.g. ``amp.ramp.auc_min: ...``."""
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{section}: expected a mapping, got {type(data).__name__}")
    try:
        return _adapter(cls).validate_python(dict(data))
    except ValidationError as exc:
        raise format_error(exc, cls, section) from None


def load_amp_config(path: str | Path = DEFAULT_AMP_CONFIG, section: str | None = None) -> AMPConfig:
    """`AMPConfig` from a YAML file (its top level, or the mapping under `section`, e.g. ``amp``)."""
    doc = read_yaml(path, "amp config") or {}
    if section is not None:
        if not isinstance(doc, Mapping) or section not in doc:
            raise ConfigError(f"amp config: {path} has no section {section!r}")
        doc = doc[section]
    return config_from_dict(AMPConfig, doc, section or "amp")
