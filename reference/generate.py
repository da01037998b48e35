"""Command line: physics reference generation, then Tier 0+ mining and the analysis.

    python -m reference.generate [--input-dir DIR] --output-dir DIR [--config configs/reference.yaml]
        [--multi-start-interval K] [--max-window-frames N] [--harness-cap F]
        [--max-harness-p95 F] [--min-load-support F] [--adapt {auto,always,never}] [--adapt-minutes M]
        [--workers N] [--verbose]

Steps:
1. Load the clips of DIR (default: the project's library ``assets/clips/``) with the batch loader:
   rejected files are reported and skipped. So are clips that load but are no walking data or
   would blow up the run: fps outside ``generation.min_clip_fps`` .. ``max_clip_fps``, longer than
   ``generation.max_clip_seconds``, or joints moving less than ``generation.min_joint_motion``.
2. Resample each clip to 50 Hz and express it in its heading frame.
   Adaptation (``generation.adapt``, `adaptation_decision`): with the learned tracker and clips that are not
   the shipped gait library (``auto``, the default; ``always`` / ``never`` force it) a tracker
   (`adaptation_source`: ``generation.adapt_from``, else ``tracker_path``, else the shipped general tracker) is
   first fine-tuned on the clips of DIR for ``generation.adapt_max_steps`` env steps, stopped earlier at
   ``generation.adapt_minutes`` (at most 20; a step budget keeps the result independent of the machine's load),
   in this process on ``--workers`` physics threads (`reference.tracker.adapt.adapt_tracker`): the shipped
   trackers generalise poorly to clips they never saw. Its run, the adapted bundle and ``adaptation.json`` go to
   ``OUTPUT/tracker_adapted/``, the generation below runs that bundle, and what happened (minutes, steps, the
   training episodes' fall rate and velocity ratio before / after) is printed and recorded under
   ``adaptation`` in the summary.
3. For every clip and every augmentation variant of ``generation.variants``: loop, track and
   record (`reference.rollout`), in parallel over ``--workers`` processes (default: all cores),
   with a progress bar. A rollout that fails is reported and skipped; the others go on. Each
   rollout's records go to ``OUTPUT/records/<clip>__<variant>.npz`` (written atomically); the
   actuator saturation rate is reported per rollout and a warning printed above
   ``generation.saturation_warn_rate``.
4. ``OUTPUT/generation_summary.json``: per rollout frames, falls, mean time between falls,
   harness p95 / mg, saturation rate and forward progress between restarts (tracked and
   reference root displacement, m; their ratio is printed).
5. Mine the records (`reference.miner`: ``OUTPUT/tier0plus.npz`` + ``tier0plus.json``) and analyse
   the dataset (`reference.analyze`: ``OUTPUT/analysis.json``, ``OUTPUT/plots/``).

The run writes into a fresh folder next to OUTPUT (``OUTPUT.tmp-<pid>``) and swaps it in only when
it succeeded (OUTPUT renamed aside, the new folder renamed in, the old one deleted): a failed or
interrupted run leaves the previous OUTPUT whole, and the dataset and the analysis see exactly this
run's rollouts. Leftovers of a killed run (``OUTPUT.tmp-*`` / ``OUTPUT.old-*`` of a dead process) are
cleared at the next start. An existing OUTPUT that is not an earlier run's output (no
``generation_summary.json`` nor ``records/``) is never replaced.

Flags override the config: ``--multi-start-interval``, ``--harness-cap``, ``--adapt`` and ``--adapt-minutes``
the ``generation:`` section (``multi_start_interval``, ``harness.cap_fraction``, ``adapt``, ``adapt_minutes``);
``--max-window-frames``,
``--max-harness-p95`` and ``--min-load-support`` the ``mining:`` section (``window_frames``,
``gates.harness_p95_max``, ``gates.load_mean_min``).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from wildrobot_gym.atomic_io import atomic_write_json
from wildrobot_gym.paths import CLIP_LIBRARY
from reference.clips import Clip, ClipLimits, load_clips, resample, to_heading_frame
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
def clip_limits(cfg: GenerationConfig) -> ClipLimits:
    """The clip admission bounds of the `generation:` config."""
    return ClipLimits(min_fps=cfg.min_clip_fps, max_fps=cfg.max_clip_fps, max_seconds=cfg.max_clip_seconds,
                      min_joint_motion=cfg.min_joint_motion, generation_fps=cfg.fps)


def prepare_clips(input_dir: str | Path, fps: float,
                  limits: ClipLimits | None = None) -> tuple[list[Clip], list[tuple[str, str]]]:
    """Load every clip of `input_dir` (bad files are returned, not raised), at `fps`, heading frame.

    With `limits`, clips outside them are rejected before resampling (which they could blow up).
    """
    clips, rejected = load_clips(input_dir, limits)
    ready = []
    for clip in clips:
        source = clip.metadata.get("source_path", clip.name)
        try:
            c = clip if abs(clip.fps - fps) < 1e-9 else resample(clip, fps)
            if c.num_frames < 2:  # the timeline needs two frames; fail here, by name, not in a worker
                raise ValueError(f"{source}: spans under 2 frames at {fps:g} Hz")
            ready.append(to_heading_frame(c))
        except ValueError as exc:  # skip it like a bad file
            rejected.append((source, str(exc)))
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


def _failure(clip: Clip, variant: dict, exc: BaseException) -> tuple[str, str]:
    """(`clip:variant`, reason) of a rollout that raised."""
    return f"{clip.name}:{variant.get('name')}", f"{type(exc).__name__}: {exc}"


def generate_records(clips: list[Clip], cfg: GenerationConfig, records_dir: str | Path, workers: int = 1,
                     progress: bool = True, start_method: str | None = None) -> tuple[list[dict], list[tuple[str, str]]]:
    """Roll out every clip x variant in `workers` processes (started by `start_method`; None: the platform's
    default, fork on Linux).

    Returns the summaries sorted by name and the failed rollouts as (`clip:variant`, reason): one
    rollout that raises (even MemoryError) is reported and skipped, never the end of the batch.
    """
    from tqdm import tqdm

    records_dir = Path(records_dir)
    records_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(clip, dict(v)) for clip in clips for v in cfg.variants]
    summaries: list[dict] = []
    failed: list[tuple[str, str]] = []
    bar = tqdm(total=len(tasks), unit="rollout", desc="reference", disable=not progress, file=sys.stderr)
    if workers <= 1:
        _init_worker(cfg)  # in-process: easier to debug and no pickling
        for clip, v in tasks:
            try:
                summaries.append(run_task(clip, v, str(records_dir)))
            except Exception as exc:
                failed.append(_failure(clip, v, exc))
            bar.update()
    else:
        context = multiprocessing.get_context(start_method) if start_method else None
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(cfg,),
                                 mp_context=context) as pool:
            futures = {pool.submit(run_task, clip, v, str(records_dir)): (clip, v) for clip, v in tasks}
            for fut in as_completed(futures):
                try:
                    summaries.append(fut.result())
                except Exception as exc:  # includes a worker that died (BrokenProcessPool)
                    failed.append(_failure(*futures[fut], exc))
                bar.update()
    bar.close()
    summaries.sort(key=lambda s: (s["clip"], s["variant"]))
    failed.sort()
    return summaries, failed


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
# Adapting the learned tracker to the clips (reference.tracker.adapt)
# ----------------------------------------------------------------------------------------------
ADAPT_DIR = "tracker_adapted"


def adaptation_decision(cfg: GenerationConfig, input_dir: str | Path) -> tuple[bool, str]:
    """Whether this run adapts the learned tracker to the clips of `input_dir` (``generation.adapt``), and why."""
    if cfg.adapt == "never":
        return False, "generation.adapt: never"
    if cfg.tracker != "learned":
        return False, f"generation.tracker: {cfg.tracker} (only the learned tracker is adapted)"
    if cfg.adapt == "always":
        return True, "generation.adapt: always"
    if Path(input_dir).resolve() == CLIP_LIBRARY.resolve():
        return False, "generation.adapt: auto, and the clips are the shipped gait library (the tracker trained on them)"
    return True, "generation.adapt: auto, and the clips are not the shipped gait library"


def adaptation_source(cfg: GenerationConfig) -> str | Path:
    """The tracker an adaptation starts from: ``generation.adapt_from``, else ``generation.tracker_path``, else
    the shipped general tracker (the library tracker generalises worse to unseen clips: docs/results/tracker.md)."""
    from wildrobot_gym.config.tracker import DEFAULT_GENERAL_TRACKER_PATH

    return cfg.adapt_from or cfg.tracker_path or DEFAULT_GENERAL_TRACKER_PATH


def adapt_for_clips(cfg: GenerationConfig, input_dir: Path, config_path: str | Path, work: Path, out_dir: Path,
                    threads: int) -> tuple[GenerationConfig, dict]:
    """Fine-tune `adaptation_source` on the clips of `input_dir` into ``work/tracker_adapted/``; returns
    the config that generates with the adapted bundle and the summary's ``adaptation`` entry (its paths those
    of OUTPUT, where `work` is swapped in)."""
    from reference.tracker.adapt import ADAPTATION_FILE, adapt_tracker, read_adaptation

    source = adaptation_source(cfg)
    workdir = work / ADAPT_DIR
    bundle = adapt_tracker(source, input_dir, workdir, cfg.adapt_minutes, max_steps=cfg.adapt_max_steps,
                           generation_config=config_path, n_threads=threads)
    report = read_adaptation(workdir)
    final = out_dir / ADAPT_DIR
    report.update(bundle=str(final / bundle.name), workdir=str(final), source=str(source))
    _write_json(workdir / ADAPTATION_FILE, report)  # its paths too: OUTPUT's
    # The adapted tracker learned these clips, the fast ones among them: it tracks every clip.
    return dataclasses.replace(cfg, tracker_path=str(bundle), fast_tracker_min_speed=None), report


# ----------------------------------------------------------------------------------------------
# Output folder: built aside, swapped in whole
# ----------------------------------------------------------------------------------------------
def _sibling(out_dir: Path, kind: str, pid: int) -> Path:
    """`OUTPUT.<kind>-<pid>` in OUTPUT's parent: same filesystem, so the renames are atomic."""
    return out_dir.with_name(f"{out_dir.name}.{kind}-{pid}")


