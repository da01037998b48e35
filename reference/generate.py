"""Command line: physics reference generation, then Tier 0+ mining and the analysis.

    python -m reference.generate [--input-dir DIR] --output-dir DIR [--config configs/reference.yaml]
        [--multi-start-interval K] [--max-window-frames N] [--harness-cap F]
        [--max-harness-p95 F] [--min-load-support F] [--workers N] [--verbose]

Steps:
1. Load the clips of DIR (default: the project's library ``assets/clips/``) with the batch loader:
   rejected files are reported and skipped.
2. Resample each clip to 50 Hz and express it in its heading frame.
3. For every clip and every augmentation variant of ``generation.variants``: loop, track and
   record (`reference.rollout`), in parallel over ``--workers`` processes (default: all cores),
   with a progress bar. Each rollout's records go to ``OUTPUT/records/<clip>__<variant>.npz``
   (written atomically); the actuator saturation rate is reported per rollout and a warning
   printed above ``generation.saturation_warn_rate``.
4. ``OUTPUT/generation_summary.json``: per rollout frames, falls, mean time between falls,
   harness p95 / mg, saturation rate and forward progress between restarts (tracked and
   reference root displacement, m; their ratio is printed).
5. Mine the records (`reference.miner`: ``OUTPUT/tier0plus.npz`` + ``tier0plus.json``) and analyse
   the dataset (`reference.analyze`: ``OUTPUT/analysis.json``, ``OUTPUT/plots/``).

Records left in ``OUTPUT/records/`` by an earlier run are deleted first, so that the dataset and
the analysis see exactly this run's rollouts.

Flags override the config: ``--multi-start-interval`` and ``--harness-cap`` the ``generation:``
section (``multi_start_interval``, ``harness.cap_fraction``); ``--max-window-frames``,
``--max-harness-p95`` and ``--min-load-support`` the ``mining:`` section (``window_frames``,
``gates.harness_p95_max``, ``gates.load_mean_min``).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from wildrobot_gym.atomic_io import atomic_write_json
from wildrobot_gym.paths import CLIP_LIBRARY
from reference.clips import Clip, load_clips, resample, to_heading_frame
from reference.rollout import (
    DEFAULT_CONFIG,
    GenerationConfig,
    load_generation_config,
    load_records,
    records_filename,
    rollout_clip,
    forward_progress,
    save_records,
)

log = logging.getLogger("reference.generate")


# ----------------------------------------------------------------------------------------------
# Clips
# ----------------------------------------------------------------------------------------------
def prepare_clips(input_dir: str | Path, fps: float) -> tuple[list[Clip], list[tuple[str, str]]]:
    """Load every clip of `input_dir` (bad files are returned, not raised), at `fps`, heading frame."""
    clips, rejected = load_clips(input_dir)
    ready = []
    for clip in clips:
        try:
            c = clip if abs(clip.fps - fps) < 1e-9 else resample(clip, fps)
            ready.append(to_heading_frame(c))
        except ValueError as exc:  # e.g. too short after resampling: skip it like a bad file
            rejected.append((clip.name, str(exc)))
    return ready, rejected


# ----------------------------------------------------------------------------------------------
# Workers: one model per process, loaded once
# ----------------------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(cfg: GenerationConfig) -> None:
    """Process initializer: compile the model once per worker (and keep MuJoCo single-threaded)."""
    from reference.rollout import default_model
    from wildrobot_gym.robot import RobotSpec

    model = default_model()
    _WORKER.update(model=model, spec=RobotSpec.from_model(model), cfg=cfg)


def run_task(clip: Clip, variant: dict, records_dir: str) -> dict:
    """Roll out one clip variant, save its records atomically; return a small summary (no arrays)."""
    if not _WORKER:
        raise RuntimeError("run_task: worker not initialised (call _init_worker first)")
    t0 = time.perf_counter()
    rec = rollout_clip(_WORKER["model"], clip, _WORKER["cfg"], variant, _WORKER["spec"])
    wall = time.perf_counter() - t0
    path = save_records(rec, Path(records_dir) / records_filename(rec["clip"], rec["variant"]))
    return summarize_records(rec, path=str(path), wall_seconds=wall)


def summarize_records(rec: dict, path: str = "", wall_seconds: float = float("nan")) -> dict:
    """The per-rollout line of the generation summary."""
    mg = float(rec["weight"])
    frames = int(len(rec["qpos"]))
    falls = int(np.count_nonzero(rec["fallen"]))
    sim = frames / float(rec["fps"])
    harness = np.asarray(rec["harness_equiv_force"]) / mg
    tracked, reference = forward_progress(rec)
    return {
        "clip": rec["clip"],
        "variant": rec["variant"],
        "path": path,
        "frames": frames,
        "sim_seconds": sim,
        "wall_seconds": wall_seconds,
        "restarts": int(np.count_nonzero(rec["restart"])),
        "falls": falls,
        # Recorded time per fall: how long the tracker keeps the robot up, on average.
        "mean_seconds_between_falls": sim / falls if falls else None,
        "harness_p95_over_mg": float(np.percentile(harness, 95)) if frames else 0.0,
        "harness_saturated_fraction": float(np.mean(rec["harness_saturated"])) if frames else 0.0,
        "load_mean": float(np.mean(np.sum(rec["foot_force"], axis=1)) / mg) if frames else 0.0,
        "saturation_rate": float(rec["saturation_rate"]),
        # Walking the robot does by itself between restarts (restarts put it back on the reference).
        "progress_tracked_m": tracked,
        "progress_reference_m": reference,
    }


def generate_records(clips: list[Clip], cfg: GenerationConfig, records_dir: str | Path, workers: int = 1,
                     progress: bool = True) -> list[dict]:
    """Roll out every clip x variant in `workers` processes; returns the summaries sorted by name."""
    from tqdm import tqdm

    records_dir = Path(records_dir)
    records_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(clip, dict(v)) for clip in clips for v in cfg.variants]
    summaries: list[dict] = []
    bar = tqdm(total=len(tasks), unit="rollout", desc="reference", disable=not progress, file=sys.stderr)
    if workers <= 1:
        _init_worker(cfg)  # in-process: easier to debug and no pickling
        for clip, v in tasks:
            summaries.append(run_task(clip, v, str(records_dir)))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(cfg,)) as pool:
            futures = [pool.submit(run_task, clip, v, str(records_dir)) for clip, v in tasks]
            for fut in as_completed(futures):
                summaries.append(fut.result())
                bar.update()
    bar.close()
    summaries.sort(key=lambda s: (s["clip"], s["variant"]))
    return summaries


# ----------------------------------------------------------------------------------------------
# Mining and analysis (reference.miner / reference.analyze)
# ----------------------------------------------------------------------------------------------
def _deep_merge(base: dict, overrides: dict) -> dict:
    out = dict(base)
    for k, v in overrides.items():
        out[k] = _deep_merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def mining_overrides(args: argparse.Namespace) -> dict:
    """The `mining:` config overrides given on the command line."""
    out: dict[str, Any] = {}
    if args.max_window_frames is not None:
        out["window_frames"] = args.max_window_frames
    gates = {}
    if args.max_harness_p95 is not None:
        gates["harness_p95_max"] = args.max_harness_p95
    if args.min_load_support is not None:
        gates["load_mean_min"] = args.min_load_support
    if gates:
        out["gates"] = gates
    return out


def mine_and_analyze(records_dir: str | Path, output_dir: str | Path, config_path: str | Path,
                     overrides: dict, plots: bool = True, verbose: bool = False) -> dict:
    """Thin wrapper: records files -> `mine_records` -> `write_dataset` -> `analyze_dataset`.

    The dataset (tier0plus.npz / .json) and ``analysis.json`` (plus ``plots/``) go to `output_dir`.
    """
    from reference import miner
    from reference.analyze import analyze_dataset

    section = dict(miner.read_config_section(config_path, "mining"))
    cfg = miner.config_from_dict(miner.MiningConfig, _deep_merge(section, overrides), "mining")
    paths = sorted(Path(records_dir).glob("*.npz"))
    records = [load_records(p) for p in paths]
    dataset = miner.mine_records(records, cfg)
    npz_path, json_path = miner.write_dataset(dataset, output_dir)
    report = analyze_dataset(output_dir, records_dir=records_dir, config=config_path,
                             plots_dir=Path(output_dir) / "plots" if plots else None, verbose=verbose)
    _write_json(Path(output_dir) / "analysis.json", report)
    return {"dataset_npz": str(npz_path), "dataset_json": str(json_path),
            "tier0plus_seconds": float(dataset.total_seconds), "decision": report.get("decision"),
            "report": report}


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m reference.generate", description=__doc__.split("\n")[0])
    p.add_argument("--input-dir", default=None, help=f"clip folder (default: {CLIP_LIBRARY})")
    p.add_argument("--output-dir", required=True, help="records/, generation_summary.json and the dataset go here")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="YAML with generation:/mining:/analysis:")
    p.add_argument("--multi-start-interval", type=int, default=None, help="frames between physics restarts")
    p.add_argument("--max-window-frames", type=int, default=None, help="mining window length, frames")
    p.add_argument("--harness-cap", type=float, default=None, help="harness cap, fraction of m g")
    p.add_argument("--max-harness-p95", type=float, default=None, help="gate: p95 harness / m g")
    p.add_argument("--min-load-support", type=float, default=None, help="gate: mean load / m g")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="skip the analysis plots")
    p.add_argument("--verbose", action="store_true", help="per-rollout lines (saturation, falls, harness)")
    return p.parse_args(argv)


def _write_json(path: Path, obj: Any) -> None:
    """Atomic JSON write (temp file, then rename)."""
    atomic_write_json(path, obj)


def main(argv: list[str] | None = None) -> int:
    """Generate, mine, analyse; returns the exit status (1 when no clip could be used)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    overrides: dict[str, Any] = {}
    if args.multi_start_interval is not None:
        overrides["multi_start_interval"] = args.multi_start_interval
    if args.harness_cap is not None:
        overrides["harness"] = {"cap_fraction": args.harness_cap}
    try:
        cfg = load_generation_config(args.config, overrides)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = Path(args.output_dir)
    records_dir = out_dir / "records"
    input_dir = Path(args.input_dir) if args.input_dir else CLIP_LIBRARY
    clips, rejected = prepare_clips(input_dir, cfg.fps)
    for path, reason in rejected:
        print(f"rejected: {path}: {reason}", file=sys.stderr)
    if not clips:
        print(f"error: no usable clip in {input_dir}", file=sys.stderr)
        return 1
    print(f"{len(clips)} clip(s), {len(cfg.variants)} variant(s) each, {max(1, args.workers)} worker(s)")
    stale = sorted(records_dir.glob("*.npz"))
    if stale:
        print(f"removing {len(stale)} records file(s) of an earlier run from {records_dir}")
        for p in stale:
            p.unlink()
    t0 = time.perf_counter()
    summaries = generate_records(clips, cfg, records_dir, workers=max(1, args.workers),
                                 progress=not args.no_progress)
    wall = time.perf_counter() - t0
    sim = sum(s["sim_seconds"] for s in summaries)
    for s in summaries:
        flag = "  SATURATED" if s["saturation_rate"] > cfg.saturation_warn_rate else ""
        line = (f"{s['clip']}:{s['variant']}: {s['sim_seconds']:.1f} s recorded, {s['falls']} fall(s), "
                f"harness p95 {s['harness_p95_over_mg']:.3f} mg, saturated {100 * s['saturation_rate']:.1f} %{flag}")
        if args.verbose or flag:
            print(line)
        if flag:
            print(f"warning: {s['clip']}:{s['variant']}: actuator saturation {100 * s['saturation_rate']:.1f} % "
                  f"> {100 * cfg.saturation_warn_rate:.0f} %", file=sys.stderr)
    print(f"generated {sim:.1f} s of reference in {wall:.1f} s wall ({sim / max(wall, 1e-9):.1f} sim-s/s)")
    prog_t = sum(s["progress_tracked_m"] for s in summaries)
    prog_r = sum(s["progress_reference_m"] for s in summaries)
    print(f"forward progress between restarts: tracked {prog_t:.1f} m of the reference's {prog_r:.1f} m "
          f"({prog_t / prog_r if prog_r > 0 else float('nan'):.2f})")
    summary: dict[str, Any] = {"config": cfg.to_dict(), "input_dir": str(input_dir),
                               "rejected": [list(r) for r in rejected], "rollouts": summaries,
                               "sim_seconds": sim, "wall_seconds": wall}
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "generation_summary.json", summary)
    result = mine_and_analyze(records_dir, out_dir, args.config, mining_overrides(args),
                              plots=not args.no_plots, verbose=args.verbose)
    decision = result["decision"]
    decision = decision.get("decision", decision) if isinstance(decision, dict) else decision
    print(f"Tier 0+: {result['tier0plus_seconds']:.1f} s -> {result['dataset_npz']} (decision: {decision})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
