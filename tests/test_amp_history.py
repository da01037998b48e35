"""Issue 11 part 2, AMP that shapes the gait: walking-only reference sampling, frame history in the
discriminator input (the same on the policy and the reference side), reward scaling, the ramp's gate
switch and seed 002's style weight schedule."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the training/ scripts' package

from reference import smoke_test  # noqa: E402
from reference.miner import WALKING_NPZ_KEYS, MiningConfig, mine_records, write_dataset  # noqa: E402
from training.common import StyleScheduleCallback, make_vec_env  # noqa: E402
from wildrobot_gym import amp  # noqa: E402
from wildrobot_gym.amp_features import LAYOUT, mirror_features, push_frame, transition_frames  # noqa: E402
from wildrobot_gym.batch_env import BatchedWalkVecEnv  # noqa: E402
from wildrobot_gym.config import load_config  # noqa: E402
from wildrobot_gym.env import WildRobotWalkEnv  # noqa: E402

from test_miner import make_records  # noqa: E402

th.set_num_threads(1)
REPO = Path(__file__).resolve().parent.parent
D = LAYOUT.dim


def _indexed_frames(n: int) -> np.ndarray:
    """(n, D) frames whose column 0 holds the row index (so a sampled frame names its row)."""
    f = np.zeros((n, D), np.float32)
    f[:, 0] = np.arange(n)
    return f


def _mixed_walking_dataset(walking=(True, False, True)) -> object:
    """Synthetic walks at 0.3 m/s; a segment is labelled walking when its clip's speed is 0.3 m/s
    (at 2 m/s the 0.3 m/s walk is too slow for its clip: not walking)."""
    recs = [{**make_records(120, clip=f"walk{i}", seed=i), "clip_speed": 0.3 if w else 2.0} for i, w in enumerate(walking)]
    return mine_records(recs, MiningConfig())


# --- 1. walking-only reference -------------------------------------------------------------------
def test_walking_only_samples_only_walking_segments() -> None:
    walking = np.array([True, False, True, False, True])
    cfg = amp.ReferenceConfig(walking_only=True, min_motions_per_batch=3)
    s = amp.ReferenceSampler(_indexed_frames(50), np.arange(5) * 10, np.full(5, 10), np.arange(5), np.zeros(5), cfg,
                             seed=0, segment_walking=walking)
    assert s.walking_filter == "walking" and s.num_segments == 3 and s.num_transitions == 3 * 9
    seen = set()
    for _ in range(100):
        a, b, motions = s.sample(16)
        seg = a[:, 0].astype(int) // 10
        assert walking[seg].all() and walking[b[:, 0].astype(int) // 10].all()
        assert len(set(motions.tolist())) == 3  # the motion constraint counts the walking motions only
        seen |= set(seg.tolist())
    assert seen == {0, 2, 4}
    # walking_only off: the label is ignored, every segment is drawn
    every = amp.ReferenceSampler(_indexed_frames(50), np.arange(5) * 10, np.full(5, 10), np.arange(5), np.zeros(5),
                                 amp.ReferenceConfig(), seed=0, segment_walking=walking)
    assert every.walking_filter == "all" and every.num_segments == 5


def test_walking_only_from_a_mined_dataset_and_its_errors(tmp_path: Path) -> None:
    ds = _mixed_walking_dataset()
    a = ds.arrays
    assert a["segment_walking"].tolist() == [True, False, True]
    s = amp.ReferenceSampler.from_dataset(ds, amp.ReferenceConfig(walking_only=True), seed=0, source="data/mixed")
    seg_of_row = a["frame_segment"]
    rows = s.rows
    assert a["segment_walking"][seg_of_row[rows]].all() and a["segment_walking"][seg_of_row[rows + 1]].all()
    assert s.num_transitions == int(sum(a["segment_length"][a["segment_walking"]] - 1))

    # the label present, but nothing walks: an error naming the dataset
    standing = _mixed_walking_dataset((False, False))
    with pytest.raises(ValueError, match=r"data/standing has the walking label but 0 walking seconds"):
        amp.ReferenceSampler.from_dataset(standing, amp.ReferenceConfig(walking_only=True), source="data/standing")
    amp.ReferenceSampler.from_dataset(standing, amp.ReferenceConfig(walking_only=False))  # off: fine

    # no label (a dataset mined before it): every segment, with a one-line warning
    old = dataclasses.replace(ds, arrays={k: v for k, v in a.items() if k not in WALKING_NPZ_KEYS})
    assert not old.has_walking_label
    with pytest.warns(UserWarning, match=r"data/old has no walking label.*all 3 segments") as rec:
        s_old = amp.ReferenceSampler.from_dataset(old, amp.ReferenceConfig(walking_only=True), source="data/old")
    assert len(rec) == 1 and "\n" not in str(rec[0].message)
    assert s_old.walking_filter == "all (no walking label)" and s_old.num_segments == 3

    # the smoke test CLI (configs/amp.yaml: walking_only true) exits naming the dataset directory
    write_dataset(standing, tmp_path / "standing_ds")
    with pytest.raises(SystemExit, match=r"standing_ds has the walking label but 0 walking seconds"):
        smoke_test.main(["--dataset", str(tmp_path / "standing_ds"), "--steps", "1"])


def test_min_speed_samples_only_the_fast_walking_segments_and_its_errors() -> None:
    walking = np.array([True, True, False, True, True])
    speed = np.array([0.3, 0.6, 0.9, 0.5, np.nan])  # segment 2 is fast but stands; 4 has no speed
    args = (_indexed_frames(50), np.arange(5) * 10, np.full(5, 10), np.arange(5), np.zeros(5))
    s = amp.ReferenceSampler(*args, amp.ReferenceConfig(walking_only=True, min_speed=0.5), seed=0,
                             segment_walking=walking, segment_speed=speed)
    assert s.num_segments == 2
    for _ in range(50):
        a, b, _ = s.sample(16)
        assert set((a[:, 0].astype(int) // 10).tolist()) <= {1, 3}
        assert set((b[:, 0].astype(int) // 10).tolist()) <= {1, 3}
    # null: every walking segment, whatever its speed
    s_all = amp.ReferenceSampler(*args, amp.ReferenceConfig(walking_only=True), seed=0, segment_walking=walking,
                                 segment_speed=speed)
    assert s_all.num_segments == 4
    # nothing fast enough, or no speed at all: errors naming the dataset and the setting
    with pytest.raises(ValueError, match=r"data/slow .*min_speed 1.0 m/s or more \(fastest 0.90 m/s\)"):
        amp.ReferenceSampler(*args, amp.ReferenceConfig(walking_only=True, min_speed=1.0), segment_walking=walking,
                             segment_speed=speed, source="data/slow")
    with pytest.raises(ValueError, match=r"data/old has no segment_forward_velocity.*min_speed 0.5"):
        amp.ReferenceSampler(*args, amp.ReferenceConfig(min_speed=0.5), source="data/old")
    with pytest.raises(ValueError):
        amp.ReferenceConfig(min_speed=-0.1)


# --- 2. frame history ----------------------------------------------------------------------------
def _scripted(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.zeros((n, 8))
    for t in range(1, n):
        a[t] = np.clip(0.9 * a[t - 1] + 0.3 * rng.standard_normal(8), -1, 1)
    return a


def _env_episodes(history: int, steps: int = 90) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Episodes of AMPFeatureObservation(history) and, same seed and actions, of the one-frame env:
    (per episode the (T + 1, H D) feature blocks, per episode the (T + 1, D) frames)."""
    blocks, frames = [], []
    env_h = amp.AMPFeatureObservation(WildRobotWalkEnv(max_episode_steps=25), history_frames=history)
    env_1 = amp.AMPFeatureObservation(WildRobotWalkEnv(max_episode_steps=25))
    pd = env_h.policy_obs_dim
    assert env_h.observation_space.shape == (pd + history * D,)
    oh, _ = env_h.reset(seed=3)
    o1, _ = env_1.reset(seed=3)
    cur_b, cur_f = [oh[pd:]], [o1[pd:]]
    for a in _scripted(steps):
        oh, _, term, trunc, _ = env_h.step(a)
        o1, _, term1, trunc1, _ = env_1.step(a)
        assert (term, trunc) == (term1, trunc1)
        np.testing.assert_array_equal(oh[:pd], o1[:pd])  # the policy's columns are untouched
        cur_b.append(oh[pd:])
        cur_f.append(o1[pd:])
        if term or trunc:
            blocks.append(np.asarray(cur_b))
            frames.append(np.asarray(cur_f))
            oh, _ = env_h.reset()
            o1, _ = env_1.reset()
            cur_b, cur_f = [oh[pd:]], [o1[pd:]]
    return blocks, frames


