"""The batched tracking VecEnv (reference/tracker/batch_env.py) steps exactly as `TrackingEnv`s in a DummyVecEnv."""
from __future__ import annotations

import collections

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from reference.tracker.batch_env import BatchedTrackingVecEnv
from reference.tracker.env import TrackingEnv
from wildrobot_gym.config.tracker import load_tracker_config, validate_tracker_config

N_ENVS = 6
MAX_STEPS = 80


@pytest.fixture(scope="module")
def cfg() -> dict:
    """Two clips x two variants on 3 s timelines; short episodes, frequent re-anchoring and tight drift and
    heading limits, so that every kind of ending happens within a few hundred steps."""
    c = load_tracker_config()
    c["reference"].update(clips=["walk_v030_l080", "walk_v060_l140"], human_like_clips=0, timeline_seconds=3.0,
                          variants=[{"name": "base"}, {"name": "mirror", "mirror": True}],
                          sampling="uniform")  # the batch pools its sampler's statistics, single envs do not
    c["env"].update(max_episode_steps=MAX_STEPS, reanchor_interval=20, max_position_error=0.15,
                    max_heading_error_deg=20.0)
    c["training"].update(n_envs=N_ENVS, n_workers=1)
    return validate_tracker_config(c)


def _ending(info: dict, references_end: bool) -> str:
    return info["fall_reason"] or ("end_of_timeline" if references_end else "time_limit")


def test_batched_env_matches_dummy_vec_env_step_for_step(cfg) -> None:
    """Same seeds, options and random actions: the same observations, rewards, dones and end-of-episode infos
    (fall reasons, statistics, terminal observations), over 300 steps with many auto-resets."""
    n = N_ENVS
    batched = BatchedTrackingVecEnv(cfg, n, n_threads=2)
    single = DummyVecEnv([lambda: TrackingEnv(cfg) for _ in range(n)])
    assert batched.observation_space == single.observation_space
    assert batched.action_space == single.action_space
    options = [{"reference": 1, "frame": 3}, None, {"frame": 10}, None, None, None]
    for venv in (batched, single):
        venv.seed(5)
        venv.set_options(options)
    np.testing.assert_array_equal(batched.reset(), single.reset())
    rng = np.random.default_rng(1)
    endings: collections.Counter = collections.Counter()
    for step in range(300):
        # Mostly small residuals (long episodes, time limits), every 60 steps a burst that topples the robot.
        actions = (rng.uniform(-1, 1, (n, 8)) * (0.3 if step % 60 < 45 else 1.5)).astype(np.float32)
        ob, rb, db, ib = batched.step(actions)
        os_, rs, ds, is_ = single.step(actions)
        np.testing.assert_array_equal(db, ds, err_msg=f"step {step}")
        np.testing.assert_allclose(ob, os_, rtol=0, atol=1e-6, err_msg=f"step {step}")
        np.testing.assert_allclose(rb, rs, rtol=1e-6, atol=1e-6, err_msg=f"step {step}")
        for i in range(n):
            if not ds[i]:
                assert ib[i] == {}, (step, i)  # episode infos only at an episode's end
                continue
            a, b = ib[i], is_[i]
            assert a["fall_reason"] == b["fall_reason"] and a["is_success"] == b["is_success"], (step, i)
            assert a["TimeLimit.truncated"] == b["TimeLimit.truncated"]
            np.testing.assert_allclose(a["terminal_observation"], b["terminal_observation"], rtol=0, atol=1e-6)
            assert a["episode_stats"].keys() == b["episode_stats"].keys()
            for k, v in b["episode_stats"].items():
                assert a["episode_stats"][k] == pytest.approx(v, rel=1e-9, abs=1e-9), k
            assert a["episode"]["l"] == b["episode"]["l"]
            assert a["episode"]["r"] == pytest.approx(b["episode"]["r"], rel=1e-9, abs=1e-9)
            endings[_ending(b, b["episode_stats"]["length"] < MAX_STEPS)] += 1
    # Every kind of ending was compared: a fall, the tracker's own terminations, both truncations.
    assert {"tilt", "drift", "heading", "time_limit", "end_of_timeline"} <= set(endings), endings
    batched.close()
    single.close()


