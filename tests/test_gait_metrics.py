"""wildrobot_gym.gait_metrics: the gait figures on hand-made episodes with known answers, the running
accumulator equal to the per-episode functions, and EpisodeStats's gait keys equal for one env and a batch."""
from __future__ import annotations

import math

import numpy as np
import pytest

from wildrobot_gym import gait_metrics as gm
from wildrobot_gym.episode_stats import EpisodeStats
from wildrobot_gym.rewards import DEFAULT_PARAMS

DT = 0.02
W = 30.0  # weight m g of the hand-made episodes, N


def episode(force: np.ndarray, fwd=0.0, lat=0.0, yaw=0.0, torque=0.0, qdot=0.0) -> dict[str, np.ndarray]:
    """Per-step arrays of a T-step episode with foot forces `force` (T, 2); the rest broadcast."""
    t = len(force)
    return {"foot_force": np.asarray(force, dtype=float),
            "forward_velocity": np.broadcast_to(np.asarray(fwd, dtype=float), (t,)).copy(),
            "lateral_velocity": np.broadcast_to(np.asarray(lat, dtype=float), (t,)).copy(),
            "yaw": np.broadcast_to(np.asarray(yaw, dtype=float), (t,)).copy(),
            "actuator_torque": np.broadcast_to(np.asarray(torque, dtype=float), (t, 8)).copy(),
            "joint_vel": np.broadcast_to(np.asarray(qdot, dtype=float), (t, 8)).copy()}


def accumulated(steps: dict[str, np.ndarray], dt: float = DT, weight: float = W) -> dict[str, float]:
    """The figures of `GaitAccumulator` (one env) fed the episode step by step, as the env's infos."""
    acc = gm.GaitAccumulator(None, dt, weight)
    for t in range(len(steps["foot_force"])):
        acc.add({k: (float(v[t]) if v.ndim == 1 else v[t].copy()) for k, v in steps.items()})
    return acc.finish()


def both(steps: dict[str, np.ndarray], dt: float = DT, weight: float = W) -> list[dict[str, float]]:
    """The per-episode functions' figures and the accumulator's, checked equal."""
    a, b = gm.episode_gait(steps, dt, weight), accumulated(steps, dt, weight)
    for k in gm.GAIT_KEYS:
        assert b[k] == pytest.approx(a[k], rel=1e-9, abs=1e-12, nan_ok=True), k
    return [a, b]


