"""Could the library's walking data meet issue 10's support-overlap target (forward-velocity AUC <= 0.7 against the
Phase 2 policy) by weighting its clips, more of the fast ones and less of the slow ones, instead of by new gaits?

Each walking frame of a mined dataset gets the weight of its clip's class (clip speed >= THRESHOLD: fast). A weight
is what a different number of variants (or seconds) per clip would do to the frame counts. For each weighting this
prints the AUC (weighted Mann-Whitney, as `reference.overlap`), the double support of the walking frames (issue 10:
10-30 %) and the walking seconds per 0.1 m/s band (>= 30 s from 0.3 to 0.8 m/s) the weighting would give.

    python -m reference.generate --adapt never --output-dir data/lib28_att --workers 2   # the 28-clip library
    python docs/results/reference_weighting/weighting.py data/lib28_att
"""
import sys

import numpy as np

from reference.miner import load_dataset
from reference.overlap import policy_velocities


def weighted_separability(policy: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> float:
    """max(AUC, 1 - AUC), AUC = P(v_policy > v_reference) with the reference frames weighted, ties 1/2."""
    order = np.argsort(reference)
    r, w = reference[order], weights[order]
    cdf = np.cumsum(w) / w.sum()
    lo, hi = np.searchsorted(r, policy, "left"), np.searchsorted(r, policy, "right")
    below = np.where(lo > 0, cdf[np.maximum(lo - 1, 0)], 0.0)
    upto = np.where(hi > 0, cdf[np.maximum(hi - 1, 0)], 0.0)
    auc = float(np.mean(below + 0.5 * (upto - below)))
    return max(auc, 1.0 - auc)


def main(path: str, threshold: float = 0.53) -> None:
    a = load_dataset(path, check_feature_version=False).arrays
    walking = np.asarray(a["frame_walking"], bool)
    v = np.asarray(a["forward_velocity"])[walking]
    frame_segment = np.asarray(a["frame_segment"])[walking]
    clip_speed = np.asarray(a["segment_clip_speed"])[frame_segment]
    segment_speed = np.asarray(a["segment_forward_velocity"])[frame_segment]
    load = np.asarray(a["foot_load"])[walking]          # (N, 2) per foot, x m g
    double = (load > 0.10).all(axis=1)                   # mining.gates.stance_load_threshold
    policy = policy_velocities("policies/phase2.zip", 4)
    fast = clip_speed >= threshold
    print(f"{path}: {walking.sum() / 50:.1f} walking s, fast clips (>= {threshold} m/s) {fast.sum() / 50:.1f} s; "
          f"AUC of the fast clips' frames alone {weighted_separability(policy, v[fast], np.ones(fast.sum())):.3f}")
    print("fast x  slow x  fast share  AUC    double support  walking s by band 0.1-0.2 ... 0.7-0.8")
    for fw, sw in [(1, 1), (2, 1), (2, 0.4), (3, 0.4), (2, 0.2), (3, 0.2), (4, 0.2), (6, 0.2)]:
        w = np.where(fast, fw, sw).astype(float)
        bands = [w[(segment_speed >= b / 10) & (segment_speed < (b + 1) / 10)].sum() / 50 for b in range(1, 8)]
        print(f"{fw:<6g} {sw:<7g} {w[fast].sum() / w.sum():<11.3f} {weighted_separability(policy, v, w):<6.3f} "
              f"{np.average(double, weights=w):<15.3f} " + " ".join(f"{b:.0f}" for b in bands))


if __name__ == "__main__":
    main(sys.argv[1])
