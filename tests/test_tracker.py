"""The learned tracking controller (reference/tracker, reference/train_tracker.py) and its use in generation."""
from __future__ import annotations

import json
import math
import pickle
import shutil
from pathlib import Path

import mujoco
import numpy as np
import pytest
import yaml

from reference import generate, rollout
from reference.clips import load_clip, to_heading_frame
from reference.human_like import degrade_clip
from reference.tracker.controller import TrackerController
from reference.tracker.env import TrackingEnv
from reference.tracker.policy import TrackerPolicy
from reference.tracker.reward import TrackingErrors, max_reward, tracking_errors, tracking_reward
from wildrobot_gym.config import ConfigError
from wildrobot_gym.config.tracker import (DEFAULT_TRACKER_CONFIG, TrackerRewardSection, load_tracker_config,
                                         validate_tracker_config)
from wildrobot_gym.metrics import FALL_REASONS
from wildrobot_gym.paths import CLIP_LIBRARY

CLIP = "walk_v030_l080"


def tiny_config(**training) -> dict:
    """The shipped config on one clip, one variant, 4 s timelines and small networks: fast to build and train."""
    cfg = load_tracker_config()
    cfg["reference"].update(clips=[CLIP], human_like_clips=0, timeline_seconds=4.0, variants=[{"name": "base"}])
    cfg["ppo"].update(n_steps=64, batch_size=64, n_epochs=1, pi_net=[16, 16], vf_net=[16, 16])
    cfg["training"].update(n_envs=2, vec_env="dummy", n_workers=0, checkpoint_interval=128, total_timesteps=128,
                           torch_threads=1, **training)
    return validate_tracker_config(cfg)


@pytest.fixture(scope="module")
def env() -> TrackingEnv:
    return TrackingEnv(tiny_config())


@pytest.fixture(scope="module")
def tiny_tracker(tmp_path_factory) -> Path:
    """A tracker trained for 128 steps, resumed to 256, exported as a bundle (the format generation loads)."""
    from reference import train_tracker

    root = tmp_path_factory.mktemp("tracker")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config()))
    run = root / "run"
    common = ["--logdir", str(run), "--no-progress-bar", "--log-every", "0"]
    first = train_tracker.main(["--config", str(config), *common])
    assert json.loads((first / "state.json").read_text())["num_timesteps"] == 128
    with pytest.raises(SystemExit, match="already holds checkpoints"):
        train_tracker.main(["--config", str(config), *common])
    final = train_tracker.main([*common, "--resume", "--total-timesteps", "256", "--export", str(root / "t.zip")])
    state = json.loads((final / "state.json").read_text())
    assert state["num_timesteps"] == 256 and state["phase"] == "tracker"
    assert (final / "vecnormalize.npz").is_file() and not list(final.glob("*.pkl"))
    assert sorted(p.name for p in (run / "checkpoints").iterdir())[-1] == final.name
    assert list((run / "tb").glob("events.*"))
    return root / "t.zip"


# ------------------------------------------------------------------------------------------ config
def test_shipped_config_loads_and_errors_name_the_key():
    cfg = load_tracker_config(DEFAULT_TRACKER_CONFIG)
    assert cfg["phase"] == "tracker" and cfg["env"]["residual_scale"] == 0.25
    assert {"name": "mirror", "mirror": True} in cfg["reference"]["variants"]
    doc = yaml.safe_load(DEFAULT_TRACKER_CONFIG.read_text())
    doc["env"]["residual_scale"] = -0.1
    with pytest.raises(ConfigError, match=r"^env\.residual_scale: expected a number > 0"):
        validate_tracker_config(doc)
    doc = yaml.safe_load(DEFAULT_TRACKER_CONFIG.read_text())
    doc["reward"]["joint_wieght"] = 1.0
    with pytest.raises(ConfigError, match=r"^reward\.joint_wieght: unknown key"):
        validate_tracker_config(doc)
    doc = yaml.safe_load(DEFAULT_TRACKER_CONFIG.read_text())
    doc["training"]["vec_env"] = "threads"
    with pytest.raises(ConfigError, match=r"^training\.vec_env"):
        validate_tracker_config(doc)


