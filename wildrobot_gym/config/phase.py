"""A whole phase config (``configs/phase*.yaml``): its sections, the checks across them, and the loader."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import BeforeValidator, ValidationError, model_validator

from wildrobot_gym.paths import CONFIG_DIR

from .base import Section
from .env import EnvSection
from .errors import ConfigError, format_error, read_yaml
from .ppo import PPOSection, TrainingSection
from .randomization import RandomizationSection
from .report import CheckpointCheck, Decision, SuccessCriterion
from .rewards import RewardParams, RewardWeights, StageWeights
from .values import Finite, NonNeg, NonNegInt, PosInt, Positive, Text, UnitInterval, expect, integer, items, number

DEFAULT_CONFIG_PATH = CONFIG_DIR / "phase1e.yaml"
PHASES = ("1e", "2", "3")


def _phase_name(value: Any) -> Any:
    """YAML reads ``phase: 2`` as an int and ``phase: 1E`` as a string: both become "2" / "1e"."""
    return str(value).lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else value


class CurriculumStage(Section):
    """One contact-weight stage: from start_step (env steps of Phase 2) on, these weights."""

    name: Text
    start_step: integer(ge=0)
    weights: StageWeights


class Curriculum(Section):
    """Reward-weight stages and the velocity rules of `wrappers.ContactCurriculum`: Phase 2's contact
    weights (required there), or a Phase 3 schedule of any weights (optional there)."""

    stages: items(CurriculumStage, "a non-empty list of stages")
    advance_velocity: Finite      # m/s: advance above this
    degrade_velocity: Finite      # m/s: scale the contact weights by degrade_scale below this
    degrade_scale: UnitInterval
    fail_velocity: Finite         # m/s: revert a stage below this
    cooldown_steps: NonNegInt     # env steps between two changes
    velocity_window: PosInt       # episodes in the velocity mean

    @model_validator(mode="after")
    def _ordered(self) -> "Curriculum":
        for i in range(1, len(self.stages)):
            prev, step = self.stages[i - 1].start_step, self.stages[i].start_step
            if step <= prev:
                raise ConfigError(f"stages[{i}].start_step: expected > stages[{i - 1}].start_step ({prev}), got {step}")
        # ContactCurriculum's rules read fail < degrade < advance; another order makes them contradict
        if self.fail_velocity > self.degrade_velocity:
            raise ConfigError(f"fail_velocity: expected <= degrade_velocity ({self.degrade_velocity}), "
                              f"got {self.fail_velocity}")
        if self.degrade_velocity > self.advance_velocity:
            raise ConfigError(f"degrade_velocity: expected <= advance_velocity ({self.advance_velocity}), "
                              f"got {self.degrade_velocity}")
        return self


class AMPSection(Section):
    """Phase 3 only: task weight and the seed's style weight schedule (the rest is configs/amp.yaml)."""

    task_weight: NonNeg
    style_weights: items(NonNeg, "a list of 3 numbers >= 0 (start, middle, end)", 3, 3)
    # fractions of training where the middle and the end weights begin
    schedule_boundaries: items(UnitInterval, "a list of 2 fractions in [0, 1]", 2, 2)
    # the seed's w_reg: no diversity bonus is implemented, so anything but 0 would be ignored silently
    diversity_weight: number("0 (no diversity bonus is implemented)", ge=0, le=0)
    style_reward_clip: Positive

    @model_validator(mode="after")
    def _ordered(self) -> "AMPSection":
        lo, hi = self.schedule_boundaries
        if lo > hi:
            raise ConfigError(f"schedule_boundaries: expected [start of middle, start of end] in order, got {[lo, hi]}")
        return self


