"""Adapt a trained tracker to new clips: a short PPO fine-tune on those clips alone (issue 10).

The shipped tracker was trained on the gait library and human-like stand-ins of another seed; on a user's
retargeted clips (stiff knees, limit-clamped, slow, double-stance dominated) it falls more and walks less.
Issue 10 lets ``reference.generate`` adapt it within its own run (at most 20 minutes on 2 cores):
`adapt_tracker` fine-tunes it on exactly the clips that generation will track, for a step budget capped by a
wall-clock limit, and generation then runs the adapted bundle (``generation.adapt`` in configs/reference.yaml).

What it trains: the tracker's own config (its state.json's, or `tracker_config`) with ``reference.clips_dir``
= the clips, ``reference.clips: null`` and ``reference.human_like_clips: 0`` (the same variants, env, reward
and networks), the envs batched in this process (``training.vec_env: batched``, the fastest), no intermediate
checkpoints; started from the tracker's weights and observation normalisation and stopped after `minutes` or
`max_steps`: `reference.train_tracker.train`, the code path of ``train_tracker --init-from T --max-minutes M``.

The workdir is a tracker run directory (``config.yaml``, ``tb/``, ``checkpoints/``) plus the adapted bundle
``tracker.zip`` and ``adaptation.json`` (`ADAPTATION_FILE`, the figures printed at the end).

The figures: steps, wall time, and the fall rate and velocity ratio (tracked / reference distance) of the
training episodes that ended in the first and in the last rollouts (`window` rollouts each, default enough for
every env to finish its first episode, ``env.max_episode_steps / ppo.n_steps``, at most half of them). They
are the stochastic training policy's episodes, from random reference-state starts, not generation's
deterministic rollouts with restarts; generation's own figures (walking seconds) are the real test.
"""
from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any, Mapping

from wildrobot_gym.atomic_io import atomic_write_json
from wildrobot_gym.checkpoints import list_checkpoints, read_state, resolve_checkpoint
from wildrobot_gym.config.tracker import load_tracker_config, validate_tracker_config

ADAPTATION_FILE = "adaptation.json"
BUNDLE_NAME = "tracker.zip"
#: ``training.total_timesteps`` of a run that only the clock stops (the config needs a number).
UNLIMITED_STEPS = 10**12


def adaptation_config(source_config: Mapping[str, Any], clips_dir: str | Path, workdir: str | Path,
                      max_steps: int | None = None, seed: int = 0, generation_config: str | Path | None = None,
                      learning_rate: float | None = None, n_threads: int | None = None) -> dict:
    """The fine-tune's tracker config: `source_config` on the clips of `clips_dir` only (module docstring),
    checked (`validate_tracker_config`; a config saved before a later key gets its default)."""
    cfg = copy.deepcopy(dict(source_config))
    ref = cfg["reference"]
    ref.update(clips_dir=str(Path(clips_dir).resolve()), clips=None, human_like_clips=0, human_like_share=None)
    if generation_config is not None:  # the timelines loop the clips as this generation config does
        ref["generation_config"] = str(Path(generation_config).resolve())
    steps = int(max_steps) if max_steps is not None else UNLIMITED_STEPS
    t = cfg["training"]
    t.update(vec_env="batched", total_timesteps=steps, checkpoint_interval=steps, seed=int(seed),
             logdir=str(workdir))
    if n_threads is not None:
        t["n_workers"] = int(n_threads)
    if learning_rate is not None:
        cfg["ppo"]["learning_rate"] = float(learning_rate)
    return validate_tracker_config(cfg)


def _rate(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f} %"


