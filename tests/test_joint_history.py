"""`JointHistory`: the joints half a gait cycle ago, for the symmetry term; one env and a batch."""
from __future__ import annotations

import numpy as np
import pytest

from wildrobot_gym.env import WildRobotWalkEnv
from wildrobot_gym.joint_history import JointHistory


def test_lagged_returns_the_pushed_joints_and_interpolates_between_steps():
    h = JointHistory(capacity=6, n_joints=2)
    h.reset(np.array([0.0, 0.0]))
    for t in range(1, 9):  # wraps around the ring
        h.push(np.array([float(t), -float(t)]))
    np.testing.assert_allclose(h.lagged(0), [8.0, -8.0])
    np.testing.assert_allclose(h.lagged(3), [5.0, -5.0])
    np.testing.assert_allclose(h.lagged(2.25), [5.75, -5.75])  # a quarter of the way from t=6 to t=5
    np.testing.assert_allclose(h.lagged(50), [3.0, -3.0], atol=1e-6)  # clipped to the oldest entry the ring holds


def test_a_new_episode_sees_its_start_pose_and_batch_rows_are_independent():
    h = JointHistory(capacity=5, n_joints=1, batch=3)
    h.reset(np.array([[1.0], [2.0], [3.0]]))
    h.push(np.array([[10.0], [20.0], [30.0]]))
    h.reset(np.array([[7.0]]), index=np.array([1]))  # env 1 starts again
    np.testing.assert_allclose(h.lagged(np.array([1.0, 1.0, 1.0])), [[1.0], [7.0], [3.0]])
    np.testing.assert_allclose(h.lagged(np.array([0.0, 2.0]), index=np.array([0, 2])), [[10.0], [3.0]])
    with pytest.raises(ValueError, match="capacity"):
        JointHistory(capacity=1, n_joints=8)


def test_the_env_reports_the_joints_of_half_a_cycle_ago():
    # 1.25 Hz at 50 Hz control: half a cycle is exactly 20 steps
    env = WildRobotWalkEnv(gait_frequency=1.25, fixed_command=0.5)
    assert env.half_cycle_steps(0.5) == pytest.approx(20.0)
    _, info = env.reset(seed=0)
    np.testing.assert_allclose(info["joint_pos_half_cycle"], info["joint_pos"])
    seen = [info["joint_pos"]]
    rng = np.random.default_rng(0)
    for _ in range(30):
        _, _, terminated, _, info = env.step(rng.uniform(-0.3, 0.3, 8).astype(np.float32))
        assert not terminated
        seen.append(info["joint_pos"])
        back = max(0, len(seen) - 1 - 20)  # before step 20 the history holds the start pose
        np.testing.assert_allclose(info["joint_pos_half_cycle"], seen[back], atol=1e-12)
    assert "symmetry" not in info.get("reward_terms", {})  # Phase 1E's default reward leaves it at 0
