"""Which reference a new tracking episode follows: uniformly, or more often the ones the tracker fails on.

``reference.sampling`` of configs/tracker.yaml:

* ``uniform``: every reference (clip x variant timeline) equally often.
* ``failures``: reference r with probability ``floor / n + (1 - floor) * f_r / sum(f)``, where f_r is an
  exponential moving average (rate ``sampling_smoothing`` per ended episode of r) of whether r's episodes
  ended early (fall, drift or heading: not the time limit or the timeline's end). Every f_r starts at 0.5,
  so the first draws are uniform; ``floor`` keeps every reference in the mix. Uniform sampling spent most
  episodes on slow clips the tracker already follows while the 0.5-0.8 m/s clips kept falling
  (docs/results/tracker.md); this is the hard-case weighting that motion-tracking work uses.

``reference.human_like_share`` (optional) splits the draws between the two sources first: that share of the
episodes goes to the synthetic human-like stand-ins and the rest to the clip folder, each source sampled
within itself as above (the failure weighting spent three quarters of tracker v3's episodes on the hard library
clips). Tracker v4 trained with a share of 0.35 and still did not step on unseen stand-ins, so the default is
none (docs/results/tracker.md, "Tracker v4").

`TrackingEnv` keeps a sampler of its own episodes; the batched env shares one over all its envs.
"""
from __future__ import annotations

import numpy as np

SAMPLING_MODES = ("uniform", "failures")


class ReferenceSampler:
    """Draws reference indices in [0, n) and learns each one's early-end rate (module docstring)."""

    def __init__(self, n: int, mode: str = "uniform", floor: float = 0.25, smoothing: float = 0.05,
                 groups: np.ndarray | None = None, group_shares: np.ndarray | None = None) -> None:
        """`groups` ((n,) ints in [0, G)) and `group_shares` ((G,), summing to 1) split the draws between
        groups of references first (module docstring); None: one group."""
        if mode not in SAMPLING_MODES:
            raise ValueError(f"reference.sampling: expected one of {SAMPLING_MODES}, got {mode!r}")
        if n < 1:
            raise ValueError(f"ReferenceSampler: expected at least one reference, got {n}")
        self.n, self.mode = n, mode
        self.floor, self.smoothing = float(floor), float(smoothing)
        self.failure_rate = np.full(n, 0.5)
        self.groups = self.group_shares = None
        if groups is not None or group_shares is not None:
            self.groups, self.group_shares = _check_groups(n, groups, group_shares)

    def _within(self, members: np.ndarray) -> np.ndarray:
        """Probabilities over the references `members` (a boolean mask), summing to 1."""
        m = int(members.sum())
        p = np.zeros(self.n)
        if self.mode == "uniform":
            p[members] = 1.0 / m
            return p
        f = np.where(members, self.failure_rate, 0.0)
        total = f.sum()
        share = f / total if total > 0 else members / m
        return np.where(members, self.floor / m + (1.0 - self.floor) * share, 0.0)

    def probabilities(self) -> np.ndarray:
        """Each reference's probability of being drawn next."""
        if self.groups is None:
            return self._within(np.ones(self.n, dtype=bool))
        return sum(s * self._within(self.groups == g) for g, s in enumerate(self.group_shares))

    def draw(self, rng: np.random.Generator) -> int:
        """One reference index (uniform, one group: `rng.integers(n)`, the draw the envs always made)."""
        if self.mode == "uniform" and self.groups is None:
            return int(rng.integers(self.n))
        return int(rng.choice(self.n, p=self.probabilities()))

    def record(self, reference: int, failed: bool) -> None:
        """An episode of `reference` ended, early (`failed`) or not."""
        f = self.failure_rate
        f[reference] += self.smoothing * (float(failed) - f[reference])


def _check_groups(n: int, groups, shares) -> tuple[np.ndarray, np.ndarray]:
    """Checked (groups, shares): every group has a reference and a share, the shares sum to 1."""
    if groups is None or shares is None:
        raise ValueError("ReferenceSampler: groups and group_shares go together")
    groups = np.asarray(groups, dtype=np.int64)
    shares = np.asarray(shares, dtype=np.float64)
    if groups.shape != (n,):
        raise ValueError(f"ReferenceSampler: expected {n} group indices, got shape {groups.shape}")
    if shares.ndim != 1 or np.any(shares < 0) or abs(shares.sum() - 1.0) > 1e-9:
        raise ValueError(f"ReferenceSampler: group_shares must be non-negative and sum to 1, got {shares.tolist()}")
    if groups.min() < 0 or groups.max() >= len(shares):
        raise ValueError(f"ReferenceSampler: group indices must lie in [0, {len(shares)})")
    empty = [g for g in range(len(shares)) if shares[g] > 0 and not np.any(groups == g)]
    if empty:
        raise ValueError(f"ReferenceSampler: group(s) {empty} have a share but no reference")
    return groups, shares
