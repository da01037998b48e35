"""Training smoke (TensorBoard events + a loadable checkpoint), resume, evaluate, bad configs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the training/ scripts' package

from training import evaluate, monitor_training, train_ppo  # noqa: E402
from training.common import list_checkpoints, read_state  # noqa: E402
from wildrobot_gym.config import CONFIG_DIR, ConfigError, load_config  # noqa: E402


def tiny_config(tmp_path: Path, phase: str = "phase1e", **edits) -> Path:
    """The phase's config shrunk for a smoke run: 2 envs in 1 worker, 64-step rollouts, a small net."""
    cfg = load_config(CONFIG_DIR / f"{phase}.yaml")
    cfg["ppo"].update(n_steps=64, batch_size=64, n_epochs=1, pi_net=[16], vf_net=[16])
    cfg["training"].update(n_envs=2, n_workers=1, total_timesteps=256, checkpoint_interval=128,
                           start_method="fork", logdir=str(tmp_path / "run"))
    cfg["env"]["max_episode_steps"] = 50
    for dotted, value in edits.items():
        sec, key = dotted.split("__")
        if value is None:
            del cfg[sec][key]
        else:
            cfg[sec][key] = value
    path = tmp_path / f"{phase}_tiny.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("smoke")
    cfg = tiny_config(tmp)
    train_ppo.main(["--config", str(cfg), "--no-progress-bar"])
    return tmp / "run"


def test_smoke_writes_tensorboard_and_checkpoints(trained_run: Path):
    ckpts = list_checkpoints(trained_run / "checkpoints")
    assert [c.name for c in ckpts] == ["step_0000000128", "step_0000000256"]
    assert not list((trained_run / "checkpoints").glob("*.tmp"))
    for c in ckpts:
        assert {p.name for p in c.iterdir()} == {"model.zip", "vecnormalize.npz", "state.json"}
    from stable_baselines3 import PPO

    model = PPO.load(ckpts[-1] / "model.zip", device="cpu")
    assert model.num_timesteps == 256
    scalars = monitor_training.load_scalars(trained_run)
    for tag in ("velocity/forward", "episode/success_rate", "episode/length", "reward/forward_velocity_bonus",
                "reward/tracking_exp_xy", "contact/foot_sliding_speed", "contact/proper_contact_fraction",
                "contact/air_time", "actuator/torque_saturation_pct", "velocity/lateral",
                "time/steps_per_second", "train/approx_kl"):
        assert tag in scalars, tag


def test_resume_continues_step_count_and_curves(trained_run: Path):
    train_ppo.main(["--logdir", str(trained_run), "--resume", "--total-timesteps", "384", "--no-progress-bar"])
    last = list_checkpoints(trained_run / "checkpoints")[-1]
    assert read_state(last)["num_timesteps"] == 384
    steps, _ = monitor_training.load_scalars(trained_run)["velocity/forward"]
    assert steps.max() == 384 and len(set(steps.tolist())) == len(steps)  # one curve, no restart at 0
    assert len(list((trained_run / "tb").iterdir())) == 2  # two event files in the same run dir
    result = monitor_training.main([str(trained_run)])
    assert result["checks"] and result["plots"] and result["decision"]


def test_evaluate_writes_json(trained_run: Path, tmp_path: Path):
    out = tmp_path / "eval.json"
    evaluate.main([str(trained_run), "--episodes", "2", "--json-output", str(out)])
    data = json.loads(out.read_text())
    assert {"forward_velocity_mean", "success_rate", "criteria", "forward_velocity_bonus_mean"} <= set(data)
    assert data["episodes"] == 2
    assert [r["result"] for r in data["criteria"]][-1] == "n/a"  # training stability: monitor's job
    assert all(r["result"] in ("PASS", "FAIL") for r in data["criteria"][:4])


def test_evaluate_command_range_overrides_the_checkpoints(trained_run: Path, tmp_path: Path):
    out = tmp_path / "eval.json"
    evaluate.main([str(trained_run), "--episodes", "2", "--command-range", "0.3", "0.3", "--json-output", str(out)])
    data = json.loads(out.read_text())
    assert data["command_range"] == [0.3, 0.3] and data["command_mean"] == pytest.approx(0.3)
    assert data["velocity_error_mean"] >= abs(data["forward_velocity_mean"] - 0.3) - 1e-9  # mean of |.| >= |mean|
    with pytest.raises(SystemExit, match="--command-range"):
        evaluate.main([str(trained_run), "--episodes", "1", "--command-range", "0.9", "0.5"])


