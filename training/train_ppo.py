"""Train a WildRobot walking policy with Stable-Baselines3 PPO (one phase of seed 002).

    python training/train_ppo.py                                   # Phase 1E with configs/phase1e.yaml
    python training/train_ppo.py --config configs/phase2.yaml --init-from runs/phase1e
    python training/train_ppo.py --logdir runs/phase1e --resume    # continue a killed run

The run, top to bottom: load and check the config -> vectorised phase envs (worker processes, each
stepping a batch of envs) -> VecNormalize -> PPO (fresh, from a checkpoint's weights, or resumed) ->
callbacks (TensorBoard scalars, checkpoints, Phase 2 curriculum / Phase 3 style schedule) -> learn ->
a final checkpoint (also on Ctrl-C).

Logdir layout: ``config.yaml`` (the run's config), ``tb/`` (TensorBoard; a resumed run appends to it,
its step axis continuing), ``checkpoints/step_<N>/`` (see training/common.py).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import CallbackList  # noqa: E402
from stable_baselines3.common.logger import configure  # noqa: E402

from training.common import (  # noqa: E402
    CheckpointCallback, CurriculumCallback, EpisodeStatsCallback, StyleScheduleCallback, list_checkpoints,
    make_vec_env, ppo_kwargs, read_state, resolve_checkpoint, save_checkpoint, set_torch_threads, wrap_normalize,
)
from wildrobot_gym.config import DEFAULT_CONFIG_PATH, ConfigError, load_config, validate_config  # noqa: E402
from wildrobot_gym.wrappers import ContactCurriculum  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=None, help=f"phase config (default {DEFAULT_CONFIG_PATH.name}; "
                   "with --resume: the run's own config.yaml)")
    p.add_argument("--total-timesteps", type=int, default=None, help="env steps in all (a resumed run counts its past)")
    p.add_argument("--n-envs", type=int, default=None, help="parallel envs (default: training.n_envs)")
    p.add_argument("--n-workers", type=int, default=None, help="worker processes, 0 = in-process (default: training.n_workers)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--init-from", type=Path, default=None, help="start from this checkpoint's weights and normalisation")
    p.add_argument("--logdir", type=Path, default=None, help="run directory (default: training.logdir)")
    p.add_argument("--resume", action="store_true", help="continue the latest checkpoint in --logdir")
    p.add_argument("--checkpoint-interval", type=int, default=None, help="env steps between checkpoints")
    p.add_argument("--no-progress-bar", action="store_true")
    p.add_argument("--verbose", type=int, default=0, help="1: print SB3's tables and checkpoint paths")
    return p.parse_args(argv)


def _write_yaml_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, path)


def resolve_config(args: argparse.Namespace) -> tuple[dict, Path]:
    """The run's config (with command-line overrides) and its logdir; raises ConfigError on a bad one."""
    if args.resume:
        if args.logdir is None:
            raise SystemExit("--resume needs --logdir (the run to continue)")
        saved = args.logdir / "config.yaml"
        cfg = load_config(args.config or saved)
    else:
        cfg = load_config(args.config or DEFAULT_CONFIG_PATH)
    t = cfg["training"]
    for key, value in (("total_timesteps", args.total_timesteps), ("n_envs", args.n_envs),
                       ("n_workers", args.n_workers), ("seed", args.seed),
                       ("checkpoint_interval", args.checkpoint_interval)):
        if value is not None:
            t[key] = value
    if args.logdir is not None:
        t["logdir"] = str(args.logdir)
    validate_config(cfg)  # the overrides too
    return cfg, Path(t["logdir"])


