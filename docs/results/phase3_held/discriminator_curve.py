"""The discriminator's side of an AMP run from its TensorBoard log: policy / reference logits, the style reward, the
share of updates held back (discriminator.min_style_reward). Each row is the mean over the rounds from its env step
to the next row's.   python docs/results/phase3_held/discriminator_curve.py RUN [ROWS] > OUT.txt"""
import glob
import sys

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

run = sys.argv[1]
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 12
ea = EventAccumulator(sorted(glob.glob(f"{run}/tb/events*"))[-1], size_guidance={"scalars": 0})
ea.Reload()
keys = ["amp/policy_logit_mean", "amp/expert_logit_mean", "amp/style_reward_mean", "amp/update_skipped",
        "amp/env_style_reward_mean"]
series = {k: ea.Scalars(k) for k in keys if k in ea.Tags()["scalars"]}
n = len(series[keys[0]])
step = max(1, n // rows)
print(f"# {run}: env step, then the mean of each amp/* scalar over the rounds to the next row")
for i in range(0, n, step):
    print(series[keys[0]][i].step, " ".join(f"{k.split('/')[-1]}={np.mean([x.value for x in v[i:i + step]]):.3f}"
                                             for k, v in series.items()))