def _pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (signal 0 only checks; it sends nothing)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none, or a pid no process can have
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _stale_siblings(out_dir: Path, kind: str) -> list[Path]:
    """`OUTPUT.<kind>-<pid>` folders left by dead processes (or an earlier call of this one)."""
    stale = []
    prefix = f"{out_dir.name}.{kind}-"
    for p in out_dir.parent.iterdir():  # not glob: OUTPUT's name may hold glob characters
        pid = p.name[len(prefix):] if p.name.startswith(prefix) else ""
        if pid.isdigit() and (int(pid) == os.getpid() or not _pid_alive(int(pid))):
            stale.append(p)
    return sorted(stale, key=lambda p: p.stat().st_mtime)


def clear_stale_runs(out_dir: Path) -> None:
    """Remove what a killed run left next to OUTPUT; a run killed mid-swap gets its old OUTPUT back."""
    for p in _stale_siblings(out_dir, "tmp"):
        print(f"removing {p} (left by an interrupted run)", file=sys.stderr)
        shutil.rmtree(p, ignore_errors=True)
    for p in reversed(_stale_siblings(out_dir, "old")):  # newest first: the last good output
        if not out_dir.exists():
            print(f"restoring {out_dir} from {p} (a run was interrupted while swapping it)", file=sys.stderr)
            os.rename(p, out_dir)
        else:
            shutil.rmtree(p, ignore_errors=True)


