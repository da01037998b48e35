"""The discriminator score of the reference data itself, by speed band: what a checkpoint's own judge gives the
walking Tier 0+ transitions it was trained to call real (the score's ceiling for a policy that moved exactly like
them). Same formula as `training/evaluate.py`'s discriminator_score: mean of max(0, 1 - 0.25 (D - 1)^2).

    python docs/results/phase3_disc_ceiling/score_reference.py CKPT [CKPT ...] --amp-dataset data/tier0plus_v14
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch as th

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from wildrobot_gym.atomic_io import atomic_write_json  # noqa: E402
from training import evaluate  # noqa: E402
from training.common import load_amp_run_config, load_discriminator, open_checkpoint, read_state, resolve_amp_dataset  # noqa: E402

BANDS = [(0.0, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 2.0)]


def score_reference(path: Path, dataset_arg: str | None) -> dict:
    from reference.miner import load_dataset
    from wildrobot_gym.amp import style_reward

    ckpt = open_checkpoint("checkpoint", path)
    saved = read_state(ckpt).get("amp") or {}
    acfg = load_amp_run_config(None, saved.get("config") or {})
    ds = load_dataset(resolve_amp_dataset(dataset_arg or saved.get("dataset") or acfg.phase3.dataset))
    ref = evaluate.judge_reference(acfg, ds)
    net = load_discriminator(ckpt, acfg)
    idx = np.arange(ref.num_transitions)
    s, s2 = ref.transitions(idx)
    with th.no_grad():
        r = style_reward(net.logits(th.as_tensor(s), th.as_tensor(s2))).numpy()
    speed = np.asarray(ds.arrays["segment_forward_velocity"], np.float64)[ref.pair_segment]
    out = {"checkpoint": str(path), "transitions": int(len(r)),
           "score_sampled": float((r * ref.p).sum()),  # as the trainer draws them (softmax weights)
           "score_uniform": float(r.mean()), "bands": []}
    for lo, hi in BANDS:
        m = (speed >= lo) & (speed < hi)
        if m.any():
            out["bands"].append({"band": [lo, hi], "seconds": float(m.sum() / ds.fps), "score": float(r[m].mean()),
                                 "share_sampled": float(ref.p[m].sum())})
    m = (speed >= 0.5) & (speed < 0.9)
    out["score_0.5_0.9"] = float(r[m].mean()) if m.any() else None
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--amp-dataset", default=None)
    p.add_argument("--json-output", type=Path, default=None)
    a = p.parse_args()
    rows = [score_reference(c, a.amp_dataset) for c in a.checkpoints]
    for o in rows:
        print(f"{o['checkpoint']}: reference score {o['score_sampled']:.3f} (as sampled), {o['score_uniform']:.3f} "
              f"(every transition), {o['score_0.5_0.9']:.3f} (segments at 0.5-0.9 m/s)")
        for b in o["bands"]:
            print(f"  {b['band'][0]:.1f}-{b['band'][1]:.1f} m/s: {b['seconds']:6.1f} s, sampled {100 * b['share_sampled']:4.1f} %, "
                  f"score {b['score']:.3f}")
    if a.json_output:
        atomic_write_json(a.json_output, rows, indent=1)


if __name__ == "__main__":
    main()
