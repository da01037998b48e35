"""Support overlap of mined walking data and a walking policy, on one feature: the forward velocity.

AMP's discriminator can only shape a gait whose states the reference data covers. If the reference walks at
0.2 m/s and the policy at 0.65 m/s, the velocity alone tells them apart and the style reward never switches
on (the first Phase 3 run: AUC 1.0 from its first round). Issue 10's target: the forward-velocity AUC of the
walking Tier 0+ frames against the Phase 2 policy's frames at most 0.7.

    separability = max(AUC, 1 - AUC),  AUC = P(v_policy > v_reference)  (Mann-Whitney, ties 1/2)

0.5: the same distribution; 1.0: no overlap at all. The policy runs deterministically on the nominal robot
(its checkpoint's config: commands drawn from its command range), ``episodes`` episodes; every step counts.

    python -m reference.overlap DATASET_DIR [--policy policies/phase2.zip] [--episodes 4] [--all-frames] [--min-speed V]

``--min-speed V`` keeps only the reference frames at or above V m/s: how fast the data would have to be to
overlap the policy (issue 10's tracker.md gives the figures).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from reference.miner import load_dataset
from wildrobot_gym.amp.losses import roc_auc
#: The shipped Phase 2 policy (the repository's policies/ folder; not package data).
DEFAULT_POLICY = Path(__file__).resolve().parent.parent / "policies" / "phase2.zip"


def separability(a: np.ndarray, b: np.ndarray) -> float:
    """max(AUC, 1 - AUC) of `a` against `b`: 0.5 when they overlap fully, 1.0 when they do not overlap."""
    auc = roc_auc(a, b)
    return float(max(auc, 1.0 - auc)) if np.isfinite(auc) else float("nan")


def column_separability(reference: np.ndarray, policy: np.ndarray,
                        names: Sequence[str] | None = None) -> dict[str, float]:
    """`separability` of every column of two (N, D) sample sets, most separable first. `names` labels the
    columns (default 'column[i]'); a feature layout gives them with `FeatureLayout.column_names`. A column
    near 1.0 alone tells the two sets apart: the shortcut a discriminator wins on (seed 000's "artifacts")."""
    reference, policy = np.atleast_2d(reference), np.atleast_2d(policy)
    if reference.shape[1] != policy.shape[1]:
        raise ValueError(f"column_separability: {reference.shape[1]} reference columns against "
                         f"{policy.shape[1]} policy columns")
    names = list(names) if names is not None else [f"column[{i}]" for i in range(reference.shape[1])]
    if len(names) != reference.shape[1]:
        raise ValueError(f"column_separability: {len(names)} names for {reference.shape[1]} columns")
    seps = {n: separability(policy[:, i], reference[:, i]) for i, n in enumerate(names)}
    return dict(sorted(seps.items(), key=lambda kv: -kv[1] if np.isfinite(kv[1]) else 0.0))


def dataset_velocities(directory: str | Path, walking_only: bool = True, min_speed: float | None = None) -> np.ndarray:
    """The forward velocities (m/s) of a mined dataset's frames: its walking frames, or all of them; with
    `min_speed`, only those at or above it."""
    if min_speed is not None and not np.isfinite(min_speed):
        raise ValueError(f"min_speed: expected a finite number (m/s), got {min_speed}")
    ds = load_dataset(directory, check_feature_version=False)
    a = ds.arrays
    if "forward_velocity" not in a:
        raise ValueError(f"{directory}: the dataset has no 'forward_velocity' array (mined before it was "
                         "recorded); mine it again with python -m reference.generate")
    v = np.asarray(a["forward_velocity"], dtype=np.float64)
    if walking_only:
        if "frame_walking" not in a:
            raise ValueError(f"{directory}: the dataset has no 'frame_walking' label; pass walking_only=False "
                             "(--all-frames) or mine it again")
        v = v[np.asarray(a["frame_walking"], dtype=bool)]
    return v if min_speed is None else v[v >= min_speed]


def policy_velocities(checkpoint: str | Path, episodes: int = 4, seed: int = 12345) -> np.ndarray:
    """The forward velocity (m/s) of every step of `episodes` deterministic episodes of a policy."""
    if episodes < 1:
        raise ValueError(f"episodes: expected a positive integer, got {episodes}")
    repo = str(Path(__file__).resolve().parent.parent)
    if repo not in sys.path:
        sys.path.insert(0, repo)  # training/ is not a package of the wheel (as reference.train_tracker)
    from training.common import open_checkpoint  # heavy imports only when a policy is run
    from training.evaluate import load_policy

    model, venv, _, _ = load_policy(open_checkpoint("--policy", Path(checkpoint)), 1)
    out: list[float] = []
    try:
        venv.seed(seed)
        obs = venv.reset()
        done = 0
        while done < episodes:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, dones, infos = venv.step(action)
            out.append(float(infos[0]["forward_velocity"]))
            done += int(dones[0])
    finally:
        venv.close()
    return np.asarray(out)


def velocity_overlap(dataset: str | Path, policy: str | Path = DEFAULT_POLICY, episodes: int = 4,
                     walking_only: bool = True, min_speed: float | None = None) -> dict:
    """The forward-velocity separability of a dataset's (walking) frames (at or above `min_speed` when given)
    and a policy's, with both distributions' quartiles."""
    ref = dataset_velocities(dataset, walking_only, min_speed)
    pol = policy_velocities(policy, episodes)
    q = lambda v: [float(x) for x in np.percentile(v, [25, 50, 75])] if len(v) else []  # noqa: E731
    return {"dataset": str(dataset), "policy": str(policy), "walking_only": walking_only, "min_speed": min_speed,
            "reference_frames": int(len(ref)), "policy_frames": int(len(pol)),
            "reference_velocity_quartiles": q(ref), "policy_velocity_quartiles": q(pol),
            "forward_velocity_auc": separability(pol, ref)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", type=Path, help="a mined dataset folder (tier0plus.npz + .json)")
    p.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy bundle or checkpoint")
    p.add_argument("--episodes", type=int, default=4)
    p.add_argument("--all-frames", action="store_true", help="every Tier 0+ frame, not only the walking ones")
    p.add_argument("--min-speed", type=float, default=None, help="only the reference frames at or above this (m/s)")
    p.add_argument("--json-output", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        report = velocity_overlap(args.dataset, args.policy, args.episodes, not args.all_frames, args.min_speed)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(str(e)) from None
    print(f"forward velocity: reference {report['reference_frames']} frames, quartiles "
          f"{np.round(report['reference_velocity_quartiles'], 3).tolist()}; policy {report['policy_frames']} "
          f"frames, quartiles {np.round(report['policy_velocity_quartiles'], 3).tolist()}")
    print(f"support overlap AUC (forward velocity): {report['forward_velocity_auc']:.3f}")
    if args.json_output is not None:
        tmp = args.json_output.with_name(args.json_output.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=1))
        tmp.replace(args.json_output)
    return report


if __name__ == "__main__":
    main()