def check_replaceable(out_dir: Path) -> None:
    """Raise ValueError unless OUTPUT is absent, empty, or an earlier run's output (it gets replaced whole)."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ValueError(f"--output-dir {out_dir}: exists and is not a folder")
    earlier = (out_dir / "generation_summary.json").is_file() or (out_dir / "records").is_dir()
    if not earlier and any(out_dir.iterdir()):
        raise ValueError(f"--output-dir {out_dir}: not empty and not an earlier run's output (no "
                         f"generation_summary.json nor records/); refusing to replace it: pass a new or empty folder")


def start_run_dir(out_dir: Path) -> Path:
    """A fresh, empty `OUTPUT.tmp-<pid>` for this run (stale leftovers cleared first)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_runs(out_dir)
    work = _sibling(out_dir, "tmp", os.getpid())
    work.mkdir()
    return work


def swap_in(work: Path, out_dir: Path) -> None:
    """Make `work` the new OUTPUT: old one renamed aside, new one renamed in, old one deleted."""
    old = _sibling(out_dir, "old", os.getpid())
    if old.exists():
        shutil.rmtree(old)
    if out_dir.exists():
        os.rename(out_dir, old)
    os.rename(work, out_dir)
    shutil.rmtree(old, ignore_errors=True)


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
    p.add_argument("--adapt", choices=("auto", "always", "never"), default=None,
                   help="adapt the learned tracker to the clips first (default: generation.adapt)")
    p.add_argument("--adapt-minutes", type=float, default=None,
                   help="wall-clock cap of the adaptation, min (default: generation.adapt_minutes, at most 20)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="skip the analysis plots")
    p.add_argument("--verbose", action="store_true", help="per-rollout lines (saturation, falls, harness)")
    return p.parse_args(argv)


def _write_json(path: Path, obj: Any) -> None:
    """Atomic JSON write (temp file, then rename)."""
    atomic_write_json(path, obj)


def _report_rollouts(summaries: list[dict], failed: list[tuple[str, str]], cfg: GenerationConfig,
                     wall: float, verbose: bool) -> float:
    """Print the per-rollout lines, warnings and failures and the totals; returns the simulated seconds."""
    sim = sum(s["sim_seconds"] for s in summaries)
    for s in summaries:
        flag = "  SATURATED" if s["saturation_rate"] > cfg.saturation_warn_rate else ""
        line = (f"{s['clip']}:{s['variant']}: {s['sim_seconds']:.1f} s recorded, {s['falls']} fall(s), "
                f"harness p95 {s['harness_p95_over_mg']:.3f} mg, saturated {100 * s['saturation_rate']:.1f} %{flag}")
        if verbose or flag:
            print(line)
        if flag:
            print(f"warning: {s['clip']}:{s['variant']}: actuator saturation {100 * s['saturation_rate']:.1f} % "
                  f"> {100 * cfg.saturation_warn_rate:.0f} %", file=sys.stderr)
    for name, reason in failed:
        print(f"failed: {name}: {reason}", file=sys.stderr)
    print(f"generated {sim:.1f} s of reference in {wall:.1f} s wall ({sim / max(wall, 1e-9):.1f} sim-s/s)")
    prog_t = sum(s["progress_tracked_m"] for s in summaries)
    prog_r = sum(s["progress_reference_m"] for s in summaries)
    print(f"forward progress between restarts: tracked {prog_t:.1f} m of the reference's {prog_r:.1f} m "
          f"({prog_t / prog_r if prog_r > 0 else float('nan'):.2f})")
    return sim


def run_generation(args: argparse.Namespace, cfg: GenerationConfig, clips: list[Clip], rejected: list[tuple[str, str]],
        input_dir: Path, work: Path, out_dir: Path) -> int:
    """Adapt the tracker (when ``generation.adapt`` says so), generate, mine and analyse into `work`; paths
    written down are the final ones under `out_dir`."""
    adapt, reason = adaptation_decision(cfg, input_dir)
    adaptation: dict[str, Any] = {"adapted": adapt, "mode": cfg.adapt, "reason": reason}
    final_cfg = cfg
    if adapt:
        print(f"adapting the learned tracker: {reason}")
        try:
            cfg, report = adapt_for_clips(cfg, input_dir, args.config, work, out_dir, max(1, args.workers))
        except ValueError as exc:  # a tracker that does not load or fit: named in the message
            print(f"error: adapting the tracker failed: {exc}; the previous output is left as it was", file=sys.stderr)
            return 2
        adaptation.update(report)
        final_cfg = dataclasses.replace(cfg, tracker_path=report["bundle"])  # cfg: adapt_for_clips' (one tracker)
    elif cfg.tracker == "learned":
        print(f"tracker not adapted: {reason}")
    tracker = cfg.tracker if cfg.tracker == "feedback" else f"learned ({final_cfg.tracker_path or 'shipped'})"
    if cfg.tracker == "learned" and cfg.fast_tracker_min_speed is not None:
        tracker += (f", clips from {cfg.fast_tracker_min_speed:g} m/s: learned "
                    f"({final_cfg.fast_tracker_path or 'shipped fast tracker'})")
    print(f"{len(clips)} clip(s), {len(cfg.variants)} variant(s) each, {max(1, args.workers)} worker(s), tracker {tracker}")
    t0 = time.perf_counter()
    # After an adaptation this process has run torch and MuJoCo's thread pools: a worker forked from it can
    # deadlock on a lock some thread held at the fork (seen: both workers stuck at start, 0 s of CPU). The
    # workers then start from the clean forkserver process instead.
    summaries, failed = generate_records(clips, cfg, work / "records", workers=max(1, args.workers),
                                         progress=not args.no_progress, start_method="forkserver" if adapt else None)
    wall = time.perf_counter() - t0
    sim = _report_rollouts(summaries, failed, cfg, wall, args.verbose)
    if not summaries:
        print("error: every rollout failed; the previous output is left as it was", file=sys.stderr)
        return 1
    for s in summaries:  # where the records will be once this run's folder is swapped in
        s["path"] = str(out_dir / "records" / Path(s["path"]).name)
    summary: dict[str, Any] = {"config": final_cfg.to_dict(), "input_dir": str(input_dir),
                               "rejected": [list(r) for r in rejected], "failed": [list(f) for f in failed],
                               "rollouts": summaries, "sim_seconds": sim, "wall_seconds": wall,
                               "adaptation": adaptation}
    _write_json(work / "generation_summary.json", summary)
    result = mine_and_analyze(work / "records", work, args.config, mining_overrides(args),
                              plots=not args.no_plots, verbose=args.verbose)
    decision = result["decision"]
    decision = decision.get("decision", decision) if isinstance(decision, dict) else decision
    print(f"Tier 0+: {result['tier0plus_seconds']:.1f} s -> {out_dir / Path(result['dataset_npz']).name} "
          f"(decision: {decision})")
    if adaptation["adapted"]:
        from reference.tracker.adapt import describe

        print(f"tracker adapted to these clips: {describe(adaptation)} -> {adaptation['bundle']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Generate, mine, analyse; returns the exit status (1 when no clip could be used, 2 on a bad setup)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    overrides: dict[str, Any] = {}
    if args.multi_start_interval is not None:
        overrides["multi_start_interval"] = args.multi_start_interval
    if args.harness_cap is not None:
        overrides["harness"] = {"cap_fraction": args.harness_cap}
    if args.adapt is not None:
        overrides["adapt"] = args.adapt
    if args.adapt_minutes is not None:
        overrides["adapt_minutes"] = args.adapt_minutes
    out_dir = Path(args.output_dir).resolve()
    try:
        cfg = load_generation_config(args.config, overrides)
        check_replaceable(out_dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    input_dir = Path(args.input_dir) if args.input_dir else CLIP_LIBRARY
    clips, rejected = prepare_clips(input_dir, cfg.fps, clip_limits(cfg))
    for path, reason in rejected:
        print(f"rejected: {path}: {reason}", file=sys.stderr)
    if not clips:
        print(f"error: no usable clip in {input_dir}", file=sys.stderr)
        return 1
    work = start_run_dir(out_dir)
    try:
        status = run_generation(args, cfg, clips, rejected, input_dir, work, out_dir)
        if status == 0:
            swap_in(work, out_dir)
        return status
    finally:  # failed or interrupted: drop this run's folder, the previous output stays whole
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