# ------------------------------------------------------------------------------------------ env
def test_env_passes_gymnasium_and_sb3_check_env(env):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=False)


def test_reset_puts_the_robot_in_the_reference_state(env):
    ref = env.references[0]
    obs, info = env.reset(seed=3, options={"reference": 0, "frame": 40})
    q = env.data.qpos
    np.testing.assert_allclose(q[7:], ref.timeline.qpos[40, 7:])
    np.testing.assert_allclose(q[:2], ref.timeline.qpos[40, :2])
    np.testing.assert_allclose(env.data.qvel, ref.timeline.qvel[40])
    assert info["frame"] == 40 and obs.shape == env.observation_space.shape and np.isfinite(obs).all()
    w = env.writer.slices
    np.testing.assert_allclose(obs[w["ref_joints"]][:8], ref.track.joints[41], atol=1e-6)  # t + 1
    np.testing.assert_allclose(obs[w["tracking_error"]][:3], 0.0, atol=1e-6)  # anchored on the robot
    # the servo targets of a zero action are the reference joints of the next frame
    env.step(np.zeros(8))
    lo, hi = env.model.actuator_ctrlrange.T
    np.testing.assert_allclose(env.data.ctrl, np.clip(ref.track.joints[41], lo, hi))
    env.step(np.ones(8))
    np.testing.assert_allclose(env.data.ctrl, np.clip(ref.track.joints[42] + 0.25, lo, hi))


def _reference_metrics(track, t: int) -> dict:
    """A hand-made state exactly on reference frame t (as MetricsTracker.compute would report it)."""
    return {"joint_pos": track.joints[t].copy(), "forward_velocity": track.velocity[t, 0],
            "lateral_velocity": track.velocity[t, 1], "vertical_velocity": track.vertical_velocity[t],
            "root_ang_vel": np.array([0.0, 0.0, track.velocity[t, 2]]),
            "root_height": track.height[t], "roll": track.roll_pitch[t, 0], "pitch": track.roll_pitch[t, 1],
            "foot_contact": track.contact[t].copy(), "foot_slip_speed": np.zeros(2), "foot_height": np.zeros(2),
            "foot_force": np.array([0.5, 0.5]),  # in units of the weight: tracking_errors(..., weight=1)
            "torque_saturated": np.zeros(8, dtype=bool)}


#: TrackingErrors of a robot exactly on the reference, feet carrying its weight, action unchanged
ZERO_ERRORS = dict(joint_sq=0.0, velocity_sq=0.0, vertical_sq=0.0, position_sq=0.0, heading_sq=0.0, yaw_rate_sq=0.0,
                   height_sq=0.0, attitude_sq=0.0, contact_match=1.0, slip_sq=0.0, ground_slip_sq=0.0, load=1.0,
                   double_support_load=np.inf, saturated_fraction=0.0, action_rate_sq=0.0)


def test_reference_state_scores_the_maximum_and_errors_score_less_by_the_formula(env):
    track, t, w = env.references[0].track, 60, env.reward_cfg
    upright = np.eye(3).ravel()
    a = np.full(8, 0.3)
    e = tracking_errors(_reference_metrics(track, t), track, t, (0.0, 0.0, 0.0), upright, a, a, 1.0)
    reward, terms = tracking_reward(e, w)
    assert reward == pytest.approx(max_reward(w)) and max_reward(w) == pytest.approx(1.3)  # configs/tracker.yaml's
    m = _reference_metrics(track, t)
    m["joint_pos"][2] += 0.3  # 0.3 rad on one knee
    bad, _ = tracking_reward(tracking_errors(m, track, t, (0.0, 0.0, 0.0), upright, a, a, 1.0), w)
    assert bad == pytest.approx(max_reward(w) - w["joint_weight"] * (1 - math.exp(-w["joint_scale"] * 0.09)))
    assert bad < reward
    # every other term lowers it too, and the action-rate penalty is - w sum(da^2)
    for key, value in (("velocity_sq", 0.04), ("vertical_sq", 0.01), ("position_sq", 0.01), ("heading_sq", 0.03),
                       ("yaw_rate_sq", 1.0), ("height_sq", 1e-3), ("attitude_sq", 0.01), ("contact_match", 0.5),
                       ("slip_sq", 0.01), ("load", 0.3), ("action_rate_sq", 1.0)):
        r, _ = tracking_reward(TrackingErrors(**{**ZERO_ERRORS, key: value}), w)
        assert r < max_reward(w), key
    w6 = {**w, "ground_slip_weight": 0.15}
    r, _ = tracking_reward(TrackingErrors(**{**ZERO_ERRORS, "ground_slip_sq": 0.01}), w6)
    assert r == pytest.approx(max_reward(w6) - 0.15 * (1 - math.exp(-w6["slip_scale"] * 0.01)))
    r, terms = tracking_reward(TrackingErrors(**{**ZERO_ERRORS, "action_rate_sq": 2.0}), w)
    assert terms["action_rate"] == pytest.approx(-2.0 * w["action_rate_weight"])