def pattern(period: list[tuple[float, float]], t: int) -> np.ndarray:
    """(t, 2) foot forces (as fractions of W) repeating `period`."""
    return W * np.array(period * (t // len(period) + 1))[:t]


def test_support_fractions_and_cadence_of_a_walk_with_double_support():
    # 20-step period: left alone 7, both 3, right alone 7, both 3; a foot "off" still touches at 5 % m g
    period = [(1.0, 0.05)] * 7 + [(0.6, 0.6)] * 3 + [(0.05, 1.0)] * 7 + [(0.6, 0.6)] * 3
    for s in both(episode(pattern(period, 400))):  # 8 s
        assert s["double_support"] == pytest.approx(0.3) and s["single_support"] == pytest.approx(0.7)
        assert s["flight"] == 0.0
        # right lands at 7, 27, ..., 387 (20); left at 17, ..., 397 (20); left's stance at step 0 is not one
        assert s["touchdowns_per_s_left"] == pytest.approx(2.5) and s["touchdowns_per_s_right"] == pytest.approx(2.5)
        assert s["touchdowns_per_s"] == pytest.approx(2.5)


def test_loaded_threshold_is_a_tenth_of_the_weight():
    force = np.array([[0.09 * W, 0.11 * W], [0.0, 0.2 * W]])
    np.testing.assert_array_equal(gm.loaded_feet(force, W), [[False, True], [False, True]])
    s = both(episode(force))[0]
    assert s["single_support"] == 1.0 and s["double_support"] == 0.0 and s["flight"] == 0.0


def test_a_20_ms_bounce_is_not_a_touchdown_a_40_ms_lift_is():
    left = np.ones(30)
    left[10] = 0.05  # one step (20 ms) unloaded: a bounce
    left[20:22] = 0.05  # two steps (40 ms) unloaded
    force = W * np.stack([left, np.ones(30)], axis=1)
    loaded = gm.loaded_feet(force, W)
    assert np.flatnonzero(gm.debounced_touchdowns(loaded, DT)[:, 0]).tolist() == [22]
    assert np.flatnonzero(gm.debounced_touchdowns(loaded, DT, min_unloaded_s=0.02)[:, 0]).tolist() == [11, 22]
    assert gm.debounce_steps(DT) == 2 and gm.debounce_steps(0.01) == 4
    for s in both(episode(force)):
        assert s["touchdowns_per_s_left"] == pytest.approx(1 / (30 * DT))  # one touchdown in 0.6 s
        assert s["touchdowns_per_s_right"] == 0.0  # loaded from the first step on: never a touchdown


def test_step_length_and_peak_foot_force():
    # left alone 10 steps, right alone 10 steps, walking at 0.5 m/s: a step every 0.2 s = 0.1 m
    force = pattern([(1.5, 0.0)] * 10 + [(0.0, 1.0)] * 10, 200)
    force[45, 0] = 3.0 * W  # a spike in the left cycle that starts at step 40
    force[3, 0] = 5.0 * W  # a bigger one in the first stance, before the left foot's first touchdown
    for s in both(episode(force, fwd=0.5)):
        assert s["step_length"] == pytest.approx(0.1)
        assert s["peak_foot_force_max"] == pytest.approx(5.0)
        # cycles: left from 20, 40, ..., 180 (9: one with the 3 W spike), right from 10, ..., 190 (10)
        assert s["peak_foot_force_mean"] == pytest.approx((8 * 1.5 + 3.0 + 10 * 1.0) / 19)
    # the same foot landing twice is not a step; a landing of both after one foot is
    td = np.zeros((40, 2), dtype=bool)
    td[[5, 15], 0] = True   # L, L: no step
    td[25, :] = True        # {L} -> {L, R}: a step of 10 steps
    td[35, 1] = True        # {L, R} -> {R}: a step of 10 steps
    assert gm.step_length(td, np.full(40, 1.0), DT) == pytest.approx(0.2)
    assert gm.step_length(np.zeros((40, 2), dtype=bool), np.full(40, 1.0), DT) == 0.0


def test_a_circle_walk_has_a_yaw_rate_and_a_low_straight_line_speed():
    t, v, omega = 1000, 0.5, 0.5  # 20 s at 0.5 m/s turning 0.5 rad/s: 1.6 turns, the yaw wraps at +-pi
    yaw = gm.wrap_angle(0.3 + omega * DT * np.arange(t))
    force = pattern([(1.0, 0.0)] * 10 + [(0.0, 1.0)] * 10, t)
    for s in both(episode(force, fwd=v, yaw=yaw)):
        assert s["yaw_rate"] == pytest.approx(math.degrees(omega)) and s["yaw_rate_abs"] == s["yaw_rate"]
        # displacement along the start heading: the chord of the arc, v sin(omega T) / (omega T) on average
        assert s["straight_line_speed"] == pytest.approx(v * math.sin(omega * t * DT) / (omega * t * DT), abs=2e-3)
        assert abs(s["straight_line_speed"]) < 0.1 * v
    clockwise = both(episode(force, fwd=v, yaw=gm.wrap_angle(-omega * DT * np.arange(t))))[0]
    assert clockwise["yaw_rate"] == pytest.approx(-math.degrees(omega)) and clockwise["yaw_rate_abs"] > 28.0
    # walking straight along any heading: the full speed; sidestepping: none along the start heading
    straight = both(episode(force, fwd=v, yaw=2.0))[0]
    assert straight["straight_line_speed"] == pytest.approx(v) and straight["yaw_rate"] == 0.0
    assert both(episode(force, lat=0.3, yaw=-1.0))[0]["straight_line_speed"] == pytest.approx(0.0, abs=1e-12)


def test_cost_of_transport_of_a_constant_torque_and_velocity():
    force = pattern([(1.0, 1.0)], 50)
    qdot = np.array([1.5, -1.5] * 4)  # |tau qdot| = 3 W per joint, whatever the sign
    for dt in (DT, 0.01):  # dt cancels: work and distance both scale with it
        for s in both(episode(force, fwd=0.4, lat=-0.3, torque=2.0, qdot=qdot), dt=dt):
            # 8 joints x 2 N m x 1.5 rad/s = 24 W, over |v| = 0.5 m/s of path: 48 J/m / W
            assert s["cost_of_transport"] == pytest.approx(48.0 / W)
    assert math.isnan(both(episode(force, torque=2.0, qdot=qdot))[0]["cost_of_transport"])  # no path


def test_torque_saturation_pct_counts_servo_steps():
    sat = np.zeros((10, 8), dtype=bool)
    sat[:5, :2] = True
    assert gm.torque_saturation_pct(sat) == pytest.approx(12.5)


def random_episode(rng: np.random.Generator, t: int) -> dict[str, np.ndarray]:
    """A walk-like episode with noise: bouncy alternating contacts, a drifting, wrapping heading."""
    force = pattern([(1.2, 0.02)] * 9 + [(0.0, 0.0)] * 2 + [(0.02, 1.2)] * 9 + [(0.0, 0.0)] * 1, t)
    force = force * rng.uniform(0.5, 1.5, force.shape) * (rng.uniform(size=force.shape) > 0.05)
    steps = episode(force, fwd=rng.normal(0.5, 0.2, t), lat=rng.normal(0, 0.1, t),
                    yaw=gm.wrap_angle(3.0 + np.cumsum(rng.normal(0.02, 0.05, t))),
                    torque=rng.normal(0, 2, (t, 8)), qdot=rng.normal(0, 3, (t, 8)))
    steps["joint_pos"] = rng.normal(0, 0.3, (t, 8))
    steps["joint_pos_half_cycle"] = rng.normal(0, 0.3, (t, 8))
    return steps


def test_mirror_error_is_zero_for_a_mirrored_walk_and_the_size_of_a_limp():
    from wildrobot_gym.robot import mirror_joints
    t = np.arange(100)
    left = np.stack([0.4 * np.sin(2 * np.pi * t / 25 + k) for k in range(4)], axis=1)  # one leg's joints
    half = np.concatenate([left, mirror_joints(np.concatenate([left, left], axis=1))[:, 4:]], axis=1)
    walk = episode(np.full((100, 2), W))
    walk["joint_pos"] = mirror_joints(half)
    walk["joint_pos_half_cycle"] = half
    assert both(walk)[0]["mirror_error"] == pytest.approx(0.0, abs=1e-12)
    limp = {**walk, "joint_pos": walk["joint_pos"] + np.array([0, 0, 0, 0, 0, 0, 0.4, 0])}  # right knee stiffer
    assert both(limp)[0]["mirror_error"] == pytest.approx(math.sqrt(0.4 ** 2 / 8))
    assert math.isnan(gm.episode_gait(episode(np.full((10, 2), W)), DT, W)["mirror_error"])  # no history given


def test_a_batch_accumulator_equals_one_env_accumulators_across_resets():
    rng = np.random.default_rng(0)
    eps = [random_episode(rng, 120) for _ in range(3)]
    later = random_episode(rng, 50)  # env 1's second episode, after a reset
    batch = gm.GaitAccumulator(3, DT, W)
    for t in range(120):
        batch.add({k: np.stack([e[k][t] for e in eps]) for k in eps[0]})
    for i, e in enumerate(eps):
        assert batch.finish(i) == pytest.approx(both(e)[1], rel=1e-12, nan_ok=True)
    batch.reset(np.array([1]))
    for t in range(50):
        batch.add({k: np.stack([e[k][t] for e in (eps[0], later, eps[2])]) for k in eps[0]})
    assert batch.finish(1) == pytest.approx(both(later)[1], rel=1e-12, nan_ok=True)


def step_infos(steps: dict[str, np.ndarray], rng: np.random.Generator) -> list[dict]:
    """Full per-step infos (what EpisodeStats reads) around an episode's gait arrays."""
    t = len(steps["foot_force"])
    contact = steps["foot_force"] > 1.0
    return [{**{k: (float(v[i]) if v.ndim == 1 else v[i].copy()) for k, v in steps.items()},
             "foot_contact": contact[i], "foot_touchdown": contact[i] & ~contact[i - 1] if i else np.zeros(2, bool),
             "foot_slip_speed": rng.uniform(0, 0.1, 2), "foot_last_air_time": rng.uniform(0, 0.3, 2),
             "torque_saturated": rng.uniform(size=8) > 0.9, "gait_phase": (i * 0.03) % 1.0,
             "command_phase": (i * 0.03) % 1.0, "command": 0.6} for i in range(t)]


def test_episode_stats_gait_keys_are_the_same_for_one_env_and_a_batch():
    rng = np.random.default_rng(1)
    infos = [step_infos(random_episode(rng, 80), rng) for _ in range(4)]
    single = []
    for ep in infos:
        s = EpisodeStats([], 8, dt=DT, weight=W)
        for info in ep:
            s.add(info, 1.0, {}, DEFAULT_PARAMS)
        single.append(s.finish(True))
    batch = EpisodeStats([], 8, n_envs=4, dt=DT, weight=W)
    for t in range(80):
        batch.add({k: np.stack([np.asarray(ep[t][k]) for ep in infos]) for k in infos[0][0]}, np.ones(4), {},
                  DEFAULT_PARAMS)
    for i, ep in enumerate(infos):
        b = batch.finish(True, i)
        assert b.keys() == single[i].keys() and {f"gait/{k}" for k in gm.GAIT_KEYS} <= b.keys()
        for k, v in single[i].items():
            assert b[k] == pytest.approx(v, rel=1e-12, abs=1e-12, nan_ok=True), k
        # ... and they are the per-episode functions' figures
        ref = gm.episode_gait(gm.stack_infos(ep), DT, W)
        for k in gm.GAIT_KEYS:
            assert b[f"gait/{k}"] == pytest.approx(ref[k], rel=1e-9, abs=1e-12, nan_ok=True), k
        assert b["torque_saturation_pct"] == pytest.approx(ref["torque_saturation_pct"])


def test_episode_stats_default_to_the_nominal_robot():
    weight, dt = gm.nominal_robot()
    assert dt == pytest.approx(0.02) and weight == pytest.approx(3.38 * 9.81, rel=0.01)
    acc = EpisodeStats([], 8).gait
    assert acc.dt == dt and acc.threshold == pytest.approx(0.1 * weight)


def test_every_figure_has_a_human_reference_and_a_row():
    assert set(gm.GAIT_KEYS) | {"torque_saturation_pct"} == set(gm.HUMAN_REFERENCE) == set(gm.GAIT_DISPLAY)
    rows = gm.gait_rows({"double_support": 0.0123, "flight": 0.16, "cost_of_transport": None,
                         "peak_foot_force_mean": 6.7})
    assert len(rows) == 5 and "human" in rows[0]
    assert rows[1].split()[-3:] == ["1.2", "%", "~20"]
    assert rows[2].split()[-3:] == ["16.0", "%", "~0"]
    assert rows[3].split()[-2:] == ["-", "-"]  # no figure measured, no human figure
    assert rows[4].split()[-4:] == ["6.700", "m", "g", "1.1-1.2"]
    means = gm.mean_over_episodes([{"gait/flight": 0.1, "gait/cost_of_transport": float("nan")},
                                   {"gait/flight": 0.3, "gait/cost_of_transport": 2.0}])
    assert means["flight"] == pytest.approx(0.2) and means["cost_of_transport"] == 2.0 and means["step_length"] is None


def test_training_logs_the_gait_figures_to_tensorboard_as_gait_keys():
    """EpisodeStatsCallback records every ``gait/<name>`` of the episodes that ended, averaged over them
    (a NaN cost of transport left out of its mean)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from training.common import EpisodeStatsCallback

    class Recorder:
        def __init__(self):
            self.values = {}

        def record(self, key, value):
            self.values[key] = value

    from types import SimpleNamespace

    cb = EpisodeStatsCallback()
    cb.model = SimpleNamespace(logger=Recorder())  # BaseCallback.logger is the model's
    stats = [{"forward_velocity": 0.5, "gait/flight": 0.1, "gait/cost_of_transport": float("nan")},
             {"forward_velocity": 0.3, "gait/flight": 0.3, "gait/cost_of_transport": 2.0}]
    cb.locals = {"dones": np.array([True, True, False]), "infos": [{"episode_stats": s} for s in stats] + [{}]}
    cb._on_step()
    cb._on_rollout_end()
    v = cb.model.logger.values
    assert v["gait/flight"] == pytest.approx(0.2) and v["gait/cost_of_transport"] == 2.0
    assert v["velocity/forward"] == pytest.approx(0.4) and v["episode/count"] == 2
