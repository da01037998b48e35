"""The ``env:`` section: keyword arguments of `wildrobot_gym.env.WildRobotWalkEnv`.

Every key is optional (the env's default applies). The fields are the env constructor's parameters
except those the training code supplies itself (`NOT_FROM_CONFIG`); tests/test_config.py checks that
the two lists agree. The ranges are the env's own `_check_args`, so a bad value fails here, before
the worker processes build their envs.
"""
from __future__ import annotations

from typing import Annotated, Optional, Union

from pydantic import model_validator

from wildrobot_gym.robot import NUM_JOINTS

from .base import Section
from .errors import ConfigError
from .values import Finite, Flag, NonNeg, PosInt, expect, items, number

#: `WildRobotWalkEnv.__init__` parameters that are not config keys (the phase's reward sections and
#: the caller give them).
NOT_FROM_CONFIG = ("self", "render_mode", "model_path", "reward_weights", "reward_params")

_Scale = number(gt=0)


class EnvSection(Section):
    """`WildRobotWalkEnv` keyword arguments (units as in the env docstring).

    Every default is None: a key the file leaves out is not validated and not in the dumped dict, so
    the env's own default applies. An explicit ``null`` is checked like any value (only fixed_command
    and max_step_length take it)."""

    frame_skip: PosInt = None                       # physics steps per control step
    # rad per unit action about home: one number, or one per joint
    action_scale: Annotated[Union[_Scale, items(_Scale, f"{NUM_JOINTS} numbers > 0", NUM_JOINTS, NUM_JOINTS)],
                            expect(f"a number > 0 or a list of {NUM_JOINTS} of them")] = None
    # rad added to home before the action's scale: the target of action 0 (one number, or one per joint)
    action_offset: Annotated[Union[Finite, items(Finite, f"{NUM_JOINTS} finite numbers", NUM_JOINTS, NUM_JOINTS)],
                             expect(f"a finite number or a list of {NUM_JOINTS} of them")] = None
    command_range: items(number(), "a list [min, max] of finite numbers", 2, 2) = None  # m/s
    fixed_command: Optional[number()] = None        # m/s; null: sample from command_range
    max_episode_steps: PosInt = None                # control steps before truncation
    min_root_height: NonNeg = None                  # m; lower is a fall
    max_tilt_deg: number(gt=0, le=180) = None       # deg; more is a fall
    gait_frequency: NonNeg = None                   # Hz of the phase clock
    # m; the clock quickens above command = 2 max_step_length gait_frequency (env docstring); null: fixed
    max_step_length: Optional[number(gt=0)] = None
    include_privileged: Flag = None
    include_heading: Flag = None                    # heading_error in the observation (commanded minus IMU yaw)
    reset_noise_scale: NonNeg = None                # rad
    contact_threshold: NonNeg = None                # N
    yaw_rate_filter_s: NonNeg = None                # s, low-pass of the yaw rate the yaw_rate term reads
    reward_enabled: Flag = None
    width: PosInt = None                            # render size, pixels (the env checks the model's maximum)
    height: PosInt = None

    @model_validator(mode="after")
    def _command_range_ordered(self) -> "EnvSection":
        if self.command_range is not None and self.command_range[0] > self.command_range[1]:
            raise ConfigError(f"command_range: expected [min, max] with min <= max, got {self.command_range}")
        return self
