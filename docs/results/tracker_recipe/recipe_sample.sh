#!/usr/bin/env bash
# The recipe's pair (docs/results/tracker.md, "The 60-min recipe with it") trained with another general-tracker seed, then each
# specialist checkpoint probed on the 16 fast clips (specialist_checkpoints.sh; /tmp/fast16 made as its header says).
set -eu
source .venv/bin/activate
python -m reference.train_tracker --config docs/results/tracker_onerun/config.yaml --logdir runs/onerun_s1 --seed 1 \
    --total-timesteps 8003584 > runs/onerun_s1.log 2>&1
python -m reference.train_tracker --config docs/results/tracker_onerun/config_fast_vel.yaml \
    --init-from runs/onerun_s1/checkpoints/step_0008003584 --logdir runs/onerun_s1_fast \
    --total-timesteps 11700000 --max-minutes 32.8 > runs/onerun_s1_fast.log 2>&1
bash docs/results/tracker_recipe/specialist_checkpoints.sh runs/onerun_s1_fast runs/ck29pair > runs/ck29pair.txt 2>&1
