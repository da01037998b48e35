"""monitor_training.py plots (x axis over the logged steps, one unit per y axis), evaluate.py videos
(last frame is the episode's last state; compact MP4) and compare_video.py (policies side by side)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the training/ scripts' package

from training import compare_video, evaluate, monitor_training  # noqa: E402
from wildrobot_gym.config import CONFIG_DIR, load_config  # noqa: E402

LAST_STEP, PLANNED = 10_000, 20_000_000


# ---------------------------------------------------------------------------- monitor plots
@pytest.fixture(scope="module")
def tiny_log(tmp_path_factory) -> Path:
    """A run dir: Phase 1E config (20M planned steps) and TensorBoard scalars up to step 10,000 for
    every plotted tag (so every plot, mixed-unit ones included, is drawn)."""
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path_factory.mktemp("run")
    cfg = load_config(CONFIG_DIR / "phase1e.yaml")
    assert cfg["training"]["total_timesteps"] == PLANNED
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    rng = np.random.default_rng(0)
    writer = SummaryWriter(str(run / "tb"))
    for step in range(1000, LAST_STEP + 1, 1000):
        for tags in monitor_training.PLOTS.values():
            for tag in tags:
                writer.add_scalar(tag, float(rng.uniform(0.0, 1.0)), step)
    writer.close()
    return run


@pytest.fixture(scope="module")
def drawn(tiny_log: Path):
    return monitor_training.figures(monitor_training.load_scalars(tiny_log), [(2_000_000, "10%"), (5_000, "half")])


def _series_axes(fig) -> list:
    return [ax for ax in fig.axes if any(line.get_gid() for line in ax.get_lines())]


def test_x_axis_spans_the_logged_steps_not_the_planned_total(drawn):
    assert set(drawn) == set(monitor_training.PLOTS)
    for name, fig in drawn.items():
        for ax in _series_axes(fig):
            lo, hi = ax.get_xlim()
            assert 9_000 < hi < 11_000, (name, hi)  # not 20M
            assert lo < 1_000 + 1, (name, lo)


def test_only_checkpoint_marks_inside_the_data_are_drawn(drawn):
    ax = _series_axes(drawn["velocity"])[0]
    vlines = [line.get_xdata()[0] for line in ax.get_lines() if not line.get_gid()]
    assert vlines == [5_000]  # the 10% check at 2M lies past the data: not drawn (it would stretch the axis)


def test_no_axis_mixes_units_and_every_axis_names_its_unit(drawn):
    for name, fig in drawn.items():
        axes = _series_axes(fig)
        for ax in axes:
            units = {monitor_training.SERIES[line.get_gid()][1] for line in ax.get_lines() if line.get_gid()}
            assert len(units) == 1, (name, units)
            assert units.pop() in ax.get_ylabel(), (name, ax.get_ylabel())
        tags = [t for t in monitor_training.PLOTS[name]]
        assert len(axes) == len({monitor_training.SERIES[t][1] for t in tags}), name
    assert len(_series_axes(drawn["contacts"])) == 3  # m/s, fraction, s
    assert len(_series_axes(drawn["velocity"])) == 1  # forward and lateral are both m/s


def test_every_plotted_series_has_a_label_and_unit():
    for tags in monitor_training.PLOTS.values():
        for tag in tags:
            label, unit = monitor_training.SERIES[tag]
            assert label and unit, tag


def test_main_writes_pngs_of_a_short_run(tiny_log: Path, tmp_path: Path):
    result = monitor_training.main([str(tiny_log), "--out", str(tmp_path / "plots"),
                                    "--json-output", str(tmp_path / "m.json")])
    assert result["last_step"] == LAST_STEP and result["total_timesteps"] == PLANNED
    assert {Path(p).name for p in result["plots"]} == {f"{n}.png" for n in monitor_training.PLOTS}
    assert all(Path(p).stat().st_size > 0 for p in result["plots"])
    assert json.loads((tmp_path / "m.json").read_text())["plots"] == result["plots"]


# ---------------------------------------------------------------------------- videos
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained Phase 1E checkpoint (model.zip, vecnormalize.npz, state.json): no training needed."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from wildrobot_gym.policy_io import ppo_kwargs, save_vecnormalize
    from wildrobot_gym.wrappers import make_phase_env

    ckpt = tmp_path_factory.mktemp("ckpt")
    cfg = load_config(CONFIG_DIR / "phase1e.yaml")
    cfg["ppo"].update(pi_net=[16], vf_net=[16])  # the net of the model below (the loaders rebuild it from the config)
    venv = VecNormalize(DummyVecEnv([lambda: make_phase_env(cfg)]))
    kwargs = {**ppo_kwargs(cfg, policy=True), "n_steps": 64, "batch_size": 64}  # the config's policy class
    model = PPO(env=venv, device="cpu", seed=0, **kwargs)
    model.save(ckpt / "model.zip")
    save_vecnormalize(venv, ckpt / "vecnormalize.npz")
    venv.close()
    (ckpt / "state.json").write_text(json.dumps({"num_timesteps": 0, "phase": cfg["phase"], "config": cfg}))
    return ckpt


@pytest.fixture(scope="module")
def model(checkpoint: Path, gl: None):
    from stable_baselines3 import PPO

    return PPO.load(checkpoint / "model.zip", device="cpu")


@pytest.fixture(scope="module")
def gl() -> None:
    """Skip where no offscreen GL backend works; elsewhere a rendering error is a failure like any other."""
    import mujoco

    from wildrobot_gym.robot import load_model

    try:
        mujoco.Renderer(load_model(), 16, 16).close()
    except Exception as exc:  # noqa: BLE001 - FatalError, missing library, no display
        pytest.skip(f"offscreen rendering unavailable ({type(exc).__name__}: {exc}); set MUJOCO_GL=egl or osmesa")


def _clip(model, checkpoint: Path, **kw) -> evaluate.Clip:
    return evaluate.collect_frames(model, checkpoint, seed=3, **kw)


def test_last_frame_is_the_episodes_last_state_not_the_reset_pose(model, checkpoint: Path):
    # A 6-step episode (truncated) in a 1 s clip: the clip must stop at the truncation, on its last state.
    clip = _clip(model, checkpoint, seconds=1.0, size=(96, 72), env_overrides={"max_episode_steps": 6})
    dt = 1.0 / clip.fps
    assert len(clip.frames) == 7  # the reset state + 6 steps, nothing from the next episode
    assert clip.sim_times[0] == 0.0
    assert clip.sim_times[-1] == pytest.approx(6 * dt)  # the frame after the auto-reset would be at t = 0
    assert np.all(np.diff(clip.sim_times) > 0)
    # and the pixels: the last frame is not a reset pose (the first frame is one)
    assert np.abs(clip.frames[-1].astype(int) - clip.frames[0].astype(int)).mean() > 0.1


def test_mp4_is_much_smaller_than_the_gif_of_the_same_clip(model, checkpoint: Path, tmp_path: Path):
    pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg (MP4 writer) not installed")
    clip = _clip(model, checkpoint, seconds=1.0, size=(160, 120))
    assert clip.frames[0].shape == (120, 160, 3)
    mp4, gif = tmp_path / "clip.mp4", tmp_path / "clip.gif"
    evaluate.write_clip(clip, mp4)
    evaluate.write_clip(clip, gif)
    assert mp4.stat().st_size > 0
    assert mp4.stat().st_size < gif.stat().st_size / 3, (mp4.stat().st_size, gif.stat().st_size)
    import imageio.v2 as imageio

    reader = imageio.get_reader(mp4, format="FFMPEG")
    meta = reader.get_meta_data()
    assert tuple(meta["size"]) == (160, 120) and meta["codec"] == "h264"
    assert sum(1 for _ in reader) == len(clip.frames)
    reader.close()


def test_gif_is_smaller_than_imageios_default_and_keeps_frames_and_timing(model, checkpoint: Path, tmp_path: Path):
    import imageio.v2 as imageio
    from PIL import Image

    clip = _clip(model, checkpoint, seconds=1.0, size=(160, 120))
    gif, plain = tmp_path / "clip.gif", tmp_path / "plain.gif"
    evaluate.write_clip(clip, gif)
    imageio.mimsave(plain, clip.frames[::2], duration=40, loop=0)  # per-frame palettes, dithered
    assert gif.stat().st_size < 0.6 * plain.stat().st_size, (gif.stat().st_size, plain.stat().st_size)
    with Image.open(gif) as im:
        assert im.size == (160, 120) and im.n_frames == len(clip.frames[::2])
        im.seek(1)
        assert im.info["duration"] == 40  # ms: 25 fps


def test_mp4_of_an_odd_size_is_rendered_at_the_next_even_size(model, checkpoint: Path, tmp_path: Path):
    assert evaluate.even_size((161, 121)) == (162, 122) and evaluate.even_size((160, 120)) == (160, 120)
    out = tmp_path / "odd.mp4"
    msg = evaluate.record_video(model, checkpoint, out, seed=3, seconds=0.2, size=(65, 49))
    assert "unavailable" not in msg, msg
    import imageio.v2 as imageio

    reader = imageio.get_reader(out, format="FFMPEG")
    assert tuple(reader.get_meta_data()["size"]) == (66, 50)
    reader.close()


def test_bad_video_suffix_is_refused_naming_the_argument(checkpoint: Path, tmp_path: Path):
    with pytest.raises(SystemExit, match="--video: expected a .mp4"):
        evaluate.main([str(checkpoint), "--episodes", "1", "--video", str(tmp_path / "v.avi")])
    with pytest.raises(ValueError, match="path: expected a .mp4 or .gif"):
        evaluate.write_clip(evaluate.Clip([np.zeros((4, 4, 3), np.uint8)], [0.0], 50), tmp_path / "v.webm")


# ---------------------------------------------------------------------------- side by side
def _solid(value: int, n: int, fps: float = 50.0) -> evaluate.Clip:
    """n frames of 40 x 60 (h x w) filled with `value`."""
    return evaluate.Clip([np.full((40, 60, 3), value, np.uint8) for _ in range(n)], [i / fps for i in range(n)], fps)


def test_side_by_side_crops_labels_and_holds_the_shorter_clips_last_frame():
    clip = compare_video.side_by_side([_solid(50, 5), _solid(200, 3)], ["A", "B"], width_fraction=0.5,
                                      height_fraction=0.75)
    assert len(clip.frames) == 5 and clip.sim_times == [i / 50 for i in range(5)] and clip.fps == 50
    assert clip.frames[0].shape == (30, 60, 3)  # two panels of 30 x 30: the middle half, the top 3/4
    left, right = clip.frames[4][:, :30], clip.frames[4][:, 30:]
    assert np.median(left) == 50 and np.median(right) == 200  # the 3-frame clip holds its last frame
    band = clip.frames[0][:16, :16]
    assert (band == 20).any() and (band > 200).any()  # the label: light text on a dark band
    assert (clip.frames[0][20:, :30] == 50).all()  # below it, the frame as rendered


def test_side_by_side_refuses_mismatched_labels_and_frame_rates():
    with pytest.raises(ValueError, match="labels: expected one per clip"):
        compare_video.side_by_side([_solid(0, 2)], ["A", "B"])
    with pytest.raises(ValueError, match="one frame rate"):
        compare_video.side_by_side([_solid(0, 2), _solid(0, 2, fps=25.0)], ["A", "B"])


def test_compare_video_writes_one_gif_of_both_policies_at_one_command(checkpoint: Path, gl: None, tmp_path: Path):
    out = tmp_path / "both.gif"
    assert compare_video.main([str(checkpoint), str(checkpoint), "--labels", "one", "two", "--out", str(out),
                               "--seconds", "0.2", "--size", "96x72", "--command", "0.6"]) == 0
    from PIL import Image

    with Image.open(out) as im:
        assert im.size == (2 * 48, 54) and im.n_frames == 6  # 11 frames (reset + 10 steps), every other kept
    assert not list(tmp_path.glob(".*tmp*"))  # written to a temp name, then renamed
    with pytest.raises(SystemExit):
        compare_video.main([str(checkpoint), "--labels", "a", "b", "--out", str(out)])
