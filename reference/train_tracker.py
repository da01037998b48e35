"""Train the learned tracking controller (reference/tracker) with the project's PPO stack.

    python -m reference.train_tracker [--config configs/tracker.yaml] [--logdir runs/tracker] [--resume]
        [--init-from TRACKER] [--max-minutes M] [--total-timesteps N] [--n-envs N] [--n-workers N]
        [--export wildrobot_gym/assets/trackers/tracker.zip]

As training/train_ppo.py (whose pieces it imports): the config checked first (wildrobot_gym/config/tracker.py)
-> ``training.n_envs`` `TrackingEnv`s (``vec_env: batched``: all in this process on MuJoCo's batch API,
`BatchedTrackingVecEnv`, with ``training.n_workers`` physics threads, 0: one per core; ``subprocess``: over
``n_workers`` worker processes, `BatchedSubprocVecEnv`, or with ``n_workers: 0`` one by one in this process
as ``dummy``) -> VecNormalize -> SB3 PPO
(fresh, or resumed from the latest checkpoint of --logdir: weights, optimiser, normalisation, step count)
-> callbacks -> learn -> a final checkpoint, also on Ctrl-C or SIGTERM.

``--init-from TRACKER`` (a tracker checkpoint directory, a run directory: its latest checkpoint, or a policy
bundle .zip) starts a fresh run from that tracker's weights and observation normalisation, as train_ppo.py's
--init-from does (its step count starts at 0; ignored with --resume): a fine-tune, e.g. on a user's clips
(`reference.tracker.adapt`, which ``reference.generate`` runs). A checkpoint that is no tracker, or whose
observation size is not this config's (``env.ref_joint_offsets`` / ``ref_velocity_offsets`` differ), is
refused naming it, before the run directory is written. ``--max-minutes M`` stops the run at the first env
step after M wall-clock minutes from its start (set-up included; a PPO update under way finishes first)
and still writes the final checkpoint (and --export).

`train` is the run itself (config in, `TrainingRun` out), shared by `main` and the adaptation.

Logdir: ``config.yaml`` (the run's config; --resume keeps it, a different --config is refused unless
--override-config), ``tb/`` (TensorBoard), ``checkpoints/step_<N>/`` (the safe format of
wildrobot_gym/checkpoints.py: nothing is unpickled when loading). ``--export PATH`` also writes the final
checkpoint as a policy bundle (the file generation loads, ``generation.tracker_path``) without the optimizer's
moments (`export_policy` ``optimizer_state=False``: two thirds of the file; generation never trains it;
--resume continues from the checkpoint directory, which keeps them).

TensorBoard, per rollout, over the episodes that ended in it: ``tracking/joint_error`` (mean RMS joint
error, rad), ``tracking/forward_velocity`` and ``tracking/reference_velocity`` (m/s), ``tracking/velocity_ratio``
(tracked / reference distance), ``tracking/position_error`` (m), ``tracking/fall_rate``, ``episode/length``,
``episode/return``, ``reward/<term>``, ``falls/<reason>`` (``drift`` and ``heading`` are the tracker's own
terminations), ``time/steps_per_second`` and PPO's ``train/*``. A progress line every --log-every updates
prints the measured steps/s; the run ends with the overall figure.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # training/ is not a package of the wheel

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback, CallbackList  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv  # noqa: E402

from training.common import (  # noqa: E402
    BundleCheckpoint, CheckpointCallback, EpisodeStatsCallback, ProgressLine, TorchThreadsCallback, export_policy,
    make_logger, open_checkpoint, ppo_kwargs, read_state, resolve_checkpoint, save_checkpoint, set_torch_threads,
)
from training.train_ppo import (  # noqa: E402
    _write_yaml_atomic, close_progress_bar, load_normalize, load_weights, make_progress_bar, resolve_run_config,
    resume_model, start_run,
)
from reference.tracker.assist import AssistSchedule, wants_assist  # noqa: E402
from wildrobot_gym.config.tracker import DEFAULT_TRACKER_CONFIG, load_tracker_config, validate_tracker_config  # noqa: E402
from wildrobot_gym.vec_env import BatchedSubprocVecEnv  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m reference.train_tracker", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=None,
                   help=f"tracker config (default {DEFAULT_TRACKER_CONFIG.name}; with --resume: the run's config.yaml)")
    p.add_argument("--logdir", type=Path, default=None, help="run directory (default: training.logdir)")
    p.add_argument("--resume", action="store_true", help="continue the latest checkpoint in --logdir")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from this tracker's weights and normalisation (checkpoint, run dir or bundle .zip)")
    p.add_argument("--max-minutes", type=_positive_minutes, default=None,
                   help="stop after this many wall-clock minutes (the final checkpoint is still written)")
    p.add_argument("--override-config", action="store_true",
                   help="with --resume: use --config even though it differs from the run's config.yaml")
    p.add_argument("--total-timesteps", type=int, default=None, help="env steps in all (a resumed run counts its past)")
    p.add_argument("--n-envs", type=int, default=None, help="parallel envs (default: training.n_envs)")
    p.add_argument("--n-workers", type=int, default=None, help="worker processes, 0 = in-process (vec_env batched: physics threads, 0 = one per core)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--checkpoint-interval", type=int, default=None, help="env steps between checkpoints")
    p.add_argument("--export", type=Path, default=None, help="also write the final checkpoint as a policy bundle here")
    p.add_argument("--log-every", type=int, default=5, help="a progress line every N PPO updates; 0: never")
    p.add_argument("--no-progress-bar", action="store_true")
    p.add_argument("--verbose", type=int, default=0, help="1: SB3's tables and checkpoint paths")
    return p.parse_args(argv)


def _positive_minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of minutes > 0, got {text!r}")
    return value


def resolve_config(args: argparse.Namespace) -> tuple[dict, Path]:
    """The run's config (command-line overrides applied, checked) and its logdir: train_ppo's rules."""
    return resolve_run_config(args, load_tracker_config, validate_tracker_config, DEFAULT_TRACKER_CONFIG, "tracker")


class TrackerEnvFactory:
    """A picklable `TrackingEnv` factory (worker processes build their envs from it; the references are
    built once per process, `reference.tracker.library.training_references`)."""

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.cfg = dict(cfg)

    def __call__(self):
        from reference.tracker.env import TrackingEnv

        return TrackingEnv(self.cfg)


def make_tracker_vec_env(cfg: Mapping[str, Any]) -> VecEnv:
    """``training.n_envs`` tracking envs: batched in this process on ``n_workers`` physics threads (0: one per
    core), or over ``n_workers`` processes, or one by one in this process (dummy, or subprocess with 0 workers)."""
    t = cfg["training"]
    if t["vec_env"] == "batched":
        from reference.tracker.batch_env import BatchedTrackingVecEnv

        return BatchedTrackingVecEnv(cfg, t["n_envs"], n_threads=t["n_workers"])
    fns = [TrackerEnvFactory(cfg) for _ in range(t["n_envs"])]
    if t["vec_env"] == "dummy" or t["n_workers"] == 0:
        return DummyVecEnv(fns)
    return BatchedSubprocVecEnv(fns, n_workers=t["n_workers"], start_method=t["start_method"])


def _vec_env_words(t: Mapping[str, Any]) -> str:
    """How the envs are stepped, for the start line."""
    if t["vec_env"] == "batched":
        return f"batched in this process on {t['n_workers'] or 'one per core'} physics thread(s)"
    return f"over {t['n_workers'] if t['vec_env'] != 'dummy' else 0} worker(s)"


class TrackingProgressLine(ProgressLine):
    """The progress line: steps/s, joint error, velocity ratio, episode length and fall rate."""

    def start(self, step: int) -> None:
        self._t, self._step = time.perf_counter(), step
        self._n = 0
        self._sum = {"joint_error": 0.0, "length": 0.0, "success": 0.0, "tracked_distance": 0.0,
                     "reference_distance": 0.0}

    def add(self, stats: Mapping[str, float]) -> None:
        self._n += 1
        for k in self._sum:
            self._sum[k] += stats.get(k, 0.0)

    def take(self, step: int) -> str:
        self.rate = (step - self._step) / max(time.perf_counter() - self._t, 1e-9)
        line = f"step {step:,}  {self.rate:,.0f} steps/s  "
        if self._n:
            s, n = self._sum, self._n
            ratio = s["tracked_distance"] / s["reference_distance"] if s["reference_distance"] > 1e-9 else float("nan")
            line += (f"joint err {s['joint_error'] / n:.3f} rad  v ratio {ratio:.2f}  len {s['length'] / n:.0f}  "
                     f"falls {100 * (1 - s['success'] / n):.0f}%  ({n} ep)")
        else:
            line += "(no episode ended)"
        self.start(step)
        return line


class TrackingStatsCallback(EpisodeStatsCallback):
    """`EpisodeStatsCallback` with the tracking metrics (module docstring), from ``info["episode_stats"]``.

    `history` keeps one entry per rollout (``step``, ``episodes``, ``falls``, ``tracked_distance``,
    ``reference_distance``: sums over the episodes that ended in it), which `window_stats` turns into a fall
    rate and a velocity ratio over any span of rollouts (the adaptation's before / after)."""

    GROUPS = {
        "joint_error": "tracking/joint_error", "forward_velocity": "tracking/forward_velocity",
        "reference_velocity": "tracking/reference_velocity", "position_error": "tracking/position_error",
        "success": "episode/success_rate", "length": "episode/length", "return": "episode/return",
    }

    def __init__(self, print_every: int = 0) -> None:
        super().__init__(print_every=print_every)
        self._line = TrackingProgressLine()
        self.history: list[dict[str, float]] = []

    def _on_rollout_end(self) -> None:
        n = self._episodes
        self.history.append({"step": int(self.num_timesteps), "episodes": n,
                             "falls": n - self._sums.get("success", 0.0),
                             "tracked_distance": self._sums.get("tracked_distance", 0.0),
                             "reference_distance": self._sums.get("reference_distance", 0.0)})
        if n:
            ref = self._sums.get("reference_distance", 0.0)
            if ref > 1e-9:
                self.logger.record("tracking/velocity_ratio", self._sums.get("tracked_distance", 0.0) / ref)
            self.logger.record("tracking/fall_rate", 1.0 - self._sums.get("success", 0.0) / n)
        super()._on_rollout_end()


def window_stats(rollouts: list[Mapping[str, float]]) -> dict[str, float]:
    """Fall rate and velocity ratio (tracked / reference distance) of the episodes that ended in `rollouts`
    (entries of `TrackingStatsCallback.history`); None (JSON null) where no episode ended or nothing was to be
    tracked."""
    n = sum(r["episodes"] for r in rollouts)
    ref = sum(r["reference_distance"] for r in rollouts)
    return {"rollouts": len(rollouts), "episodes": int(n),
            "fall_rate": sum(r["falls"] for r in rollouts) / n if n else None,
            "velocity_ratio": sum(r["tracked_distance"] for r in rollouts) / ref if ref > 1e-9 else None}


class WallClockLimit(BaseCallback):
    """Ends `learn` at the first env step after `deadline` (a `time.perf_counter` value): ``_on_step`` returns
    False, SB3 drops the unfinished rollout and returns; the caller then writes its final checkpoint."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = float(deadline)
        self.reached = False

    def _on_step(self) -> bool:
        if time.perf_counter() >= self.deadline:
            self.reached = True
            return False
        return True


def check_init(arg: str, ckpt: Path | BundleCheckpoint, cfg: Mapping[str, Any]) -> None:
    """Exit naming `ckpt` unless it is a tracker whose policy takes this config's observation (state.json's
    ``phase`` and ``model.observation_shape``; load_normalize / load_weights check the files themselves)."""
    from reference.tracker.observation import obs_dim

    try:
        state = read_state(ckpt)
    except (FileNotFoundError, KeyError, ValueError) as e:
        raise SystemExit(f"{arg} {ckpt}: no readable state.json ({e})") from None
    phase = state.get("phase", (state.get("config") or {}).get("phase"))
    if phase != "tracker":
        raise SystemExit(f"{arg} {ckpt}: not a tracker checkpoint (its phase is {phase!r})")
    want = obs_dim(cfg["env"])
    shape = (state.get("model") or {}).get("observation_shape")
    if shape is not None and list(shape) != [want]:
        raise SystemExit(f"{arg} {ckpt}: the tracker takes observations of {tuple(shape)} entries, this config's "
                         f"have ({want},) (env.ref_joint_offsets / env.ref_velocity_offsets differ)")


@dataclass
class TrainingRun:
    """What one `train` did."""

    final: Path                  # the final checkpoint directory
    num_timesteps: int           # the model's step count at the end (a resumed run counts its past)
    steps: int                   # env steps trained by this run
    seconds: float               # wall-clock seconds, set-up and final checkpoint included
    learn_seconds: float         # of which collecting and updating
    stopped: str                 # "total_timesteps" | "max_minutes" | "interrupted"
    exported: Path | None = None  # the policy bundle, when asked for
    rollouts: list[dict[str, float]] = field(default_factory=list)  # `TrackingStatsCallback.history`


def train(cfg: dict, logdir: Path, ckpt_root: Path, *, resume: bool = False,
          init: Path | BundleCheckpoint | None = None, max_minutes: float | None = None, export: Path | None = None,
          log_every: int = 5, progress_bar: bool = True, verbose: int = 0, catch_interrupt: bool = True,
          callbacks: Sequence[BaseCallback] = ()) -> TrainingRun:
    """One tracker run on a checked config (`resolve_config`'s): fresh, from `init`'s weights and normalisation
    (`check_init` it first), or resumed from the latest checkpoint of `ckpt_root`; stops at
    ``training.total_timesteps``, after `max_minutes` (from this call) or on Ctrl-C / SIGTERM (only when
    `catch_interrupt`; otherwise the KeyboardInterrupt propagates, after the envs are closed), and writes a
    final checkpoint (and the bundle `export`). `callbacks`: more SB3 callbacks, after the run's own."""
    t = cfg["training"]
    t_start = time.perf_counter()
    logdir.mkdir(parents=True, exist_ok=True)
    _write_yaml_atomic(logdir / "config.yaml", cfg)
    set_torch_threads(t["torch_threads"])
    venv = make_tracker_vec_env(cfg)
    tb_logger = None
    try:
        if resume:
            ckpt = resolve_checkpoint(ckpt_root)
            if read_state(ckpt).get("phase") != "tracker":
                raise SystemExit(f"--resume: {ckpt} is not a tracker checkpoint")
            venv = load_normalize(venv, cfg, "--resume", ckpt)
            model = resume_model(ckpt, venv, cfg, t["device"])
            print(f"resuming {ckpt} at step {model.num_timesteps}")
        else:
            venv = load_normalize(venv, cfg, "--init-from", init)
            model = PPO(env=venv, seed=t["seed"], device=t["device"], verbose=0, **ppo_kwargs(cfg, policy=True))
            if init is not None:
                # Weights (and optimizer state) of the tracker; the step count starts at 0.
                load_weights(model, "--init-from", init, t["device"])
                print(f"initialised from {init}")
        print(f"{t['n_envs']} tracking envs {_vec_env_words(t)}, observation {venv.observation_space.shape[0]}, "
              f"set up in {time.perf_counter() - t_start:.1f} s", flush=True)
        tb_logger = make_logger(logdir / "tb", verbose, model.num_timesteps if resume else None)
        model.set_logger(tb_logger)
        stats_cb = TrackingStatsCallback(print_every=log_every)
        ckpt_cb = CheckpointCallback(ckpt_root, t["checkpoint_interval"], cfg, verbose=verbose)
        pbar = make_progress_bar(progress_bar)
        clock = WallClockLimit(t_start + 60.0 * max_minutes) if max_minutes is not None else None
        assist = [AssistSchedule(cfg["env"]["assist_steps"])] if wants_assist(cfg["env"]) else []
        callbacks = [stats_cb, ckpt_cb, TorchThreadsCallback(t["torch_threads"]), *assist, *callbacks,
                     *([clock] if clock else []), *([pbar] if pbar else [])]
        start_steps, t_learn = model.num_timesteps, time.perf_counter()
        remaining = t["total_timesteps"] - model.num_timesteps
        stopped = "total_timesteps"
        if remaining > 0:
            try:
                model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False)
            except KeyboardInterrupt:
                close_progress_bar(pbar)
                if not catch_interrupt:
                    raise
                stopped = "interrupted"
                print(f"\ninterrupted at step {model.num_timesteps}: saving a final checkpoint", flush=True)
        if clock is not None and clock.reached:
            stopped = "max_minutes"
            print(f"--max-minutes {max_minutes:g}: stopping at step {model.num_timesteps}", flush=True)
        wall = time.perf_counter() - t_learn
        done = model.num_timesteps - start_steps
        print(f"trained {done:,} steps in {wall:.0f} s: {done / max(wall, 1e-9):,.0f} steps/s "
              "(collection and PPO updates)", flush=True)
        final = save_checkpoint(ckpt_root, model, model.get_vec_normalize_env(), cfg)
        print(f"final checkpoint: {final} ({model.num_timesteps} steps)", flush=True)
        out = None
        if export is not None:
            out = export_policy(final, export, optimizer_state=False)  # inference only (docstring)
            print(f"exported the tracker: {out} ({out.stat().st_size / 1e6:.2f} MB)", flush=True)
        return TrainingRun(final=final, num_timesteps=int(model.num_timesteps), steps=int(done),
                           seconds=time.perf_counter() - t_start, learn_seconds=wall, stopped=stopped, exported=out,
                           rollouts=list(stats_cb.history))
    finally:
        if tb_logger is not None:
            tb_logger.close()
        venv.close()


def main(argv: list[str] | None = None) -> Path:
    """Train (or continue) a tracker; returns the final checkpoint directory."""
    args = parse_args(argv)
    cfg, logdir, ckpt_root = start_run(args, resolve_config)
    # Before the run directory is written or any env is built: a bad --init-from fails at once, naming it.
    init = None
    if args.init_from is not None and not args.resume:
        init = open_checkpoint("--init-from", args.init_from)
        check_init("--init-from", init, cfg)
    run = train(cfg, logdir, ckpt_root, resume=args.resume, init=init, max_minutes=args.max_minutes,
                export=args.export, log_every=args.log_every, progress_bar=not args.no_progress_bar,
                verbose=args.verbose)
    return run.final


if __name__ == "__main__":
    main()
    sys.exit(0)
