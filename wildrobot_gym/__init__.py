"""WildRobot-Gym: a Gymnasium environment for the WildRobot biped."""
# First, before anything imports mujoco: MuJoCo reads MUJOCO_GL once, at import (see gl_backend).
from wildrobot_gym.gl_backend import choose_gl_backend

choose_gl_backend()

from wildrobot_gym.robot import JOINT_NAMES, NUM_JOINTS  # noqa: E402, F401

ENV_ID = "WildRobotWalk-v0"
#: Episode length of `gym.make(ENV_ID)` (10 s at 50 Hz), enforced by Gymnasium's TimeLimit wrapper.
DEFAULT_MAX_EPISODE_STEPS = 500


def register_envs() -> None:
    """Register `WildRobotWalk-v0` (also Gymnasium's plugin entry point); safe to call twice."""
    from gymnasium.envs.registration import WrapperSpec, register, registry

    if ENV_ID not in registry:
        # gym.make keeps its max_episode_steps keyword for its TimeLimit: the env is built without a
        # limit of its own, and adopt_time_limit (applied after the TimeLimit) validates the value and
        # hands it to the env, so both agree (see the env docstring, Truncation).
        adopt = WrapperSpec("AdoptTimeLimit", "wildrobot_gym.env:adopt_time_limit", kwargs={})
        register(id=ENV_ID, entry_point="wildrobot_gym.env:WildRobotWalkEnv",
                 max_episode_steps=DEFAULT_MAX_EPISODE_STEPS, additional_wrappers=(adopt,),
                 kwargs={"max_episode_steps": None})


register_envs()
