"""Tier 0+ dataset analysis (seed 000): per-clip diagnostics, the dataset report, go / no-go, plots.

``analyze_dataset(dataset_dir, records_dir=None, config=None)`` returns a JSON-ready dict:

- ``total_tier0plus_seconds``, ``num_frames``, ``num_segments``, ``segment_seconds`` (min/mean/max),
  ``num_clips_contributing``, ``clip_seconds`` (per source clip);
- ``load`` (sum Fn/mg over Tier 0+ frames: mean, p10, p95), ``harness`` (|F_stab|/mg: mean, p90, p95,
  saturated fraction), ``unloaded_fraction``, ``slip`` (per-segment stance slip rate: mean, p95; and
  the pooled rate), ``attitude`` (p95 |pitch| and |roll|, deg), ``alternation_rate`` (frames with
  exactly one foot loaded), ``alternating_segments`` (Blocker C: single stance >= 15 %);
- ``windows`` (candidates, passed, how many failed each gate), ``rollouts`` (per-clip diagnostics
  with verdicts), ``score_counts``;
- ``walking_seconds`` and ``walking`` (`reference.walking`: a window walks at >= 0.7 x its clip's
  speed with >= 15 % single stance): walking / non-walking seconds, ``seconds_by_speed_band`` (0.1 m/s
  bands of each walking segment's mean forward speed, e.g. "0.3-0.4"), ``speed_ratio_mean`` (forward
  speed / clip speed), ``double_support_fraction`` of the walking frames (and ``double_support_by_speed_band``),
  ``label_source``: the dataset's label, or (datasets mined before it) recomputed from ``--records``;
  without either the label is unknown (``walking_seconds`` null);
- ``actuator_saturation`` (`window_saturation`): the share of servo-steps at the torque limit, mean over
  the windows that passed every gate, over the walking ones, and per speed band of the walking ones,
  with the seed's per-clip check (``analysis.actuator_saturation_max``, 10 %);
- ``decision``: ``proceed`` (>= 60 s), ``borderline`` (30-60 s) or ``stop_path_b`` (< 30 s) on the
  WALKING seconds (``decision_seconds``, ``decision_basis``; on the Tier 0+ seconds, with a warning,
  only when the label is unknown), with the thresholds; ``dashboard``: the seed's metrics dashboard
  (value, minimum, target, status; the discriminator AUC and AMP reward variance are measured by
  training, not here: null).

The gates come from the mining config stored with the dataset, so re-analysis judges the data the
way it was mined. The thresholds of this module are the ``analysis:`` section of
configs/reference.yaml (`AnalysisConfig`).

CLI: ``python -m reference.analyze --dataset DIR [--records DIR] --json-output FILE
[--plots-dir DIR] [--config FILE] [--verbose]``. Records directories hold one ``.npz`` per rollout
(`reference.rollout.save_records`). Plots: window_histograms.png, timeline.png (walking segments
green, the others yellow), walking_bands.png (walking seconds per speed band).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from wildrobot_gym.config.reference import (  # noqa: F401  (re-exported)
    AnalysisConfig,
    DashboardConfig,
    load_analysis_config,
)
from reference import walking as walk
from wildrobot_gym.atomic_io import atomic_write
from reference.miner import (
    DEFAULT_CONFIG_PATH,
    GATE_NAMES,
    GateConfig,
    MinedDataset,
    MiningConfig,
    atomic_write_bytes,
    config_from_dict,
    frame_signals,
    gate_matrix,
    load_dataset,
    mine_rollout,
    span_metrics,
    check_gates,
    validate_records,
)

log = logging.getLogger(__name__)

DECISIONS = ("proceed", "borderline", "stop_path_b")


# The `analysis:` schema (DashboardConfig, AnalysisConfig: frozen pydantic dataclasses with ranges) and
# `load_analysis_config` live in wildrobot_gym/config/reference.py with the other reference sections.


def _as_config(config: AnalysisConfig | Mapping | str | Path | None) -> AnalysisConfig:
    if config is None:
        return load_analysis_config() if DEFAULT_CONFIG_PATH.is_file() else AnalysisConfig()
    if isinstance(config, AnalysisConfig):
        return config
    if isinstance(config, Mapping):
        return config_from_dict(AnalysisConfig, config, "analysis")
    return load_analysis_config(config)


# ------------------------------------------------------------------------------------------------
# Small statistics helpers
# ------------------------------------------------------------------------------------------------
def _stat(x: np.ndarray, fn: str, q: float | None = None) -> float | None:
    """mean / percentile of a possibly empty array; None when empty (JSON null)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        return None
    v = float(np.mean(x)) if fn == "mean" else float(np.percentile(x, q))
    return v if math.isfinite(v) else None


