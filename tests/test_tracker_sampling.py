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