def test_history_blocks_equal_on_the_env_and_the_reference_side() -> None:
    """One synthetic trajectory (a real env's episodes) fed to both sides: the env's observation blocks
    and a dataset with the same frames (one segment per episode) give the same discriminator inputs."""
    h = 3
    blocks, frames = _env_episodes(h)
    assert len(frames) >= 3  # the trajectory crosses resets
    for bl, fr in zip(blocks, frames):
        # the block of step t: frames t, t-1, t-2 of ITS episode, the first frame repeated before the start
        for t in range(len(fr)):
            want = np.concatenate([fr[max(t - k, 0)] for k in range(h)])
            np.testing.assert_array_equal(bl[t], want)
    lengths = np.array([len(f) for f in frames])
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    sampler = amp.ReferenceSampler(np.concatenate(frames), starts, lengths, np.arange(len(frames)),
                                   np.zeros(len(frames)), history_frames=h)
    assert sampler.num_transitions == int((lengths - h).sum())
    s, s2 = sampler.transitions(np.arange(sampler.num_transitions))
    seg = sampler.pair_segment
    t = sampler.rows - starts[seg]
    assert (t >= h - 1).all()  # the reference never pads: its windows lie inside the segment
    env_s = np.stack([blocks[e][i] for e, i in zip(seg, t)])
    env_s2 = np.stack([blocks[e][i + 1] for e, i in zip(seg, t)])
    np.testing.assert_array_equal(s, env_s)
    np.testing.assert_array_equal(s2, env_s2)
    # ... and so the discriminator's input, built by the one definition for real and fake alike
    net = amp.AMPDiscriminatorNet(spaces.Box(-np.inf, np.inf, (h * D,), np.float32), spaces.Box(-1, 1, (1,), np.float32),
                                  hidden_sizes=(8,), history_frames=h)
    net.update_normalizer(th.as_tensor(env_s))
    np.testing.assert_array_equal(net.disc_input(th.as_tensor(s), th.as_tensor(s2)).numpy(),
                                  net.disc_input(th.as_tensor(env_s), th.as_tensor(env_s2)).numpy())
    x = transition_frames(s, s2, h)  # (Phi_{t-2}, Phi_{t-1}, Phi_t, Phi_{t+1}) of the frames
    for j, (e, i) in enumerate(list(zip(seg, t))[:50]):
        np.testing.assert_array_equal(x[j], frames[e][i - h + 1:i + 2])