def decide(total_seconds: float, cfg: AnalysisConfig) -> str:
    """Go / no-go (seed decision tree): proceed, borderline, or stop_path_b (baseline PPO)."""
    if total_seconds >= cfg.proceed_seconds:
        return "proceed"
    if total_seconds >= cfg.borderline_seconds:
        return "borderline"
    return "stop_path_b"


def _dash(value: float | None, minimum: float, target: float, higher_is_better: bool) -> dict:
    if value is None:
        status = "not_measured"
    elif higher_is_better:
        status = "target" if value >= target else "minimum" if value >= minimum else "below_minimum"
    else:
        status = "target" if value <= target else "minimum" if value <= minimum else "below_minimum"
    return {"value": value, "minimum": minimum, "target": target, "status": status}


def dashboard(report: Mapping[str, Any], cfg: DashboardConfig) -> dict:
    """The seed's Metrics Dashboard from a dataset report."""
    return {
        "tier0plus_seconds": _dash(report["total_tier0plus_seconds"], cfg.seconds_min, cfg.seconds_target, True),
        "walking_seconds": _dash(report["walking_seconds"], cfg.seconds_min, cfg.seconds_target, True),
        "tier0plus_segments": _dash(float(report["num_segments"]), cfg.segments_min, cfg.segments_target, True),
        "load_mean": _dash(report["load"]["mean"], cfg.load_mean_min, cfg.load_mean_target, True),
        "harness_p95": _dash(report["harness"]["p95"], cfg.harness_p95_max, cfg.harness_p95_target, False),
        "unloaded_fraction": _dash(report["unloaded_fraction"], cfg.unloaded_max, cfg.unloaded_target, False),
        "alternation_rate": _dash(report["alternation_rate"], cfg.alternation_min, cfg.alternation_target, True),
        "source_clips": _dash(float(report["num_clips_contributing"]), cfg.clips_min, cfg.clips_target, True),
        "discriminator_auc": {"value": None, "minimum": 0.6, "target": "0.7-0.8", "status": "not_measured"},
        "amp_reward_variance": {"value": None, "minimum": 0.05, "target": 0.1, "status": "not_measured"},
    }


# ------------------------------------------------------------------------------------------------
# Per-clip diagnostics
# ------------------------------------------------------------------------------------------------
def clip_diagnostic(records: Mapping[str, Any], mining: MiningConfig, name: str = "records") -> dict:
    """Whole-rollout metrics and the Tier 0+ verdict of one rollout (same shape as the dataset's
    ``rollouts`` entries, so `format_clip_log` prints either)."""
    t = validate_records(records, name)
    metrics = span_metrics(frame_signals(records), 0, t, mining.gates) if t else {}
    res = check_gates(metrics, mining.gates) if t else None
    mined = mine_rollout(records, mining, name)
    return {
        "clip": str(np.asarray(records["clip"])),
        "variant": str(np.asarray(records["variant"])),
        "frames": t,
        "seconds": t / mining.fps,
        "tier0plus_frames": int(mined.accepted.sum()),
        "segments": int(len(mined.segments)),
        **walk.rollout_figures(mined.clip_speed, mined.walking_any, mined.walking, mining.fps),
        "metrics": {k: (float(v) if math.isfinite(v) else None) for k, v in metrics.items()},
        "passed": bool(res and res.passed),
        "failing": list(res.failing) if res else ["empty"],
        "reasons": list(res.reasons) if res else ["no frames"],
    }


