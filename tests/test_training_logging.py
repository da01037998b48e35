"""Training's logging leaves nothing behind (no SB3 temp folders) and its progress line's steps/s is wall-clock."""
from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the training/ scripts' package

from training import common  # noqa: E402
from training.common import EpisodeStatsCallback  # noqa: E402
from wildrobot_gym.config import CONFIG_DIR, load_config, validate_config  # noqa: E402


def test_train_speed_benchmark_leaves_no_sb3_temp_folder(tmp_path: Path, monkeypatch) -> None:
    """SB3's learn() without a logger of the model's own makes an empty $TMPDIR/SB3-<date> folder each call."""
    spec = importlib.util.spec_from_file_location("_train_speed", ROOT / "benchmarks" / "train_speed.py")
    train_speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_speed)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    cfg = load_config(CONFIG_DIR / "phase1e.yaml")
    cfg["ppo"].update(n_steps=32, batch_size=64, n_epochs=1, pi_net=[16], vf_net=[16])
    cfg["training"].update(n_envs=2, n_workers=1, torch_threads=1)
    threads = torch.get_num_threads()
    try:
        collect, train = train_speed.measure(validate_config(cfg), 1, "batched")
    finally:
        torch.set_num_threads(threads)
    assert collect > 0 and train > 0
    assert [p.name for p in tmp.iterdir() if p.name.startswith("SB3-")] == []


class _Recorder:
    def __init__(self) -> None:
        self.values: dict = {}

    def record(self, key, value) -> None:
        self.values[key] = value


def test_progress_line_steps_per_second_is_wall_clock_across_amp_rounds(monkeypatch, capsys) -> None:
    """Phase 3 runs one learn() per AMP round with the same callback; the discriminator's updates happen
    between them. The line (every 2 rounds) and time/steps_per_second count that time and both rounds' episodes."""
    clock = [100.0]
    monkeypatch.setattr(common.time, "perf_counter", lambda: clock[0])
    cb = EpisodeStatsCallback(print_every=2)
    model = SimpleNamespace(num_timesteps=0, logger=_Recorder())
    cb.init_callback(model)
    stats = {"forward_velocity": 0.5, "success": 1.0, "return": 2.0}
    rates = []
    for _ in range(2):  # a round: 1000 steps collected and PPO's update in 1 s, then 3 s of discriminator
        cb.on_training_start({"dones": np.array([True]), "infos": [{"episode_stats": stats}]}, {})
        clock[0] += 1.0
        model.num_timesteps += 1000
        cb.on_step()
        cb.on_rollout_end()
        rates.append(model.logger.values["time/steps_per_second"])
        cb.on_training_end()
        clock[0] += 3.0
    line = capsys.readouterr().out.strip()
    assert line.startswith("step 2,000  400 steps/s  ") and line.endswith("(2 ep)"), line  # 2000 steps in 5 s
    assert rates == [pytest.approx(1000.0), pytest.approx(250.0)]  # the second: 1000 steps in 4 s