def test_double_support_pays_for_the_lesser_loaded_foot_only_where_the_reference_has_both_down():
    """double_support = w min(1, min(F_l, F_r) / (m g) / double_support_load) on the reference's double-support
    frames, w elsewhere: a trailing foot that leaves early loses the term, one that stays loaded keeps it."""
    w = {**TrackerRewardSection().model_dump(), "double_support_weight": 0.5, "double_support_load": 0.2}

    def term(ds_load):
        errors = TrackingErrors(**{**ZERO_ERRORS, "double_support_load": ds_load})
        return tracking_reward(errors, w)[1]["double_support"]

    assert term(0.5) == pytest.approx(0.5)       # both feet loaded past 0.2 m g
    assert term(0.05) == pytest.approx(0.125)    # the trailing foot at 0.05 m g: a quarter
    assert term(0.0) == pytest.approx(0.0)       # it left the floor early
    assert term(np.inf) == pytest.approx(0.5)    # single support planned: nothing to pay for
    assert max_reward(w) == pytest.approx(max_reward({**w, "double_support_weight": 0.0}) + 0.5)


def test_saturation_charges_the_share_of_servos_at_their_limit(env):
    """saturation = -w (servos at the torque limit / 8), read from MetricsTracker's torque_saturated; a penalty, so
    it leaves max_reward alone, and at weight 0 (configs before the term) it changes nothing."""
    track, t = env.references[0].track, 60
    upright, a = np.eye(3).ravel(), np.zeros(8)
    m = {**_reference_metrics(track, t), "torque_saturated": np.array([1, 0, 1, 0, 0, 0, 0, 0], dtype=bool)}
    e = tracking_errors(m, track, t, (0.0, 0.0, 0.0), upright, a, a, 1.0)
    assert e.saturated_fraction == pytest.approx(0.25)
    w = {**TrackerRewardSection().model_dump(), "saturation_weight": 2.0}
    reward, terms = tracking_reward(e, w)
    assert terms["saturation"] == pytest.approx(-0.5)
    assert max_reward(w) == pytest.approx(max_reward({**w, "saturation_weight": 0.0}))
    assert reward == pytest.approx(max_reward(w) - 0.5)
    assert tracking_reward(e, {**w, "saturation_weight": 0.0})[0] == pytest.approx(max_reward(w))
    # batched: one row per env
    mb = {k: np.stack([v, v]) if isinstance(v, np.ndarray) else np.array([v, v]) for k, v in m.items()}
    mb["torque_saturated"][1] = True
    eb = tracking_errors(mb, track, np.array([t, t]), (np.zeros(2), np.zeros(2), np.zeros(2)),
                         np.stack([upright, upright]), np.zeros((2, 8)), np.zeros((2, 8)), 1.0)
    np.testing.assert_allclose(tracking_reward(eb, w)[1]["saturation"], [-0.5, -2.0])


def test_double_support_load_from_the_metrics_and_the_reference_contact(env):
    """tracking_errors reads the lesser foot load on the reference's double-support frames and inf elsewhere."""
    track = env.references[0].track
    both = np.flatnonzero(track.contact[:, 0] & track.contact[:, 1])
    single = np.flatnonzero(track.contact[:, 0] ^ track.contact[:, 1])
    assert both.size and single.size
    upright, a = np.eye(3).ravel(), np.zeros(8)
    for t, expected in ((int(both[0]), 0.2), (int(single[0]), np.inf)):
        m = {**_reference_metrics(track, t), "foot_force": np.array([0.7, 0.2])}
        assert tracking_errors(m, track, t, (0.0, 0.0, 0.0), upright, a, a, 1.0).double_support_load == expected