def _raise_interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> Path:
    """Run one training; returns the final checkpoint directory."""
    args = parse_args(argv)
    # Ctrl-C (even when started in the background, where SIGINT is inherited as ignored) and a plain
    # kill (SIGTERM) both end the run with a final checkpoint.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        cfg, logdir = resolve_config(args)
    except ConfigError as e:
        raise SystemExit(f"config error: {e}") from None
    t = cfg["training"]
    ckpt_root = logdir / "checkpoints"
    if not args.resume and list_checkpoints(ckpt_root):
        raise SystemExit(f"{logdir} already holds checkpoints: pass --resume to continue it, or another --logdir")
    if args.resume and not list_checkpoints(ckpt_root):
        raise SystemExit(f"--resume: no checkpoint under {ckpt_root}")
    logdir.mkdir(parents=True, exist_ok=True)
    _write_yaml_atomic(logdir / "config.yaml", cfg)
    set_torch_threads(t["torch_threads"])

    # Envs: n_workers processes each stepping n_envs / n_workers envs (wildrobot_gym.vec_env).
    venv = make_vec_env(cfg, t["n_envs"], t["n_workers"], t["start_method"])
    state: dict = {}
    try:
        if args.resume:
            ckpt = resolve_checkpoint(ckpt_root)
            state = read_state(ckpt)
            venv = wrap_normalize(venv, cfg, ckpt / "vecnormalize.pkl")
            model = PPO.load(ckpt / "model.zip", env=venv, device=t["device"])
            print(f"resuming {ckpt} at step {model.num_timesteps}")
        else:
            init = resolve_checkpoint(args.init_from) if args.init_from else None
            venv = wrap_normalize(venv, cfg, init / "vecnormalize.pkl" if init else None)
            model = PPO("MlpPolicy", venv, seed=t["seed"], device=t["device"], verbose=0, **ppo_kwargs(cfg))
            if init is not None:
                # Weights (and optimizer state) of the previous phase; the step count starts at 0.
                model.set_parameters(str(init / "model.zip"), exact_match=True, device=t["device"])
                print(f"initialised from {init}")
        # One TensorBoard directory per run: a resumed run appends, its x axis continuing.
        model.set_logger(configure(str(logdir / "tb"), ["stdout", "tensorboard"] if args.verbose else ["tensorboard"]))

        curriculum = None
        episode_hooks = []
        callbacks = []
        if cfg["phase"] == "2":
            curriculum = ContactCurriculum.from_config(cfg)
            if "curriculum" in state:
                curriculum.load_state_dict(state["curriculum"])
            cur_cb = CurriculumCallback(curriculum, cfg["curriculum"]["velocity_window"], verbose=args.verbose)
            episode_hooks.append(cur_cb.on_episode)
            callbacks.append(cur_cb)
        elif cfg["phase"] == "3":
            amp = cfg["amp"]
            print("phase 3: no discriminator yet (AMP issue): the style reward is 0, only the task reward trains")
            callbacks.append(StyleScheduleCallback(amp["style_weights"], amp["schedule_boundaries"], t["total_timesteps"]))

        def extra_state() -> dict:
            return {"curriculum": curriculum.state_dict()} if curriculum is not None else {}

        stats_cb = EpisodeStatsCallback(on_episode=(lambda s: [h(s) for h in episode_hooks]) if episode_hooks else None)
        ckpt_cb = CheckpointCallback(ckpt_root, t["checkpoint_interval"], cfg, extra_state, verbose=args.verbose)
        callbacks = [stats_cb, *callbacks, ckpt_cb]  # stats first: the curriculum reads its episodes

        remaining = t["total_timesteps"] - model.num_timesteps
        if remaining > 0:
            try:
                model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False,
                            progress_bar=not args.no_progress_bar)
            except KeyboardInterrupt:
                print(f"\ninterrupted at step {model.num_timesteps}: saving a final checkpoint")
        final = save_checkpoint(ckpt_root, model, model.get_vec_normalize_env(), cfg, extra_state())
        print(f"final checkpoint: {final} ({model.num_timesteps} steps)")
        return final
    finally:
        venv.close()


if __name__ == "__main__":
    main()
