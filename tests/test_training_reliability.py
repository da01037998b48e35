"""Training reliability: interrupts exit promptly with a checkpoint, --resume keeps the run's config,
bad --init-from paths fail in one line, resumed TensorBoard curves have each step once, progress lines."""
from __future__ import annotations

import os
import pickle
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the training/ scripts' package

from training import monitor_training, train_ppo  # noqa: E402
from training.common import _EnvFactory, list_checkpoints, read_state  # noqa: E402
from wildrobot_gym.checkpoints import resolve_checkpoint  # noqa: E402
from wildrobot_gym.config import CONFIG_DIR, load_config  # noqa: E402
from wildrobot_gym.vec_env import BatchedSubprocVecEnv  # noqa: E402

PROGRESS = re.compile(r"^step [\d,]+  [\d,]+ steps/s  v_fwd -?\d+\.\d{3} m/s  success \d+%  "
                      r"return -?\d+\.\d  \(\d+ ep\)$", re.M)


def tiny_config(tmp_path: Path, phase: str = "phase1e", name: str | None = None) -> Path:
    """2 envs in 1 worker, 128-step rollouts, a 16-unit net; logdir tmp_path/run."""
    cfg = load_config(CONFIG_DIR / f"{phase}.yaml")
    cfg["ppo"].update(n_steps=64, batch_size=64, n_epochs=1, pi_net=[16], vf_net=[16])
    cfg["training"].update(n_envs=2, n_workers=1, total_timesteps=256, checkpoint_interval=128,
                           start_method="fork", logdir=str(tmp_path / "run"))
    cfg["env"]["max_episode_steps"] = 50
    path = tmp_path / (name or f"{phase}_tiny.yaml")
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def run_256(tmp_path_factory) -> Path:
    """A finished tiny Phase 1E run (checkpoints at 128 and 256); tests copy it before changing it."""
    tmp = tmp_path_factory.mktemp("base")
    train_ppo.main(["--config", str(tiny_config(tmp)), "--no-progress-bar", "--log-every", "1"])
    return tmp / "run"


def copy_run(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


# ---------------------------------------------------------------------------- 1. interrupts
def _start_training(tmp_path: Path, progress_bar: bool) -> tuple[subprocess.Popen, list[str]]:
    """train_ppo.py in a subprocess, 2 workers, far from done; its output lines collected by a thread."""
    cmd = [sys.executable, str(ROOT / "training" / "train_ppo.py"), "--config", str(tiny_config(tmp_path)),
           "--n-workers", "2", "--n-envs", "4", "--total-timesteps", "100000000", "--log-every", "1"]
    if not progress_bar:
        cmd.append("--no-progress-bar")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    return proc, lines


@pytest.mark.parametrize("sig, delay, progress_bar", [
    (signal.SIGINT, 0.0, False), (signal.SIGINT, 0.13, True), (signal.SIGINT, 0.37, False),
    (signal.SIGTERM, 0.21, False),
])
def test_interrupt_saves_a_checkpoint_and_exits_promptly(tmp_path: Path, sig, delay, progress_bar):
    proc, lines = _start_training(tmp_path, progress_bar)
    try:
        t0 = time.monotonic()
        # Really stepping: the first progress line (one per PPO update) has been printed.
        while not any(PROGRESS.match(line.strip()) for line in lines):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() - t0 < 60, "no progress line within 60 s:\n" + "".join(lines)
            time.sleep(0.05)
        time.sleep(delay)  # a different moment of the step / update cycle each time
        proc.send_signal(sig)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # a hang: show what the run printed (the finally kills it)
            time.sleep(0.1)
            pytest.fail("no exit within 20 s of the signal; its output:\n" + "".join(lines))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.1)  # the reader thread's last lines
    out = "".join(lines)
    assert rc == 0, out
    assert "interrupted at step" in out and "final checkpoint:" in out, out
    last = list_checkpoints(tmp_path / "run" / "checkpoints")[-1]
    assert read_state(last)["num_timesteps"] > 0 and (last / "model.zip").is_file()
    assert PROGRESS.search(out), out  # the lines stay whole, the progress bar on or off


def _venv(n_envs: int = 4) -> BatchedSubprocVecEnv:
    cfg = load_config()
    cfg["env"]["max_episode_steps"] = 20
    venv = BatchedSubprocVecEnv([_EnvFactory(cfg) for _ in range(n_envs)], n_workers=2, start_method="fork")
    venv.reset()
    return venv


def _close_within(venv: BatchedSubprocVecEnv, seconds: float) -> None:
    t = threading.Thread(target=venv.close, daemon=True)
    t0 = time.monotonic()
    t.start()
    t.join(seconds)
    hung = t.is_alive()
    if hung:  # don't leave the workers behind a failed test
        for p in venv.processes:
            p.kill()
    assert not hung, f"close() still blocked after {seconds} s"
    assert time.monotonic() - t0 < seconds
    assert not any(p.is_alive() for p in venv.processes)


def test_an_interrupt_during_a_checkpoint_save_waits_until_it_is_written(tmp_path: Path):
    """Ctrl-C inside torch.save used to break its zip writer (a RuntimeError, no final checkpoint): the save
    now holds the signal and raises KeyboardInterrupt once the checkpoint is whole."""
    import os

    from wildrobot_gym.checkpoints import interrupts_deferred

    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal is handled here: recorded, not raised
            done.append(True)
    assert done == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is back
    with interrupts_deferred():  # no signal: nothing raised
        done.append(True)
    assert done == [True, True]


