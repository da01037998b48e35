"""Probe: generate's adaptation to the unseen human-like stand-ins, with the tracker's action noise reset first.

Long-trained trackers have a small action std (shipped tracker.zip 0.04, v2 0.08; log_std_init gives 0.37), so a
fine-tune barely explores. This wraps `reference.train_tracker.train` so that the policy's log_std is set to
log(STD) before learning, then runs `reference.generate` on the 14 stand-ins (seed 0) with adaptation.

    python docs/results/tracker_stdreset/probe_adapt.py STD ADAPT_FROM OUT_DIR [LEARNING_RATE]
"""
import math
import sys
import tempfile
from pathlib import Path

import yaml
from stable_baselines3.common.callbacks import BaseCallback

from reference import generate, human_like, train_tracker


class ResetStd(BaseCallback):
    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def _on_training_start(self) -> None:
        self.model.policy.log_std.data.fill_(math.log(self.std))
        print(f"log_std reset: action std {self.std}", flush=True)

    def _on_step(self) -> bool:
        return True


def main() -> None:
    std, source, out = float(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    lr = float(sys.argv[4]) if len(sys.argv) > 4 else None
    original = train_tracker.train

    def train(cfg, *a, callbacks=(), **k):
        if lr is not None:
            cfg["ppo"]["learning_rate"] = lr
        cb = [ResetStd(std)] if std > 0 else []
        return original(cfg, *a, callbacks=[*cb, *callbacks], **k)

    train_tracker.train = train
    cfg = yaml.safe_load(Path("configs/reference.yaml").read_text())
    cfg["generation"]["adapt_from"] = source
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "reference.yaml"
        conf.write_text(yaml.safe_dump(cfg))
        clips = Path(tmp) / "clips"
        human_like.synthesize(clips, 14, 68.0, 0)
        generate.main(["--config", str(conf), "--input-dir", str(clips), "--adapt", "always",
                       "--output-dir", str(out), "--workers", "2"])


if __name__ == "__main__":
    main()
