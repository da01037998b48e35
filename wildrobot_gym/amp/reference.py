"""The discriminator's samples: real transitions from the Tier 0+ reference (`ReferenceSampler`), fake ones
from the latest rollout mixed with a replay of older ones (`PolicyReplay`, `mix_policy_samples`). A
transition is a pair of history blocks (s, s') of `discriminator.history_frames` frames each."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from wildrobot_gym.amp.config import ReferenceConfig
from wildrobot_gym.amp_features import LAYOUT, FeatureLayout, compute_features, history_block, mirror_features


class ReferenceSampler:
    """Real transitions (history block of s, history block of s') from consecutive frames of one Tier 0+
    segment: with H = `history_frames`, frames t - H + 1 .. t + 1 all lie in the same segment, so a
    transition never crosses a segment boundary (H = 1: the pair (Phi(s), Phi(s')) of frames t, t + 1).
    Blocks are built by `wildrobot_gym.amp_features.history_block` (newest frame first), as the env's
    observation carries them.

    Segments: all of them, or with ``walking_only`` those labelled walking (`segment_walking`, given
    when the dataset has the label; without it every segment is used, with a warning). A dataset whose
    label marks no segment walking raises ValueError naming `source`. With ``min_speed`` only the
    segments whose mean forward speed (`segment_forward_velocity`) reaches it; a dataset without the
    speed, or with no segment left, raises ValueError naming `source` and the setting.

    A transition's probability is proportional to exp(score / T) of its segment (``weight_by_length``),
    or to exp(score / T) / (transitions in its segment) (segments then share by softmax alone). Every
    batch of n >= k holds at least k = min(min_motions, motions) distinct motion ids: k slots are drawn
    first, one per motion, from k motions chosen without replacement by their probability mass; the
    other n - k are drawn from the full distribution. With ``mirror_prob`` a transition is mirrored
    (`mirror_features`, every frame). ``segment_subset`` (a mask over the segments) narrows the segments further;
    `split_motions` uses it to hold whole motions out.
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
        history_frames: int = 1,
        segment_walking: np.ndarray | None = None,
        segment_speed: np.ndarray | None = None,
        source: str = "the reference dataset",
        segment_subset: np.ndarray | None = None,
    ) -> None:
        self.features = np.asarray(features, dtype=np.float32)
        if self.features.ndim != 2 or self.features.shape[1] != layout.dim:
            raise ValueError(f"ReferenceSampler: features must be (F, {layout.dim}), got {self.features.shape}")
        if not np.isfinite(self.features).all():
            raise ValueError("ReferenceSampler: reference features contain NaN or Inf")
        self.cfg, self.layout, self.source = cfg, layout, str(source)
        self._segments = dict(segment_start=segment_start, segment_length=segment_length, segment_motion=segment_motion,
                              segment_scores=segment_scores, segment_walking=segment_walking, segment_speed=segment_speed)
        self._seed = seed
        self.history_frames = h = int(history_frames)
        if h < 1:
            raise ValueError(f"ReferenceSampler: history_frames must be >= 1, got {history_frames}")
        self.rng = np.random.default_rng(seed)
        starts, lengths = np.asarray(segment_start, np.int64), np.asarray(segment_length, np.int64)
        motion, scores = np.asarray(segment_motion, np.int64), np.asarray(segment_scores, np.float64)
        self.segment_mask = self._segments_used(segment_walking, len(starts), lengths)
        if cfg.min_speed is not None:
            # not in place: the mask may be the caller's own label array
            self.segment_mask = self.segment_mask & self._fast_enough(segment_speed, len(starts))
        if segment_subset is not None:
            subset = np.asarray(segment_subset, dtype=bool)
            if subset.shape != (len(starts),):
                raise ValueError(f"ReferenceSampler: segment_subset has shape {subset.shape}, expected ({len(starts)},)")
            self.segment_mask = self.segment_mask & subset
        rows, pair_seg = [], []
        for s, (a, n) in enumerate(zip(starts, lengths)):
            if self.segment_mask[s] and n >= h + 1:  # frames a .. a + n - 1; a transition uses t - h + 1 .. t + 1
                rows.append(np.arange(a + h - 1, a + n - 1))
                pair_seg.append(np.full(n - h, s))
        if not rows:
            raise ValueError(f"ReferenceSampler: no {'walking ' if self.walking_filter == 'walking' else ''}segment of "
                             f"{self.source} has {h + 1} frames (no transition of {h} history frame(s) to sample)")
        self.rows = np.concatenate(rows)
        seg = np.concatenate(pair_seg)
        self.pair_segment = seg
        self.pair_motion = motion[seg]
        logw = scores[seg] / cfg.temperature
        w = np.exp(logw - logw.max())
        if not cfg.weight_by_length:
            w = w / (lengths[seg] - h)
        self.p = w / w.sum()
        self.motions = np.unique(self.pair_motion)
        self._motion_rows = [np.flatnonzero(self.pair_motion == m) for m in self.motions]
        mass = np.array([self.p[r].sum() for r in self._motion_rows])
        self._motion_p = mass / mass.sum()
        self._cond_p = [self.p[r] / self.p[r].sum() for r in self._motion_rows]
        self.required_motions = min(cfg.min_motions_per_batch, len(self.motions))

    def _segments_used(self, segment_walking: np.ndarray | None, n_segments: int, lengths: np.ndarray) -> np.ndarray:
        """Mask of the segments to sample (``walking_only``); sets ``walking_filter`` (walking / all / all, no label)."""
        if not self.cfg.walking_only:
            self.walking_filter = "all"
            return np.ones(n_segments, dtype=bool)
        if segment_walking is None:
            self.walking_filter = "all (no walking label)"
            warnings.warn(f"ReferenceSampler: {self.source} has no walking label (mined before it): "
                          f"reference.walking_only samples all {n_segments} segments", stacklevel=3)
            return np.ones(n_segments, dtype=bool)
        mask = np.asarray(segment_walking, dtype=bool)
        if mask.shape != (n_segments,):
            raise ValueError(f"ReferenceSampler: segment_walking has shape {mask.shape}, expected ({n_segments},)")
        if not mask.any():
            raise ValueError(f"ReferenceSampler: {self.source} has the walking label but 0 walking seconds "
                             f"(none of its {n_segments} segments walks): nothing to sample with reference.walking_only: "
                             f"true (regenerate the dataset with walking rollouts, or set walking_only: false)")
        self.walking_filter = "walking"
        return mask

    def _fast_enough(self, segment_speed: np.ndarray | None, n_segments: int) -> np.ndarray:
        """Mask of the segments at or above ``min_speed`` (m/s)."""
        if segment_speed is None:
            raise ValueError(f"ReferenceSampler: {self.source} has no segment_forward_velocity (mined before the walking "
                             f"label): reference.min_speed {self.cfg.min_speed} needs it (regenerate the dataset, or set "
                             f"min_speed: null)")
        speed = np.asarray(segment_speed, dtype=np.float64)
        if speed.shape != (n_segments,):
            raise ValueError(f"ReferenceSampler: segment_forward_velocity has shape {speed.shape}, expected ({n_segments},)")
        mask = np.nan_to_num(speed, nan=-np.inf) >= self.cfg.min_speed
        if not (mask & self.segment_mask).any():
            raise ValueError(f"ReferenceSampler: no {'walking ' if self.walking_filter == 'walking' else ''}segment of "
                             f"{self.source} moves at reference.min_speed {self.cfg.min_speed} m/s or more (fastest "
                             f"{np.nanmax(speed, initial=0.0):.2f} m/s): lower min_speed or set it to null")
        return mask

    @classmethod
    def from_dataset(cls, dataset: Any, cfg: ReferenceConfig = ReferenceConfig(), *, lin_vel_mode: str = "clip",
                     lin_vel_clip: float = 1.5, seed: int | None = None, history_frames: int = 1,
                     source: str | None = None) -> "ReferenceSampler":
        """From a `reference.miner.MinedDataset`; features are recomputed from its stored state when the
        dataset's lin_vel parameters differ from the ones given (the env side uses these). `source`
        names the dataset in messages (e.g. its directory). `history_frames` must be the discriminator's."""
        a = dataset.arrays
        conf = getattr(dataset, "config", {}) or {}
        same = conf.get("lin_vel_mode", "clip") == lin_vel_mode and float(conf.get("lin_vel_clip", 1.5)) == float(lin_vel_clip)
        if same and getattr(dataset, "layout", LAYOUT) == LAYOUT:
            feats = np.asarray(a["features"])
        else:
            feats = compute_features(a["qpos"], a["qvel"], a["pad_contact"], a["foot_height"], a["foot_z_vel"],
                                     lin_vel_mode=lin_vel_mode, lin_vel_clip=lin_vel_clip)
        if source is None:
            names = [str(x) for x in a.get("motion_names", [])]
            source = f"the dataset of motions {names[:3]}{' ...' if len(names) > 3 else ''}"
        return cls(feats, a["segment_start"], a["segment_length"], a["segment_motion"], a["segment_scores"], cfg,
                   seed=seed, history_frames=history_frames, segment_walking=a.get("segment_walking"),
                   segment_speed=a.get("segment_forward_velocity"), source=source)

    def split_motions(self, fraction: float) -> tuple["ReferenceSampler", "ReferenceSampler"] | None:
        """(training, held-out) samplers over disjoint motion ids: a `fraction` of the motions this sampler draws
        from (at least one, and at least one left), chosen at random, go to the held-out one, so that no frame,
        segment or motion is in both. None when it draws from fewer than two motions."""
        if len(self.motions) < 2:
            return None
        k = int(min(len(self.motions) - 1, max(1, round(fraction * len(self.motions)))))
        held = np.random.default_rng(self._seed).choice(self.motions, size=k, replace=False)
        held_segments = np.isin(np.asarray(self._segments["segment_motion"], np.int64), held)
        # within this sampler's own segments (its walking, min_speed and subset masks)
        return self._subset(self.segment_mask & ~held_segments), self._subset(self.segment_mask & held_segments)

    def _subset(self, mask: np.ndarray) -> "ReferenceSampler":
        return ReferenceSampler(self.features, cfg=self.cfg, layout=self.layout, seed=self._seed,
                                history_frames=self.history_frames, source=self.source, segment_subset=mask,
                                **self._segments)

    @property
    def num_transitions(self) -> int:
        return int(len(self.rows))

    @property
    def num_segments(self) -> int:
        """Segments that give at least one transition."""
        return int(len(np.unique(self.pair_segment)))

    def sample_indices(self, n: int) -> np.ndarray:
        """Transition indices (into ``rows``) of n transitions, honouring the motion-id constraint."""
        k = min(self.required_motions, n)
        forced = np.empty(0, dtype=np.int64)
        if k > 0:
            chosen = self.rng.choice(len(self.motions), size=k, replace=False, p=self._motion_p)
            forced = np.array([self._motion_rows[m][self.rng.choice(len(self._motion_rows[m]), p=self._cond_p[m])] for m in chosen])
        rest = self.rng.choice(len(self.rows), size=n - k, p=self.p)
        idx = np.concatenate([forced, rest])
        self.rng.shuffle(idx)
        return idx

    def transitions(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(block of s (n, H D), block of s' (n, H D)) of transition indices `idx`, not mirrored."""
        rows = self.rows[np.asarray(idx, dtype=np.int64)]
        return (history_block(self.features, rows, self.history_frames),
                history_block(self.features, rows + 1, self.history_frames))

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(block of s (n, H D), block of s' (n, H D), motion ids (n,)), mirrored with probability
        mirror_prob. H = 1: (Phi(s), Phi(s'))."""
        idx = self.sample_indices(n)
        s, s2 = self.transitions(idx)
        if self.cfg.mirror_prob > 0:
            m = self.rng.random(n) < self.cfg.mirror_prob
            if m.any():
                s[m], s2[m] = self._mirror(s[m]), self._mirror(s2[m])
        return s, s2, self.pair_motion[idx]

    def _mirror(self, block: np.ndarray) -> np.ndarray:
        d = self.layout.dim
        return mirror_features(block.reshape(len(block), -1, d), self.layout).reshape(len(block), -1)


class PolicyReplay:
    """Circular buffer of policy (s, s') feature blocks (`dim` = history_frames x LAYOUT.dim columns
    each): the "old fake samples" of the replay."""

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
