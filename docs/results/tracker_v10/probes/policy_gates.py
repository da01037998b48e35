"""The Tier 0+ window gates (reference.miner, configs/reference.yaml) applied to a trained policy's own walk:
does a gait that passes them exist on this robot at 0.5-0.8 m/s?

    python docs/results/tracker_v10/probes/policy_gates.py policies/phase3.zip 0.5 0.65 0.8

Per fixed command: one deterministic episode (1500 steps, the first 50 dropped), cut into the miner's windows
(1 s, stride 0.2 s); prints the window medians of the gated metrics and how many windows pass every gate the
policy's records can fill (the harness gates pass trivially: there is no harness).
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[4]
sys.path[:0] = [str(ROOT), str(ROOT / "training")]
from evaluate import load_policy  # noqa: E402
from reference.miner import candidate_windows, gate_matrix, window_metrics  # noqa: E402
from wildrobot_gym.checkpoints import resolve_checkpoint  # noqa: E402
from wildrobot_gym.config.reference import load_mining_config  # noqa: E402
from wildrobot_gym.gait_metrics import nominal_robot  # noqa: E402

cfg = load_mining_config()
weight, _ = nominal_robot()
ckpt = resolve_checkpoint(sys.argv[1])
for cmd in map(float, sys.argv[2:]):
    model, venv, _, _ = load_policy(ckpt, env_overrides={"fixed_command": cmd})
    venv.seed(0)
    obs = venv.reset()
    rows = []
    for t in range(1500):
        action, _ = model.predict(obs, deterministic=True)
        obs, _, done, infos = venv.step(action)
        if done[0]:
            break
        if t >= 50:
            rows.append(infos[0])
    n = len(rows)
    sig = {
        "foot_load": np.array([r["foot_force"] for r in rows]) / weight,
        "foot_slip_speed": np.array([r["foot_slip_speed"] for r in rows]),
        "harness_ratio": np.zeros(n), "harness_saturated": np.zeros(n, bool),
        "pitch": np.array([r["pitch"] for r in rows]), "roll": np.array([r["roll"] for r in rows]),
        "torque_saturated": np.array([r["torque_saturated"] for r in rows]),
        "fallen": np.zeros(n, bool),
        "forward_velocity": np.array([r["forward_velocity"] for r in rows]),
    }
    windows = candidate_windows(np.array([[0, n]]), cfg)
    m = window_metrics(sig, windows, cfg.gates)
    flags = gate_matrix(m, cfg.gates)
    every = np.logical_and.reduce(list(flags.values()))
    fails = {k: int((~v).sum()) for k, v in flags.items() if (~v).any()}
    med = {k: float(np.median(m[k])) for k in ("forward_velocity_mean", "load_mean", "load_p10", "unloaded_fraction",
                                               "stance_slip_rate", "double_stance_fraction", "flight_fraction")}
    print(f"{sys.argv[1]} command {cmd:.2f}: {n} steps, window medians " + " ".join(f"{k} {v:.2f}" for k, v in med.items())
          + f" | pass every gate {int(every.sum())}/{len(every)} | failing {fails}", flush=True)
