"""Check a training run against seed 002's checkpoint checks and decision points; plot its key curves.

    python training/monitor_training.py LOGDIR [--out DIR] [--json-output FILE]

Reads ``LOGDIR/tb`` (TensorBoard, via tensorboard's EventAccumulator) and ``LOGDIR/config.yaml`` (the
run's phase, total_timesteps, ``checkpoint_checks`` and ``decision``). For each check at a fraction f
of training (Phase 1E: 10% velocity > 0.3 m/s and never backward; 50% > 0.5 m/s with a stable reward;
100%), the figures are taken over the window of the last 5% of training before f * total:

* velocity         mean of ``velocity/forward`` in the window
* never backward   no logged point of ``velocity/forward`` in the window below 0
* stable reward    the smoothed ``episode/return`` at the window's end has lost less than
                   ``decision.stable_tolerance`` of its best value over the last 20% of training before it
* success rate     mean of ``episode/success_rate`` in the window

Then the seed's decision point for the phase, and PNG plots (``LOGDIR/plots`` by default): x axis over the
logged steps (the checks inside it marked), one subplot per unit (``SERIES`` gives each tag's unit).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from wildrobot_gym.atomic_io import atomic_write, atomic_write_text  # noqa: E402
from wildrobot_gym.config import DEFAULT_CONFIG_PATH, load_config  # noqa: E402

VELOCITY, SUCCESS, RETURN = "velocity/forward", "episode/success_rate", "episode/return"
# tag -> (label, unit) of every plotted series. Series of one unit share a y axis; a plot whose series
# have several units gets one subplot per unit, so no y axis ever mixes units.
SERIES: dict[str, tuple[str, str]] = {
    VELOCITY: ("forward", "m/s"),
    "velocity/lateral": ("lateral", "m/s"),
    SUCCESS: ("success rate", "fraction"),
    RETURN: ("episode return", "reward"),
    "episode/length": ("episode length", "control steps"),
    "reward/forward_velocity_bonus": ("forward velocity bonus", "reward / step"),
    "contact/foot_sliding_speed": ("foot sliding speed", "m/s"),
    "contact/proper_contact_fraction": ("proper contact", "fraction"),
    "contact/air_time": ("air time", "s"),
    "actuator/torque_saturation_pct": ("torque saturation", "%"),
    "gait/double_support": ("double support", "fraction of steps"),
    "gait/flight": ("flight", "fraction of steps"),
    "gait/touchdowns_per_s": ("touchdowns per foot", "1/s"),
    "gait/peak_foot_force_mean": ("peak foot force, mean", "m g"),
    "curriculum/stage": ("stage", "level"),
    "curriculum/scale": ("weight scale", "factor"),
    "curriculum/foot_contact": ("foot_contact", "reward weight"),
    "curriculum/foot_sliding": ("foot_sliding", "reward weight"),
    "curriculum/foot_air_time": ("foot_air_time", "reward weight"),
    "curriculum/style_weight": ("style_weight", "reward weight"),
    "train/approx_kl": ("approx. KL", "nats"),
    "train/clip_fraction": ("clip fraction", "fraction"),
    "train/explained_variance": ("explained variance", "ratio, 1 = perfect"),
    "train/std": ("policy std", "action units"),
    "time/steps_per_second": ("throughput", "env steps / s"),
    "amp/auc": ("AUC", "AUC"),
    "amp/accuracy": ("accuracy", "fraction"),
    "amp/expert_logit_mean": ("expert", "logit"),
    "amp/policy_logit_mean": ("policy", "logit"),
    "amp/style_reward_mean": ("mean", "style reward"),
    "amp/style_reward_var": ("variance", "style reward²"),
    "amp/amp_weight": ("AMP weight", "weight"),
    "amp/effective_style_weight": ("effective style weight", "weight"),
    "amp/ramp_gate_open": ("ramp gate open", "0 / 1"),
    "amp/feature_stage": ("feature stage", "stage"),
    "tracking/joint_error": ("joint error", "rad"),
    "tracking/velocity_ratio": ("tracked / reference speed", "ratio"),
    "tracking/fall_rate": ("episodes ending in a fall", "fraction"),
    "tracking/position_error": ("root position error", "m"),
}
# plot (PNG) name -> its series, in drawing order.
PLOTS: dict[str, list[str]] = {
    "velocity": [VELOCITY, "velocity/lateral"],
    "success_rate": [SUCCESS],
    "return": [RETURN],
    "episode_length": ["episode/length"],
    "forward_velocity_bonus": ["reward/forward_velocity_bonus"],
    "contacts": ["contact/foot_sliding_speed", "contact/proper_contact_fraction", "contact/air_time"],
    "torque_saturation": ["actuator/torque_saturation_pct"],
    # wildrobot_gym.gait_metrics per training episode (the issue-11 gait targets).
    "gait": ["gait/double_support", "gait/flight", "gait/touchdowns_per_s", "gait/peak_foot_force_mean"],
    "curriculum": ["curriculum/stage", "curriculum/scale", "curriculum/foot_contact", "curriculum/foot_sliding",
                   "curriculum/foot_air_time", "curriculum/style_weight"],
    "ppo": ["train/approx_kl", "train/clip_fraction", "train/explained_variance", "train/std"],
    "throughput": ["time/steps_per_second"],
    # Phase 3 only (absent elsewhere, so not drawn): the discriminator and the AMP weight ramp.
    "amp_discriminator": ["amp/auc", "amp/accuracy", "amp/expert_logit_mean", "amp/policy_logit_mean"],
    "amp_style": ["amp/style_reward_mean", "amp/style_reward_var", "amp/amp_weight", "amp/effective_style_weight",
                  "amp/ramp_gate_open", "amp/feature_stage"],
    # The learned tracker (python -m reference.train_tracker) only.
    "tracking": ["tracking/joint_error", "tracking/velocity_ratio", "tracking/fall_rate", "tracking/position_error"],
}
_unitless = [t for tags in PLOTS.values() for t in tags if t not in SERIES]
assert not _unitless, f"PLOTS: series without a (label, unit) in SERIES: {_unitless}"
Series = tuple[np.ndarray, np.ndarray]


def load_scalars(logdir: Path) -> dict[str, Series]:
    """tag -> (steps, values) of every scalar in the run's TensorBoard files (all event files merged)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = logdir / "tb" if (logdir / "tb").is_dir() else logdir
    acc = EventAccumulator(str(tb), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags().get("scalars", []):
        ev = acc.Scalars(tag)
        steps = np.array([e.step for e in ev], dtype=np.int64)
        vals = np.array([e.value for e in ev], dtype=np.float64)
        order = np.argsort(steps, kind="stable")
        out[tag] = (steps[order], vals[order])
    return out


def _window(series: Series | None, lo: float, hi: float) -> np.ndarray:
    if series is None:
        return np.array([])
    s, v = series
    sel = v[(s > lo) & (s <= hi)]
    if sel.size == 0:  # a short run: at least the last point before hi
        sel = v[s <= hi][-3:]
    return sel


def _smooth(v: np.ndarray, k: int = 5) -> np.ndarray:
    if v.size < k:
        return v
    return np.convolve(v, np.ones(k) / k, mode="valid")


def check_at(scalars: Mapping[str, Series], check: Mapping[str, Any], total: int, tolerance: float) -> dict:
    """One checkpoint check (module docstring) -> {label, step, reached, results: {name: (value, ok)}, ok}."""
    step = check["fraction"] * total
    last = max((s[-1] for s, _ in scalars.values() if s.size), default=0)
    row: dict[str, Any] = {"label": check["label"], "step": int(step), "reached": bool(last >= 0.98 * step), "results": {}}
    if not row["reached"]:
        row["ok"] = None
        return row
    w = _window(scalars.get(VELOCITY), step - 0.05 * total, step)
    res = row["results"]
    if check.get("min_velocity") is not None:
        v = float(w.mean()) if w.size else float("nan")
        res["velocity"] = (v, bool(v > check["min_velocity"]), f"> {check['min_velocity']:g} m/s")
    if check.get("never_backward"):
        m = float(w.min()) if w.size else float("nan")
        res["never_backward"] = (m, bool(m >= 0.0), "min >= 0 m/s")
    if check.get("stable_reward"):
        r = _smooth(_window(scalars.get(RETURN), step - 0.2 * total, step))
        if r.size:
            best, end = float(r.max()), float(r[-1])
            ok = end >= best - tolerance * abs(best)
            res["stable_reward"] = (end, bool(ok), f">= best {best:.1f} - {tolerance:.0%}")
        else:
            res["stable_reward"] = (float("nan"), False, "no reward curve")
    if check.get("min_success_rate") is not None:
        sr = _window(scalars.get(SUCCESS), step - 0.05 * total, step)
        v = float(sr.mean()) if sr.size else float("nan")
        res["success_rate"] = (v, bool(v >= check["min_success_rate"]), f">= {check['min_success_rate']:.0%}")
    row["ok"] = all(ok for _, ok, _ in res.values())
    return row


def decide(cfg: Mapping[str, Any], scalars: Mapping[str, Series], total: int) -> str:
    """The seed's decision point for the phase, from the latest 5% of training."""
    phase, dec = cfg["phase"], cfg["decision"]
    last = max((s[-1] for s, _ in scalars.values() if s.size), default=0)
    w = _window(scalars.get(VELOCITY), last - 0.05 * total, last)
    if w.size == 0:
        return "no velocity logged yet: no decision"
    v = float(w.mean())
    r = _smooth(_window(scalars.get(RETURN), last - 0.2 * total, last))
    degrading = bool(r.size and r[-1] < r.max() - dec["stable_tolerance"] * abs(r.max()))
    fast = v > dec["proceed_min_velocity"]
    at_end = last >= 0.98 * total
    tag = "" if at_end else f" (provisional: {last / total:.0%} of training)"
    if phase == "1e":
        if fast and not degrading:
            return f"SUCCESS: velocity {v:.2f} m/s > {dec['proceed_min_velocity']} -> proceed to Phase 2{tag}"
        return (f"NOT YET / FAILURE: velocity {v:.2f} m/s{', reward degrading' if degrading else ''} -> if this holds at "
                f"the end: debug the tracking rewards, try a stricter exp(-k err^2) with k > 1 (smaller "
                f"reward_params.tracking_sigma), exploration bonuses or a shaped curriculum{tag}")
    if phase == "2":
        contact_ok = []
        for c in cfg["success_criteria"]:
            tag_name = f"contact/{c['metric']}"
            if tag_name in scalars:
                val = float(_window(scalars[tag_name], last - 0.05 * total, last).mean())
                ok = (c.get("pass_min") is None or val >= c["pass_min"]) and (c.get("pass_max") is None or val <= c["pass_max"])
                contact_ok.append(ok)
        if not fast:
            return f"FAILURE: velocity {v:.2f} m/s lost -> revert to Phase 1E, redesign the contact curriculum{tag}"
        if contact_ok and all(contact_ok):
            return f"GOOD: velocity {v:.2f} m/s kept and contact criteria met -> decide whether Phase 3 is needed{tag}"
        return (f"PARTIAL: velocity {v:.2f} m/s kept, {contact_ok.count(False)} contact criteria missed -> adjust "
                f"contact weights, possibly skip Phase 3{tag}")
    if fast and not degrading:
        return f"SUCCESS: velocity {v:.2f} m/s kept -> deploy (check style criteria with evaluate.py){tag}"
    if fast:
        return f"STYLE vs TASK: reward degrading at {v:.2f} m/s -> balance task/style weights differently{tag}"
    return f"FAILURE: velocity {v:.2f} m/s -> deploy the Phase 2 model instead{tag}"


def by_unit(tags: list[str]) -> dict[str, list[str]]:
    """unit -> tags of that unit, in first-seen order: one subplot each."""
    panels: dict[str, list[str]] = {}
    for t in tags:
        panels.setdefault(SERIES[t][1], []).append(t)
    return panels


def step_range(scalars: Mapping[str, Series]) -> tuple[int, int]:
    """(first, last) logged step over all series: the x range of every plot."""
    steps = [s for s, _ in scalars.values() if s.size]
    if not steps:
        raise ValueError("scalars: expected at least one series with logged points, got none")
    return int(min(s[0] for s in steps)), int(max(s[-1] for s in steps))


def figures(scalars: Mapping[str, Series], marks: Sequence[tuple[int, str]] = ()) -> dict[str, Any]:
    """name -> matplotlib Figure for each group of PLOTS that has data.

    The x axis spans the logged steps, not the planned total (a short run would otherwise be squeezed
    into its first percent); `marks` (step, label), e.g. the checkpoint checks, are drawn where they fall
    inside it. One subplot per unit (`by_unit`); each line's gid is its tag, so tests can check units."""
    # Figure, not pyplot: no GUI backend, no global registry of open figures to close.
    from matplotlib.figure import Figure

    lo, hi = step_range(scalars)
    pad = max(1, round(0.01 * (hi - lo)))  # keep the last point off the frame; a one-step run gets a range
    inside = [(m, label) for m, label in marks if lo <= m <= hi]
    out = {}
    for name, tags in PLOTS.items():
        panels = by_unit([t for t in tags if t in scalars])
        if not panels:
            continue
        fig = Figure(figsize=(7, 1.2 + 2.1 * len(panels)))
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)
        for i, (ax, (unit, present)) in enumerate(zip(axes[:, 0], panels.items())):
            _draw_panel(ax, scalars, present, unit, inside, label_marks=i == 0)  # mark names once, on top
        axes[0, 0].set_xlim(lo - pad, hi + pad)
        axes[-1, 0].set_xlabel("env steps")
        fig.suptitle(name)
        fig.tight_layout()
        out[name] = fig
    return out