def test_reset_options_and_seeds_reproduce_the_episodes(cfg) -> None:
    """Options fix the reference and the frame (the reference state of that frame); the same seed, the same
    draws; bad options are refused at reset, naming the option."""
    env = BatchedTrackingVecEnv(cfg, 2, n_threads=1)
    env.set_options({"reference": 2, "frame": 40})
    obs = env.reset()
    ref = env.references[2]
    assert (env.ref == 2).all() and (env.t == 40).all()
    np.testing.assert_allclose(env._qpos[:, 7:], np.broadcast_to(ref.timeline.qpos[40, 7:], (2, 8)))
    slices = env.writer.slices
    np.testing.assert_allclose(obs[:, slices["ref_joints"]][:, :8], np.tile(ref.track.joints[41], (2, 1)), atol=1e-6)
    np.testing.assert_allclose(obs[:, slices["tracking_error"]][:, :3], 0.0, atol=1e-6)  # anchored on the robot
    env.seed(11)
    first = env.reset()
    draws = (env.ref.copy(), env.t.copy())
    env.seed(11)
    np.testing.assert_array_equal(env.reset(), first)
    np.testing.assert_array_equal(env.ref, draws[0])
    np.testing.assert_array_equal(env.t, draws[1])
    env.set_options({"reference": 99})
    with pytest.raises(ValueError, match=r"^options\['reference'\]"):
        env.reset()
    env.set_options({"frame": 10 ** 6})
    with pytest.raises(ValueError, match=r"^options\['frame'\]"):
        env.reset()
    env.set_options({"speed": 1})
    with pytest.raises(ValueError, match=r"^options: unknown key"):
        env.reset()
    env.close()


@pytest.mark.parametrize("kwargs, name", [
    ({"n_envs": 0}, "n_envs"), ({"n_envs": -3}, "n_envs"), ({"n_envs": 2.5}, "n_envs"), ({"n_envs": True}, "n_envs"),
    ({"n_envs": "4"}, "n_envs"), ({"n_envs": 2, "n_threads": -1}, "n_threads"),
    ({"n_envs": 2, "n_threads": 1.5}, "n_threads"),
])
def test_bad_arguments_are_refused_naming_the_argument(cfg, kwargs, name) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: expected"):
        BatchedTrackingVecEnv(cfg, **kwargs)


def test_bad_actions_are_refused_naming_the_env(cfg) -> None:
    env = BatchedTrackingVecEnv(cfg, 2, n_threads=1)
    env.reset()
    actions = np.zeros((2, 8), np.float32)
    actions[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"^actions: NaN or infinite values for envs \[1\]"):
        env.step(actions)
    with pytest.raises(ValueError, match=r"^actions: expected shape \(2, 8\)"):
        env.step(np.zeros((2, 7), np.float32))
    env.close()


def test_make_tracker_vec_env_picks_the_configured_kind(cfg) -> None:
    from reference.train_tracker import make_tracker_vec_env

    venv = make_tracker_vec_env(validate_tracker_config({**cfg, "training": {**cfg["training"], "vec_env": "batched"}}))
    assert isinstance(venv, BatchedTrackingVecEnv) and venv.num_envs == N_ENVS
    venv.close()
    venv = make_tracker_vec_env(validate_tracker_config({**cfg, "training": {**cfg["training"], "vec_env": "dummy"}}))
    assert isinstance(venv, DummyVecEnv)
    venv.close()


