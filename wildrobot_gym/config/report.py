"""The seed's tables: ``success_criteria:`` (evaluate.py), ``checkpoint_checks:`` and ``decision:``
(monitor_training.py)."""
from __future__ import annotations

from typing import Optional

from pydantic import model_validator

from .base import Section
from .errors import ConfigError
from .values import Finite, Flag, Text, UnitInterval


def _ordered(row: Section, low: str, high: str) -> None:
    lo, hi = getattr(row, low), getattr(row, high)
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"{high}: expected >= {low} ({lo}), got {hi}")


class SuccessCriterion(Section):
    """One row: a metric PASSes when pass_min <= value <= pass_max; target_* is the seed's target,
    shown alongside. Bounds are optional (a row without any is informational)."""

    metric: Text
    label: Text
    target_min: Optional[Finite] = None
    target_max: Optional[Finite] = None
    pass_min: Optional[Finite] = None
    pass_max: Optional[Finite] = None
    note: Optional[Text] = None

    @model_validator(mode="after")
    def _bounds_ordered(self) -> "SuccessCriterion":
        _ordered(self, "target_min", "target_max")  # an empty range would FAIL every run
        _ordered(self, "pass_min", "pass_max")
        return self


class CheckpointCheck(Section):
    """A check at a fraction of total_timesteps (monitor_training.py)."""

    fraction: UnitInterval
    label: Text
    min_velocity: Optional[Finite] = None
    never_backward: Flag = None
    stable_reward: Flag = None
    min_success_rate: Optional[UnitInterval] = None


class Decision(Section):
    """The seed's decision point after the phase."""

    proceed_min_velocity: Finite     # m/s
    stable_tolerance: UnitInterval   # fraction of the best value the end of the curve may lose