def test_contact_speed_keeps_only_planted_feet_in_the_reference_contact(env):
    """With contact_speed set, a foot near the floor that moves across it is no longer in contact: the clip's
    steady walk then has both feet down about as long as its plan's double support, not every skimming swing."""
    from reference.tracker.reference_track import ReferenceTrack

    ref = env.references[0]
    plan = json.loads(str(np.load(CLIP_LIBRARY / f"{CLIP}.npz")["metadata_json"]))["double_support"]
    by_height = ref.track.contact
    planted = ReferenceTrack.from_timeline(env.model, env.spec_, ref.timeline, contact_speed=0.1).contact
    assert not (planted & ~by_height).any()           # only ever removes contact
    assert planted.any(axis=1).all()                  # the stance foot stays planted (no flight in a walk)
    v = ref.track.velocity[:, 0]
    steady = v > 0.8 * v.max()
    both = lambda c: float((c[steady, 0] & c[steady, 1]).mean())
    assert both(planted) < both(by_height)
    assert both(planted) == pytest.approx(plan, abs=0.1)


def test_impact_charges_only_the_load_above_impact_load():
    """impact = w exp(-k max(0, load - impact_load)^2): full at and below impact_load, by the formula above it."""
    w = {**TrackerRewardSection().model_dump(), "impact_weight": 0.2, "impact_load": 1.5, "impact_scale": 2.0}
    impact = {load: tracking_reward(TrackingErrors(**{**ZERO_ERRORS, "load": load}), w)[1]["impact"]
              for load in (0.7, 1.0, 1.5, 2.5, 4.4)}
    assert impact[0.7] == impact[1.0] == impact[1.5] == pytest.approx(0.2)
    assert impact[2.5] == pytest.approx(0.2 * math.exp(-2.0))
    assert impact[4.4] < impact[2.5] < impact[1.5]
    assert max_reward(w) == pytest.approx(max_reward({**w, "impact_weight": 0.0}) + 0.2)


def test_ground_slip_weighs_a_sliding_foot_by_its_nearness_to_the_floor(env):
    """A sole sliding at 0.2 m/s on the floor counts in full, 1 cm up by 1/e, 5 cm up (mid-swing) hardly;
    stance_slip counts only the foot in contact, ground_slip counts the one about to land too."""
    track, t = env.references[0].track, 60
    upright, a = np.eye(3).ravel(), np.zeros(8)

    def errors(height: float, contact: bool):
        m = _reference_metrics(track, t)
        m["foot_slip_speed"] = np.array([0.2, 0.0])
        m["foot_height"] = np.array([height, 0.0])
        m["foot_contact"] = np.array([contact, True])
        return tracking_errors(m, track, t, (0.0, 0.0, 0.0), upright, a, a, 1.0, ground_slip_height=0.01)

    on, near, up = errors(0.0, True), errors(0.01, False), errors(0.05, False)
    assert on.ground_slip_sq == pytest.approx(0.04) and on.slip_sq == pytest.approx(0.04)
    assert near.ground_slip_sq == pytest.approx(0.04 * math.exp(-1.0)) and near.slip_sq == 0.0
    assert up.ground_slip_sq == pytest.approx(0.04 * math.exp(-5.0))


def test_a_fallen_or_drifting_robot_terminates(env):
    env.reset(seed=0, options={"reference": 0, "frame": 30})
    d = env.data
    d.qpos[3:7] = (math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0)  # lying on its side
    d.qpos[2] = 0.1
    mujoco.mj_forward(env.model, d)
    _, _, terminated, truncated, info = env.step(np.zeros(8))
    assert terminated and not truncated and info["fall_reason"] in FALL_REASONS
    assert info["episode_stats"]["success"] == 0.0 and info["episode_stats"]["length"] == 1
    env.reset(seed=0, options={"reference": 0, "frame": 30})
    d.qpos[0] += 0.5  # 0.5 m off the anchored reference, upright
    mujoco.mj_forward(env.model, d)
    _, _, terminated, _, info = env.step(np.zeros(8))
    assert terminated and info["fall_reason"] == "drift"