def test_reference_history_never_crosses_a_segment_boundary() -> None:
    h = 3
    lengths = np.array([10, 3, 4, 12])  # a 3-frame segment has no transition of 3 history frames
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    s = amp.ReferenceSampler(_indexed_frames(int(lengths.sum())), starts, lengths, np.array([0, 1, 2, 3]),
                             np.zeros(4), amp.ReferenceConfig(min_motions_per_batch=0), history_frames=h, seed=0)
    assert s.num_transitions == 7 + 0 + 1 + 9 and s.num_segments == 3
    seg_of = np.repeat(np.arange(4), lengths)
    a, b, _ = s.sample(4000)
    ra, rb = a[:, ::D].astype(int), b[:, ::D].astype(int)  # row indices of the frames, newest first
    np.testing.assert_array_equal(ra, ra[:, :1] - np.arange(h))
    np.testing.assert_array_equal(rb, ra + 1)
    assert (seg_of[ra[:, -1]] == seg_of[rb[:, 0]]).all()  # oldest and newest frame: one segment
    with pytest.raises(ValueError, match="no segment of .* has 4 frames"):
        amp.ReferenceSampler(_indexed_frames(6), [0, 3], [3, 3], [0, 1], [0.0, 0.0], history_frames=3)


def test_batched_env_blocks_equal_the_single_env_and_restart_at_resets() -> None:
    cfg = load_config(REPO / "configs" / "phase3.yaml")
    cfg["env"]["max_episode_steps"] = 20
    n, h = 3, 2
    batched = BatchedWalkVecEnv(cfg, n, n_threads=1, amp_features=("clip", 1.5, h), randomize=False)
    one = BatchedWalkVecEnv(cfg, n, n_threads=1, amp_features=("clip", 1.5), randomize=False)
    single = make_vec_env(cfg, n, 0, kind="dummy", amp_features=("clip", 1.5, h))  # AMPFeatureObservation
    pd = batched.policy_obs_dim
    assert batched.observation_space.shape == single.observation_space.shape == (pd + h * D,)
    for v in (batched, one, single):
        v.seed(5)
    ob, o1, os_ = batched.reset(), one.reset(), single.reset()
    np.testing.assert_array_equal(ob, os_)
    np.testing.assert_array_equal(ob[:, pd:], np.tile(o1[:, pd:], h))  # an episode start: the frame repeated
    prev = o1[:, pd:]
    rng = np.random.default_rng(0)
    resets = 0
    for t in range(60):
        act = (rng.uniform(-1, 1, (n, 8)) * 0.3).astype(np.float32)
        ob, _, db, ib = batched.step(act)
        o1, _, d1, i1 = one.step(act)
        os_, _, ds, is_ = single.step(act)
        np.testing.assert_array_equal(db, ds)
        np.testing.assert_allclose(ob, os_, rtol=0, atol=1e-6, err_msg=f"step {t}")
        for i in range(n):
            frame = (i1[i]["terminal_observation"] if d1[i] else o1[i])[pd:]
            term = (ib[i]["terminal_observation"] if db[i] else ob[i])[pd:]
            np.testing.assert_array_equal(term, np.concatenate([frame, prev[i]]))  # s' of the transition
            if db[i]:
                np.testing.assert_allclose(term, is_[i]["terminal_observation"][pd:], atol=1e-6)
                np.testing.assert_array_equal(ob[i, pd:], np.tile(o1[i, pd:], h))  # the next episode starts afresh
                resets += 1
        prev = o1[:, pd:]
    assert resets >= n
    for v in (batched, one, single):
        v.close()


