"""AMP (wildrobot_gym.amp) and the micro-train smoke test (reference.smoke_test)."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import mujoco
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from reference import smoke_test
from reference.miner import MiningConfig, mine_records, write_dataset
from wildrobot_gym import amp
from wildrobot_gym.amp_features import LAYOUT, compute_features, foot_z_velocity, mirror_features
from wildrobot_gym.env import WildRobotWalkEnv

from test_miner import make_records

th.set_num_threads(1)
REPO = Path(__file__).resolve().parent.parent


# --- loss, gradient penalty, reward, AUC on fixed tensors ---------------------------------------
def test_least_squares_loss_hand_values() -> None:
    real, fake = th.tensor([1.0, 0.0]), th.tensor([-1.0, 1.0])
    # real: ((1-1)^2 + (0-1)^2) / 2 = 0.5; fake: ((-1+1)^2 + (1+1)^2) / 2 = 2.0
    assert amp.least_squares_loss(real, fake).item() == pytest.approx(2.5)


def test_gradient_penalty_of_a_linear_head() -> None:
    head = th.nn.Linear(3, 1, bias=False)
    with th.no_grad():
        head.weight.copy_(th.tensor([[1.0, 2.0, 2.0]]))
    x = th.randn(5, 3, requires_grad=True)
    d = head(x).squeeze(-1)
    assert amp.gradient_penalty(d, x).item() == pytest.approx(9.0)  # |w|^2 = 1 + 4 + 4
    d = head(x).squeeze(-1)
    assert amp.gradient_penalty(d, x, th.tensor([1.0, 1.0, 0.0])).item() == pytest.approx(5.0)


def test_style_reward_formula() -> None:
    d = th.tensor([1.0, -1.0, 0.0, 3.0, 2.0, 1.5, -5.0])
    expected = [1.0, 0.0, 0.75, 0.0, 0.75, 1 - 0.25 * 0.25, 0.0]
    np.testing.assert_allclose(amp.style_reward(d).numpy(), expected, atol=1e-7)


def test_roc_auc_ranks_and_ties() -> None:
    # pairs: 3>1, 3>2, 2>1 and one tie 2=2 (1/2): 3.5 / 4
    assert amp.roc_auc([3.0, 2.0], [1.0, 2.0]) == pytest.approx(0.875)
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 30).astype(float)
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert amp.roc_auc(pos, neg) == pytest.approx(brute)
    assert math.isnan(amp.roc_auc([], [1.0]))


def _linear_disc(w_gp_weights: np.ndarray) -> amp.AMPDiscriminatorNet:
    space = spaces.Box(-np.inf, np.inf, (LAYOUT.dim,), np.float32)
    net = amp.AMPDiscriminatorNet(space, spaces.Box(-1, 1, (1,), np.float32), hidden_sizes=(), norm_eps=0.0)
    with th.no_grad():
        net.mlp[0].weight.copy_(th.as_tensor(w_gp_weights, dtype=th.float32)[None])
        net.mlp[0].bias.zero_()
    return net


def test_discriminator_update_loss_is_lsq_plus_half_wgp_gp() -> None:
    w = np.zeros(2 * LAYOUT.dim)
    w[0], w[LAYOUT.dim] = 1.0, 0.5  # joint_pos[0] of s and of s'
    net = _linear_disc(w)
    real = th.zeros(2, LAYOUT.dim)
    real[:, 0] = th.tensor([1.0, 0.0])  # d = x_s + 0.5 x_s' = 1.5 x0 with s = s'
    fake = th.zeros(2, LAYOUT.dim)
    fake[:, 0] = th.tensor([-1.0, 0.0])
    opt = th.optim.SGD(net.parameters(), lr=0.0)
    m = amp.discriminator_update(net, opt, real, real, fake, fake, grad_penalty_weight=10.0, update_normalizer=False)
    lsq = ((1.5 - 1) ** 2 + (0 - 1) ** 2) / 2 + ((-1.5 + 1) ** 2 + (0 + 1) ** 2) / 2  # 0.625 + 0.625
    gp = 1.0 + 0.25  # |w|^2 on the kept columns
    assert m["amp/lsq_loss"] == pytest.approx(lsq)
    assert m["amp/grad_penalty"] == pytest.approx(gp)
    assert m["amp/disc_loss"] == pytest.approx(lsq + 5.0 * gp)
    assert m["amp/auc"] == pytest.approx(0.875) and m["amp/accuracy"] == pytest.approx(0.5)
    assert m["amp/expert_logit_mean"] == pytest.approx(0.75) and m["amp/max_abs_logit"] == pytest.approx(1.5)


@pytest.mark.parametrize("min_style_reward, skipped", [(None, False), (0.1, False), (0.5, True)])
def test_discriminator_update_is_skipped_while_the_policy_earns_little_style(min_style_reward, skipped) -> None:
    w = np.zeros(2 * LAYOUT.dim)
    w[0], w[LAYOUT.dim] = 1.0, 0.5
    net = _linear_disc(w)
    real = th.zeros(2, LAYOUT.dim)
    real[:, 0] = th.tensor([1.0, 0.0])
    fake = th.zeros(2, LAYOUT.dim)
    fake[:, 0] = th.tensor([-1.0, 0.0])  # fake logits -1.5 and 0: style rewards 0 and 0.75, mean 0.375
    opt = th.optim.SGD(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]
    m = amp.discriminator_update(net, opt, real, real, fake, fake, update_normalizer=False,
                                 min_style_reward=min_style_reward)
    assert m["amp/style_reward_mean"] == pytest.approx(0.375)
    assert m["amp/update_skipped"] == float(skipped)
    unchanged = all(th.equal(a, b) for a, b in zip(before, net.parameters()))
    assert unchanged == skipped


def test_dropped_components_are_masked_and_normaliser_tracks_batches() -> None:
    space = spaces.Box(-np.inf, np.inf, (5 + LAYOUT.dim,), np.float32)  # 5 policy columns first
    net = amp.AMPDiscriminatorNet(space, spaces.Box(-1, 1, (1,), np.float32), feature_start=5, hidden_sizes=(8,),
                                  drop=("root_height", "foot_contact"))
    obs = th.randn(64, 5 + LAYOUT.dim) * 3 + 2
    net.update_normalizer(obs)
    np.testing.assert_allclose(net.normalizer.mean.numpy(), obs[:, 5:].double().mean(0).numpy(), rtol=1e-6, atol=1e-6)
    x = net.disc_input(obs, obs)
    for name in ("root_height", "foot_contact"):
        sl = LAYOUT.slice(name)
        assert (x[:, sl] == 0).all() and (x[:, LAYOUT.dim + sl.start:LAYOUT.dim + sl.stop] == 0).all()
    changed = obs.clone()
    changed[:, :5] = 100.0  # the policy columns are ignored
    changed[:, 5 + LAYOUT.slice("root_height").start] = -7.0  # and so is a dropped component
    assert th.allclose(net(obs, None, obs, None), net(changed, None, changed, None))
    with pytest.raises(ValueError, match="not droppable"):
        net.set_drop(("joint_pos",))


# --- schedules -----------------------------------------------------------------------------------
def test_ramp_follows_the_seed_schedule_with_the_gate_open() -> None:
    ramp = amp.AMPWeightRamp(amp.RampConfig())
    assert ramp.update(5000, 0.7, 1.0) == pytest.approx(0.05)  # nothing before ramp_start
    assert ramp.update(27500, 0.7, 1.0) == pytest.approx(0.05 + 0.95 * 0.5)
    assert ramp.update(50000, 0.7, 1.0) == pytest.approx(1.0)
    assert ramp.update(90000, 0.7, 1.0) == pytest.approx(1.0)


def test_ramp_holds_while_auc_out_of_band_or_logits_saturated() -> None:
    ramp = amp.AMPWeightRamp(amp.RampConfig())
    script = [  # (step, auc, max |logit|, expected open-gate progress)
        (10000, 0.95, 1.0, 0),        # discriminator winning: hold
        (14500, 0.70, 1.0, 4500),     # in band: the 4500 steps since the last update count
        (19000, 0.55, 1.0, 4500),     # near random: hold
        (23500, 0.70, 9.0, 4500),     # saturated logits: hold
        (28000, float("nan"), 1.0, 4500),
        (32500, 0.84, 4.9, 9000),
    ]
    for step, auc, logit, progress in script:
        w = ramp.update(step, auc, logit)
        assert ramp.progress == progress
        assert w == pytest.approx(0.05 + 0.95 * progress / 45000)
    w_before = ramp.weight
    assert ramp.update(40000, 0.99, 1.0) == w_before  # never decreases
    state = ramp.state_dict()
    other = amp.AMPWeightRamp(amp.RampConfig())
    other.load_state_dict(state)
    assert other.weight == w_before


def test_feature_schedule_stages_and_trigger() -> None:
    sched = amp.FeatureSchedule.from_config(amp.FeaturesConfig())
    assert set(sched.drop) >= {"root_height", "foot_contact"} and sched.stage == 0
    assert sched.update(49_999, 0.0) == 0
    assert sched.update(60_000, None) == 0  # walking not known to be stable
    assert sched.update(60_000, 0.5) == 0  # falls not rare
    assert sched.update(60_000, 0.1) == 1 and "root_height" not in sched.drop and "foot_contact" in sched.drop
    assert sched.update(99_999, 0.0) == 1
    assert sched.update(100_000, 0.0) == 2 and sched.drop == ()
    assert sched.update(10**7, 0.0) == 2
    one_per_call = amp.FeatureSchedule.from_config(amp.FeaturesConfig())
    assert one_per_call.update(200_000, 0.0) == 1 and one_per_call.update(200_000, 0.0) == 2


def test_feature_schedule_validation() -> None:
    S = amp.FeatureStageConfig
    with pytest.raises(ValueError, match="start at step 0"):
        amp.FeatureSchedule([S("a", 10, ())])
    with pytest.raises(ValueError, match="stages\\[2\\].start_step"):
        amp.FeatureSchedule([S("a", 0, ()), S("b", 100, ()), S("c", 50, ())])
    with pytest.raises(ValueError, match="stages\\[0\\].drop.*not droppable"):
        amp.FeatureSchedule([S("a", 0, ("joint_vel",))])
    with pytest.raises(ValueError, match="unknown feature component"):
        amp.FeatureSchedule([S("a", 0, ("nose",))])


def test_global_progress_schedule_uses_the_clock() -> None:
    clock = amp.StepClock(steps=250, total=1000)
    sched = amp.GlobalProgressSchedule(lambda p: 3e-4 * p, clock)
    assert sched(0.0) == pytest.approx(3e-4 * 0.75)  # SB3's own progress argument is ignored
    clock.steps = 2000
    assert sched(1.0) == 0.0


# --- config --------------------------------------------------------------------------------------
def test_yaml_holds_the_defaults() -> None:
    cfg = amp.load_amp_config()
    # The yaml switches on what configs saved before these keys lack (their defaults: the old behaviour);
    # the whole list of its departures is test_config.test_shipped_amp_config_loads.
    d = amp.AMPConfig()
    assert (d.discriminator.history_frames, d.reference.walking_only, d.reward.style_scale, d.ramp.gate) == (1, False, 1.0, "auc")
    assert (cfg.discriminator.history_frames, cfg.reference.walking_only, cfg.reward.style_scale, cfg.ramp.gate) == \
        (2, True, 20.0, "always")
    # the seed's numbers stay (the AUC window is kept, unused while gate is 'always')
    assert (cfg.ramp.initial, cfg.ramp.ramp_start, cfg.ramp.ramp_end, cfg.ramp.auc_min, cfg.ramp.auc_max) == (0.05, 5000, 50000, 0.60, 0.85)
    assert d.discriminator.grad_penalty_weight == 10.0 and cfg.reference.min_motions_per_batch == 3
    assert (cfg.smoke_test.auc_min, cfg.smoke_test.auc_max, cfg.smoke_test.min_reward_variance) == (0.6, 0.9, 0.05)


@pytest.mark.parametrize(
    "doc, match",
    [
        ({"ramp": {"auc_mn": 0.5}}, r"amp\.ramp\.auc_mn: unknown key"),
        ({"discriminator": {"batch_size": 1.5}}, r"amp\.discriminator\.batch_size: expected an integer"),
        ({"reference": {"weight_by_length": "yes"}}, r"amp\.reference\.weight_by_length: expected true/false"),
        ({"features": {"stages": [{"name": "a", "start_step": 0, "drop": ["x", 3]}]}}, r"amp\.features\.stages\[0\]\.drop\[1\]"),
        ({"ramp": {"auc_min": 0.9, "auc_max": 0.8}}, r"amp\.ramp: need 0 <= auc_min"),
        ({"reward": {"diversity_weight": 0.1}}, r"diversity_weight"),
        ({"replay": {"fresh_fraction": 2.0}}, r"amp\.replay\.fresh_fraction: expected a number in \[0, 1\]"),
        ({"ramp": {"gate": "never"}}, r"amp\.ramp\.gate: expected one of \('auc', 'always'\)"),
        ({"discriminator": {"history_frames": 0}}, r"amp\.discriminator\.history_frames: expected an integer in \[1, 16\]"),
        ({"reference": {"walking_only": 1}}, r"amp\.reference\.walking_only: expected true/false"),
        ({"reward": {"style_scale": -1.0}}, r"amp\.reward\.style_scale: expected a number >= 0"),
    ],
)
def test_config_errors_name_the_key(doc: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        amp.config_from_dict(amp.AMPConfig, doc)


def test_load_amp_config_from_a_section(tmp_path: Path) -> None:
    p = tmp_path / "phase.yaml"
    p.write_text("amp:\n  ramp:\n    ramp_end: 60000\n")
    assert amp.load_amp_config(p, section="amp").ramp.ramp_end == 60000
    with pytest.raises(ValueError, match="no section 'nope'"):
        amp.load_amp_config(p, section="nope")


# --- reference sampling --------------------------------------------------------------------------
def _sampler(cfg: amp.ReferenceConfig, scores=(0.0, 0.0, 5.0, 0.0, 1.0), seed: int = 0) -> amp.ReferenceSampler:
    """5 segments of 10 frames, motions 0, 1, 2, 3, 3; feature column 0 holds the row index."""
    n_seg, length = len(scores), 10
    feats = np.zeros((n_seg * length, LAYOUT.dim), np.float32)
    feats[:, 0] = np.arange(n_seg * length)
    starts = np.arange(n_seg) * length
    return amp.ReferenceSampler(feats, starts, np.full(n_seg, length), np.array([0, 1, 2, 3, 3]), np.array(scores), cfg, seed=seed)


def test_sampler_pairs_stay_inside_a_segment_and_batches_hold_three_motions() -> None:
    s = _sampler(amp.ReferenceConfig(temperature=0.5))  # motion 2 has ~99.99 % of the mass
    assert s.num_transitions == 5 * 9
    for _ in range(200):
        a, b, motions = s.sample(8)
        rows = a[:, 0].astype(int)
        np.testing.assert_array_equal(b[:, 0], rows + 1)
        assert (rows % 10 != 9).all()  # never the last frame of a segment
        assert len(set(motions.tolist())) >= 3
        np.testing.assert_array_equal(motions, np.array([0, 1, 2, 3, 3])[rows // 10])
    two = amp.ReferenceSampler(np.zeros((20, LAYOUT.dim), np.float32), [0, 10], [10, 10], [0, 1], [0.0, 0.0])
    assert two.required_motions == 2 and len(set(two.sample(4)[2].tolist())) == 2


def test_sampler_weights_are_softmax_of_scores() -> None:
    cfg = amp.ReferenceConfig(temperature=2.0, min_motions_per_batch=0)
    s = _sampler(cfg, seed=1)
    scores = np.array([0.0, 0.0, 5.0, 0.0, 1.0])
    expected = np.exp(scores / 2.0) / np.exp(scores / 2.0).sum()  # equal lengths: per segment = per transition
    _, _, _ = s.sample(1)
    seg = s.sample(40000)[0][:, 0].astype(int) // 10
    np.testing.assert_allclose(np.bincount(seg, minlength=5) / 40000, expected, atol=0.01)


def test_sampler_by_segment_and_mirroring() -> None:
    feats = np.random.default_rng(0).normal(size=(30, LAYOUT.dim)).astype(np.float32)
    # segment 0 has 20 frames (19 pairs), segment 1 has 10 (9 pairs), equal scores
    by_seg = amp.ReferenceSampler(feats, [0, 20], [20, 10], [0, 1], [0.0, 0.0],
                                  amp.ReferenceConfig(weight_by_length=False, min_motions_per_batch=0))
    np.testing.assert_allclose([by_seg.p[:19].sum(), by_seg.p[19:].sum()], [0.5, 0.5])
    mirrored = amp.ReferenceSampler(feats, [0], [30], [0], [0.0], amp.ReferenceConfig(mirror_prob=1.0), seed=3)
    plain = amp.ReferenceSampler(feats, [0], [30], [0], [0.0], amp.ReferenceConfig(mirror_prob=0.0), seed=3)
    a, b, _ = mirrored.sample(16)
    rows = plain.sample(16)[0]  # same rng stream up to the mirror draw: same rows
    np.testing.assert_allclose(a, mirror_features(rows), atol=1e-6)
    with pytest.raises(ValueError, match="NaN or Inf"):
        amp.ReferenceSampler(np.full((4, LAYOUT.dim), np.nan, np.float32), [0], [4], [0], [0.0])


def test_policy_replay_and_fresh_mix() -> None:
    rng = np.random.default_rng(0)
    replay = amp.PolicyReplay(capacity=10, dim=2)
    fresh = (np.ones((4, 2), np.float32), np.ones((4, 2), np.float32))
    s, _ = amp.mix_policy_samples(fresh, replay, 8, 0.5, rng)
    assert (s == 1).all()  # empty replay: all fresh
    replay.add(np.zeros((25, 2), np.float32), np.zeros((25, 2), np.float32))  # wraps around
    assert replay.size == 10
    s, _ = amp.mix_policy_samples(fresh, replay, 8, 0.25, rng)
    assert (s[:, 0] == 1).sum() == 2 and (s[:, 0] == 0).sum() == 6


# --- policy side == reference side ---------------------------------------------------------------
def _scripted_actions(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.zeros((n, 8))
    for t in range(1, n):
        a[t] = np.clip(0.9 * a[t - 1] + 0.2 * rng.standard_normal(8), -1, 1)
    return a


def test_env_features_equal_compute_features_on_recorded_arrays() -> None:
    """The wrapper's features are compute_features of what a recorder (reference/rollout/) stores."""
    env = amp.AMPFeatureObservation(WildRobotWalkEnv(max_episode_steps=60))
    rec = {k: [] for k in ("qpos", "qvel", "pad_contact", "foot_height", "restart", "features")}

    def record(obs: np.ndarray, info: dict, restart: bool) -> None:
        d = env.unwrapped.data
        rec["qpos"].append(d.qpos.copy())
        rec["qvel"].append(d.qvel.copy())
        rec["pad_contact"].append(info["pad_contact"].copy())
        rec["foot_height"].append(np.asarray(info["foot_height"]).copy())
        rec["restart"].append(restart)
        rec["features"].append(obs[env.policy_obs_dim:])

    obs, info = env.reset(seed=0)
    record(obs, info, True)
    for a in _scripted_actions(150):
        obs, _, term, trunc, info = env.step(a)
        record(obs, info, False)
        if term or trunc:
            obs, info = env.reset()
            record(obs, info, True)
    r = {k: np.asarray(v) for k, v in rec.items()}
    assert r["restart"].sum() >= 2  # the test crosses resets
    fz = foot_z_velocity(r["foot_height"], 50.0, r["restart"])
    ref = compute_features(r["qpos"], r["qvel"], r["pad_contact"], r["foot_height"], fz)
    np.testing.assert_allclose(r["features"], ref, rtol=1e-5, atol=1e-6)
    assert np.abs(r["features"][:, LAYOUT.slice("foot_z_vel")]).max() > 0  # not a trivial zero column


