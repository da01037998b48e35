"""The contact pattern of one deterministic episode: support phases, touchdown rate, clock fit.

    python training/gait_report.py CHECKPOINT [--gait-frequency HZ] [--seed 12345] [--json-output FILE]

Prints the gait figures of `wildrobot_gym.gait_metrics` (one definition, shared with evaluate.py and
the training statistics: support phases with a foot loaded above 0.10 m g, debounced touchdowns per
second per foot, step length, peak foot force, cost of transport, yaw rate, straight-line speed; the
human figure beside each), the proper-contact fraction against the env's gait clock (the Phase 2
definition: left foot alone down in the first half of the period, right foot alone in the second),
the best fit of that definition over clock frequencies 1.5-6 Hz and all phase offsets (how well the
gait *could* match some clock), and the first 2 s as a strip of the contacts the clock is judged on
(``foot_contact``: a pad touching): L / R = that foot alone on the ground, D = both, . = none; under it
the clock's l / r halves. `--gait-frequency` replaces the checkpoint's
clock (to judge a policy against another phase's clock).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from training.common import open_checkpoint  # noqa: E402
from wildrobot_gym.atomic_io import atomic_write_json  # noqa: E402
from wildrobot_gym.gait_metrics import INFO_KEYS, episode_gait, gait_rows, stack_infos  # noqa: E402
from wildrobot_gym.rewards import DEFAULT_PARAMS, foot_contact  # noqa: E402


#: The step-info keys the report keeps: the clock's and the gait figures'.
KEYS = ("foot_contact", "gait_phase", *INFO_KEYS)


def clock_match(contacts: np.ndarray, phase: np.ndarray) -> float:
    """Fraction of steps whose contacts match the clock on both feet: Phase 2's proper contact, i.e.
    `wildrobot_gym.rewards.foot_contact` == 1 (the wrapper's proper_contact_fraction)."""
    return float(np.mean([foot_contact({"command_phase": ph, "foot_contact": c}, DEFAULT_PARAMS) == 1.0
                          for c, ph in zip(contacts, phase)]))


def best_clock_fit(contacts: np.ndarray, dt: float, freqs: np.ndarray | None = None,
                   n_offsets: int = 20) -> tuple[float, float, float]:
    """(best clock_match, its frequency in Hz, its phase offset) over a grid of clocks; (0, 0, 0) when
    no step matches any clock (a gait that never stands on one foot)."""
    freqs = np.arange(1.5, 6.01, 0.25) if freqs is None else freqs
    t = np.arange(len(contacts)) * dt
    best = (0.0, 0.0, 0.0)
    for f in freqs:
        for off in np.linspace(0.0, 1.0, n_offsets, endpoint=False):
            score = clock_match(contacts, (t * f + off) % 1.0)
            if score > best[0]:
                best = (score, float(f), float(off))
    return best


def strip(contacts: np.ndarray) -> str:
    return "".join("D" if l and r else "L" if l else "R" if r else "." for l, r in contacts)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--gait-frequency", type=float, default=None, help="judge against this clock (Hz)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--json-output", type=Path, default=None)
    args = p.parse_args(argv)
    if args.gait_frequency is not None and not args.gait_frequency > 0:
        raise SystemExit(f"--gait-frequency: expected a positive frequency in Hz, got {args.gait_frequency}")

    from training.evaluate import load_policy  # heavy imports only once the arguments are fine

    ckpt = open_checkpoint("checkpoint", args.checkpoint)
    overrides = {} if args.gait_frequency is None else {"gait_frequency": args.gait_frequency}
    try:
        model, venv, cfg, _ = load_policy(ckpt, 1, env_overrides=overrides)
    except ValueError as e:  # a file of the checkpoint that does not load (named in the message)
        raise SystemExit(f"checkpoint {args.checkpoint}: {e}") from None
    base = venv.unwrapped.envs[0].unwrapped
    venv.seed(args.seed)
    obs = venv.reset()
    steps = []
    try:
        for _ in range(int(cfg["env"].get("max_episode_steps", 500))):
            action, _ = model.predict(obs, deterministic=True)
            obs, _, dones, infos = venv.step(action)
            if dones[0]:
                break
            steps.append({k: np.copy(infos[0][k]) for k in KEYS})
    finally:
        venv.close()
    if len(steps) < 2:
        raise SystemExit(f"{args.checkpoint}: the episode ended after {len(steps)} steps; nothing to report")
    arrays = stack_infos(steps, KEYS)
    c, ph = arrays["foot_contact"].astype(bool), arrays["gait_phase"]
    fit, fit_f, fit_off = best_clock_fit(c, base.dt)
    # None for a figure that is not a number (the cost of transport of a root that never moved): plain JSON
    gait = {k: v if np.isfinite(v) else None for k, v in episode_gait(arrays, base.dt, base.spec_.weight).items()}
    report = {
        "checkpoint": str(args.checkpoint), "steps": len(c), "gait_frequency": base.gait_frequency,
        "forward_velocity": float(np.mean(arrays["forward_velocity"])), **gait,
        "proper_contact_fraction": clock_match(c, ph),
        "best_clock_fit": fit, "best_clock_frequency": fit_f, "best_clock_offset": fit_off,
    }
    for k, v in report.items():
        if k not in gait:
            print(f"{k:24s} {v:.3f}" if isinstance(v, float) else f"{k:24s} {v}")
    print("\n".join(gait_rows(gait)))
    n = min(len(c), round(2.0 / base.dt))
    print("contacts  " + strip(c[:n]))
    print("clock     " + "".join("l" if x < 0.5 else "r" for x in ph[:n]))
    if args.json_output is not None:
        atomic_write_json(args.json_output, report, indent=1)
    return report


if __name__ == "__main__":
    main()
