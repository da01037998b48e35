"""WildRobot-Gym: a Gymnasium environment for the WildRobot biped."""
from wildrobot_gym.robot import JOINT_NAMES, NUM_JOINTS  # noqa: F401

ENV_ID = "WildRobotWalk-v0"


def register_envs() -> None:
    """Register `WildRobotWalk-v0` (also Gymnasium's plugin entry point); safe to call twice."""
    from gymnasium.envs.registration import register, registry

    if ENV_ID not in registry:
        register(id=ENV_ID, entry_point="wildrobot_gym.env:WildRobotWalkEnv")


register_envs()
