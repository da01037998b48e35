"""Train the learned tracking controller (reference/tracker) with the project's PPO stack.

    python -m reference.train_tracker [--config configs/tracker.yaml] [--logdir runs/tracker] [--resume]
        [--total-timesteps N] [--n-envs N] [--n-workers N] [--export wildrobot_gym/assets/trackers/tracker.zip]

As training/train_ppo.py (whose pieces it imports): the config checked first (wildrobot_gym/config/tracker.py)
-> ``training.n_envs`` `TrackingEnv`s (``vec_env: batched``: all in this process on MuJoCo's batch API,
`BatchedTrackingVecEnv`, with ``training.n_workers`` physics threads, 0: one per core; ``subprocess``: over
``n_workers`` worker processes, `BatchedSubprocVecEnv`, or with ``n_workers: 0`` one by one in this process
as ``dummy``) -> VecNormalize -> SB3 PPO
(fresh, or resumed from the latest checkpoint of --logdir: weights, optimiser, normalisation, step count)
-> callbacks -> learn -> a final checkpoint, also on Ctrl-C or SIGTERM.

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
import sys
import time
from pathlib import Path
from typing import Any, Mapping

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # training/ is not a package of the wheel

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import CallbackList  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv  # noqa: E402

from training.common import (  # noqa: E402
    CheckpointCallback, EpisodeStatsCallback, ProgressLine, TorchThreadsCallback, export_policy,
    make_logger, ppo_kwargs, read_state, resolve_checkpoint, save_checkpoint, set_torch_threads,
)
from training.train_ppo import (  # noqa: E402
    _write_yaml_atomic, close_progress_bar, load_normalize, make_progress_bar, resolve_run_config, resume_model,
    start_run,
)
from wildrobot_gym.config.tracker import DEFAULT_TRACKER_CONFIG, load_tracker_config, validate_tracker_config  # noqa: E402
from wildrobot_gym.vec_env import BatchedSubprocVecEnv  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m reference.train_tracker", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=None,
                   help=f"tracker config (default {DEFAULT_TRACKER_CONFIG.name}; with --resume: the run's config.yaml)")
    p.add_argument("--logdir", type=Path, default=None, help="run directory (default: training.logdir)")
    p.add_argument("--resume", action="store_true", help="continue the latest checkpoint in --logdir")
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
    """`EpisodeStatsCallback` with the tracking metrics (module docstring), from ``info["episode_stats"]``."""

    GROUPS = {
        "joint_error": "tracking/joint_error", "forward_velocity": "tracking/forward_velocity",
        "reference_velocity": "tracking/reference_velocity", "position_error": "tracking/position_error",
        "success": "episode/success_rate", "length": "episode/length", "return": "episode/return",
    }

    def __init__(self, print_every: int = 0) -> None:
        super().__init__(print_every=print_every)
        self._line = TrackingProgressLine()

    def _on_rollout_end(self) -> None:
        n = self._episodes
        if n:
            ref = self._sums.get("reference_distance", 0.0)
            if ref > 1e-9:
                self.logger.record("tracking/velocity_ratio", self._sums.get("tracked_distance", 0.0) / ref)
            self.logger.record("tracking/fall_rate", 1.0 - self._sums.get("success", 0.0) / n)
        super()._on_rollout_end()


def main(argv: list[str] | None = None) -> Path:
    """Train (or continue) a tracker; returns the final checkpoint directory."""
    args = parse_args(argv)
    cfg, logdir, ckpt_root = start_run(args, resolve_config)
    t = cfg["training"]
    logdir.mkdir(parents=True, exist_ok=True)
    _write_yaml_atomic(logdir / "config.yaml", cfg)
    set_torch_threads(t["torch_threads"])
    t_start = time.perf_counter()
    venv = make_tracker_vec_env(cfg)
    tb_logger = None
    try:
        if args.resume:
            ckpt = resolve_checkpoint(ckpt_root)
            if read_state(ckpt).get("phase") != "tracker":
                raise SystemExit(f"--resume: {ckpt} is not a tracker checkpoint")
            venv = load_normalize(venv, cfg, "--resume", ckpt)
            model = resume_model(ckpt, venv, cfg, t["device"])
            print(f"resuming {ckpt} at step {model.num_timesteps}")
        else:
            venv = load_normalize(venv, cfg, "--init-from", None)
            model = PPO(env=venv, seed=t["seed"], device=t["device"], verbose=0, **ppo_kwargs(cfg, policy=True))
        print(f"{t['n_envs']} tracking envs {_vec_env_words(t)}, observation {venv.observation_space.shape[0]}, "
              f"set up in {time.perf_counter() - t_start:.1f} s", flush=True)
        tb_logger = make_logger(logdir / "tb", args.verbose, model.num_timesteps if args.resume else None)
        model.set_logger(tb_logger)
        stats_cb = TrackingStatsCallback(print_every=args.log_every)
        ckpt_cb = CheckpointCallback(ckpt_root, t["checkpoint_interval"], cfg, verbose=args.verbose)
        pbar = make_progress_bar(not args.no_progress_bar)
        callbacks = [stats_cb, ckpt_cb, TorchThreadsCallback(t["torch_threads"]), *([pbar] if pbar else [])]
        start_steps, t_learn = model.num_timesteps, time.perf_counter()
        remaining = t["total_timesteps"] - model.num_timesteps
        if remaining > 0:
            try:
                model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False)
            except KeyboardInterrupt:
                close_progress_bar(pbar)
                print(f"\ninterrupted at step {model.num_timesteps}: saving a final checkpoint", flush=True)
        wall = time.perf_counter() - t_learn
        done = model.num_timesteps - start_steps
        print(f"trained {done:,} steps in {wall:.0f} s: {done / max(wall, 1e-9):,.0f} steps/s "
              "(collection and PPO updates)", flush=True)
        final = save_checkpoint(ckpt_root, model, model.get_vec_normalize_env(), cfg)
        print(f"final checkpoint: {final} ({model.num_timesteps} steps)", flush=True)
        if args.export is not None:
            out = export_policy(final, args.export, optimizer_state=False)  # inference only (docstring)
            print(f"exported the tracker: {out} ({out.stat().st_size / 1e6:.2f} MB)", flush=True)
        return final
    finally:
        if tb_logger is not None:
            tb_logger.close()
        venv.close()


if __name__ == "__main__":
    main()
    sys.exit(0)
