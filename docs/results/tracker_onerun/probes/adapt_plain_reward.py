"""Probe (docs/results/tracker.md, "A sharper speed term"): adapt a tracker to the unseen stand-ins with tracker v2's
reward (no support, stance-slip or ground-slip term, contact counted at 1 N with weight 0.1), not the tracker's own.

    python docs/results/tracker_onerun/probes/adapt_plain_reward.py TRACKER CLIPS WORKDIR GENERATION_YAML
    python -m reference.generate --config C --input-dir CLIPS --adapt never --output-dir OUT --workers 2

(C: GENERATION_YAML with tracker_path WORKDIR/tracker.zip and fast_tracker_min_speed null, as generate's own
adaptation does.) The stand-ins: `reference.human_like.synthesize(CLIPS, 14, 68.0, 0)`.
"""
import sys

from reference.tracker.adapt import adapt_tracker
from wildrobot_gym.checkpoints import read_state, resolve_checkpoint


def main(tracker: str, clips: str, workdir: str, generation_yaml: str) -> None:
    cfg = read_state(resolve_checkpoint(tracker))["config"]
    cfg["reward"].update(support_weight=0.0, stance_slip_weight=0.0, ground_slip_weight=0.0, contact_weight=0.1,
                         vertical_velocity_weight=0.1)
    cfg["env"]["contact_threshold"] = 1.0
    adapt_tracker(tracker, clips, workdir, 15.0, tracker_config=cfg, max_steps=2_000_000,
                  generation_config=generation_yaml, n_threads=2)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