class PhaseConfig(Section):
    """A phase's config file: every section, checked; see configs/phase1e.yaml for what each holds."""

    key_kind = "section"

    phase: Annotated[Literal[PHASES], BeforeValidator(_phase_name), expect(f"one of {PHASES}")]
    env: EnvSection
    reward_weights: RewardWeights
    reward_params: Optional[RewardParams] = None  # optional: rewards.DEFAULT_PARAMS fill the rest
    ppo: PPOSection
    training: TrainingSection
    success_criteria: items(SuccessCriterion, "a non-empty list of criteria")
    checkpoint_checks: items(CheckpointCheck, "a non-empty list of checks")
    decision: Decision
    curriculum: Optional[Curriculum] = None       # Phase 2 (required) and 3 (optional); see _phase_sections
    amp: Optional[AMPSection] = None              # Phase 3 only
    randomization: Optional[RandomizationSection] = None  # domain randomisation of the training envs

    @model_validator(mode="before")
    @classmethod
    def _phase_sections(cls, data: Any) -> Any:
        """curriculum: in Phase 2 (required) and 3 (optional), amp: exactly in Phase 3 (checked first: a
        Phase 1E file with a curriculum is the wrong file, whatever the curriculum holds)."""
        if not isinstance(data, dict) or _phase_name(data.get("phase")) not in PHASES:
            return data  # the field checks name the problem
        phase = _phase_name(data["phase"])
        for section, owner, optional_in, what in (("curriculum", "2", ("3",), "the contact-weight stages"),
                                                  ("amp", "3", (), "the task and style weights")):
            if phase == owner and section not in data:
                raise ConfigError(f"{section}: missing section (Phase {owner} needs {what})")
            if phase != owner and phase not in optional_in and section in data:
                allowed = " and ".join(f"Phase {x}" for x in (owner, *optional_in))
                raise ConfigError(f"{section}: only {allowed} ha{'s' if not optional_in else 've'} "
                                  f"a{'n' if section == 'amp' else ''} {section} section")
        return data

    @model_validator(mode="after")
    def _minibatches(self) -> "PhaseConfig":
        """SB3 splits each rollout (n_steps * n_envs samples) into minibatches of batch_size and only warns
        when that does not divide. A smaller last minibatch (or, for batch_size > rollout, one minibatch
        of the whole rollout) trains fine, but a last minibatch of one sample gives NaN advantages after
        their normalisation: that case, and only it, is an error (so `--n-envs 4` still works)."""
        n_steps, n_envs, batch = self.ppo.n_steps, self.training.n_envs, self.ppo.batch_size
        rollout = n_steps * n_envs
        if rollout == 1 or (batch < rollout and rollout % batch == 1):
            raise ConfigError(
                f"ppo.batch_size: the rollout ppo.n_steps * training.n_envs = {n_steps} * {n_envs} = {rollout} "
                f"split into minibatches of {batch} leaves a last minibatch of 1 sample (NaN advantages): "
                f"pick a batch_size that divides {rollout}")
        return self


def validate_config(cfg: Any) -> dict:
    """Check a parsed phase config; return it as a plain dict (a new one: the keys it had, `phase` as
    "1e" / "2" / "3"). Raises `ConfigError` naming the first bad key."""
    if not isinstance(cfg, dict):
        raise ConfigError(f"config: expected a mapping at the top level, got {type(cfg).__name__}")
    try:
        model = PhaseConfig.model_validate(cfg)
    except ValidationError as e:
        raise format_error(e, PhaseConfig) from None
    # exclude_unset: the optional keys the file leaves out stay out (the env's defaults apply to them)
    return _in_order(model.model_dump(exclude_unset=True), cfg)


def _in_order(dumped: Any, given: Any) -> Any:
    """`dumped` with its mappings' keys in the order of `given` (a saved config.yaml reads like its source)."""
    if isinstance(dumped, dict) and isinstance(given, dict):
        return {k: _in_order(dumped[k], given[k]) for k in given if k in dumped}
    if isinstance(dumped, list) and isinstance(given, list):
        return [_in_order(d, g) for d, g in zip(dumped, given)]
    return dumped


def load_config(path: str | Path = DEFAULT_CONFIG_PATH) -> dict:
    """Read and validate a phase config file."""
    return validate_config(read_yaml(path))