def _ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def adapt_tracker(tracker_path: str | Path, clips_dir: str | Path, workdir: str | Path, minutes: float,
                  tracker_config: Mapping[str, Any] | str | Path | None = None, max_steps: int | None = None,
                  seed: int = 0, *, generation_config: str | Path | None = None, learning_rate: float | None = None,
                  n_threads: int | None = None, window: int | None = None, log_every: int = 10) -> Path:
    """Fine-tune the tracker of `tracker_path` (bundle .zip, checkpoint or run directory) on the clips of
    `clips_dir` for at most `minutes` wall-clock minutes (set-up included) and `max_steps` env steps (None: no
    cap; a started rollout of ``n_envs x n_steps`` steps is finished); returns the adapted bundle
    ``workdir/tracker.zip``. Prints and writes (``workdir/adaptation.json``) the figures of the module docstring.

    `tracker_config`: the config to fine-tune with instead of the tracker's own (a dict or a YAML path; its
    networks and observation must be the tracker's); `generation_config`: the reference.yaml whose
    ``generation:`` section loops the clips (default: the tracker config's); `learning_rate` (default: the
    config's) and `n_threads` (physics threads; default: the config's ``training.n_workers``).
    ValueError (naming the path) for a tracker that does not load, a workdir that already holds a run or a
    folder with no usable clip; a KeyboardInterrupt propagates."""
    from reference import train_tracker

    if not (isinstance(minutes, (int, float)) and math.isfinite(minutes) and minutes > 0):
        raise ValueError(f"adapt_tracker: minutes: expected a number > 0, got {minutes!r}")
    workdir = Path(workdir)
    if list_checkpoints(workdir / "checkpoints"):
        raise ValueError(f"adapt_tracker: {workdir} already holds a tracker run; pass an empty workdir")
    try:
        source = resolve_checkpoint(tracker_path)
        saved = read_state(source).get("config")
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise ValueError(f"adapt_tracker: cannot load the tracker {str(tracker_path)!r}: {e}") from None
    if tracker_config is None:
        if not saved or saved.get("phase") != "tracker":
            raise ValueError(f"adapt_tracker: {tracker_path} is not a tracker (no tracker config in its state.json)")
        base = saved
    elif isinstance(tracker_config, Mapping):
        base = tracker_config
    else:
        base = load_tracker_config(tracker_config)
    cfg = adaptation_config(base, clips_dir, workdir, max_steps, seed, generation_config, learning_rate, n_threads)
    try:  # the checks of --init-from (a tracker of this observation); they exit naming the path
        train_tracker.check_init("adapt_tracker", source, cfg)
    except SystemExit as e:
        raise ValueError(str(e)) from None

    budget = f"{minutes:g} min" + (f" / {max_steps:,} steps" if max_steps is not None else "")
    print(f"adapting the tracker {tracker_path} to the clips of {clips_dir} ({budget}, "
          f"learning rate {cfg['ppo']['learning_rate']:g}) -> {workdir}", flush=True)
    t0 = time.perf_counter()
    try:
        run = train_tracker.train(cfg, workdir, workdir / "checkpoints", init=source, max_minutes=float(minutes),
                                  export=workdir / BUNDLE_NAME, log_every=log_every, progress_bar=False,
                                  catch_interrupt=False)
    except SystemExit as e:  # load_normalize / load_weights name the file
        raise ValueError(f"adapt_tracker: {e}") from None
    rollouts = run.rollouts
    if window is None:
        window = max(1, math.ceil(cfg["env"]["max_episode_steps"] / cfg["ppo"]["n_steps"]))
    w = max(1, min(int(window), len(rollouts) // 2)) if rollouts else 0
    before = train_tracker.window_stats(rollouts[:w])
    after = train_tracker.window_stats(rollouts[-w:] if w else [])
    report = {
        "source": str(tracker_path), "clips_dir": str(clips_dir), "bundle": str(run.exported),
        "minutes_budget": float(minutes), "max_steps": max_steps, "learning_rate": cfg["ppo"]["learning_rate"],
        "seed": int(seed), "steps": run.steps, "seconds": time.perf_counter() - t0,
        "learn_seconds": run.learn_seconds, "stopped": run.stopped, "rollouts": len(rollouts),
        "window_rollouts": w, "before": before, "after": after,
    }
    atomic_write_json(workdir / ADAPTATION_FILE, report)
    print(f"adapted the tracker: {describe(report)} (first / last {w} rollout(s), {before['episodes']} / "
          f"{after['episodes']} episodes; {run.steps / max(run.learn_seconds, 1e-9):,.0f} steps/s, stopped by "
          f"{run.stopped}) -> {run.exported}", flush=True)
    return run.exported


def describe(report: Mapping[str, Any]) -> str:
    """One line of an adaptation's figures (`read_adaptation`), for logs."""
    b, a = report["before"], report["after"]
    return (f"{report['steps']:,} steps in {report['seconds'] / 60:.1f} min, training episodes' fall rate "
            f"{_rate(b['fall_rate'])} -> {_rate(a['fall_rate'])}, velocity ratio {_ratio(b['velocity_ratio'])} -> "
            f"{_ratio(a['velocity_ratio'])}")


def read_adaptation(workdir: str | Path) -> dict:
    """The figures an `adapt_tracker` run wrote into `workdir`."""
    import json

    return json.loads((Path(workdir) / ADAPTATION_FILE).read_text())
