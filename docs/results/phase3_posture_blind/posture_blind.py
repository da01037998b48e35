"""Probe: run training/train_ppo.py or training/evaluate.py with the AMP feature `joint_pos` droppable, so that a
discriminator can be made blind to the joint angles (it keeps the joint velocities, the root's motion, the torso's
tilt and the feet). The library keeps `joint_pos` non-droppable; this probe only asks whether the style reward
follows the reference better when it cannot see the crouch (docs/results/phase3_walking.md, "A discriminator blind
to the joint angles").

    python docs/results/phase3_posture_blind/posture_blind.py train --config docs/results/phase3_posture_blind/config.yaml \
        --amp-config docs/results/phase3_posture_blind/amp.yaml --amp-dataset data/tier0plus_v14 \
        --init-from policies/phase3.zip --logdir runs/p3_blind
    python docs/results/phase3_posture_blind/posture_blind.py evaluate runs/p3_blind/checkpoints/<step> --episodes 50 ...
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from wildrobot_gym import amp_features  # noqa: E402

# Component is frozen; the one instance is shared by COMPONENTS and every FeatureLayout built from it.
object.__setattr__(amp_features.LAYOUT.components[0], "droppable", True)
assert amp_features.COMPONENTS[0].name == "joint_pos" and amp_features.COMPONENTS[0].droppable

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("train", "evaluate"):
        raise SystemExit("usage: posture_blind.py train|evaluate ARGS (the ARGS of training/train_ppo.py or training/evaluate.py)")
    if sys.argv[1] == "train":
        from training.train_ppo import main
    else:
        from training.evaluate import main
    main(sys.argv[2:])
