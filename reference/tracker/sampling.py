"""Which reference a new tracking episode follows: uniformly, or more often the ones the tracker fails on.

``reference.sampling`` of configs/tracker.yaml:

* ``uniform``: every reference (clip x variant timeline) equally often.
* ``failures``: reference r with probability ``floor / n + (1 - floor) * f_r / sum(f)``, where f_r is an
  exponential moving average (rate ``sampling_smoothing`` per ended episode of r) of whether r's episodes
  ended early (fall, drift or heading: not the time limit or the timeline's end). Every f_r starts at 0.5,
  so the first draws are uniform; ``floor`` keeps every reference in the mix. Uniform sampling spent most
  episodes on slow clips the tracker already follows while the 0.5-0.8 m/s clips kept falling
  (docs/results/tracker.md); this is the hard-case weighting that motion-tracking work uses.

`TrackingEnv` keeps a sampler of its own episodes; the batched env shares one over all its envs.
"""
from __future__ import annotations

import numpy as np

SAMPLING_MODES = ("uniform", "failures")


class ReferenceSampler:
    """Draws reference indices in [0, n) and learns each one's early-end rate (module docstring)."""

    def __init__(self, n: int, mode: str = "uniform", floor: float = 0.25, smoothing: float = 0.05) -> None:
        if mode not in SAMPLING_MODES:
            raise ValueError(f"reference.sampling: expected one of {SAMPLING_MODES}, got {mode!r}")
        if n < 1:
            raise ValueError(f"ReferenceSampler: expected at least one reference, got {n}")
        self.n, self.mode = n, mode
        self.floor, self.smoothing = float(floor), float(smoothing)
        self.failure_rate = np.full(n, 0.5)

    def probabilities(self) -> np.ndarray:
        """Each reference's probability of being drawn next."""
        if self.mode == "uniform":
            return np.full(self.n, 1.0 / self.n)
        f = self.failure_rate
        total = f.sum()
        share = f / total if total > 0 else np.full(self.n, 1.0 / self.n)
        return self.floor / self.n + (1.0 - self.floor) * share

    def draw(self, rng: np.random.Generator) -> int:
        """One reference index (uniform mode: `rng.integers(n)`, the draw the envs always made)."""
        if self.mode == "uniform":
            return int(rng.integers(self.n))
        return int(rng.choice(self.n, p=self.probabilities()))

    def record(self, reference: int, failed: bool) -> None:
        """An episode of `reference` ended, early (`failed`) or not."""
        f = self.failure_rate
        f[reference] += self.smoothing * (float(failed) - f[reference])
