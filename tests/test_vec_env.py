"""BatchedSubprocVecEnv: SB3 VecEnv semantics with batches of envs per worker process."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the training/ scripts' package

from training.common import _EnvFactory
from wildrobot_gym.config import load_config
from wildrobot_gym.vec_env import BatchedSubprocVecEnv


def test_batched_vec_env_semantics():
    cfg = load_config()
    cfg["env"]["max_episode_steps"] = 5
    venv = BatchedSubprocVecEnv([_EnvFactory(cfg) for _ in range(3)], n_workers=2, start_method="fork")
    try:
        assert venv.num_envs == 3
        venv.seed(7)
        obs = venv.reset()
        assert obs.shape == (3, venv.observation_space.shape[0]) and np.isfinite(obs).all()
        for t in range(5):
            obs, rew, dones, infos = venv.step(np.zeros((3, 8), dtype=np.float32))
            assert rew.shape == (3,) and len(infos) == 3
        # Time limit at step 5: auto-reset, terminal observation and SB3's truncation flag.
        assert dones.all()
        for info in infos:
            assert info["TimeLimit.truncated"] and info["terminal_observation"].shape == obs.shape[1:]
            assert info["episode"]["l"] == 5 and info["is_success"]
            assert "forward_velocity" in info["episode_stats"]
            assert "pad_force" not in info  # per-step arrays stay in the worker
        # Per-env access across workers, in index order.
        venv.env_method("set_reward_weights", {"foot_sliding": 0.7}, indices=[0, 2])
        w = venv.env_method("get_reward_weights")
        assert [x["foot_sliding"] for x in w] == [0.7, 0.0, 0.7]
        assert venv.get_attr("max_episode_steps") == [5, 5, 5]
        # Seeding: the same seed gives the same first observation.
        venv.seed(7)
        again = venv.reset()
        venv.seed(7)
        assert np.allclose(again, venv.reset())
    finally:
        venv.close()
