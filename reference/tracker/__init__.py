"""The learned tracking controller for physics reference generation (issue 10).

PPO learns residual servo targets on top of a clip's reference joints so that the simulated robot follows
the looped clip (``python -m reference.train_tracker``); ``generation.tracker: learned`` runs its
deterministic policy in `reference.rollout`. One job per module:

    library.py          the training references: clips x variants, looped as generation loops them
    reference_track.py  per-frame reference features of a timeline; the re-anchoring of the reference
    observation.py      the observation layout and its writer (training and generation share it)
    reward.py           the DeepMimic-style reward terms and their formulas
    env.py              `TrackingEnv`, the Gymnasium env
    batch_env.py        `BatchedTrackingVecEnv`: N tracking envs in this process on MuJoCo's batch API (training)
    policy.py           a trained tracker as a numpy MLP, loaded without unpickling
    controller.py       the tracker inside rollout's loop
    adapt.py            a short fine-tune of a trained tracker on new clips (reference.generate's adaptation)
"""