def test_reference_rollout_state_gives_the_same_features_in_the_env() -> None:
    """Set the env to states of a physics reference rollout: its features equal the reference's."""
    from reference import clips, rollout

    cfg = rollout.load_generation_config(overrides={"duration_s": 1.0})
    model = rollout.default_model()
    recs = rollout.rollout_clip(model, clips.load_clip(REPO / "assets/clips/walk_v030_l080.npz"), cfg)
    fz = foot_z_velocity(recs["foot_height"], cfg.fps, recs["restart"])
    ref = compute_features(recs["qpos"], recs["qvel"], recs["pad_contact"], recs["foot_height"], fz)

    env = amp.AMPFeatureObservation(WildRobotWalkEnv())
    env.reset(seed=0)
    base = env.unwrapped
    frames = [t for t in range(1, len(recs["qpos"])) if not recs["restart"][t]][::5]
    got = []
    for t in frames:
        infos = []
        for k in (t - 1, t):  # the env path: previous state then this one (foot_z_vel by difference)
            base.data.qpos[:] = recs["qpos"][k]
            base.data.qvel[:] = recs["qvel"][k]
            mujoco.mj_forward(base.model, base.data)
            infos.append(base.tracker.compute(base.data))
        env._features(infos[0], restart=True)
        got.append(env._features(infos[1], restart=False))
    got = np.asarray(got)
    want = ref[frames]
    kin = np.concatenate([np.arange(LAYOUT.slice(n).start, LAYOUT.slice(n).stop)
                          for n in ("joint_pos", "joint_vel", "root_ang_vel", "root_lin_vel", "root_height")])
    np.testing.assert_allclose(got[:, kin], want[:, kin], rtol=1e-5, atol=1e-6)
    # Recorded sensors (contacts, sole heights) come from the last substep's forward pass, 2 ms before
    # the recorded qpos, on both sides; recomputing them at the recorded qpos moves heights by v * 2 ms,
    # and pad forces near the 1 N threshold also change without the rollout's harness wrench. So the
    # contact flags agree only mostly here; the exact equality is the recorded-arrays test above.
    fh = LAYOUT.slice("foot_height")
    np.testing.assert_allclose(got[:, fh], want[:, fh], atol=3e-3)
    contact = LAYOUT.slice("foot_contact")
    assert (got[:, contact] == want[:, contact]).mean() >= 0.75


