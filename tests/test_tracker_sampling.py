"""Reference sampling of the tracker's episodes (reference/tracker/sampling.py)."""
from __future__ import annotations

import numpy as np
import pytest

from reference.tracker.sampling import ReferenceSampler


def test_uniform_sampling_draws_every_reference_alike_and_ignores_failures() -> None:
    s = ReferenceSampler(4, "uniform")
    for _ in range(50):
        s.record(0, failed=True)
    np.testing.assert_allclose(s.probabilities(), 0.25)
    rng = np.random.default_rng(0)
    counts = np.bincount([s.draw(rng) for _ in range(4000)], minlength=4)
    assert counts.min() > 900


def test_failure_sampling_favours_the_references_that_end_early_but_keeps_a_floor() -> None:
    s = ReferenceSampler(4, "failures", floor=0.2, smoothing=0.1)
    np.testing.assert_allclose(s.probabilities(), 0.25)  # no episode yet: uniform
    for _ in range(100):
        s.record(2, failed=True)
        for r in (0, 1, 3):
            s.record(r, failed=False)
    p = s.probabilities()
    assert p.sum() == pytest.approx(1.0)
    assert p[2] == pytest.approx(0.2 / 4 + 0.8, abs=1e-3)  # all the weighted share: the others never fail
    assert p[0] == pytest.approx(0.05, abs=1e-3)          # the floor's share
    rng = np.random.default_rng(1)
    counts = np.bincount([s.draw(rng) for _ in range(2000)], minlength=4)
    assert counts[2] > 1600 and counts[0] > 50


def test_sampler_rejects_unknown_modes_naming_the_key() -> None:
    with pytest.raises(ValueError, match="reference.sampling"):
        ReferenceSampler(3, "hardest")


def test_group_shares_split_the_draws_first_then_weight_failures_within_each_group() -> None:
    groups = np.array([0, 0, 0, 1])  # three library references, one stand-in
    s = ReferenceSampler(4, "failures", floor=0.0, smoothing=0.5, groups=groups, group_shares=np.array([0.7, 0.3]))
    np.testing.assert_allclose(s.probabilities(), [0.7 / 3] * 3 + [0.3])
    for _ in range(20):
        s.record(0, failed=True)
        s.record(1, failed=False)
        s.record(2, failed=False)
        s.record(3, failed=False)  # the stand-in never fails, yet keeps its group's share
    p = s.probabilities()
    assert p.sum() == pytest.approx(1.0)
    assert p[3] == pytest.approx(0.3)
    assert p[0] == pytest.approx(0.7, abs=1e-3)
    rng = np.random.default_rng(2)
    counts = np.bincount([s.draw(rng) for _ in range(3000)], minlength=4)
    assert 800 < counts[3] < 1000


def test_group_shares_in_uniform_mode_are_uniform_within_each_group() -> None:
    s = ReferenceSampler(3, "uniform", groups=np.array([0, 0, 1]), group_shares=np.array([0.5, 0.5]))
    np.testing.assert_allclose(s.probabilities(), [0.25, 0.25, 0.5])


@pytest.mark.parametrize("groups, shares, match", [
    (np.array([0, 0, 0]), np.array([0.5, 0.5]), "no reference"),
    (np.array([0, 1, 1]), np.array([0.5, 0.6]), "sum to 1"),
    (np.array([0, 1]), np.array([0.5, 0.5]), "3 group indices"),
    (np.array([0, 1, 2]), np.array([0.5, 0.5]), r"\[0, 2\)"),
])
def test_sampler_rejects_bad_groups(groups, shares, match) -> None:
    with pytest.raises(ValueError, match=match):
        ReferenceSampler(3, "failures", groups=groups, group_shares=shares)
