"""Adapting the learned tracker to new clips: ``train_tracker --init-from / --max-minutes``,
`reference.tracker.adapt.adapt_tracker` and ``generation.adapt`` in `reference.generate`."""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from stable_baselines3.common.callbacks import BaseCallback

from reference import generate, human_like, rollout, train_tracker
from reference.tracker.adapt import ADAPTATION_FILE, adapt_tracker
from reference.tracker.policy import TrackerPolicy
from wildrobot_gym.checkpoints import read_state, resolve_checkpoint
from wildrobot_gym.config.tracker import DEFAULT_GENERAL_TRACKER_PATH, DEFAULT_TRACKER_PATH, validate_tracker_config
from wildrobot_gym.paths import CLIP_LIBRARY

CLIP = "walk_v030_l080"


def shipped_config() -> dict:
    """The shipped tracker's own config (its state.json), checked."""
    return validate_tracker_config(read_state(resolve_checkpoint(DEFAULT_TRACKER_PATH))["config"])


def small_run_config(tmp_path: Path, name: str = "tiny.yaml", **env) -> Path:
    """The shipped tracker's config (its networks, so its weights fit) on one clip, one variant, 4 s timelines and
    2 envs: fast to build and to train."""
    cfg = copy.deepcopy(shipped_config())
    cfg["reference"].update(clips=[CLIP], human_like_clips=0, timeline_seconds=4.0, variants=[{"name": "base"}])
    cfg["ppo"].update(n_steps=64, batch_size=64, n_epochs=1)
    cfg["training"].update(n_envs=2, vec_env="batched", n_workers=1, checkpoint_interval=128, total_timesteps=128,
                           torch_threads=1)
    cfg["env"].update(env)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(validate_tracker_config(cfg)))
    return path


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> Path:
    """Two human-like stand-in pickles (seed 0: clips the shipped tracker never saw)."""
    root = tmp_path_factory.mktemp("stand_ins")
    human_like.synthesize(root, 2, 8.0, seed=0)
    return root


class FirstAction(BaseCallback):
    """The model's deterministic action on the first observation of `learn`, and that observation unnormalised."""

    def _on_training_start(self) -> None:
        self.raw = self.model.get_vec_normalize_env().get_original_obs().copy()
        self.action = self.model.predict(self.model._last_obs, deterministic=True)[0]

    def _on_step(self) -> bool:
        return True


def _common(run: Path) -> list[str]:
    return ["--logdir", str(run), "--no-progress-bar", "--log-every", "0"]


# ------------------------------------------------------------------------------ train_tracker
def test_init_from_starts_from_the_trackers_weights_and_normalisation(tmp_path, monkeypatch):
    rec = FirstAction()
    train = train_tracker.train
    monkeypatch.setattr(train_tracker, "train", lambda *a, **k: train(*a, callbacks=[rec], **k))
    final = train_tracker.main(["--config", str(small_run_config(tmp_path)), "--init-from", str(DEFAULT_TRACKER_PATH),
                                *_common(tmp_path / "run")])
    source = TrackerPolicy.load(DEFAULT_TRACKER_PATH)
    want = source.act(rec.raw)
    assert np.abs(want).max() > 0.05  # a real residual, not a fresh policy's near-zero one
    np.testing.assert_allclose(rec.action, want, atol=1e-4)
    state = read_state(final)
    assert state["num_timesteps"] == 128 and state["phase"] == "tracker"  # the step count starts at 0


def test_init_from_a_tracker_of_another_observation_size_is_refused_naming_it(tmp_path):
    config = small_run_config(tmp_path, ref_joint_offsets=[1, 2])  # 16 observation entries fewer
    run = tmp_path / "run"
    with pytest.raises(SystemExit, match=rf"--init-from {DEFAULT_TRACKER_PATH}.*observations of \(92,\)"):
        train_tracker.main(["--config", str(config), "--init-from", str(DEFAULT_TRACKER_PATH), *_common(run)])
    assert not run.exists()  # refused before the run directory is written
    with pytest.raises(SystemExit, match="--init-from .*missing.zip"):
        train_tracker.main(["--config", str(config), "--init-from", str(tmp_path / "missing.zip"), *_common(run)])


def test_max_minutes_stops_early_and_still_writes_the_final_checkpoint(tmp_path):
    t0 = time.perf_counter()
    final = train_tracker.main(["--config", str(small_run_config(tmp_path)), "--total-timesteps", "100000000",
                                "--max-minutes", "0.02", "--export", str(tmp_path / "t.zip"),
                                *_common(tmp_path / "run")])
    assert time.perf_counter() - t0 < 60
    assert read_state(final)["num_timesteps"] < 100_000_000
    assert TrackerPolicy.load(tmp_path / "t.zip").obs_dim == 92
    with pytest.raises(SystemExit):
        train_tracker.parse_args(["--max-minutes", "0"])