def format_clip_log(diag: Mapping[str, Any], cfg: AnalysisConfig) -> str:
    """The seed's diagnostic log template for one rollout."""
    m = diag.get("metrics") or {}

    def pct(key: str) -> str:
        v = m.get(key)
        return "n/a" if v is None else f"{100.0 * v:.1f}%"

    def deg(key: str) -> str:
        v = m.get(key)
        return "n/a" if v is None else f"{v:.1f}°"

    speed = diag.get("clip_speed")
    if "walking_any_seconds" not in diag:  # a dataset mined before the walking label
        walked = "Walking: n/a (no walking label; pass the records)"
    else:
        walked = (f"Walking (clip speed {'unknown' if speed is None else f'{speed:.3f} m/s'}): "
                  f"{diag['walking_any_seconds']:.2f} s of {diag.get('seconds', 0.0):.2f} s "
                  f"({100.0 * diag['walking_any_fraction']:.1f}%) in walking windows; "
                  f"walking Tier 0+ {diag['walking_seconds']:.2f} s")
    sat = m.get("actuator_saturation_rate")
    sat_note = "" if sat is None or sat < cfg.actuator_saturation_max else "  <-- ABOVE LIMIT"
    verdict = "PASS" if diag.get("passed") else "FAIL"
    reasons = "; ".join(diag.get("reasons") or []) or "none"
    return "\n".join(
        [
            "=" * 40,
            "REFERENCE GENERATION DIAGNOSTIC",
            "=" * 40,
            f"Clip: {diag.get('clip')} ({diag.get('variant')})",
            f"Duration: {diag.get('seconds', 0.0):.2f} seconds",
            f"Actuator saturation rate: {pct('actuator_saturation_rate')}  (MUST BE <{100 * cfg.actuator_saturation_max:.0f}%){sat_note}",
            "",
            "Load Support:",
            f"  mean(ΣFn)/mg: {pct('load_mean')}",
            f"  p10(ΣFn)/mg: {pct('load_p10')}",
            f"  p95(ΣFn)/mg: {pct('load_p95')}",
            "",
            "Harness Reliance:",
            f"  mean(|F_stab|)/mg: {pct('harness_mean')}",
            f"  p90(|F_stab|)/mg: {pct('harness_p90')}",
            f"  p95(|F_stab|)/mg: {pct('harness_p95')}",
            f"  saturated_steps: {pct('harness_saturated_fraction')}",
            "",
            "Attitude:",
            f"  p95(|pitch|): {deg('pitch_p95_deg')}",
            f"  p95(|roll|): {deg('roll_p95_deg')}",
            "",
            "Slip (when loaded):",
            f"  stance_slip_rate: {pct('stance_slip_rate')}",
            "",
            f"Tier 0+ frames mined: {diag.get('tier0plus_frames', 0)} in {diag.get('segments', 0)} segments",
            walked,
            f"VERDICT: [{verdict}] Tier 0+ (whole rollout)",
            f"Failure reasons (if any): {reasons}",
            "=" * 40,
        ]
    )


def load_records_dir(records_dir: str | Path) -> list[tuple[Path, dict]]:
    """Every ``*.npz`` rollout in a directory, sorted by name, read without pickle."""
    from reference.rollout import load_records  # the records format belongs to the rollout module

    records_dir = Path(records_dir)
    if not records_dir.is_dir():
        raise ValueError(f"records: no such directory: {records_dir}")
    out = []
    for p in sorted(records_dir.glob("*.npz")):
        try:
            rec = load_records(p)
        except (OSError, ValueError) as exc:
            raise ValueError(f"records: cannot read {p}: {exc}") from exc
        validate_records(rec, str(p))
        out.append((p, rec))
    if not out:
        raise ValueError(f"records: no .npz files in {records_dir}")
    return out


# ------------------------------------------------------------------------------------------------
# Walking
# ------------------------------------------------------------------------------------------------
_UNKNOWN_WALKING_KEYS = ("walking_seconds", "non_walking_seconds", "walking_fraction", "walking_segments",
                         "walking_speed_mean", "speed_ratio_mean", "double_support_fraction", "single_support_fraction")