def test_history_one_reproduces_the_old_input_exactly() -> None:
    rng = np.random.default_rng(0)
    space = spaces.Box(-np.inf, np.inf, (5 + D,), np.float32)
    net = amp.AMPDiscriminatorNet(space, spaces.Box(-1, 1, (1,), np.float32), feature_start=5, hidden_sizes=(16,),
                                  drop=("root_height", "foot_contact"))
    assert net.history_frames == 1 and net.mlp[0].in_features == 2 * D  # old checkpoints' shapes
    s, s2 = (th.as_tensor(rng.normal(size=(32, 5 + D)), dtype=th.float32) for _ in range(2))
    net.update_normalizer(s, s2)
    old = th.cat([net.normalizer(s[:, 5:].float()) * net.mask, net.normalizer(s2[:, 5:].float()) * net.mask], dim=-1)
    assert th.equal(net.disc_input(s, s2), old)
    assert th.equal(net.input_mask(), th.cat([net.mask, net.mask]))
    # the env side: [obs | Phi(state)], the frame itself; the reference side: frames t and t + 1
    f = rng.normal(size=(4, D)).astype(np.float32)
    assert np.array_equal(push_frame(f[0], f[1], False), f[1]) and np.array_equal(push_frame(f[0], f[1], True), f[1])
    sampler = amp.ReferenceSampler(_indexed_frames(20), [0], [20], [0], [0.0], seed=0)
    a, b, _ = sampler.sample(64)
    np.testing.assert_array_equal(a, _indexed_frames(20)[a[:, 0].astype(int)])
    np.testing.assert_array_equal(b[:, 0], a[:, 0] + 1)
    assert np.array_equal(transition_frames(f[:2], f[2:], 1), np.stack([f[:2], f[2:]], axis=1))