@pytest.mark.parametrize("consumed", ["all", "first", "torn"])
def test_close_returns_when_a_step_was_interrupted(consumed):
    """As after Ctrl-C inside step_wait: `waiting` is True but the replies were (partly) read already."""
    venv = _venv()
    venv.step_async(np.zeros((4, 8), dtype=np.float32))
    assert venv.waiting
    if consumed == "all":  # the interrupt landed after both replies, before waiting = False
        for remote in venv.remotes:
            remote.recv()
    elif consumed == "first":  # between worker 0's reply and worker 1's
        venv.remotes[0].recv()
    else:  # inside worker 0's recv: all but its last 3 bytes read (fewer than a message header)
        fd = venv.remotes[0].fileno()
        assert venv.remotes[0].poll(5)
        left = struct.unpack("!i", os.read(fd, 4))[0] - 3
        while left > 0:
            left -= len(os.read(fd, left))
    _close_within(venv, 8)


def test_save_mid_step_does_not_talk_to_the_workers(tmp_path: Path):
    """The final checkpoint after an interrupt pickles VecNormalize while a step may be in flight."""
    from stable_baselines3.common.vec_env import VecNormalize

    venv = _venv()
    norm = VecNormalize(venv)
    try:
        venv.step_async(np.zeros((4, 8), dtype=np.float32))
        norm.save(str(tmp_path / "vn.pkl"))  # statistics only
        with open(tmp_path / "vn.pkl", "rb") as f:
            assert pickle.load(f).obs_rms.mean.shape == venv.observation_space.shape
        with pytest.raises(RuntimeError, match="a step is in flight"):  # not a wrong reply, not a hang
            venv.get_attr("max_episode_steps")
    finally:
        _close_within(venv, 8)


# ---------------------------------------------------------------------------- 2. --resume --config
def test_resume_refuses_a_different_config_unless_overridden(run_256: Path, tmp_path: Path, capsys):
    run = copy_run(run_256, tmp_path)
    saved = (run / "config.yaml").read_text()
    other = tiny_config(tmp_path, "phase2")  # same logdir, another phase
    with pytest.raises(SystemExit, match=r"--config .*phase2_tiny\.yaml differs from the run's .*config\.yaml"):
        train_ppo.main(["--logdir", str(run), "--resume", "--config", str(other), "--no-progress-bar"])
    assert (run / "config.yaml").read_text() == saved
    # The run's own config, given again, is no change.
    train_ppo.main(["--logdir", str(run), "--resume", "--config", str(run / "config.yaml"), "--no-progress-bar"])
    assert "--override-config" not in capsys.readouterr().out
    train_ppo.main(["--logdir", str(run), "--resume", "--config", str(other), "--override-config",
                    "--no-progress-bar"])
    assert "--override-config: resuming with" in capsys.readouterr().out
    assert load_config(run / "config.yaml")["phase"] == "2"


# ---------------------------------------------------------------------------- 3. bad --init-from
def _truncated_bundle(tmp_path: Path) -> Path:
    data = (ROOT / "policies" / "phase1e.zip").read_bytes()
    bad = tmp_path / "half.zip"
    bad.write_bytes(data[: len(data) // 2])
    return bad


def test_bad_init_from_exits_in_one_line_naming_the_path(tmp_path: Path):
    cfg = str(tiny_config(tmp_path))
    missing = tmp_path / "nowhere" / "policy.zip"
    with pytest.raises(SystemExit, match=r"--init-from .*nowhere.*no checkpoint at") as e:
        train_ppo.main(["--config", cfg, "--init-from", str(missing), "--no-progress-bar"])
    assert "\n" not in str(e.value)
    bad = _truncated_bundle(tmp_path)
    with pytest.raises(SystemExit, match=r"--init-from .*half\.zip.*truncated or corrupt") as e:
        train_ppo.main(["--config", cfg, "--init-from", str(bad), "--no-progress-bar"])
    assert "\n" not in str(e.value)
    assert not (tmp_path / "run").exists()  # failed before the run directory was written


def test_resolve_checkpoint_names_a_damaged_bundle(tmp_path: Path):
    bad = _truncated_bundle(tmp_path)
    with pytest.raises(ValueError, match=r"half\.zip.*truncated or corrupt"):
        resolve_checkpoint(bad)
    data = bytearray((ROOT / "policies" / "phase1e.zip").read_bytes())
    mid = len(data) // 3
    data[mid: mid + 64] = bytes(64)  # inside an entry: the CRC check catches it
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"flipped\.zip.*truncated or corrupt"):
        resolve_checkpoint(flipped)


# ---------------------------------------------------------------------------- 4. TensorBoard after resume
def test_resumed_tensorboard_has_each_step_once(run_256: Path, tmp_path: Path):
    run = copy_run(run_256, tmp_path)
    # As if killed after logging step 256 but before its checkpoint: the latest checkpoint is 128.
    shutil.rmtree(list_checkpoints(run / "checkpoints")[-1])
    steps, _ = monitor_training.load_scalars(run)["velocity/forward"]
    assert 256 in steps.tolist()
    time.sleep(1.1)  # event file names carry the second: the resumed one sorts after
    train_ppo.main(["--logdir", str(run), "--resume", "--total-timesteps", "384", "--no-progress-bar"])
    scalars = monitor_training.load_scalars(run)
    for tag, (steps, _) in scalars.items():
        assert len(set(steps.tolist())) == len(steps), (tag, steps.tolist())
    assert scalars["velocity/forward"][0].tolist() == [128, 256, 384]


# ---------------------------------------------------------------------------- 5. progress lines
def test_progress_lines_every_n_updates(tmp_path: Path, capsys):
    train_ppo.main(["--config", str(tiny_config(tmp_path)), "--no-progress-bar", "--total-timesteps", "512",
                    "--log-every", "2"])
    lines = PROGRESS.findall(capsys.readouterr().out)
    assert [line.split("  ")[0] for line in lines] == ["step 256", "step 512"]
    assert all(len(line) < 80 for line in lines)