# ------------------------------------------------------------------------------ adapt_tracker
def test_adapt_tracker_fine_tunes_on_the_clips_alone(tmp_path, stand_ins):
    work = tmp_path / "adapt"
    bundle = adapt_tracker(DEFAULT_TRACKER_PATH, stand_ins, work, minutes=5, max_steps=4096)
    assert bundle == work / "tracker.zip"
    adapted, source = TrackerPolicy.load(bundle), TrackerPolicy.load(DEFAULT_TRACKER_PATH)
    assert [W.shape for W, _ in adapted.layers] == [W.shape for W, _ in source.layers]
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(adapted.layers, source.layers))
    cfg = read_state(resolve_checkpoint(bundle))["config"]
    assert cfg["reference"]["clips_dir"] == str(stand_ins.resolve()) and cfg["reference"]["human_like_clips"] == 0
    assert cfg["reference"]["variants"] == shipped_config()["reference"]["variants"]
    report = json.loads((work / ADAPTATION_FILE).read_text())
    assert report["steps"] >= 4096 and report["stopped"] == "total_timesteps" and report["rollouts"] >= 1
    assert set(report["before"]) == set(report["after"]) >= {"fall_rate", "velocity_ratio", "episodes"}
    with pytest.raises(ValueError, match="already holds a tracker run"):
        adapt_tracker(DEFAULT_TRACKER_PATH, stand_ins, work, minutes=5, max_steps=1)
    with pytest.raises(ValueError, match="nothing.zip"):
        adapt_tracker(tmp_path / "nothing.zip", stand_ins, tmp_path / "other", minutes=5, max_steps=1)


# ------------------------------------------------------------------------------ generate
def _generation_config(tmp_path: Path, **generation) -> Path:
    doc = yaml.safe_load(rollout.DEFAULT_CONFIG.read_text())
    doc["generation"].update(duration_s=2.0, variants=[{"name": "base"}], tracker="learned", **generation)
    path = tmp_path / "reference.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _generate(clips: Path, out: Path, config: Path, *extra: str, workers: int = 1) -> dict:
    status = generate.main(["--input-dir", str(clips), "--output-dir", str(out), "--config", str(config),
                            "--workers", str(workers), "--no-progress", "--no-plots", "--max-window-frames", "30",
                            *extra])
    assert status == 0
    return json.loads((out / "generation_summary.json").read_text())


def test_generate_adapts_the_tracker_first_and_records_it(tmp_path, stand_ins, capsys):
    out = tmp_path / "out"
    # 2 workers: started from the forkserver after an adaptation (a worker forked from the trained process can hang)
    summary = _generate(stand_ins, out, _generation_config(tmp_path, adapt="always", adapt_max_steps=1), workers=2)
    a = summary["adaptation"]
    bundle = out / generate.ADAPT_DIR / "tracker.zip"
    assert a["adapted"] and a["mode"] == "always" and a["steps"] >= 1 and a["bundle"] == str(bundle)
    assert a["source"] == str(DEFAULT_GENERAL_TRACKER_PATH) and {"fall_rate", "velocity_ratio"} <= set(a["after"])
    assert summary["config"]["tracker_path"] == str(bundle) and bundle.is_file()  # the adapted bundle generated
    assert summary["config"]["fast_tracker_min_speed"] is None  # ... every clip: it learned the fast ones too
    assert json.loads((bundle.parent / ADAPTATION_FILE).read_text())["bundle"] == str(bundle)
    assert not summary["failed"] and len(summary["rollouts"]) == 2
    assert "tracker adapted to these clips" in capsys.readouterr().out


def test_generate_does_not_adapt_when_told_never_or_on_the_library(tmp_path, stand_ins):
    out = tmp_path / "out"
    config = _generation_config(tmp_path, adapt="always", adapt_max_steps=1)
    summary = _generate(stand_ins, out, config, "--adapt", "never")  # the flag overrides the config
    assert summary["adaptation"]["adapted"] is False and summary["config"]["adapt"] == "never"
    assert summary["config"]["tracker_path"] is None and not (out / generate.ADAPT_DIR).exists()
    cfg = rollout.load_generation_config(config, {"adapt": "auto"})
    adapt, reason = generate.adaptation_decision(cfg, CLIP_LIBRARY)
    assert not adapt and "gait library" in reason  # auto on the gait library the tracker trained on
    assert generate.adaptation_decision(cfg, stand_ins)[0]  # auto on clips it never saw
    # what is adapted: adapt_from, else tracker_path, else the shipped general tracker
    assert generate.adaptation_source(cfg) == DEFAULT_GENERAL_TRACKER_PATH
    own = rollout.load_generation_config(config, {"tracker_path": "mine.zip"})
    assert generate.adaptation_source(own) == "mine.zip"
    both = rollout.load_generation_config(config, {"tracker_path": "mine.zip", "adapt_from": "base.zip"})
    assert generate.adaptation_source(both) == "base.zip"
    feedback = rollout.load_generation_config(config, {"adapt": "auto", "tracker": "feedback"})
    assert not generate.adaptation_decision(feedback, stand_ins)[0]  # nothing to adapt
    with pytest.raises(ValueError, match=r"^generation\.adapt: 'always' adapts the learned tracker"):
        rollout.load_generation_config(config, {"tracker": "feedback"})
    with pytest.raises(ValueError, match=r"^generation\.adapt_minutes: expected"):
        rollout.load_generation_config(config, {"adapt_minutes": 21})
