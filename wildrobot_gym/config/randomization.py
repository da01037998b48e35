"""The ``randomization:`` section of a phase config: domain randomisation of the training envs.

Every range is ``[min, max]``, drawn uniformly per env at every episode start (`wildrobot_gym.randomization`
says what each one changes, with its units). The defaults of the shipped configs come from what small
servo-biped projects report (shared/design/field_notes.md: Open Duck Mini, ToddlerBot, the robot's own
evaluation ladder). Off (``enabled: false``, or no section) the envs are the nominal robot; evaluation is
nominal unless the robustness suite asks for a condition.
"""
from __future__ import annotations

from typing import Any

from pydantic import model_validator

from .base import Section
from .errors import ConfigError
from .values import Flag, NonNeg, integer, items, number, one_of


def _range(what: str, **bounds: float) -> Any:
    return items(number(**bounds), f"a list [min, max] of {what}", 2, 2)


def _steps(what: str) -> Any:
    return items(integer(ge=0, le=5), f"a list [min, max] of {what}", 2, 2)


class ObservationNoise(Section):
    """Standard deviation of the Gaussian noise added to each measured observation entry."""

    up_vector: NonNeg          # unit vector components (IMU attitude)
    gyro: NonNeg               # rad/s
    joint_pos: NonNeg          # rad (servo encoders)
    joint_vel: NonNeg          # rad/s
    heading: NonNeg = 0.0      # rad (the IMU's integrated yaw: drift); with env.include_heading only


class Pushes(Section):
    """Random horizontal velocity kicks of the root (a shove), at random intervals."""

    interval_s: _range("seconds > 0", gt=0)
    velocity: _range("speeds >= 0 (m/s)", ge=0)
    direction: one_of("any", "lateral") = "any"   # lateral: along the robot's left-right axis only


class RandomizationSection(Section):
    """Per-env, per-episode physical and sensing variations (module docstring)."""

    enabled: Flag
    friction: _range("friction coefficients > 0", gt=0)               # sliding friction of every geom
    link_mass_scale: _range("factors > 0", gt=0)                      # every link's mass (and inertia) x U
    torso_mass_offset: _range("masses (kg)")                          # + U kg on the torso (waist)
    torso_com_offset: NonNeg                                          # m: torso COM moved by U(-x, x) per axis
    servo_kp_scale: _range("factors > 0", gt=0)                       # servo stiffness x U
    servo_kv_scale: _range("factors > 0", gt=0)                       # servo damping x U
    servo_torque_scale: _range("factors > 0", gt=0)                   # servo torque limit x U
    joint_damping_scale: _range("factors >= 0", ge=0)                 # joint damping x U
    joint_armature_scale: _range("factors >= 0", ge=0)                # rotor inertia x U
    joint_frictionloss_scale: _range("factors >= 0", ge=0)            # joint dry friction x U
    joint_offset: NonNeg                                              # rad: encoder zero offset U(-x, x) per joint
    action_latency_steps: _steps("control steps (integers 0-5)")      # servo targets applied this late
    imu_latency_steps: _steps("control steps (integers 0-5)")         # up vector and gyro this old
    observation_noise: ObservationNoise
    start_velocity: NonNeg                                            # m/s: root velocity U(-x, x) per axis at start
    pushes: Pushes

    @model_validator(mode="after")
    def _ordered(self) -> "RandomizationSection":
        for name, value in self:
            if isinstance(value, list) and value[0] > value[1]:
                raise ConfigError(f"{name}: expected [min, max] with min <= max, got {value}")
        for name in ("interval_s", "velocity"):
            value = getattr(self.pushes, name)
            if value[0] > value[1]:
                raise ConfigError(f"pushes.{name}: expected [min, max] with min <= max, got {value}")
        return self
