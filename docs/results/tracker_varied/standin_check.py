"""Probe: how a tracker checkpoint carries the unseen human-like stand-ins (default variety, seed 0), from the first
rollouts of a short adaptation (`reference.tracker.adapt`): the training episodes' fall rate and velocity ratio
before any fine-tuning (its own stochastic policy), and after STEPS steps of it.

    python docs/results/tracker_varied/standin_check.py CHECKPOINT WORKDIR [STEPS]

The stand-ins are written to WORKDIR/clips (`reference.human_like.synthesize(..., 14, 68.0, 0)`), the run to
WORKDIR/run; the figures are printed and kept in WORKDIR/run/adaptation.json.
"""
import json
import sys
from pathlib import Path

from reference import human_like
from reference.tracker.adapt import adapt_tracker


def main(checkpoint: str, workdir: str, steps: int = 200_000) -> dict:
    work = Path(workdir)
    clips = work / "clips"
    human_like.synthesize(clips, 14, 68.0, 0)
    adapt_tracker(checkpoint, clips, work / "run", 15.0, max_steps=steps, n_threads=2)
    report = json.loads((work / "run" / "adaptation.json").read_text())
    print(f"{checkpoint}: falls {report['before']['fall_rate']:.0%} -> {report['after']['fall_rate']:.0%}, "
          f"velocity ratio {report['before']['velocity_ratio']:.2f} -> {report['after']['velocity_ratio']:.2f}")
    return report


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
