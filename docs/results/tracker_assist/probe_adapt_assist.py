"""Probe: generate's adaptation to the unseen human-like stand-ins (default variety, seed 0) with the balance assist
(reference/tracker/assist.py) fading out over the first ASSIST_STEPS of the fine-tune, then generation on them.

    python docs/results/tracker_assist/probe_adapt_assist.py ADAPT_FROM OUT_DIR ASSIST_STEPS [MAX_STEPS] [KP KD CAP]

Everything else is `reference.generate`'s own adaptation (configs/reference.yaml: 2M steps, the tracker's own config).
"""
import sys
import tempfile
from pathlib import Path

import yaml

from reference import generate, human_like, train_tracker


def main() -> None:
    source, out, assist_steps = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    max_steps = int(sys.argv[4]) if len(sys.argv) > 4 else None
    gains = [float(a) for a in sys.argv[5:8]]
    original = train_tracker.train

    def train(cfg, *a, **k):
        cfg["env"]["assist_steps"] = assist_steps
        if gains:
            cfg["env"].update(assist_kp=gains[0], assist_kd=gains[1], assist_cap=gains[2])
        print(f"assist: {assist_steps} steps, kp {cfg['env']['assist_kp']}, kd {cfg['env']['assist_kd']}, "
              f"cap {cfg['env']['assist_cap']}", flush=True)
        return original(cfg, *a, **k)

    train_tracker.train = train
    cfg = yaml.safe_load(Path("configs/reference.yaml").read_text())
    cfg["generation"]["adapt_from"] = source
    if max_steps is not None:
        cfg["generation"]["adapt_max_steps"] = max_steps
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "reference.yaml"
        conf.write_text(yaml.safe_dump(cfg))
        clips = Path(tmp) / "clips"
        human_like.synthesize(clips, 14, 68.0, 0)
        generate.main(["--config", str(conf), "--input-dir", str(clips), "--adapt", "always",
                       "--output-dir", str(out), "--workers", "2"])


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5, 8):
        raise SystemExit(__doc__)
    main()