def test_evaluate_video_clip_length_size_and_bad_arguments(trained_run: Path, tmp_path: Path):
    with pytest.raises(SystemExit, match="--video-size"):
        evaluate.main([str(trained_run), "--episodes", "1", "--video", str(tmp_path / "v.gif"), "--video-size", "big"])
    with pytest.raises(SystemExit, match="--video-seconds"):
        evaluate.main([str(trained_run), "--episodes", "1", "--video-seconds", "0"])
    gif = tmp_path / "clip.gif"
    evaluate.main([str(trained_run), "--episodes", "1", "--video", str(gif), "--video-seconds", "0.4",
                   "--video-size", "64x48"])
    if not gif.exists():
        pytest.skip("offscreen rendering unavailable here (set MUJOCO_GL=egl or osmesa)")
    from PIL import Image

    with Image.open(gif) as im:
        assert im.size == (64, 48)
        assert im.n_frames == 11  # 0.4 s = 20 control steps + the first frame, every other frame kept
        im.seek(1)
        assert im.info["duration"] == 40  # ms: two 20 ms control steps per GIF frame


def test_gait_report_of_a_checkpoint(trained_run: Path, tmp_path: Path):
    from training import gait_report

    out = tmp_path / "gait.json"
    r = gait_report.main([str(trained_run), "--gait-frequency", "3.0", "--json-output", str(out)])
    assert json.loads(out.read_text()) == r
    assert r["gait_frequency"] == 3.0 and r["steps"] >= 2
    assert r["single_support"] + r["double_support"] + r["flight"] == pytest.approx(1.0)
    assert 0.0 <= r["proper_contact_fraction"] <= 1.0
    # an untrained policy may never stand on one foot: then no clock fits (0, 0 Hz)
    assert r["best_clock_fit"] == r["best_clock_frequency"] == 0.0 or 1.5 <= r["best_clock_frequency"] <= 6.0


def test_exported_policy_bundle_evaluates_like_its_checkpoint(trained_run: Path, tmp_path: Path):
    from stable_baselines3 import PPO

    from training import export_policy
    from training.common import resolve_checkpoint

    ckpt = list_checkpoints(trained_run / "checkpoints")[-1]
    bundle = tmp_path / "policy.zip"
    export_policy.main([str(ckpt), str(bundle)])
    assert PPO.load(bundle, device="cpu").num_timesteps == read_state(ckpt)["num_timesteps"]  # plain SB3 load
    unpacked = resolve_checkpoint(bundle)
    assert {p.name for p in unpacked.iterdir()} == {"model.zip", "vecnormalize.npz", "state.json"}
    assert read_state(unpacked) == read_state(ckpt)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    evaluate.main([str(ckpt), "--episodes", "2", "--json-output", str(a)])
    evaluate.main([str(bundle), "--episodes", "2", "--json-output", str(b)])
    keys = ("forward_velocity_mean", "success_rate", "episode_length_mean")
    assert [json.loads(a.read_text())[k] for k in keys] == [json.loads(b.read_text())[k] for k in keys]
    model_only = tmp_path / "model_only.zip"
    model_only.write_bytes((ckpt / "model.zip").read_bytes())
    with pytest.raises(FileNotFoundError, match="not a policy bundle"):
        resolve_checkpoint(model_only)


def test_phase2_curriculum_run_and_phase3_evaluation_rows(tmp_path: Path, trained_run: Path):
    # Phase 2 from the Phase 1E checkpoint: weights pushed into the workers, curriculum stored.
    cfg = tiny_config(tmp_path, "phase2")
    train_ppo.main(["--config", str(cfg), "--init-from", str(trained_run), "--total-timesteps", "128",
                    "--no-progress-bar"])
    state = read_state(list_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    assert state["curriculum"]["level"] == 1
    assert "curriculum/foot_contact" in monitor_training.load_scalars(tmp_path / "run")
    rows = evaluate.judge(load_config(CONFIG_DIR / "phase3.yaml")["success_criteria"],
                          {"forward_velocity_mean": 0.8, "success_rate": 0.8})
    assert [r["result"] for r in rows if "AMP" in (r.get("note") or "")] == ["n/a until AMP"] * 3


@pytest.mark.parametrize("edit, message", [
    ({"reward_weights__foot_slipping": 1.0}, "reward_weights.foot_slipping: unknown reward term"),
    ({"reward_weights__tracking_exp_xy": None}, "reward_weights.tracking_exp_xy: missing key"),
    ({"ppo__batch_size": "2048"}, "ppo.batch_size: expected a positive integer"),
    ({"training__norm_obs": "yes"}, "training.norm_obs: expected true or false"),
    ({"ppo__n_epochs": None}, "ppo.n_epochs: missing key"),
    ({"env__max_tilt": 30}, "env.max_tilt: unknown key"),
])
def test_bad_configs_fail_at_start_naming_the_key(tmp_path: Path, edit, message):
    path = tiny_config(tmp_path, **edit)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(path)
    with pytest.raises(SystemExit, match=message.replace(".", r"\.")):
        train_ppo.main(["--config", str(path), "--no-progress-bar"])


def test_phase2_config_without_curriculum_fails(tmp_path: Path):
    cfg = load_config(CONFIG_DIR / "phase2.yaml")
    del cfg["curriculum"]["stages"][1]["weights"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match=r"curriculum\.stages\[1\]\.weights: missing key"):
        load_config(path)