def test_batched_env_pools_failures_into_its_reference_sampler(cfg) -> None:
    """With sampling: failures, the references whose episodes fall are drawn more often afterwards."""
    c = validate_tracker_config({**cfg, "reference": {**cfg["reference"], "sampling": "failures",
                                                      "sampling_smoothing": 0.5}})
    env = BatchedTrackingVecEnv(c, N_ENVS, n_threads=1)
    env.seed(0)
    env.reset()
    before = env.sampler.probabilities().copy()
    for _ in range(40):  # full-scale random residuals: the robot falls over and over
        env.step(np.random.default_rng(0).uniform(-1, 1, (N_ENVS, 8)).astype(np.float32) * 2)
    assert env.sampler.failure_rate.max() > 0.5  # early ends recorded
    assert not np.allclose(env.sampler.probabilities(), before)


def test_human_like_share_needs_stand_ins_and_names_the_key(cfg) -> None:
    c = validate_tracker_config({**cfg, "reference": {**cfg["reference"], "human_like_share": 0.3}})
    with pytest.raises(ValueError, match="human_like_share.*human_like_clips is 0"):
        BatchedTrackingVecEnv(c, N_ENVS, n_threads=1)


def test_human_like_share_gives_the_stand_ins_their_share_of_episodes(cfg) -> None:
    from reference.tracker.env import TrackingEnv

    c = validate_tracker_config({**cfg, "reference": {**cfg["reference"], "human_like_clips": 2,
                                                      "human_like_seconds": 6.0, "human_like_share": 0.4}})
    env = TrackingEnv(c)
    human = np.array([r.source == "human_like" for r in env.references])
    assert human.sum() == 2 * 2 and (~human).sum() == 2 * 2  # two clips of each source x two variants
    np.testing.assert_allclose(env.sampler.probabilities()[human].sum(), 0.4)
    drawn = []
    for seed in range(200):
        env.reset(seed=seed)
        drawn.append(human[env.ref_index])
    assert 0.3 < np.mean(drawn) < 0.5


def test_human_like_variety_picks_the_stand_ins_ranges(cfg) -> None:
    """``human_like_variety: varied`` degrades every library gait (fast ones included), the default only the
    legacy ones (0.20-0.60 m/s); an unknown name is refused by the config, naming the key."""
    from reference.human_like import LEGACY_SOURCES, synthesis_options
    from reference.tracker.library import training_clips, generation_config

    def stand_in_sources(variety: str) -> list[str]:
        ref = {**cfg["reference"], "human_like_clips": 4, "human_like_seconds": 16.0, "human_like_variety": variety}
        clips = [c for c, source in training_clips(ref, generation_config(ref)) if source == "human_like"]
        return [c.metadata["source_file"].rsplit(":", 1)[1] for c in clips]

    assert set(stand_in_sources("default")) <= set(LEGACY_SOURCES)
    assert not set(stand_in_sources("varied")) <= set(LEGACY_SOURCES)  # spread over all gaits: reaches the fast ones
    with pytest.raises(ValueError, match="human_like_variety"):
        validate_tracker_config({**cfg, "reference": {**cfg["reference"], "human_like_variety": "wild"}})
    with pytest.raises(ValueError, match="expected one of"):
        synthesis_options("wild")


def test_an_empty_clip_list_trains_on_the_stand_ins_alone(cfg) -> None:
    """``reference.clips: []`` takes no clip of the folder (null takes them all), as configs/tracker_general.yaml does."""
    from reference.tracker.env import TrackingEnv
    from wildrobot_gym.config.tracker import DEFAULT_TRACKER_CONFIG

    general = load_tracker_config(DEFAULT_TRACKER_CONFIG.with_name("tracker_general.yaml"))
    assert general["reference"]["clips"] == [] and general["reference"]["human_like_clips"] > 0
    c = validate_tracker_config({**cfg, "reference": {**cfg["reference"], "clips": [], "human_like_clips": 2,
                                                      "human_like_seconds": 6.0}})
    env = TrackingEnv(c)
    assert {r.source for r in env.references} == {"human_like"} and len(env.references) == 2 * 2
    with pytest.raises(ValueError, match="no usable clip"):
        TrackingEnv(validate_tracker_config({**c, "reference": {**c["reference"], "human_like_clips": 0}}))