def _walking_from_records(ds: MinedDataset, records: Sequence[tuple[Path, dict]], mining: MiningConfig) -> dict | None:
    """The walking label of a dataset mined before it, recomputed from its rollouts' records (matched by
    clip and variant; the records must re-mine to the same Tier 0+ frames). None, with a warning, if not."""
    a = ds.arrays
    by_motion = {(str(rec["clip"]), str(rec["variant"])): rec for _, rec in records}
    f = ds.num_frames
    walking, fv, speed = np.zeros(f, dtype=bool), np.zeros(f), np.full(f, np.nan)
    mined: dict[int, Any] = {}
    for s in range(ds.num_segments):
        r = int(a["segment_rollout"][s])
        ro = ds.rollouts[r] if 0 <= r < len(ds.rollouts) else {}
        rec = by_motion.get((ro.get("clip"), ro.get("variant")))
        if rec is None:
            log.warning("walking label: no records of %s:%s, label unknown", ro.get("clip"), ro.get("variant"))
            return None
        if r not in mined:
            mined[r] = mine_rollout(rec, mining)
        m, src, n, row = mined[r], int(a["segment_source_start"][s]), int(a["segment_length"][s]), int(a["segment_start"][s])
        if src + n > m.num_frames or not m.accepted[src:src + n].all():
            log.warning("walking label: the records of %s:%s do not re-mine to the dataset's frames, label unknown",
                        ro.get("clip"), ro.get("variant"))
            return None
        walking[row:row + n] = m.walking[src:src + n]
        fv[row:row + n] = np.asarray(rec["forward_velocity"], dtype=np.float64)[src:src + n]
        speed[row:row + n] = np.nan if m.clip_speed is None else m.clip_speed
    return walk.summarize(walking, a["frame_segment"], fv, a["foot_load"], speed, ds.fps,
                          mining.gates.stance_load_threshold, mining.walking.speed_band_width)


def walking_report(ds: MinedDataset, mining: MiningConfig, records: Sequence[tuple[Path, dict]] = ()) -> dict:
    """Walking figures (`reference.walking.summarize`) and their ``label_source``: the dataset's own
    label, else recomputed from `records`, else unknown (every figure null, ``label_source`` null)."""
    summary = ds.walking_summary()
    if summary is not None:
        return {**summary, "label_source": "dataset"}
    summary = _walking_from_records(ds, records, mining) if records else None
    if summary is not None:
        return {**summary, "label_source": "records"}
    return {**dict.fromkeys(_UNKNOWN_WALKING_KEYS), "seconds_by_speed_band": {},
            "speed_band_width": mining.walking.speed_band_width, "label_source": None}