def _draw_panel(ax: Any, scalars: Mapping[str, Series], tags: list[str], unit: str,
                marks: Sequence[tuple[int, str]], label_marks: bool) -> None:
    for t in tags:
        s, v = scalars[t]
        ax.plot(s, v, label=SERIES[t][0], lw=1.2, gid=t, marker="." if s.size < 30 else None)
    for m, label in marks:
        ax.axvline(m, color="grey", ls=":", lw=0.8)
        if label_marks:
            ax.annotate(label, (m, 0.97), xycoords=("data", "axes fraction"), fontsize=6, color="grey",
                        rotation=90, ha="right", va="top", bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 1})
    # One series: its name goes on the axis; several (same unit): the axis says the unit, a legend the names.
    ax.set_ylabel(f"{SERIES[tags[0]][0]} ({unit})" if len(tags) == 1 else unit, fontsize=8)
    if len(tags) > 1:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def plot(scalars: Mapping[str, Series], out: Path, marks: Sequence[tuple[int, str]] = ()) -> list[Path]:
    """Write `figures` as ``out/NAME.png``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures(scalars, marks).items():
        path = out / f"{name}.png"
        atomic_write(path, lambda f, fig=fig: fig.savefig(f, format="png", dpi=90))
        written.append(path)
    return written


def plot_only(args: argparse.Namespace) -> dict:
    """The curves of a run that has no seed checks (the learned tracker's)."""
    scalars = load_scalars(args.logdir)
    if not scalars:
        raise SystemExit(f"no TensorBoard scalars under {args.logdir}")
    plots = plot(scalars, args.out or args.logdir / "plots")
    last = max(int(s[-1]) for s, _ in scalars.values() if s.size)
    print(f"run {args.logdir}: tracker, {last} steps; plots: {', '.join(str(p) for p in plots)}")
    result = {"phase": "tracker", "last_step": last, "plots": [str(p) for p in plots]}
    if args.json_output:
        atomic_write_text(args.json_output, json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("logdir", type=Path)
    p.add_argument("--out", type=Path, default=None, help="plot directory (default LOGDIR/plots)")
    p.add_argument("--json-output", type=Path, default=None)
    args = p.parse_args(argv)
    cfg_path = args.logdir / "config.yaml"
    if cfg_path.is_file() and str((yaml.safe_load(cfg_path.read_text()) or {}).get("phase")) == "tracker":
        return plot_only(args)  # a tracker run: no seed checks, its curves
    cfg = load_config(cfg_path if cfg_path.is_file() else DEFAULT_CONFIG_PATH)
    total = int(cfg["training"]["total_timesteps"])
    scalars = load_scalars(args.logdir)
    if not scalars:
        raise SystemExit(f"no TensorBoard scalars under {args.logdir}")
    last = max(s[-1] for s, _ in scalars.values() if s.size)
    print(f"run {args.logdir}: phase {cfg['phase']}, {last} / {total} steps ({last / total:.1%})")
    checks = [check_at(scalars, c, total, cfg["decision"]["stable_tolerance"]) for c in cfg["checkpoint_checks"]]
    for c in checks:
        if not c["reached"]:
            print(f"  {c['label']:28s} (step {c['step']}): not reached yet")
            continue
        status = "PASS" if c["ok"] else "FAIL"
        detail = "; ".join(f"{k} {v:.3f} ({want}) {'ok' if ok else 'NO'}" for k, (v, ok, want) in c["results"].items())
        print(f"  {c['label']:28s} (step {c['step']}): {status}  {detail}")
    decision = decide(cfg, scalars, total)
    print(f"decision: {decision}")
    plots = plot(scalars, args.out or args.logdir / "plots", [(c["step"], c["label"]) for c in checks])
    print(f"plots: {', '.join(str(p) for p in plots)}")
    result = {"phase": cfg["phase"], "last_step": int(last), "total_timesteps": total, "checks": checks,
              "decision": decision, "plots": [str(p) for p in plots]}
    if args.json_output:
        atomic_write_text(args.json_output, json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
