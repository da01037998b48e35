"""training/gait_report.py: clock fit of a contact pattern; its support phases and touchdown rate are
`wildrobot_gym.gait_metrics`'s (one definition, tested in tests/test_gait_metrics.py)."""
from __future__ import annotations

import numpy as np
import pytest

from training.gait_report import best_clock_fit, clock_match, main, strip
from wildrobot_gym.gait_metrics import cadence, debounced_touchdowns, loaded_feet, support_fractions

DT = 0.02


def alternating(n: int, half: int, flight: int = 0) -> np.ndarray:
    """Left alone `half - flight` steps, `flight` steps in the air, then the same for the right foot."""
    one = [(True, False)] * (half - flight) + [(False, False)] * flight
    two = [(False, True)] * (half - flight) + [(False, False)] * flight
    return np.array((one + two) * (n // (2 * half) + 1), dtype=bool)[:n]


def test_clean_alternation_matches_its_own_clock_exactly():
    c = alternating(400, half=10)  # 20-step period: 2.5 Hz at 50 Hz
    phase = (np.arange(400) * DT * 2.5) % 1.0
    assert clock_match(c, phase) == pytest.approx(1.0)
    assert clock_match(c, (phase + 0.5) % 1.0) == pytest.approx(0.0)  # anti-phase: every step wrong
    fit, f, off = best_clock_fit(c, DT)
    assert fit == pytest.approx(1.0) and f == pytest.approx(2.5) and off == pytest.approx(0.0)


def test_report_figures_count_support_phases_and_touchdowns_of_loaded_feet():
    """The report's figures: a foot counts as down when loaded (> 0.1 m g), touchdowns debounced."""
    c = alternating(500, half=10, flight=2)  # 10 s; per half: 8 steps alone, 2 in the air
    weight = 30.0
    force = np.where(c, weight, 0.05 * weight)  # the unloaded foot still touches lightly (5 % m g)
    loaded = loaded_feet(force, weight)
    s = {**support_fractions(loaded), **cadence(debounced_touchdowns(loaded, DT), DT)}
    assert s["single_support"] == pytest.approx(0.8) and s["flight"] == pytest.approx(0.2)
    assert s["double_support"] == 0.0
    # 2.5 strides per second; the first left stance starts at step 0, which is not a touchdown
    assert s["touchdowns_per_s_left"] == pytest.approx(2.4) and s["touchdowns_per_s_right"] == pytest.approx(2.5)
    assert strip(c[:10]) == "LLLLLLLL.." and strip(np.array([[True, True]])) == "D"


def test_bad_frequency_is_refused_before_loading_anything(tmp_path):
    with pytest.raises(SystemExit, match="--gait-frequency"):
        main([str(tmp_path / "missing"), "--gait-frequency", "0"])