def test_episode_truncates_at_the_step_limit(env):
    env.reset(seed=0, options={"reference": 0, "frame": 0})
    env.max_steps = 3
    try:
        for _ in range(3):
            _, _, terminated, truncated, info = env.step(np.zeros(8))
        assert truncated and not terminated and info["episode_stats"]["length"] == 3
        assert set(info["episode_stats"]) >= {"joint_error", "tracked_distance", "reference_distance", "terms/joint"}
    finally:
        env.max_steps = env.env_cfg["max_episode_steps"]


# ------------------------------------------------------------------------------------------ training
def test_training_smoke_writes_checkpoints_and_resumes(tiny_tracker):
    policy = TrackerPolicy.load(tiny_tracker)  # no unpickling: weights_only tensors and plain arrays
    assert policy.obs_dim == 92 and policy.residual_scale == 0.25
    a = policy.act(np.zeros(92))
    assert a.shape == (8,) and np.all(np.abs(a) <= 1.0)
    with pytest.raises(ValueError, match="no checkpoint|not a policy bundle"):
        TrackerPolicy.load(tiny_tracker.parent / "missing.zip")


def test_export_drops_the_optimizer_moments_and_still_loads(tiny_tracker):
    """--export writes an inference bundle: the optimizer state without Adam's moments (the checkpoint keeps
    them for --resume); SB3's own loader and the project's resume loader still take it."""
    import io
    import zipfile

    from stable_baselines3 import PPO

    from training.common import load_ppo, resolve_checkpoint
    from wildrobot_gym.policy_io import read_sb3_weights

    opt = read_sb3_weights(tiny_tracker, optimizer=True)["optimizer"]
    assert opt["state"] == {} and len(opt["param_groups"]) == 1
    final = resolve_checkpoint(tiny_tracker.parent / "run")
    assert read_sb3_weights(final / "model.zip", optimizer=True)["optimizer"]["state"]  # the checkpoint's: full
    with zipfile.ZipFile(tiny_tracker) as z, zipfile.ZipFile(final / "model.zip") as c:
        assert z.read("policy.pth") == c.read("policy.pth")
        assert z.getinfo("policy.optimizer.pth").file_size < c.getinfo("policy.optimizer.pth").file_size / 2
    assert PPO.load(io.BytesIO(tiny_tracker.read_bytes()), device="cpu").num_timesteps == 256  # our own file
    ckpt = resolve_checkpoint(tiny_tracker)
    cfg = json.loads((ckpt / "state.json").read_text())["config"]
    from gymnasium import spaces

    model = load_ppo(ckpt, None, cfg, resume=True, observation_space=spaces.Box(-np.inf, np.inf, (92,), np.float32),
                     action_space=spaces.Box(-1.0, 1.0, (8,), np.float32))
    assert model.num_timesteps == 256 and model.policy.optimizer.state_dict()["state"] == {}


def test_numpy_forward_is_sb3_deterministic_action(tiny_tracker, env):
    from stable_baselines3.common.vec_env import DummyVecEnv

    from training.common import load_ppo, resolve_checkpoint, wrap_normalize
    from wildrobot_gym.checkpoints import VECNORM_FILE

    ckpt = resolve_checkpoint(tiny_tracker)
    cfg = json.loads((ckpt / "state.json").read_text())["config"]
    venv = wrap_normalize(DummyVecEnv([lambda: env]), cfg, ckpt / VECNORM_FILE, training=False)
    model = load_ppo(ckpt, venv, cfg)
    policy = TrackerPolicy.load(tiny_tracker)
    obs, _ = env.reset(seed=1)
    for _ in range(5):
        want, _ = model.predict(venv.normalize_obs(obs[None]), deterministic=True)
        np.testing.assert_allclose(policy.act(obs), want[0], atol=1e-5)
        obs, *_ = env.step(want[0])