# --- training with imitation's trainer -----------------------------------------------------------
def _tiny_dataset() -> object:
    """3 synthetic walks at 0.3 m/s, labelled walking (their clips' speed is 0.3 m/s)."""
    recs = [{**make_records(120, clip=f"walk{i}", seed=i), "clip_speed": 0.3} for i in range(3)]
    return mine_records(recs, MiningConfig())


def _tiny_config() -> amp.AMPConfig:
    c = amp.AMPConfig()
    return dataclasses.replace(
        c,
        discriminator=dataclasses.replace(c.discriminator, hidden_sizes=(32, 32), batch_size=64, updates_per_round=2),
        replay=dataclasses.replace(c.replay, capacity=2000),
        ramp=dataclasses.replace(c.ramp, ramp_start=256, ramp_end=2048, auc_min=0.0, auc_max=1.0),
        features=dataclasses.replace(c.features, stages=(
            amp.FeatureStageConfig("stage0", 0, ("root_height", "foot_contact", "foot_height", "foot_z_vel")),
            amp.FeatureStageConfig("height", 1024, ("foot_contact", "foot_height", "foot_z_vel")),
        )),
    )


class _Count(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _on_step(self) -> bool:
        self.calls += 1
        return True


def test_amp_training_smoke_with_imitation(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from imitation.util import logger as im_logger

    cfg = _tiny_config()
    ref = amp.ReferenceSampler.from_dataset(_tiny_dataset(), cfg.reference, seed=0)

    def make() -> amp.AMPFeatureObservation:
        return amp.AMPFeatureObservation(WildRobotWalkEnv(max_episode_steps=80))

    venv = DummyVecEnv([make, make])
    pol_dim = venv.get_attr("policy_obs_dim")[0]
    lr = lambda p: 3e-4 * p  # noqa: E731
    algo = PPO("MlpPolicy", amp.StripAMPFeatures(venv, pol_dim), n_steps=64, batch_size=64, n_epochs=1,
               learning_rate=lr, policy_kwargs={"net_arch": [16]}, seed=0, device="cpu")
    count = _Count()
    trainer = amp.AMPTrainer(venv=venv, gen_algo=algo, reference=ref, config=cfg, seed=0,
                             policy_venv_fn=lambda v: VecNormalize(v, gamma=0.99),
                             custom_logger=im_logger.configure(str(tmp_path / "log"), ["tensorboard"]))
    trainer.add_gen_callback(count)
    assert algo.observation_space.shape == (pol_dim,)
    assert isinstance(algo.get_env(), VecNormalize)
    seen_lr = []
    metrics = trainer.train(2048, callback=lambda r: seen_lr.append(algo.lr_schedule(1.0)), progress_bar=False)
    assert "round" not in capsys.readouterr().err  # train_ppo.py --no-progress-bar reaches the round loop

    keys = ["amp/disc_loss", "amp/accuracy", "amp/auc", "amp/expert_logit_mean", "amp/policy_logit_mean",
            "amp/grad_penalty", "amp/style_reward_mean", "amp/style_reward_var", "amp/amp_weight",
            "amp/feature_stage", "amp/env_style_reward_mean", "amp/max_abs_logit"]
    for k in keys:
        assert k in metrics and math.isfinite(metrics[k]), k
    assert algo.num_timesteps == 2048 and trainer.clock.steps == 2048 and count.calls == 2048 // 2
    assert metrics["amp/amp_weight"] == pytest.approx(1.0)  # gate forced open: full weight at ramp_end
    assert trainer.reward_wrapper.amp_weight == pytest.approx(1.0)
    # LR decays over the whole run, not per round (imitation's per-round learn() would restart it)
    assert seen_lr[0] > seen_lr[-1] and seen_lr[-1] == pytest.approx(0.0, abs=1e-12)
    assert algo.lr_schedule is lr  # plain schedule restored for saving
    assert trainer.replay.size > 0 and trainer._gen_replay_buffer.size() > 0
    assert list((tmp_path / "log").rglob("events.out.tfevents*"))
    state = trainer.amp_state_dict()
    trainer.load_amp_state_dict(state)
    assert trainer.clock.steps == 2048
    with pytest.raises(ValueError, match="less than one round"):
        trainer.train(100)
    trainer.train(1024)  # the round bar is on by default
    assert "round" in capsys.readouterr().err and trainer.clock.steps == 3072


@pytest.mark.parametrize("min_style_reward", [None, 1.0])
def test_trainer_holds_the_discriminator_back_with_min_style_reward(min_style_reward) -> None:
    """discriminator.min_style_reward reaches every update, the pretraining's included: at 1.0 (no policy batch
    earns that much) the discriminator never moves; without it, it does."""
    c = _tiny_config()
    cfg = dataclasses.replace(c, discriminator=dataclasses.replace(c.discriminator, min_style_reward=min_style_reward))
    ref = amp.ReferenceSampler.from_dataset(_tiny_dataset(), cfg.reference, seed=0)
    venv = DummyVecEnv([lambda: amp.AMPFeatureObservation(WildRobotWalkEnv(max_episode_steps=20))])
    pol_dim = venv.get_attr("policy_obs_dim")[0]
    algo = PPO("MlpPolicy", amp.StripAMPFeatures(venv, pol_dim), n_steps=64, batch_size=64, n_epochs=1,
               policy_kwargs={"net_arch": [16]}, seed=0, device="cpu")
    trainer = amp.AMPTrainer(venv=venv, gen_algo=algo, reference=ref, config=cfg, seed=0)
    head = [p.detach().clone() for p in trainer.discriminator.parameters() if p.requires_grad]
    fake = np.random.default_rng(0).normal(size=(256, trainer.feature_dim)).astype(np.float32)
    m = trainer.pretrain_discriminator(fake, fake, updates=5)
    after = [p for p in trainer.discriminator.parameters() if p.requires_grad]
    unchanged = all(th.equal(a, b) for a, b in zip(head, after))
    assert m["amp/update_skipped"] == (1.0 if min_style_reward else 0.0)
    assert unchanged == (min_style_reward is not None)


def test_reward_wrapper_keeps_the_task_reward() -> None:
    venv = DummyVecEnv([lambda: amp.AMPFeatureObservation(WildRobotWalkEnv(max_episode_steps=5))])
    wrapper = amp.AMPRewardVecEnvWrapper(venv, lambda s, a, s2, d: np.full(len(s), 0.5), task_weight=2.0,
                                         style_weight=3.0, amp_weight=0.1)
    strip = amp.StripAMPFeatures(wrapper, venv.get_attr("policy_obs_dim")[0])
    strip.reset()
    for _ in range(5):
        obs, rew, done, infos = strip.step(np.zeros((1, 8), np.float32))
    assert obs.shape == (1, strip.policy_obs_dim) and done[0]
    assert infos[0]["terminal_observation"].shape == (strip.policy_obs_dim,)
    assert rew[0] == pytest.approx(2.0 * infos[0]["task_reward"] + 3.0 * 0.1 * 0.5, rel=1e-5)
    assert wrapper.pop_style_stats()["amp/env_style_reward_mean"] == pytest.approx(0.5)


# --- smoke test CLI ------------------------------------------------------------------------------
def test_smoke_test_cli_writes_the_report(tmp_path: Path) -> None:
    write_dataset(_tiny_dataset(), tmp_path / "ds")
    out = tmp_path / "smoke.json"
    rc = smoke_test.main(["--dataset", str(tmp_path / "ds"), "--steps", "60", "--batch-size", "32",
                          "--policy-steps", "200", "--log-interval", "20", "--drop-contacts", "--drop-height",
                          "--json-output", str(out)])
    rep = json.loads(out.read_text())
    for k in ("auc", "amp_reward_variance", "passed", "max_abs_logit", "checks", "history"):
        assert k in rep
    assert rc == (0 if rep["passed"] else 1)
    assert 0.0 <= rep["auc"] <= 1.0 and rep["amp_reward_variance"] >= 0.0
    assert rep["checks"]["no_nan_inf"] and rep["steps_meaning"] == "discriminator updates"
    assert set(rep["drop"]) == {"root_height", "foot_contact", "foot_height", "foot_z_vel"}
    assert [h["step"] for h in rep["history"]] == [20, 40, 60]
    assert rep["policy_source"] == "scripted_smooth_random" and rep["rollout"]["steps"] == 200
    assert rep["passed"] == all(rep["checks"].values())
    assert rep["history_frames"] == 2 and rep["reference_segments"] == "walking"  # configs/amp.yaml's


def test_smoke_test_gates() -> None:
    """A reference that equals the policy data is random to the discriminator: AUC ~ 0.5 fails."""
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(400, LAYOUT.dim)).astype(np.float32)
    sampler = amp.ReferenceSampler(feats, [0], [400], [0], [0.0], seed=0)
    cfg = _tiny_config()
    rep = smoke_test.run_smoke_test(sampler, feats[:-1], feats[1:], cfg, steps=30, batch_size=32)
    assert not rep["checks"]["auc_in_range"] and not rep["passed"]
    assert abs(rep["auc"] - 0.5) < 0.15
    sep = rep["feature_separability"]
    assert len(sep) == LAYOUT.dim and max(sep.values()) < 0.7  # no column tells the same data apart


def _five_motion_sampler(seed: int = 0) -> amp.ReferenceSampler:
    """Five segments of 80 frames, one motion each; each motion's features are offset by its id."""
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(400, LAYOUT.dim)).astype(np.float32)
    feats += np.repeat(np.arange(5), 80)[:, None].astype(np.float32)
    return amp.ReferenceSampler(feats, [0, 80, 160, 240, 320], [80] * 5, [0, 1, 2, 3, 4], [0.0] * 5, seed=seed)


