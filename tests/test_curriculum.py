"""Phase 2's contact curriculum on a scripted velocity signal, Phase 3's weight schedule and style schedule."""
from __future__ import annotations

import pytest

from wildrobot_gym.config import CONFIG_DIR, load_config
from wildrobot_gym.wrappers import ContactCurriculum, style_weight_at

M = 1_000_000


def make(cooldown: int = 0) -> ContactCurriculum:
    cfg = load_config(CONFIG_DIR / "phase2.yaml")
    cfg["curriculum"]["cooldown_steps"] = cooldown
    return ContactCurriculum.from_config(cfg)


# configs/phase2.yaml: gait_clock in foot_contact's place, rising 10 -> 15 -> 20 (its comment says why)
A = {"foot_air_time": 5.0, "foot_contact": 0.0, "foot_sliding": 2.0, "gait_clock": 10.0}
B = {**A, "gait_clock": 15.0}
C = {**A, "gait_clock": 20.0}
ZERO = {"foot_air_time": 0.0, "foot_contact": 0.0, "foot_sliding": 0.0, "gait_clock": 0.0}


def test_starts_at_2a_with_the_config_weights():
    st = make().state()
    assert (st.stage, st.scale, st.weights) == ("2A", 1.0, A)


def test_advances_on_schedule_only_while_fast():
    cur = make()
    assert cur.update(4 * M, 0.7).stage == "2A"          # fast, but 2B starts at 5M
    assert cur.update(6 * M, 0.45).event == ""           # 5M reached, but not > 0.5 m/s: hold
    st = cur.update(6 * M, 0.55)
    assert (st.event, st.stage, st.weights) == ("advance", "2B", B)
    st = cur.update(11 * M, 0.6)
    assert (st.event, st.stage, st.weights) == ("advance", "2C", C)
    assert cur.update(14 * M, 0.9).stage == "2C"         # the last stage stays


def test_degrading_halves_then_recovery_restores():
    cur = make()
    cur.update(6 * M, 0.6)                               # 2B
    st = cur.update(7 * M, 0.35)
    assert st.event == "halve" and st.weights == {k: v / 2 for k, v in B.items()}
    assert cur.update(7 * M, 0.30).event == ""           # halved once, not again
    assert cur.update(8 * M, 0.45).scale == 0.5          # between 0.4 and 0.5: hold
    st = cur.update(8 * M, 0.55)
    assert st.event == "restore" and st.weights == B


def test_failing_reverts_to_previous_stage():
    cur = make()
    cur.update(6 * M, 0.6)                               # 2B
    st = cur.update(7 * M, 0.1)
    assert (st.event, st.stage, st.weights) == ("revert", "2A", A)
    st = cur.update(7 * M, 0.1)                          # still failing: back to Phase 1E's weights
    assert (st.event, st.stage, st.weights) == ("revert", "base", ZERO)
    assert cur.update(7 * M, 0.6).stage == "2A"          # recovered: climbs one stage at a time
    assert cur.update(7 * M, 0.6).stage == "2B"


def test_cooldown_and_state_roundtrip():
    cur = make(cooldown=M)
    cur.update(6 * M, 0.6)                               # advance at 6M
    assert cur.update(6 * M + 10, 0.1).event == ""       # within the cooldown: no change
    assert cur.update(7 * M, 0.1).event == "revert"
    other = make(cooldown=M)
    other.load_state_dict(cur.state_dict())
    assert other.state() == cur.state()
    assert cur.update(7 * M, None).event == ""           # no episode yet: hold


def test_phase3_schedule_moves_tracking_by_step_count_and_never_halves_it():
    """configs/phase3.yaml: tracking_lin_xy 15 until 16M steps, then 60; a slow walk waits; never halved
    nor reverted; then the pose_velocity and torque_saturation stages by step count, and 3E's stronger double
    support and speed tracking."""
    cur = ContactCurriculum.from_config(load_config(CONFIG_DIR / "phase3.yaml"))
    # what later stages change, at its reward_weights value
    base = {"pose_velocity": 0.0, "torque_saturation": 10.0, "double_support": 40.0}
    assert (cur.state().stage, cur.state().weights) == ("3A", {"tracking_lin_xy": 15.0, **base})
    assert cur.update(15 * M, 0.55).event == ""                  # before 16M: hold
    assert cur.update(17 * M, 0.25).event == ""                  # slower than 0.3 m/s: wait (and not halved)
    assert cur.state().scale == 1.0
    st = cur.update(17 * M, 0.52)
    assert (st.event, st.stage, st.weights) == ("advance", "3B", {"tracking_lin_xy": 60.0, **base})
    assert cur.update(20 * M, 0.05).event == cur.update(20 * M, -0.5).event == ""  # slow or backward: kept
    assert cur.state().weights == {"tracking_lin_xy": 60.0, **base}
    # then the swing's shape (3C at 21M), the servo-saturation penalty at 30 (3D, 29M) and 40 (3E, 37M), and 3E's
    # double support and tracking at 100; each stage keeping what the one before set
    for step, stage, extra in (
            (21 * M, "3C", {"tracking_lin_xy": 60.0, "torque_saturation": 10.0, "double_support": 40.0}),
            (29 * M, "3D", {"tracking_lin_xy": 60.0, "torque_saturation": 30.0, "double_support": 40.0}),
            (37 * M, "3E", {"tracking_lin_xy": 100.0, "torque_saturation": 40.0, "double_support": 100.0})):
        assert cur.update(step - 1, 0.6).event == ""
        st = cur.update(step, 0.6)
        assert (st.event, st.stage) == ("advance", stage)
        assert st.weights == {"pose_velocity": 80.0, **extra}


def test_style_weight_schedule():
    w, b = [0.1, 0.5, 1.0], [0.3333, 0.6667]
    assert [style_weight_at(p, w, b) for p in (0.0, 0.2, 0.5, 0.7, 1.0)] == pytest.approx([0.1, 0.1, 0.5, 1.0, 1.0])