# ------------------------------------------------------------------------------------------------
# Dataset report
# ------------------------------------------------------------------------------------------------
def dataset_report(ds: MinedDataset, mining: MiningConfig, cfg: AnalysisConfig, walking: Mapping | None = None) -> dict:
    """Every dataset-level number of the seed's Step 2 report and dashboard (module docstring);
    `walking`: a `walking_report` (default: from the dataset's own label)."""
    a = ds.arrays
    g = mining.gates
    load = a["foot_load"].sum(axis=1)
    harness = a["harness_ratio"]
    loaded = a["foot_load"] > g.stance_load_threshold
    slipping = loaded & (a["foot_slip_speed"] > g.slip_speed_threshold)
    seg_len = a["segment_length"]
    seg_slip = np.array([s["metrics"]["stance_slip_rate"] for s in ds.per_segment_metrics], dtype=np.float64)
    seg_single = np.array([s["metrics"]["single_stance_fraction"] for s in ds.per_segment_metrics], dtype=np.float64)
    alternating = seg_single >= cfg.alternation_segment_min
    clips = a["motion_clips"][a["segment_motion"]] if len(seg_len) else np.zeros(0, dtype=str)
    clip_seconds: dict[str, float] = {}
    for c, n in zip(clips.tolist(), seg_len.tolist()):
        clip_seconds[c] = clip_seconds.get(c, 0.0) + n / ds.fps

    # Windows: how many candidates each gate rejected (the first thing to look at when yield is low).
    wm = {k[len("window_"):]: v for k, v in a.items() if k.startswith("window_")}
    n_win = int(a["window_passed"].size)
    flags = gate_matrix(wm, g) if n_win else {k: np.zeros(0, dtype=bool) for k in GATE_NAMES}
    rollout_seconds = float(sum(r["seconds"] for r in ds.rollouts))
    total = ds.total_seconds
    report: dict[str, Any] = {
        "total_tier0plus_seconds": total,
        "num_frames": ds.num_frames,
        "num_segments": ds.num_segments,
        "segment_seconds": {
            "min": _stat(seg_len / ds.fps, "pct", 0),
            "mean": _stat(seg_len / ds.fps, "mean"),
            "max": _stat(seg_len / ds.fps, "pct", 100),
        },
        "num_clips_contributing": len(clip_seconds),
        "num_motions_contributing": int(np.unique(a["segment_motion"]).size),
        "clip_seconds": clip_seconds,
        "load": {"mean": _stat(load, "mean"), "p10": _stat(load, "pct", 10), "p95": _stat(load, "pct", 95)},
        "harness": {
            "mean": _stat(harness, "mean"),
            "p90": _stat(harness, "pct", 90),
            "p95": _stat(harness, "pct", 95),
            "saturated_fraction": _stat(a["harness_saturated"], "mean"),
        },
        "unloaded_fraction": _stat(load < g.unloaded_load_threshold, "mean"),
        "slip": {
            "segment_mean": _stat(seg_slip, "mean"),
            "segment_p95": _stat(seg_slip, "pct", 95),
            "pooled_rate": float(slipping.sum() / loaded.sum()) if loaded.any() else None,
        },
        "attitude": {
            "pitch_p95_deg": _stat(np.degrees(np.abs(a["pitch"])), "pct", 95),
            "roll_p95_deg": _stat(np.degrees(np.abs(a["roll"])), "pct", 95),
        },
        "alternation_rate": _stat(loaded.sum(axis=1) == 1, "mean"),
        "alternating_segments": {
            "threshold": cfg.alternation_segment_min,
            "count": int(alternating.sum()),
            "seconds": float(seg_len[alternating].sum() / ds.fps) if len(seg_len) else 0.0,
        },
        "score_counts": {str(k): v for k, v in sorted(Counter(a["segment_scores"].round(3).tolist()).items())},
        "windows": {
            "candidates": n_win,
            "passed": int(a["window_passed"].sum()),
            "failed_by_gate": {k: int((~flags[k]).sum()) for k in GATE_NAMES},
        },
        "rollout_seconds": rollout_seconds,
        "yield": total / rollout_seconds if rollout_seconds > 0 else None,
        "decision_thresholds": {"proceed_seconds": cfg.proceed_seconds, "borderline_seconds": cfg.borderline_seconds},
        "gates": asdict(g),
    }
    walking = dict(walking) if walking is not None else walking_report(ds, mining)
    report["actuator_saturation"] = window_saturation(a, mining.walking.speed_band_width, cfg.actuator_saturation_max)
    report["walking_seconds"] = walking["walking_seconds"]
    report["walking"] = walking
    if walking["walking_seconds"] is None:
        log.warning("no walking label (a dataset mined before it; pass --records): the decision counts every "
                    "Tier 0+ second, standing included")
        report["decision_basis"], report["decision_seconds"] = "tier0plus_seconds (walking label unknown)", total
    else:
        report["decision_basis"], report["decision_seconds"] = "walking_seconds", walking["walking_seconds"]
    report["decision"] = decide(report["decision_seconds"], cfg)
    report["dashboard"] = dashboard(report, cfg.dashboard)
    return report


def window_saturation(a: Mapping[str, np.ndarray], band_width: float, limit: float) -> dict:
    """Actuator saturation (share of servo-steps at the torque limit) of the data, as the mean over the windows that
    passed every gate: all of them, the walking ones, and the walking ones per speed band; `limit` is the seed's
    check (below 10 %: a tracked reference that saturates more cannot be walked the same way by a policy that
    must stay under its own saturation target)."""
    passed = a["window_passed"].astype(bool)
    walking = passed & a["window_walking"].astype(bool) if "window_walking" in a else np.zeros_like(passed)
    sat, v = a["window_actuator_saturation_rate"], a["window_forward_velocity_mean"]
    bands: dict[str, list[float]] = {}
    for i in np.flatnonzero(walking):
        bands.setdefault(walk.speed_band(float(v[i]), band_width), []).append(float(sat[i]))
    return {"passed_windows": _stat(sat[passed], "mean"), "walking_windows": _stat(sat[walking], "mean"),
            "walking_by_speed_band": {k: float(np.mean(bands[k])) for k in sorted(bands, key=walk.band_lower_edge)},
            "limit": limit}


