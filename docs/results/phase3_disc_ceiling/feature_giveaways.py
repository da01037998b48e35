"""Which AMP feature columns tell a policy from the walking reference at the commands' speeds: the separability
max(AUC, 1 - AUC) of each column alone (`reference.overlap.separability`), the policy's frames (deterministic, nominal
robot, commands LO-HI) against the frames of the walking Tier 0+ segments whose mean speed lies in LO-HI.

    python docs/results/phase3_disc_ceiling/feature_giveaways.py CKPT --amp-dataset data/tier0plus_v14 [--episodes 16]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from wildrobot_gym.atomic_io import atomic_write_json  # noqa: E402
from training import evaluate  # noqa: E402
from training.common import load_amp_run_config, open_checkpoint, resolve_amp_dataset  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--amp-dataset", type=Path, required=True)
    p.add_argument("--episodes", type=int, default=16)
    p.add_argument("--command-range", type=float, nargs=2, default=(0.5, 0.8))
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--json-output", type=Path, default=None)
    a = p.parse_args()
    from reference.miner import load_dataset
    from reference.overlap import separability
    from wildrobot_gym.amp_features import LAYOUT

    lo, hi = a.command_range
    ckpt = open_checkpoint("checkpoint", a.checkpoint)
    model, venv, cfg, state = evaluate.load_policy(ckpt, n_envs=min(a.episodes, 8), env_overrides={"command_range": [lo, hi]})
    try:
        evaluate.run_episodes(model, venv, a.episodes, True, 12345)
    finally:
        venv.close()
    rec = evaluate.find_wrapper(venv, evaluate.TransitionRecorder)
    pol = np.concatenate(rec.episodes)[:, :LAYOUT.dim]  # the newest frame of each history block
    ds = load_dataset(resolve_amp_dataset(a.amp_dataset))
    arr = ds.arrays
    # the features as the checkpoint's judge computes them (its lin_vel_mode may differ from the dataset's)
    acfg = load_amp_run_config(None, (state.get("amp") or {}).get("config") or {})
    fc = acfg.features
    feats = evaluate.judge_reference(acfg, ds).features
    keep = np.asarray(arr["segment_walking"], bool) & (np.asarray(arr["segment_forward_velocity"]) >= lo) & \
        (np.asarray(arr["segment_forward_velocity"]) <= hi)
    rows = np.concatenate([np.arange(s, s + n) for s, n, k in zip(arr["segment_start"], arr["segment_length"], keep) if k])
    ref = feats[rows]
    names = LAYOUT.column_names()
    out = sorted(({"column": n, "separability": separability(pol[:, j], ref[:, j]), "policy_mean": float(pol[:, j].mean()),
                   "policy_std": float(pol[:, j].std()), "reference_mean": float(ref[:, j].mean()),
                   "reference_std": float(ref[:, j].std())} for j, n in enumerate(names)),
                 key=lambda r: -r["separability"])
    print(f"{a.checkpoint}: {len(pol)} policy frames, {len(ref)} reference frames (walking, {lo}-{hi} m/s; "
          f"the judge's lin_vel_mode {fc.lin_vel_mode})")
    for r in out[:a.top]:
        print(f"  {r['column']:22s} {r['separability']:.3f}   policy {r['policy_mean']:+.3f} +- {r['policy_std']:.3f}   "
              f"reference {r['reference_mean']:+.3f} +- {r['reference_std']:.3f}")
    if a.json_output:
        atomic_write_json(a.json_output, out, indent=1)


if __name__ == "__main__":
    main()
