"""The discriminator's samples: real pairs from the Tier 0+ reference (`ReferenceSampler`), fake pairs
from the latest rollout mixed with a replay of older ones (`PolicyReplay`, `mix_policy_samples`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from wildrobot_gym.amp.config import ReferenceConfig
from wildrobot_gym.amp_features import LAYOUT, FeatureLayout, compute_features, mirror_features


class ReferenceSampler:
    """(Phi(s), Phi(s')) pairs of consecutive frames of the same Tier 0+ segment.

    A pair's probability is proportional to exp(score / T) of its segment (``weight_by_length``), or
    to exp(score / T) / (pairs in its segment) (segments then share by softmax alone). Every batch of
    n >= k holds at least k = min(min_motions, motions) distinct motion ids: k slots are drawn first,
    one per motion, from k motions chosen without replacement by their probability mass; the other
    n - k are drawn from the full distribution. With ``mirror_prob`` a pair is mirrored
    (`mirror_features`, both frames).
    """

    def __init__(
        self,
        features: np.ndarray,
        segment_start: np.ndarray,
        segment_length: np.ndarray,
        segment_motion: np.ndarray,
        segment_scores: np.ndarray,
        cfg: ReferenceConfig = ReferenceConfig(),
        *,
        layout: FeatureLayout = LAYOUT,
        seed: int | None = None,
    ) -> None:
        self.features = np.asarray(features, dtype=np.float32)
        if self.features.ndim != 2 or self.features.shape[1] != layout.dim:
            raise ValueError(f"ReferenceSampler: features must be (F, {layout.dim}), got {self.features.shape}")
        if not np.isfinite(self.features).all():
            raise ValueError("ReferenceSampler: reference features contain NaN or Inf")
        self.cfg, self.layout = cfg, layout
        self.rng = np.random.default_rng(seed)
        starts, lengths = np.asarray(segment_start, np.int64), np.asarray(segment_length, np.int64)
        motion, scores = np.asarray(segment_motion, np.int64), np.asarray(segment_scores, np.float64)
        rows, pair_seg = [], []
        for s, (a, n) in enumerate(zip(starts, lengths)):
            if n >= 2:
                rows.append(np.arange(a, a + n - 1))
                pair_seg.append(np.full(n - 1, s))
        if not rows:
            raise ValueError("ReferenceSampler: no segment has two frames (no transition to sample)")
        self.rows = np.concatenate(rows)
        seg = np.concatenate(pair_seg)
        self.pair_motion = motion[seg]
        logw = scores[seg] / cfg.temperature
        w = np.exp(logw - logw.max())
        if not cfg.weight_by_length:
            w = w / (lengths[seg] - 1)
        self.p = w / w.sum()
        self.motions = np.unique(self.pair_motion)
        self._motion_rows = [np.flatnonzero(self.pair_motion == m) for m in self.motions]
        mass = np.array([self.p[r].sum() for r in self._motion_rows])
        self._motion_p = mass / mass.sum()
        self._cond_p = [self.p[r] / self.p[r].sum() for r in self._motion_rows]
        self.required_motions = min(cfg.min_motions_per_batch, len(self.motions))

    @classmethod
    def from_dataset(cls, dataset: Any, cfg: ReferenceConfig = ReferenceConfig(), *, lin_vel_mode: str = "clip",
                     lin_vel_clip: float = 1.5, seed: int | None = None) -> "ReferenceSampler":
        """From a `reference.miner.MinedDataset`; features are recomputed from its stored state when the
        dataset's lin_vel parameters differ from the ones given (the env side uses these)."""
        a = dataset.arrays
        conf = getattr(dataset, "config", {}) or {}
        same = conf.get("lin_vel_mode", "clip") == lin_vel_mode and float(conf.get("lin_vel_clip", 1.5)) == float(lin_vel_clip)
        if same and getattr(dataset, "layout", LAYOUT) == LAYOUT:
            feats = np.asarray(a["features"])
        else:
            feats = compute_features(a["qpos"], a["qvel"], a["pad_contact"], a["foot_height"], a["foot_z_vel"],
                                     lin_vel_mode=lin_vel_mode, lin_vel_clip=lin_vel_clip)
        return cls(feats, a["segment_start"], a["segment_length"], a["segment_motion"], a["segment_scores"], cfg, seed=seed)

    @property
    def num_transitions(self) -> int:
        return int(len(self.rows))

    def sample_indices(self, n: int) -> np.ndarray:
        """Row indices (of s) of n pairs, honouring the motion-id constraint."""
        k = min(self.required_motions, n)
        forced = np.empty(0, dtype=np.int64)
        if k > 0:
            chosen = self.rng.choice(len(self.motions), size=k, replace=False, p=self._motion_p)
            forced = np.array([self._motion_rows[m][self.rng.choice(len(self._motion_rows[m]), p=self._cond_p[m])] for m in chosen])
        rest = self.rng.choice(len(self.rows), size=n - k, p=self.p)
        idx = np.concatenate([forced, rest])
        self.rng.shuffle(idx)
        return idx

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Phi(s) (n, D), Phi(s') (n, D), motion ids (n,)), mirrored with probability mirror_prob."""
        idx = self.sample_indices(n)
        rows = self.rows[idx]
        s, s2 = self.features[rows].copy(), self.features[rows + 1].copy()
        if self.cfg.mirror_prob > 0:
            m = self.rng.random(n) < self.cfg.mirror_prob
            if m.any():
                s[m], s2[m] = mirror_features(s[m], self.layout), mirror_features(s2[m], self.layout)
        return s, s2, self.pair_motion[idx]


class PolicyReplay:
    """Circular buffer of policy (Phi(s), Phi(s')) pairs: the "old fake samples" of the replay."""

    def __init__(self, capacity: int, dim: int = LAYOUT.dim) -> None:
        self.capacity = int(capacity)
        self.s = np.zeros((self.capacity, dim), dtype=np.float32)
        self.s2 = np.zeros((self.capacity, dim), dtype=np.float32)
        self.pos, self.size = 0, 0

    def add(self, s: np.ndarray, s2: np.ndarray) -> None:
        n = len(s)
        if n >= self.capacity:
            s, s2, n = s[-self.capacity:], s2[-self.capacity:], self.capacity
        idx = (self.pos + np.arange(n)) % self.capacity
        self.s[idx], self.s2[idx] = s, s2
        self.pos = int((self.pos + n) % self.capacity)
        self.size = int(min(self.capacity, self.size + n))

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.integers(0, self.size, size=n)
        return self.s[idx], self.s2[idx]


def mix_policy_samples(
    fresh: tuple[np.ndarray, np.ndarray],
    replay: PolicyReplay,
    n: int,
    fresh_fraction: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """n policy pairs: round(fresh_fraction * n) from the latest rollout, the rest from the replay
    (all fresh while the replay is empty)."""
    n_fresh = n if replay.size == 0 else int(round(fresh_fraction * n))
    i = rng.integers(0, len(fresh[0]), size=n_fresh)
    s, s2 = fresh[0][i], fresh[1][i]
    if n_fresh < n:
        o, o2 = replay.sample(n - n_fresh, rng)
        s, s2 = np.concatenate([s, o]), np.concatenate([s2, o2])
    return s, s2
