"""Window metrics, the Tier 0+ gates and the quality score (pipeline steps 3 and 5).

Pipeline, per rollout (steps 1-2: windows.py; 4 and 6: mining.py):

3. **Gates** (all must pass; `GateConfig`), with load = sum(Fn)/mg and harness = |F_stab|/mg:
   mean(load) >= 0.85, p10(load) >= 0.60, p90(harness) <= 0.15, p95(harness) <= 0.25 (0.10 is
   the seed's Blocker B target: tighten `harness_p95_max`), fraction of frames with the harness at
   its cap <= 5 %, fraction of frames with load < 0.60 <= 10 %, p95|pitch| <= 25 deg,
   p95|roll| <= 25 deg, stance slip rate <= 15 % (foot-frames with Fn > 0.10 mg whose foot slides
   faster than 0.10 m/s where it bears on the floor, `foot_slip_speed`, over all loaded foot-frames),
   and no fall frame.
5. **Score** per segment (from its metrics; seed): +1 if mean load >= 0.95, +1 if stance slip
   <= 0.05, +1 if p95 pitch and p95 roll <= 15 deg, -1 if p95 harness >= (1 - 0.2) * its limit.
   Alternation = fraction of frames with exactly one foot loaded (single stance).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from reference.miner.config import GateConfig, ScoreConfig
from reference.miner.records import frame_signals, validate_records

#: Per-window / per-segment metrics, in the order they are stored.
METRIC_NAMES: tuple[str, ...] = (
    "frames",
    "load_mean",
    "load_p10",
    "load_p95",
    "harness_mean",
    "harness_p90",
    "harness_p95",
    "harness_saturated_fraction",
    "unloaded_fraction",
    "pitch_p95_deg",
    "roll_p95_deg",
    "stance_slip_rate",
    "stance_foot_frames",
    "single_stance_fraction",
    "double_stance_fraction",
    "flight_fraction",
    "actuator_saturation_rate",
    "fall_fraction",
    "forward_velocity_mean",
)
GATE_NAMES: tuple[str, ...] = (
    "no_fall",
    "load_mean",
    "load_p10",
    "harness_p90",
    "harness_p95",
    "harness_saturated",
    "unloaded_fraction",
    "pitch_p95",
    "roll_p95",
    "stance_slip",
)


# ------------------------------------------------------------------------------------------------
# Metrics, gates, score
# ------------------------------------------------------------------------------------------------
def _metrics_batch(sig: Mapping[str, np.ndarray], idx: np.ndarray, gates: GateConfig) -> dict[str, np.ndarray]:
    """Metrics of windows given as (N, L) frame indices; every value is an (N,) array."""
    g = {k: v[idx] for k, v in sig.items()}  # (N, L, ...)
    load = g["foot_load"].sum(axis=-1)
    harness = g["harness_ratio"]
    loaded = g["foot_load"] > gates.stance_load_threshold  # (N, L, 2)
    slipping = loaded & (g["foot_slip_speed"] > gates.slip_speed_threshold)
    n_loaded = loaded.sum(axis=(1, 2))
    n_feet = loaded.sum(axis=-1)
    length = idx.shape[1]
    return {
        "frames": np.full(idx.shape[0], float(length)),
        "load_mean": load.mean(axis=1),
        "load_p10": np.percentile(load, 10, axis=1),
        "load_p95": np.percentile(load, 95, axis=1),
        "harness_mean": harness.mean(axis=1),
        "harness_p90": np.percentile(harness, 90, axis=1),
        "harness_p95": np.percentile(harness, 95, axis=1),
        "harness_saturated_fraction": g["harness_saturated"].mean(axis=1),
        "unloaded_fraction": (load < gates.unloaded_load_threshold).mean(axis=1),
        "pitch_p95_deg": np.degrees(np.percentile(np.abs(g["pitch"]), 95, axis=1)),
        "roll_p95_deg": np.degrees(np.percentile(np.abs(g["roll"]), 95, axis=1)),
        # No loaded foot-frame at all: no stance to slip (the load gates fail such a window anyway).
        "stance_slip_rate": slipping.sum(axis=(1, 2)) / np.maximum(n_loaded, 1),
        "stance_foot_frames": n_loaded.astype(np.float64),
        "single_stance_fraction": (n_feet == 1).mean(axis=1),
        "double_stance_fraction": (n_feet == 2).mean(axis=1),
        "flight_fraction": (n_feet == 0).mean(axis=1),
        "actuator_saturation_rate": g["torque_saturated"].mean(axis=(1, 2)),
        "fall_fraction": g["fallen"].mean(axis=1),
        "forward_velocity_mean": g["forward_velocity"].mean(axis=1),
    }


def window_metrics(sig: Mapping[str, np.ndarray], windows: np.ndarray, gates: GateConfig) -> dict[str, np.ndarray]:
    """Metrics of (N, 2) [start, length] windows of one rollout's `frame_signals`; (N,) arrays."""
    windows = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    out = {k: np.zeros(len(windows)) for k in METRIC_NAMES}
    for length in np.unique(windows[:, 1]):  # equal-length windows are one vectorised batch
        rows = np.flatnonzero(windows[:, 1] == length)
        idx = windows[rows, 0][:, None] + np.arange(length)[None, :]
        for k, v in _metrics_batch(sig, idx, gates).items():
            out[k][rows] = v
    return out