def test_history_discriminator_masks_every_frame_and_mirrors_every_frame() -> None:
    h = 3
    space = spaces.Box(-np.inf, np.inf, (4 + h * D,), np.float32)
    net = amp.AMPDiscriminatorNet(space, spaces.Box(-1, 1, (1,), np.float32), feature_start=4, hidden_sizes=(8,),
                                  drop=("root_height",), history_frames=h)
    assert net.mlp[0].in_features == (h + 1) * D and net.input_mask().shape == ((h + 1) * D,)
    obs = th.randn(16, 4 + h * D)
    x = net.disc_input(obs, obs).reshape(16, h + 1, D)
    assert (x[..., LAYOUT.slice("root_height")] == 0).all()
    with pytest.raises(ValueError, match="no feature columns"):
        amp.AMPDiscriminatorNet(spaces.Box(-np.inf, np.inf, (D,), np.float32), spaces.Box(-1, 1, (1,), np.float32),
                                history_frames=2)
    feats = np.random.default_rng(1).normal(size=(40, D)).astype(np.float32)
    mirrored = amp.ReferenceSampler(feats, [0], [40], [0], [0.0], amp.ReferenceConfig(mirror_prob=1.0), seed=2, history_frames=h)
    plain = amp.ReferenceSampler(feats, [0], [40], [0], [0.0], amp.ReferenceConfig(mirror_prob=0.0), seed=2, history_frames=h)
    a, b, _ = mirrored.sample(8)
    pa, pb, _ = plain.sample(8)
    np.testing.assert_allclose(a.reshape(8, h, D), mirror_features(pa.reshape(8, h, D)), atol=1e-6)
    np.testing.assert_allclose(b.reshape(8, h, D), mirror_features(pb.reshape(8, h, D)), atol=1e-6)


def test_trainer_with_history_and_scaled_style(tmp_path: Path) -> None:
    from imitation.util import logger as im_logger

    h = 2
    c = amp.AMPConfig()
    cfg = dataclasses.replace(
        c,
        discriminator=dataclasses.replace(c.discriminator, hidden_sizes=(16,), batch_size=32, updates_per_round=1,
                                          history_frames=h),
        replay=dataclasses.replace(c.replay, capacity=500),
        reference=dataclasses.replace(c.reference, walking_only=True),
        reward=dataclasses.replace(c.reward, style_scale=3.0),
        ramp=dataclasses.replace(c.ramp, ramp_start=64, ramp_end=256, gate="always"),
    )
    ref = amp.ReferenceSampler.from_dataset(_mixed_walking_dataset(), cfg.reference, seed=0, history_frames=h)
    venv = DummyVecEnv([lambda: amp.AMPFeatureObservation(WildRobotWalkEnv(max_episode_steps=40), history_frames=h)] * 2)
    pd = venv.get_attr("policy_obs_dim")[0]
    algo = PPO("MlpPolicy", amp.StripAMPFeatures(venv, pd), n_steps=64, batch_size=64, n_epochs=1,
               policy_kwargs={"net_arch": [8]}, seed=0, device="cpu")
    with pytest.raises(ValueError, match="history_frames 1, discriminator.history_frames is 2"):
        amp.AMPTrainer(venv=venv, gen_algo=algo, reference=amp.ReferenceSampler.from_dataset(_mixed_walking_dataset(), seed=0),
                       config=cfg)
    trainer = amp.AMPTrainer(venv=venv, gen_algo=algo, reference=ref, config=cfg, seed=0,
                             custom_logger=im_logger.configure(str(tmp_path / "log"), ["csv"]))
    assert trainer.policy_obs_dim == pd and trainer.replay.s.shape[1] == h * D
    m = trainer.train(256)
    assert m["amp/amp_weight"] == pytest.approx(1.0)  # gate always: by steps only, whatever the AUC
    assert trainer.replay.size > 0 and trainer._fresh[0].shape[1] == h * D
    w = trainer.reward_wrapper
    assert w.style_scale == 3.0 and w.effective_style_weight == pytest.approx(1.0 * 1.0 * 3.0)


