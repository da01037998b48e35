"""Export a checkpoint as one small file that `training/evaluate.py` (and `--init-from`) accept.

    python training/export_policy.py runs/phase1e/checkpoints/step_0002511296 policies/phase1e.zip

The file is the checkpoint's Stable-Baselines3 ``model.zip`` with ``vecnormalize.pkl`` (observation
normalisation statistics), ``state.json`` (config, step count) and, for Phase 3, ``amp.pt`` added as
extra entries. ``PPO.load("policies/phase1e.zip")`` still loads the policy alone; the evaluator uses
all of it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.common import export_policy, open_checkpoint, read_state  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="a checkpoint directory or a run directory (its latest)")
    p.add_argument("output", type=Path, help="the bundle to write, e.g. policies/phase1e.zip")
    args = p.parse_args(argv)
    ckpt = open_checkpoint("checkpoint", args.checkpoint)
    out = export_policy(ckpt, args.output)
    state = read_state(ckpt)
    print(f"{out}: phase {state['phase']}, {state['num_timesteps']} steps, {out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