def test_split_motions_holds_whole_motions_out() -> None:
    sampler = _five_motion_sampler()
    train, held = sampler.split_motions(0.2)
    assert len(held.motions) == 1 and len(train.motions) == 4
    assert not set(held.motions) & set(train.motions)
    _, _, m_held = held.sample(200)
    _, _, m_train = train.sample(200)
    assert set(m_held) == set(held.motions) and set(m_train) <= set(train.motions)
    # the held-out motion's frames only: motion k's features sit near k
    s, _, _ = held.sample(50)
    assert abs(float(s[:, :LAYOUT.dim].mean()) - float(held.motions[0])) < 0.2
    # at least one motion on each side, whatever the fraction; none to split with one motion
    assert [len(sampler.split_motions(f)[1].motions) for f in (0.0, 0.5, 1.0)] == [1, 2, 4]
    single = amp.ReferenceSampler(np.zeros((100, LAYOUT.dim), np.float32), [0], [100], [0], [0.0])
    assert single.split_motions(0.2) is None
    # a sampler already narrowed to motions 1-3 splits those three only
    narrow = amp.ReferenceSampler(sampler.features, [0, 80, 160, 240, 320], [80] * 5, [0, 1, 2, 3, 4], [0.0] * 5,
                                  seed=0, segment_subset=np.array([False, True, True, True, False]))
    train, held = narrow.split_motions(0.34)
    assert sorted([*train.motions, *held.motions]) == [1, 2, 3] and len(held.motions) == 1