# --- 3. reward scaling ---------------------------------------------------------------------------
def test_reward_combination_scales_and_clips_the_style_reward() -> None:
    venv = DummyVecEnv([lambda: amp.AMPFeatureObservation(WildRobotWalkEnv(max_episode_steps=5))] * 2)
    styles = np.array([0.9, 0.4])
    w = amp.AMPRewardVecEnvWrapper(venv, lambda s, a, s2, d: styles, task_weight=2.0, style_weight=0.5,
                                   amp_weight=0.2, style_scale=4.0, style_clip=0.6)
    w.reset()
    _, rew, _, infos = w.step(np.zeros((2, 8), np.float32))
    clipped = np.minimum(styles, 0.6)
    for i in range(2):
        assert rew[i] == pytest.approx(2.0 * infos[i]["task_reward"] + 0.5 * 0.2 * 4.0 * clipped[i], rel=1e-5)
        assert infos[i]["amp_style_reward"] == pytest.approx(clipped[i])
    # defaults: scale 1, no clip beyond the style reward's own [0, 1]: the old formula
    old = amp.AMPRewardVecEnvWrapper(venv, lambda s, a, s2, d: styles, task_weight=2.0, style_weight=0.5, amp_weight=0.2)
    old.reset()
    _, rew, _, infos = old.step(np.zeros((2, 8), np.float32))
    assert rew[0] == pytest.approx(2.0 * infos[0]["task_reward"] + 0.5 * 0.2 * 0.9, rel=1e-5)


# --- 4. seed 002's style weight schedule ---------------------------------------------------------
def test_style_schedule_values_at_given_steps() -> None:
    sec = load_config(REPO / "configs" / "phase3.yaml")["amp"]  # its boundaries; seed 002's weights (it keeps 1.0)
    applied: list[float] = []
    cb = StyleScheduleCallback([0.1, 0.5, 1.0], sec["schedule_boundaries"], 30_000, apply=applied.append)
    cb.init_callback(SimpleNamespace(logger=configure(None, [])))
    got = {}
    for step in (0, 9_000, 9_990, 10_010, 15_000, 19_990, 20_010, 30_000, 40_000):  # boundaries at 1/3 and 2/3
        cb.num_timesteps = step
        cb.on_rollout_end()
        got[step] = cb.current
    assert got == {0: 0.1, 9_000: 0.1, 9_990: 0.1, 10_010: 0.5, 15_000: 0.5, 19_990: 0.5, 20_010: 1.0,
                   30_000: 1.0, 40_000: 1.0}
    assert applied == [0.1, 0.5, 1.0]  # handed over (train_phase3: x reward.style_weight into the reward wrapper) on change


# --- 5. the ramp's gate --------------------------------------------------------------------------
def test_gate_always_opens_the_ramp_with_auc_one() -> None:
    gated = amp.AMPWeightRamp(amp.RampConfig())
    free = amp.AMPWeightRamp(amp.RampConfig(gate="always"))
    for step in (5_000, 27_500):
        gated.update(step, 1.0, 1.0)
        free.update(step, 1.0, 9.0)  # AUC 1.0, saturated logits: ignored
    assert not gated.gate_open and gated.weight == pytest.approx(0.05)
    assert free.gate_open and free.weight == pytest.approx(0.05 + 0.95 * 0.5)
    assert free.update(50_000, float("nan"), float("inf")) == pytest.approx(1.0)
    cfg = amp.config_from_dict(amp.AMPConfig, {"ramp": {"gate": "always", "auc_min": 0.7, "auc_max": 0.8}})
    assert (cfg.ramp.gate, cfg.ramp.auc_min, cfg.ramp.auc_max) == ("always", 0.7, 0.8)  # read from the config


def test_old_saved_config_loads_with_the_old_behaviour() -> None:
    """A config saved before these keys (state.json 'amp'.'config'): one frame, every segment, scale 1, AUC gate."""
    saved = dataclasses.asdict(amp.AMPConfig())
    for sec, key in (("discriminator", "history_frames"), ("reference", "walking_only"), ("reward", "style_scale"),
                     ("ramp", "gate")):
        del saved[sec][key]
    cfg = amp.config_from_dict(amp.AMPConfig, saved)
    assert (cfg.discriminator.history_frames, cfg.reference.walking_only, cfg.reward.style_scale, cfg.ramp.gate) == \
        (1, False, 1.0, "auc")