def span_metrics(sig: Mapping[str, np.ndarray], start: int, stop: int, gates: GateConfig) -> dict[str, float]:
    """Metrics of the frames [start, stop) as Python floats."""
    m = window_metrics(sig, np.array([[start, stop - start]]), gates)
    return {k: float(v[0]) for k, v in m.items()}


def gate_matrix(metrics: Mapping[str, np.ndarray], gates: GateConfig) -> dict[str, np.ndarray]:
    """Pass flag of every gate (name -> (N,) bool) for batched metrics."""
    m = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
    return {
        "no_fall": m["fall_fraction"] <= 0.0,
        "load_mean": m["load_mean"] >= gates.load_mean_min,
        "load_p10": m["load_p10"] >= gates.load_p10_min,
        "harness_p90": m["harness_p90"] <= gates.harness_p90_max,
        "harness_p95": m["harness_p95"] <= gates.harness_p95_max,
        "harness_saturated": m["harness_saturated_fraction"] <= gates.harness_saturated_max,
        "unloaded_fraction": m["unloaded_fraction"] <= gates.unloaded_fraction_max,
        "pitch_p95": m["pitch_p95_deg"] <= gates.pitch_p95_max_deg,
        "roll_p95": m["roll_p95_deg"] <= gates.roll_p95_max_deg,
        "stance_slip": m["stance_slip_rate"] <= gates.stance_slip_rate_max,
    }


_GATE_TEXT = {  # gate -> (metric, comparison, threshold attribute) for readable failure reasons
    "no_fall": ("fall_fraction", "<=", None),
    "load_mean": ("load_mean", ">=", "load_mean_min"),
    "load_p10": ("load_p10", ">=", "load_p10_min"),
    "harness_p90": ("harness_p90", "<=", "harness_p90_max"),
    "harness_p95": ("harness_p95", "<=", "harness_p95_max"),
    "harness_saturated": ("harness_saturated_fraction", "<=", "harness_saturated_max"),
    "unloaded_fraction": ("unloaded_fraction", "<=", "unloaded_fraction_max"),
    "pitch_p95": ("pitch_p95_deg", "<=", "pitch_p95_max_deg"),
    "roll_p95": ("roll_p95_deg", "<=", "roll_p95_max_deg"),
    "stance_slip": ("stance_slip_rate", "<=", "stance_slip_rate_max"),
}


@dataclass(frozen=True)
class GateResult:
    """Verdict of one span: its metrics, whether every gate passed, the failing gates and why."""

    metrics: dict[str, float]
    passed: bool
    failing: tuple[str, ...]
    reasons: tuple[str, ...]


def check_gates(metrics: Mapping[str, float], gates: GateConfig) -> GateResult:
    """Apply every Tier 0+ gate to one span's metrics (as from `span_metrics`)."""
    flags = gate_matrix({k: np.atleast_1d(v) for k, v in metrics.items()}, gates)
    failing = tuple(name for name in GATE_NAMES if not bool(flags[name][0]))
    reasons = []
    for name in failing:
        metric, op, attr = _GATE_TEXT[name]
        limit = 0.0 if attr is None else getattr(gates, attr)
        reasons.append(f"{name}: {metric} = {float(metrics[metric]):.3f}, needs {op} {limit:g}")
    return GateResult(dict(metrics), not failing, failing, tuple(reasons))


def gate_records(records: Mapping[str, Any], gates: GateConfig, start: int = 0, stop: int | None = None) -> GateResult:
    """Gate the frames [start, stop) of one rollout's records (whole rollout by default)."""
    t = validate_records(records)
    stop = t if stop is None else stop
    if not 0 <= start < stop <= t:
        raise ValueError(f"gate_records: bad span [{start}, {stop}) for {t} frames")
    return check_gates(span_metrics(frame_signals(records), start, stop, gates), gates)


def quality_score(metrics: Mapping[str, Any], gates: GateConfig, score: ScoreConfig) -> np.ndarray:
    """Seed's quality score, vectorised over (N,) metrics (a scalar metric dict gives a 0-d array)."""
    m = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
    s = (m["load_mean"] >= score.load_mean_bonus_min).astype(np.float64)
    s = s + (m["stance_slip_rate"] <= score.slip_rate_bonus_max)
    s = s + ((m["pitch_p95_deg"] <= score.attitude_bonus_max_deg) & (m["roll_p95_deg"] <= score.attitude_bonus_max_deg))
    s = s - (m["harness_p95"] >= (1.0 - score.harness_near_limit_fraction) * gates.harness_p95_max)
    return s