def format_report(report: Mapping[str, Any]) -> str:
    """The seed's "Report these metrics" block plus the decision, as text."""

    def p(v: float | None) -> str:
        return "n/a" if v is None else f"{100.0 * v:.1f}%"

    def f(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    ld, hn, sl, wk = report["load"], report["harness"], report["slip"], report["walking"]
    w = report["windows"]
    failed = ", ".join(f"{k}={v}" for k, v in w["failed_by_gate"].items() if v)
    return "\n".join(
        [
            "=" * 40,
            "TIER 0+ DATASET REPORT",
            "=" * 40,
            f"Total Tier 0+ seconds: {report['total_tier0plus_seconds']:.2f}s in {report['num_segments']} segments",
            f"Distribution of ΣFn/mg: mean={f(ld['mean'])}, p10={f(ld['p10'])}, p95={f(ld['p95'])}",
            f"Harness p90={p(hn['p90'])}, p95={p(hn['p95'])} (mean {p(hn['mean'])}, saturated {p(hn['saturated_fraction'])})",
            f"Unloaded frame fraction: {p(report['unloaded_fraction'])}",
            f"Slip rate distribution: mean={p(sl['segment_mean'])}, p95={p(sl['segment_p95'])}",
            f"Number of source clips contributing: {report['num_clips_contributing']}",
            f"Alternation rate (single stance): {p(report['alternation_rate'])}; "
            f"segments >= {100 * report['alternating_segments']['threshold']:.0f}%: {report['alternating_segments']['count']}",
            f"Windows: {w['passed']}/{w['candidates']} passed; failures by gate: {failed or 'none'}",
            _walking_text(wk, report["total_tier0plus_seconds"]),
            _saturation_text(report.get("actuator_saturation")),
            f"DECISION: {report['decision']} (on {report['decision_basis']}: {report['decision_seconds']:.2f}s)",
            "=" * 40,
        ]
    )


def _saturation_text(sat: Mapping[str, Any] | None) -> str:
    if not sat or sat["passed_windows"] is None:
        return "Actuator saturation: n/a (no window passed)"
    bands = ", ".join(f"{b}: {100 * v:.1f}%" for b, v in sat["walking_by_speed_band"].items()) or "none"
    walking = "n/a" if sat["walking_windows"] is None else f"{100 * sat['walking_windows']:.1f}%"
    over = [b for b, v in sat["walking_by_speed_band"].items() if v >= sat["limit"]]
    note = f"; at or above the {100 * sat['limit']:.0f}% check: {', '.join(over)}" if over else ""
    return (f"Actuator saturation of the passed windows: {100 * sat['passed_windows']:.1f}% (walking {walking}); "
            f"walking by speed band: {bands}{note}")


def _walking_text(wk: Mapping[str, Any], total: float) -> str:
    if wk["walking_seconds"] is None:
        return "Walking seconds: unknown (dataset without the walking label; pass --records)"
    bands = ", ".join(f"{b}: {v:.1f}s" for b, v in wk["seconds_by_speed_band"].items()) or "none"
    ratio = "n/a" if wk["speed_ratio_mean"] is None else f"{wk['speed_ratio_mean']:.2f}"
    ds = "n/a" if wk["double_support_fraction"] is None else f"{100.0 * wk['double_support_fraction']:.1f}%"
    by_band = wk.get("double_support_by_speed_band") or {}
    if by_band:
        ds += " (by speed band: " + ", ".join(f"{b}: {100.0 * v:.0f}%" for b, v in by_band.items()) + ")"
    return (f"Walking seconds: {wk['walking_seconds']:.2f}s of {total:.2f}s Tier 0+ in {wk['walking_segments']} "
            f"segments (label: {wk['label_source']}); by speed band (m/s): {bands}\n"
            f"Walking speed / clip speed: {ratio}; double support {ds} of the walking frames")


# ------------------------------------------------------------------------------------------------
# Plots
# ------------------------------------------------------------------------------------------------
_HIST_METRICS: tuple[tuple[str, str, str], ...] = (  # metric, gate attribute, label
    ("load_mean", "load_mean_min", "mean(ΣFn)/mg"),
    ("load_p10", "load_p10_min", "p10(ΣFn)/mg"),
    ("harness_p90", "harness_p90_max", "p90(|F_stab|)/mg"),
    ("harness_p95", "harness_p95_max", "p95(|F_stab|)/mg"),
    ("harness_saturated_fraction", "harness_saturated_max", "harness saturated fraction"),
    ("unloaded_fraction", "unloaded_fraction_max", "unloaded fraction"),
    ("pitch_p95_deg", "pitch_p95_max_deg", "p95|pitch| (deg)"),
    ("roll_p95_deg", "roll_p95_max_deg", "p95|roll| (deg)"),
    ("stance_slip_rate", "stance_slip_rate_max", "stance slip rate"),
)


def plot_window_histograms(ds: MinedDataset, gates: GateConfig, path: Path, bins: int = 40) -> Path:
    """Histograms of every gate metric over all candidate windows, with the gate line (red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = ds.arrays
    passed = a["window_passed"].astype(bool)
    fig, axes = plt.subplots(3, 3, figsize=(13, 10))
    for ax, (metric, attr, label) in zip(axes.ravel(), _HIST_METRICS):
        x = a[f"window_{metric}"]
        if x.size:
            edges = np.histogram_bin_edges(np.r_[x, getattr(gates, attr)], bins=bins)
            ax.hist(x, bins=edges, color="0.7", label="all windows")
            ax.hist(x[passed], bins=edges, color="tab:green", alpha=0.8, label="passed")
        ax.axvline(getattr(gates, attr), color="tab:red", lw=1.5, label="gate")
        ax.set_title(label, fontsize=10)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Tier 0+ gate metrics over {passed.size} candidate windows ({int(passed.sum())} passed)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=90))
    plt.close(fig)
    return path


def plot_walking_bands(walking: Mapping[str, Any], path: Path) -> Path:
    """Bar chart: walking Tier 0+ seconds per forward-speed band (of each walking segment's mean speed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bands = walking.get("seconds_by_speed_band") or {}
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.bar(list(bands), list(bands.values()), color="tab:green")
    ax.set_xlabel("mean forward speed of the segment (m/s)")
    ax.set_ylabel("walking Tier 0+ seconds")
    total = walking.get("walking_seconds")
    ax.set_title("walking label unknown" if total is None else
                 f"{total:.1f} s walking Tier 0+ ({walking.get('non_walking_seconds', 0.0):.1f} s not walking)")
    if not bands:
        ax.text(0.5, 0.5, "no walking data", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=90))
    plt.close(fig)
    return path


def plot_timeline(records: Mapping[str, Any], mining: MiningConfig, path: Path) -> Path:
    """One rollout over time: load/mg, harness/mg, pitch, roll; Tier 0+ segments shaded green (walking)
    or yellow (not walking), fall frames red, restarts as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mined = mine_rollout(records, mining)
    sig = frame_signals(records)
    g = mining.gates
    t = np.arange(mined.num_frames) / mining.fps
    rows = (
        (sig["foot_load"].sum(axis=1), "ΣFn/mg", (g.load_mean_min, g.unloaded_load_threshold)),
        (sig["harness_ratio"], "|F_stab|/mg", (g.harness_p90_max, g.harness_p95_max)),
        (np.degrees(sig["pitch"]), "pitch (deg)", (g.pitch_p95_max_deg, -g.pitch_p95_max_deg)),
        (np.degrees(sig["roll"]), "roll (deg)", (g.roll_p95_max_deg, -g.roll_p95_max_deg)),
    )
    fig, axes = plt.subplots(len(rows), 1, figsize=(13, 9), sharex=True)
    fall = sig["fallen"]
    restarts = np.flatnonzero(np.asarray(records["restart"], dtype=bool))
    for ax, (y, label, lines) in zip(axes, rows):
        ax.plot(t, y, lw=0.8, color="k")
        for v in lines:
            ax.axhline(v, color="tab:red", lw=0.8, ls=":")
        for (a, b), walks in zip(mined.segments, mined.segment_walking):
            ax.axvspan(a / mining.fps, b / mining.fps, color="tab:green" if walks else "gold", alpha=0.25, lw=0)
        if fall.any():
            ax.fill_between(t, 0, 1, where=fall, transform=ax.get_xaxis_transform(), color="tab:red", alpha=0.15, lw=0)
        for r in restarts:
            ax.axvline(r / mining.fps, color="tab:blue", lw=0.6, ls="--")
        ax.set_ylabel(label)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(
        f"{mined.clip} ({mined.variant}): {mined.accepted.sum() / mining.fps:.1f} s Tier 0+ in "
        f"{len(mined.segments)} segments ({mined.walking.sum() / mining.fps:.1f} s walking, green; others yellow), "
        f"falls red, restarts dashed"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=90))
    plt.close(fig)
    return path


def _timeline_choice(ds: MinedDataset, records: Sequence[tuple[Path, dict]], cfg: AnalysisConfig) -> dict | None:
    """The records of the rollout to draw: the configured index, else the one with most Tier 0+ frames."""
    if not records:
        return None
    if 0 <= cfg.timeline_rollout < len(ds.rollouts):
        want = ds.rollouts[cfg.timeline_rollout]
    elif ds.rollouts:
        want = max(ds.rollouts, key=lambda r: r.get("tier0plus_frames", 0))
    else:
        return records[0][1]
    for _, rec in records:
        if str(np.asarray(rec["clip"])) == want["clip"] and str(np.asarray(rec["variant"])) == want["variant"]:
            return rec
    return records[0][1]


# ------------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------------
def analyze_dataset(
    dataset_dir: str | Path,
    records_dir: str | Path | None = None,
    config: AnalysisConfig | Mapping | str | Path | None = None,
    plots_dir: str | Path | None = None,
    verbose: bool = False,
) -> dict:
    """Analyse a Tier 0+ dataset directory (and optionally the rollouts it was mined from).

    With `records_dir`, the per-clip diagnostics are recomputed from the records and the timeline
    plot can be drawn (and a dataset mined before the walking label gets it from the records);
    without it they come from the dataset's side-car. Returns the report dict
    (module docstring); `verbose` logs the per-clip logs and the report text.
    """
    cfg = _as_config(config)
    ds = load_dataset(dataset_dir)
    mining = config_from_dict(MiningConfig, ds.config, "dataset config")
    records = load_records_dir(records_dir) if records_dir is not None else []
    report = dataset_report(ds, mining, cfg, walking_report(ds, mining, records))
    if records:
        diags = [clip_diagnostic(rec, mining, str(p)) for p, rec in records]
        report["rollouts_source"] = "records"
    else:
        diags = [dict(r) for r in ds.rollouts]
        report["rollouts_source"] = "dataset"
    for d in diags:
        sat = (d.get("metrics") or {}).get("actuator_saturation_rate")
        d["actuator_saturation_ok"] = sat is not None and sat < cfg.actuator_saturation_max
    report["rollouts"] = diags
    report["clip_logs"] = [format_clip_log(d, cfg) for d in diags]
    report["report_text"] = format_report(report)

    if plots_dir is not None:
        plots_dir = Path(plots_dir)
        plots = {"window_histograms": str(plot_window_histograms(ds, mining.gates, plots_dir / "window_histograms.png", cfg.histogram_bins))}
        plots["walking_bands"] = str(plot_walking_bands(report["walking"], plots_dir / "walking_bands.png"))
        rec = _timeline_choice(ds, records, cfg)
        if rec is not None:
            plots["timeline"] = str(plot_timeline(rec, mining, plots_dir / "timeline.png"))
        report["plots"] = plots
    if verbose:
        for text in report["clip_logs"]:
            log.info("\n%s", text)
        log.info("\n%s", report["report_text"])
    return report


def write_json(obj: Mapping[str, Any], path: str | Path) -> Path:
    """Write a JSON report atomically (temp file, then rename)."""
    path = Path(path)
    text = json.dumps(obj, indent=1, allow_nan=False, default=_json_default)
    atomic_write_bytes(path, lambda f: f.write(text.encode()))
    return path


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns 0, or 2 on a bad input (the message names the file or key)."""
    ap = argparse.ArgumentParser(prog="python -m reference.analyze", description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True, help="directory with tier0plus.npz + tier0plus.json")
    ap.add_argument("--records", default=None, help="directory of rollout records (.npz) for per-clip logs and the timeline")
    ap.add_argument("--json-output", required=True, help="where to write the analysis JSON")
    ap.add_argument("--plots-dir", default=None, help="write PNG plots here")
    ap.add_argument("--config", default=str(DEFAULT_CONFIG_PATH), help="YAML with an analysis: section")
    ap.add_argument("--verbose", action="store_true", help="print the per-clip diagnostic logs")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        report = analyze_dataset(args.dataset, args.records, args.config, args.plots_dir, verbose=args.verbose)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_json(report, args.json_output)
    if not args.verbose:
        print(report["report_text"])
    print(f"analysis written to {args.json_output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
