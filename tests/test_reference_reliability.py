"""Reliability of `python -m reference.generate`: bad clips, failed runs, still clips.

1. A clip that loads but is pathological (fps 1e6 / 1e-6) or fails in its rollout is reported by
   name and skipped; the batch goes on.
2. A run builds its output aside and swaps it in: a failed run leaves the previous output whole,
   and leftovers of a killed run do not break the next one.
3. A frozen pose (joints still) or an over-long clip is rejected by name; the library is not.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from reference import generate, human_like
from reference.clips import Clip, save_clip
from reference.rollout import DEFAULT_CONFIG, config_from_dict, load_generation_config
from test_clips import make_pickle_dict, write_pickle
from test_rollout import sway_clip
from wildrobot_gym.paths import CLIP_LIBRARY
from wildrobot_gym.robot import NUM_JOINTS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """The project config with 1 s rollouts and one variant: a run takes about a second."""
    doc = yaml.safe_load(DEFAULT_CONFIG.read_text())
    doc["generation"].update(duration_s=1.0, variants=[{"name": "base"}],
                             adapt="never")  # no 10-min tracker adaptation (test_tracker_adapt.py tests it)
    path = tmp_path / "reference.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _cli_args(clips: Path, out: Path, config: Path) -> list[str]:
    return ["--input-dir", str(clips), "--output-dir", str(out), "--config", str(config), "--workers", "1",
            "--no-progress", "--no-plots", "--max-window-frames", "30"]


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes, to compare a folder before and after."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.glob(f"{out.name}.*"))


def _frozen_clip(n: int, name: str = "frozen") -> Clip:
    """One standing pose held for `n` frames at 50 Hz."""
    pose = np.array([0.1, 0.0, 0.2, -0.1, -0.1, 0.0, 0.2, -0.1])
    pos = np.tile([0.0, 0.0, 0.4699], (n, 1))
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    return Clip(name, 50.0, pos, quat, np.tile(pose, (n, 1)))


# ------------------------------------------------------------------------------ 1. bad clips
def test_cli_reports_pathological_clips_and_goes_on(tmp_path, tiny_config):
    clips = tmp_path / "clips"
    save_clip(sway_clip(n=60, name="tiny"), clips / "tiny.npz")
    write_pickle(clips / "fast.pkl", make_pickle_dict(n=100, fps=1e6))  # 1 frame at 50 Hz
    write_pickle(clips / "slow.pkl", make_pickle_dict(n=100, fps=1e-6))  # 111 GiB at 50 Hz
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "reference.generate", *_cli_args(clips, out, tiny_config)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("fast.pkl", "slow.pkl"):
        line = next(ln for ln in proc.stderr.splitlines() if name in ln)
        assert "rejected" in line and "fps" in line and "[10, 1000]" in line
    assert (out / "records" / "tiny__base.npz").is_file()
    assert (out / "tier0plus.npz").is_file() and _leftovers(out) == []


def test_a_failing_rollout_is_reported_and_the_others_run(tmp_path, tiny_config, monkeypatch, capsys):
    clips = tmp_path / "clips"
    save_clip(sway_clip(n=60, name="good"), clips / "good.npz")
    save_clip(sway_clip(n=60, name="bad"), clips / "bad.npz")
    real = generate.rollout_clip

    def rollout_clip(model, clip, *args, **kw):
        if clip.name == "bad":
            raise MemoryError("simulated")
        return real(model, clip, *args, **kw)

    monkeypatch.setattr(generate, "rollout_clip", rollout_clip)
    out = tmp_path / "out"
    assert generate.main(_cli_args(clips, out, tiny_config)) == 0
    assert "failed: bad:base: MemoryError: simulated" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "records").iterdir()) == ["good__base.npz"]


def test_a_clip_shorter_than_two_frames_at_50_hz_is_rejected_before_the_rollout(tmp_path):
    clip = sway_clip(n=10, name="blip")
    clip.joint_pos[:, 0] = np.linspace(0.0, 0.3, 10)  # it moves
    clip.fps = 1000.0  # within the bounds, but 9 ms long: one frame at 50 Hz
    save_clip(clip, tmp_path / "blip.npz")
    limits = generate.clip_limits(load_generation_config())
    ready, rejected = generate.prepare_clips(tmp_path, 50.0, limits)
    assert ready == [] and "blip.npz" in rejected[0][0] and "under 2 frames at generation.fps 50" in rejected[0][1]


def test_clip_bounds_are_checked_by_name():
    for section, key in (({"min_clip_fps": 0}, "generation.min_clip_fps"),
                         ({"max_clip_fps": "fast"}, "generation.max_clip_fps"),
                         ({"min_clip_fps": 60.0, "max_clip_fps": 30.0}, "generation.min_clip_fps"),
                         ({"max_clip_seconds": float("inf")}, "generation.max_clip_seconds"),
                         ({"min_joint_motion": -0.1}, "generation.min_joint_motion")):
        with pytest.raises(ValueError, match=key) as err:
            config_from_dict(section)
        assert "unknown key" not in str(err.value)  # a known key, with a wrong value


# ------------------------------------------------------------------------------ 2. whole output
@pytest.fixture
def previous_output(tmp_path: Path) -> Path:
    """An earlier run's output folder (its files' content does not matter to the swap)."""
    out = tmp_path / "out"
    (out / "records").mkdir(parents=True)
    (out / "records" / "old__base.npz").write_bytes(b"old records")
    (out / "generation_summary.json").write_text('{"old": true}\n')
    (out / "tier0plus.npz").write_bytes(b"old dataset")
    return out


@pytest.mark.parametrize("failure", ["mining raises", "every rollout fails"])
def test_a_failed_run_leaves_the_previous_output_whole(tmp_path, tiny_config, previous_output, monkeypatch,
                                                       failure):
    clips = tmp_path / "clips"
    save_clip(sway_clip(n=60, name="tiny"), clips / "tiny.npz")
    before = _tree(previous_output)

    def boom(*args, **kw):
        raise RuntimeError("simulated failure")

    if failure == "mining raises":  # after the records were written
        monkeypatch.setattr(generate, "mine_and_analyze", boom)
        with pytest.raises(RuntimeError, match="simulated"):
            generate.main(_cli_args(clips, previous_output, tiny_config))
    else:
        monkeypatch.setattr(generate, "rollout_clip", boom)
        assert generate.main(_cli_args(clips, previous_output, tiny_config)) == 1
    assert _tree(previous_output) == before
    assert _leftovers(previous_output) == []


def _dead_pid() -> int:
    pid = 4_000_000
    while generate._pid_alive(pid):
        pid += 1
    return pid


def test_leftovers_of_a_killed_run_do_not_break_the_next(tmp_path, tiny_config, previous_output):
    clips = tmp_path / "clips"
    save_clip(sway_clip(n=60, name="tiny"), clips / "tiny.npz")
    for pid in (_dead_pid(), os.getpid()):  # a killed run's folder; one whose pid this process reuses
        stale = previous_output.with_name(f"out.tmp-{pid}")
        (stale / "records").mkdir(parents=True)
        (stale / "records" / "half.npz").write_bytes(b"half written")
    assert generate.main(_cli_args(clips, previous_output, tiny_config)) == 0
    assert sorted(p.name for p in (previous_output / "records").iterdir()) == ["tiny__base.npz"]
    assert not (previous_output / "tier0plus.npz").read_bytes().startswith(b"old")
    assert _leftovers(previous_output) == []


def test_a_run_killed_mid_swap_gets_the_old_output_back(previous_output):
    before = _tree(previous_output)
    aside = previous_output.with_name(f"out.old-{_dead_pid()}")
    previous_output.rename(aside)  # killed between "old aside" and "new in"
    generate.clear_stale_runs(previous_output)
    assert _tree(previous_output) == before and _leftovers(previous_output) == []


def test_a_folder_that_is_not_an_earlier_output_is_never_replaced(tmp_path, tiny_config, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    assert generate.main(_cli_args(tmp_path, mine, tiny_config)) == 2
    assert "not an earlier run's output" in capsys.readouterr().err
    assert _tree(mine) == {"thesis.tex": b"precious"}


# ------------------------------------------------------------------------------ 3. still clips
def test_still_and_overlong_clips_are_rejected_by_name_library_clips_are_not(tmp_path):
    cfg = load_generation_config()
    limits = generate.clip_limits(cfg)
    clips = tmp_path / "clips"
    save_clip(_frozen_clip(200), clips / "frozen.npz")
    long_walk = sway_clip(n=int(cfg.max_clip_seconds * 50) + 50, name="long_walk")
    save_clip(long_walk, clips / "long_walk.npz")
    save_clip(sway_clip(n=60, name="sway"), clips / "sway.npz")  # small but real motion: 0.1 rad
    ready, rejected = generate.prepare_clips(clips, cfg.fps, limits)
    assert [c.name for c in ready] == ["sway"]
    reasons = dict((Path(p).name, r) for p, r in rejected)
    assert set(reasons) == {"frozen.npz", "long_walk.npz"}
    assert "frozen.npz" in reasons["frozen.npz"] and "0.0000 rad" in reasons["frozen.npz"]
    assert f"generation.min_joint_motion {cfg.min_joint_motion:g}" in reasons["frozen.npz"]
    assert "121.0 s" in reasons["long_walk.npz"] and "generation.max_clip_seconds 120" in reasons["long_walk.npz"]

    library, rejected = generate.prepare_clips(CLIP_LIBRARY, cfg.fps, limits)
    assert rejected == [] and len(library) >= 12
    human = tmp_path / "human_like"
    human_like.synthesize(human, num_clips=12, total_seconds=60.0, seed=0)
    stand_ins, rejected = generate.prepare_clips(human, cfg.fps, limits)
    assert rejected == [] and len(stand_ins) == 12


def test_frozen_pose_with_jitter_below_the_threshold_is_still_rejected(tmp_path):
    limits = generate.clip_limits(load_generation_config())
    clip = _frozen_clip(500, name="jitter")
    clip.joint_pos = clip.joint_pos + np.random.default_rng(0).uniform(-0.01, 0.01, (500, NUM_JOINTS))
    save_clip(clip, tmp_path / "jitter.npz")
    ready, rejected = generate.prepare_clips(tmp_path, 50.0, limits)
    assert ready == [] and "jitter.npz: joints barely move" in rejected[0][1]