def test_generation_controller_sees_the_training_observation(tiny_tracker, env):
    """Same clip, same generation settings: the controller's observation of a state is the env's."""
    policy = TrackerPolicy.load(tiny_tracker)
    ref = env.references[0]
    ctrl = TrackerController(policy, env.model, env.spec_, ref.timeline)
    obs, _ = env.reset(seed=0, options={"reference": 0, "frame": 50})
    ctrl.restart(env.data, 50)
    targets = ctrl.targets(env.data, 51)
    np.testing.assert_array_equal(ctrl.obs, obs)
    lo, hi = env.model.actuator_ctrlrange.T
    np.testing.assert_allclose(targets, np.clip(ref.track.joints[51] + 0.25 * policy.act(obs), lo, hi))


# ------------------------------------------------------------------------------------------ generation
def _generation_config(tmp_path: Path, tracker: Path) -> Path:
    doc = yaml.safe_load(rollout.DEFAULT_CONFIG.read_text())
    doc["generation"].update(duration_s=2.0, variants=[{"name": "base"}, {"name": "mirror", "mirror": True}],
                             tracker="learned", tracker_path=str(tracker),
                             adapt="never")  # no 10-min tracker adaptation (test_tracker_adapt.py tests it)
    path = tmp_path / "reference.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_generate_with_a_learned_tracker_end_to_end(tmp_path, tiny_tracker):
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy(CLIP_LIBRARY / f"{CLIP}.npz", clips)
    # a clip the tracker never saw: a human-like stand-in pickle (another seed than training's)
    source = load_clip(CLIP_LIBRARY / "walk_v040_l100.npz")
    with open(clips / "unseen_human.pkl", "wb") as f:
        pickle.dump(degrade_clip(source, np.random.default_rng(123), name="unseen_human"), f)
    out = tmp_path / "out"
    status = generate.main(["--input-dir", str(clips), "--output-dir", str(out), "--config",
                            str(_generation_config(tmp_path, tiny_tracker)), "--workers", "1", "--no-progress",
                            "--no-plots", "--max-window-frames", "30"])
    assert status == 0
    summary = json.loads((out / "generation_summary.json").read_text())
    assert not summary["failed"] and len(summary["rollouts"]) == 4
    assert summary["config"]["tracker"] == "learned"
    for path in sorted((out / "records").glob("*.npz")):
        rec = rollout.load_records(path)
        assert set(rollout.FRAME_KEYS) <= set(rec) and rec["format_version"] == rollout.RECORDS_FORMAT_VERSION
        assert rec["harness_mode"] == "off" and not np.any(rec["harness_equiv_force"])  # no harness by default
        assert rec["restart"][0] and np.isfinite(rec["qpos"]).all()
        lo, hi = rollout.default_model().actuator_ctrlrange.T
        assert np.all(rec["ctrl"] >= lo - 1e-12) and np.all(rec["ctrl"] <= hi + 1e-12)
    assert (out / "tier0plus.npz").is_file()


def test_rollout_learned_vs_feedback_and_bad_tracker_path(tmp_path, tiny_tracker):
    model = rollout.default_model()
    clip = to_heading_frame(load_clip(CLIP_LIBRARY / f"{CLIP}.npz"))
    base = rollout.load_generation_config(overrides={"duration_s": 1.0, "tracker": "feedback"})
    learned = rollout.load_generation_config(overrides={"duration_s": 1.0, "tracker": "learned",
                                                        "tracker_path": str(tiny_tracker)})
    a = rollout.rollout_clip(model, clip, base)
    b = rollout.rollout_clip(model, clip, learned)
    assert a["harness_mode"] == "stabilizer" and b["harness_mode"] == "off"
    assert a["qpos"].shape[1] == b["qpos"].shape[1] and not np.array_equal(a["ctrl"], b["ctrl"][:len(a["ctrl"])])
    # the harness kept on request
    kept = rollout.load_generation_config(overrides={"duration_s": 1.0, "tracker": "learned", "tracker_harness": True,
                                                     "tracker_path": str(tiny_tracker)})
    assert rollout.rollout_clip(model, clip, kept)["harness_mode"] == "stabilizer"
    bad = rollout.load_generation_config(overrides={"tracker": "learned", "tracker_path": str(tmp_path / "none.zip")})
    with pytest.raises(ValueError, match="generation.tracker_path"):
        rollout.rollout_clip(model, clip, bad)
    with pytest.raises(ConfigError, match=r"^generation\.tracker: expected one of"):
        rollout.load_generation_config(overrides={"tracker": "neural"})