def test_smoke_test_holds_out_the_rollouts_tail_and_reference_motions() -> None:
    train, ev = smoke_test.held_out_split(10, 0.2)
    assert train.tolist() == list(range(8)) and ev.tolist() == [8, 9]
    assert smoke_test.held_out_split(3, 0.0)[1].tolist() == [2]  # at least one
    rng = np.random.default_rng(2)
    pol = rng.normal(size=(300, LAYOUT.dim)).astype(np.float32)
    rep = smoke_test.run_smoke_test(_five_motion_sampler(), pol[:-1], pol[1:], _tiny_config(), steps=5, batch_size=32)
    assert rep["eval"]["reference_split"] == "motions" and rep["eval"]["held_out_motions"] == 1
    assert rep["eval"]["reference_motions"] == 1 and rep["eval"]["policy_pairs"] == round(0.2 * 299)


def test_smoke_test_names_the_column_that_gives_the_policy_away() -> None:
    """A policy that differs from the reference in one column only: that column tops the report."""
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(400, LAYOUT.dim)).astype(np.float32)
    pol = rng.normal(size=(400, LAYOUT.dim)).astype(np.float32)
    col = LAYOUT.slice("root_gravity").start + 1
    pol[:, col] += 3.0
    sampler = amp.ReferenceSampler(ref, [0], [400], [0], [0.0], seed=0)
    rep = smoke_test.run_smoke_test(sampler, pol[:-1], pol[1:], _tiny_config(), steps=10, batch_size=32,
                                    drop=("root_height",))
    sep = rep["feature_separability"]
    assert next(iter(sep)) == "root_gravity[1]" and sep["root_gravity[1]"] > 0.95
    assert "root_height[0]" not in sep and len(sep) == LAYOUT.dim - 1  # only what the discriminator sees