def test_fast_tracker_takes_the_clips_from_its_speed_on(tmp_path, tiny_tracker):
    model = rollout.default_model()
    slow = to_heading_frame(load_clip(CLIP_LIBRARY / f"{CLIP}.npz"))             # planned at 0.30 m/s
    fast = to_heading_frame(load_clip(CLIP_LIBRARY / "walk_v070_l150.npz"))      # planned at 0.70 m/s
    missing = str(tmp_path / "none.zip")
    cfg = rollout.load_generation_config(overrides={"duration_s": 1.0, "tracker": "learned",
                                                    "tracker_path": str(tiny_tracker), "fast_tracker_path": missing,
                                                    "fast_tracker_min_speed": 0.55})
    slow_t, fast_t = rollout.clip_timeline(model, slow, cfg), rollout.clip_timeline(model, fast, cfg)
    assert rollout.timeline_speed(slow_t) == pytest.approx(0.3, abs=0.05)
    assert rollout.timeline_speed(fast_t) == pytest.approx(0.7, abs=0.05)
    assert rollout.tracker_for(cfg, slow_t) == ("tracker_path", str(tiny_tracker))
    assert rollout.tracker_for(cfg, fast_t) == ("fast_tracker_path", missing)
    # the time warp of a variant counts: a 0.3 m/s clip played 2x fast reaches the fast tracker
    warped = rollout.clip_timeline(model, slow, cfg, {"name": "warp2", "time_warp": 2.0})
    assert rollout.tracker_for(cfg, warped)[0] == "fast_tracker_path"
    assert len(rollout.rollout_clip(model, slow, cfg)["qpos"]) > 0
    with pytest.raises(ValueError, match="generation.fast_tracker_path"):
        rollout.rollout_clip(model, fast, cfg)
    # no threshold: one tracker for every clip (the code default); the project's config: the shipped fast tracker
    one = rollout.load_generation_config(overrides={"tracker": "learned", "tracker_path": str(tiny_tracker),
                                                    "fast_tracker_min_speed": None})
    assert rollout.tracker_for(one, fast_t) == ("tracker_path", str(tiny_tracker))
    assert rollout.GenerationConfig().fast_tracker_min_speed is None
    from wildrobot_gym.config.tracker import DEFAULT_FAST_TRACKER_PATH, DEFAULT_TRACKER_PATH

    shipped = rollout.load_generation_config()
    assert rollout.tracker_for(shipped, fast_t) == ("fast_tracker_path", DEFAULT_FAST_TRACKER_PATH)
    assert rollout.tracker_for(shipped, slow_t) == ("tracker_path", DEFAULT_TRACKER_PATH)
    with pytest.raises(ConfigError, match=r"^generation\.fast_tracker_min_speed"):
        rollout.load_generation_config(overrides={"fast_tracker_min_speed": -0.1})


def test_shipped_tracker_is_the_project_default_and_loads():
    from wildrobot_gym.config.tracker import DEFAULT_TRACKER_PATH

    cfg = rollout.load_generation_config()
    assert cfg.tracker == "learned" and cfg.tracker_path is None and not cfg.tracker_harness
    assert rollout.GenerationConfig().tracker == "feedback"  # the seed's controller stays the code default
    policy = TrackerPolicy.load(DEFAULT_TRACKER_PATH)
    assert policy.obs_dim == 92 and policy.config["phase"] == "tracker"
    from wildrobot_gym.config.tracker import DEFAULT_FAST_TRACKER_PATH

    assert cfg.fast_tracker_path is None and cfg.fast_tracker_min_speed == 0.53
    fast = TrackerPolicy.load(DEFAULT_FAST_TRACKER_PATH)  # the same observation: the one controller runs either
    assert fast.obs_dim == policy.obs_dim and fast.residual_scale == policy.residual_scale
