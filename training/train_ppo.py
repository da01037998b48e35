"""Train a WildRobot walking policy with Stable-Baselines3 PPO (one phase of seed 002).

    python training/train_ppo.py                                   # Phase 1E with configs/phase1e.yaml
    python training/train_ppo.py --config configs/phase2.yaml --init-from runs/phase1e
    python training/train_ppo.py --logdir runs/phase1e --resume    # continue a killed run
    python training/train_ppo.py --config configs/phase3.yaml --init-from runs/phase2 [--amp-dataset data/tier0plus]

The run, top to bottom: load and check the config -> vectorised phase envs (worker processes, each
stepping a batch of envs) -> VecNormalize -> PPO (fresh, from a checkpoint's weights, or resumed) ->
callbacks (TensorBoard scalars, checkpoints, reward-weight curriculum / Phase 3 style schedule) -> learn ->
a final checkpoint (also on Ctrl-C).

Logdir layout: ``config.yaml`` (the run's config), ``tb/`` (TensorBoard; a resumed run adds an event
file, its step axis continuing from the checkpoint, and purges what the killed run logged after the
checkpoint), ``checkpoints/step_<N>/`` (see training/common.py). --resume keeps the run's config.yaml
(a different --config is refused unless --override-config). A progress line every --log-every updates.

Phase 3 (AMP, `train_phase3`): the envs append the AMP features to their observation and
`wildrobot_gym.amp.AMPTrainer` (imitation's AdversarialTrainer) trains PPO and the discriminator in
rounds (one round = n_envs x n_steps env steps, then ``discriminator.updates_per_round`` updates):
load the AMP config (configs/amp.yaml, or the run's own on --resume) and the Tier 0+ dataset
(--amp-dataset, default ``phase3.dataset`` of the AMP config) -> PPO from --init-from's weights and
normalisation -> the discriminator pretrained offline (``phase3.pretrain_updates`` updates; real: the
dataset, fake: a stochastic rollout of the starting policy) -> joint training -> checkpoints with
``amp.pt`` (discriminator, optimiser, ramp, feature stage, step clock) so that --resume continues.
Total reward: task_weight x task + (seed 002 schedule 0.1 / 0.5 / 1.0) x style_weight x AMP ramp x style_scale
x min(style, style_reward_clip): the schedule (phase3.yaml ``amp``, by the fraction of total_timesteps done)
and the AUC-gated ramp (amp.yaml ``ramp``) multiply (`wildrobot_gym.amp.AMPRewardVecEnvWrapper`).
TensorBoard: PPO's and the episode scalars as in Phases 1E/2, plus ``amp/*`` once per round and
``amp_pretrain/*`` at step 0, all on the env step axis; ``imitation/progress.csv`` has imitation's log.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import zipfile
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import CallbackList, ProgressBarCallback  # noqa: E402
from stable_baselines3.common.vec_env import VecEnv, VecNormalize  # noqa: E402

from training.common import (  # noqa: E402
    AMP_FILE, CheckpointCallback, CurriculumCallback, EpisodeStatsCallback, StyleScheduleCallback, list_checkpoints,
    VECNORM_FILE, load_amp_run_config, load_ppo, make_logger, open_checkpoint, make_vec_env, ppo_kwargs, read_state,
    resolve_amp_dataset, resolve_checkpoint, save_checkpoint, set_policy_weights, set_torch_threads, TorchThreadsCallback, wrap_normalize,
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
    p.add_argument("--override-config", action="store_true",
                   help="with --resume: use --config even though it differs from the run's config.yaml")
    p.add_argument("--log-every", type=int, default=5,
                   help="print a progress line every N PPO updates (Phase 3: AMP rounds); 0: never")
    p.add_argument("--checkpoint-interval", type=int, default=None, help="env steps between checkpoints")
    p.add_argument("--no-progress-bar", action="store_true")
    p.add_argument("--verbose", type=int, default=0, help="1: print SB3's tables and checkpoint paths")
    p.add_argument("--amp-dataset", type=Path, default=None,
                   help="Phase 3: Tier 0+ dataset directory (default: phase3.dataset of the AMP config)")
    p.add_argument("--amp-config", type=Path, default=None,
                   help="Phase 3: AMP config (default configs/amp.yaml; with --resume: the run's own)")
    return p.parse_args(argv)


def _write_yaml_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, path)


def _apply_overrides(cfg: dict, args: argparse.Namespace) -> dict:
    t = cfg["training"]
    for key, value in (("total_timesteps", args.total_timesteps), ("n_envs", args.n_envs),
                       ("n_workers", args.n_workers), ("seed", args.seed),
                       ("checkpoint_interval", args.checkpoint_interval)):
        if value is not None:
            t[key] = value
    if args.logdir is not None:
        t["logdir"] = str(args.logdir)
    return cfg


def config_diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys where two configs differ (values compared after loading, so layout doesn't count)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in config_diff(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else str(k))]
    return [] if a == b else [prefix or "<root>"]


def resolve_run_config(args: argparse.Namespace, load: Any = load_config, validate: Any = validate_config,
                       default: Path = DEFAULT_CONFIG_PATH, kind: str = "training") -> tuple[dict, Path]:
    """The run's config (with command-line overrides) and its logdir; raises ConfigError on a bad one.

    On --resume the run's own config.yaml; a --config that differs from it (after the same command-line
    overrides) is refused unless --override-config: it would silently turn the run into another one.
    `load` / `validate` / `default`: the config kind's (a phase config here, the tracker's in
    ``reference.train_tracker``)."""
    if args.resume:
        if args.logdir is None:
            raise SystemExit("--resume needs --logdir (the run to continue)")
        saved = args.logdir / "config.yaml"
        if not saved.is_file():
            raise SystemExit(f"--resume: {saved} not found (is --logdir {args.logdir} a {kind} run?)")
        cfg = _apply_overrides(load(saved), args)
        if args.config is not None:
            new = _apply_overrides(load(args.config), args)
            diff = config_diff(cfg, new)
            if diff and not args.override_config:
                shown = ", ".join(diff[:5]) + (f" (+{len(diff) - 5} more)" if len(diff) > 5 else "")
                raise SystemExit(f"--resume: --config {args.config} differs from the run's {saved} in {shown}; "
                                 "drop --config to continue the run as it was, or pass --override-config")
            if diff:
                print(f"--override-config: resuming with {args.config} instead of {saved} "
                      f"(differs in {', '.join(diff)}); {saved} is overwritten")
            cfg = new
    else:
        cfg = _apply_overrides(load(args.config or default), args)
    cfg = validate(cfg)  # the overrides too
    return cfg, Path(cfg["training"]["logdir"])


def resolve_config(args: argparse.Namespace) -> tuple[dict, Path]:
    """`resolve_run_config` for a phase config."""
    return resolve_run_config(args)


def load_weights(model: PPO, arg: str, ckpt: Path, device: str) -> None:  # noqa: ARG001  (device: the model's)
    """Weights (and optimizer state) of a checkpoint, read with torch.load(weights_only=True): nothing is
    unpickled; its step count is not taken. A damaged or unfitting model.zip exits naming the argument
    and the file."""
    try:
        set_policy_weights(model, ckpt, optimizer=True)
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, KeyError) as e:
        raise SystemExit(f"{arg}: cannot load {ckpt / 'model.zip'}: {e}") from None


def load_normalize(venv: VecEnv, cfg: dict, arg: str, ckpt: Any) -> VecNormalize:
    """`wrap_normalize` with a checkpoint's statistics (vecnormalize.npz, or the config's when `ckpt` is
    None); a file that does not load exits naming the argument and the file."""
    try:
        return wrap_normalize(venv, cfg, ckpt / VECNORM_FILE if ckpt is not None else None)
    except ValueError as e:
        raise SystemExit(f"{arg}: {e}") from None


def resume_model(ckpt: Path, env: Any, cfg: dict, device: str) -> PPO:
    """The PPO of a checkpoint to continue: config, weights, optimizer state and step / update counts
    (`load_ppo`, nothing unpickled); a file that does not load exits naming it."""
    try:
        return load_ppo(ckpt, env, cfg, device=device, resume=True)
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, KeyError) as e:
        raise SystemExit(f"--resume: cannot load {ckpt}: {e}") from None


def make_progress_bar(enabled: bool) -> ProgressBarCallback | None:
    return ProgressBarCallback() if enabled else None


def close_progress_bar(cb: ProgressBarCallback | None) -> None:
    """After an interrupt (no _on_training_end): stop rich's live display, which holds sys.stdout."""
    pbar = getattr(cb, "pbar", None)
    if pbar is not None:
        pbar.close()


def _raise_interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def start_run(args: argparse.Namespace, resolve: Any) -> tuple[dict, Path, Path]:
    """What every training CLI (this one, ``reference.train_tracker``) does first: signals, the run's config
    and logdir (``resolve(args)``; a config error exits with its one line), the checkpoint folder checked
    against --resume. Returns (config, logdir, checkpoint root)."""
    # Ctrl-C (even when started in the background, where SIGINT is inherited as ignored) and a plain
    # kill (SIGTERM) both end the run with a final checkpoint.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        cfg, logdir = resolve(args)
    except ConfigError as e:
        raise SystemExit(f"config error: {e}") from None
    ckpt_root = logdir / "checkpoints"
    if not args.resume and list_checkpoints(ckpt_root):
        raise SystemExit(f"{logdir} already holds checkpoints: pass --resume to continue it, or another --logdir")
    if args.resume and not list_checkpoints(ckpt_root):
        raise SystemExit(f"--resume: no checkpoint under {ckpt_root}")
    return cfg, logdir, ckpt_root


def main(argv: list[str] | None = None) -> Path:
    """Run one training; returns the final checkpoint directory."""
    args = parse_args(argv)
    cfg, logdir, ckpt_root = start_run(args, resolve_config)
    t = cfg["training"]
    # Before the run directory is written or any worker starts: a bad --init-from fails at once, naming it.
    init = open_checkpoint("--init-from", args.init_from) if args.init_from and not args.resume else None
    logdir.mkdir(parents=True, exist_ok=True)
    _write_yaml_atomic(logdir / "config.yaml", cfg)
    set_torch_threads(t["torch_threads"])
    if cfg["phase"] == "3":
        return train_phase3(args, cfg, logdir, ckpt_root, init)

    # Envs: n_workers processes each stepping n_envs / n_workers envs (wildrobot_gym.vec_env).
    venv = make_vec_env(cfg, t["n_envs"], t["n_workers"], t["start_method"])
    state: dict = {}
    tb_logger = None
    try:
        if args.resume:
            ckpt = resolve_checkpoint(ckpt_root)
            state = read_state(ckpt)
            venv = load_normalize(venv, cfg, "--resume", ckpt)
            model = resume_model(ckpt, venv, cfg, t["device"])
            print(f"resuming {ckpt} at step {model.num_timesteps}")
        else:
            venv = load_normalize(venv, cfg, "--init-from", init)
            model = PPO(env=venv, seed=t["seed"], device=t["device"], verbose=0, **ppo_kwargs(cfg, policy=True))
            if init is not None:
                # Weights (and optimizer state) of the previous phase; the step count starts at 0.
                load_weights(model, "--init-from", init, t["device"])
                print(f"initialised from {init}")
        # One TensorBoard directory per run: a resumed run appends a new event file, its x axis continuing
        # from the checkpoint (what the killed run logged after it is purged).
        tb_logger = make_logger(logdir / "tb", args.verbose, model.num_timesteps if args.resume else None)
        model.set_logger(tb_logger)

        cur_cb = make_curriculum_callback(cfg, state, args.verbose)
        callbacks = [cur_cb] if cur_cb is not None else []

        def extra_state() -> dict:
            return {"curriculum": cur_cb.curriculum.state_dict()} if cur_cb is not None else {}

        stats_cb = EpisodeStatsCallback(on_episode=cur_cb.on_episode if cur_cb is not None else None,
                                        print_every=args.log_every)
        ckpt_cb = CheckpointCallback(ckpt_root, t["checkpoint_interval"], cfg, extra_state, verbose=args.verbose)
        pbar = make_progress_bar(not args.no_progress_bar)
        # stats first: the curriculum reads its episodes
        threads_cb = TorchThreadsCallback(t["torch_threads"])  # all cores for the update, one while collecting
        callbacks = [stats_cb, *callbacks, ckpt_cb, threads_cb, *([pbar] if pbar else [])]

        remaining = t["total_timesteps"] - model.num_timesteps
        if remaining > 0:
            try:
                model.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False)
            except KeyboardInterrupt:
                close_progress_bar(pbar)
                print(f"\ninterrupted at step {model.num_timesteps}: saving a final checkpoint", flush=True)
        # The VecEnv may be mid-step here (interrupted in step_wait): the save must not talk to the
        # workers. It does not: VecNormalize pickles its statistics only (BatchedSubprocVecEnv would
        # raise rather than read a wrong reply if it did).
        final = save_checkpoint(ckpt_root, model, model.get_vec_normalize_env(), cfg, extra_state())
        print(f"final checkpoint: {final} ({model.num_timesteps} steps)", flush=True)
        return final
    finally:
        if tb_logger is not None:
            tb_logger.close()  # flush TensorBoard before the process exits
        venv.close()  # never blocks: see BatchedSubprocVecEnv.close


def make_curriculum_callback(cfg: Mapping[str, Any], state: Mapping[str, Any],
                             verbose: int = 0) -> CurriculumCallback | None:
    """The config's reward-weight curriculum (Phase 2's contact stages, or a Phase 3 weight schedule) as a
    callback, at the level a checkpoint's `state` stored; None without a ``curriculum`` section."""
    if not cfg.get("curriculum"):
        return None
    curriculum = ContactCurriculum.from_config(cfg)
    if "curriculum" in state:
        curriculum.load_state_dict(state["curriculum"])
    return CurriculumCallback(curriculum, cfg["curriculum"]["velocity_window"], verbose=verbose)


# ---------------------------------------------------------------------------- Phase 3 (AMP)
def collect_policy_pairs(raw: VecEnv, model: PPO, norm: VecNormalize, policy_obs_dim: int,
                         steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(Phi(s), Phi(s')) of about `steps` env steps of the policy (stochastic, as in training), stepped on
    the feature VecEnv directly so that nothing reaches imitation's recorder. At an episode end s' is
    the terminal observation's features (the auto-reset's first state starts the next pair)."""
    d = policy_obs_dim
    obs = raw.reset()
    s, s2 = [], []
    for _ in range(max(1, -(-steps // raw.num_envs))):
        action, _ = model.predict(norm.normalize_obs(obs[:, :d]), deterministic=False)
        nxt, _, dones, infos = raw.step(action)
        last = np.stack([info["terminal_observation"] if done else o for o, done, info in zip(nxt, dones, infos)])
        s.append(obs[:, d:])
        s2.append(last[:, d:])
        obs = nxt
    return np.concatenate(s).astype(np.float32), np.concatenate(s2).astype(np.float32)


def log_amp_metrics(model: PPO, metrics: dict[str, float], prefix: str = "") -> None:
    """amp/* scalars on PPO's TensorBoard logger, at the env step axis of the episode / velocity scalars."""
    for k, v in metrics.items():
        model.logger.record(prefix + k if prefix else k, v)
    model.logger.dump(step=model.num_timesteps)


def train_phase3(args: argparse.Namespace, cfg: dict, logdir: Path, ckpt_root: Path,
                 init: Path | None = None) -> Path:
    """Phase 3 through `AMPTrainer` (module docstring); returns the final checkpoint directory.
    `init`: the --init-from checkpoint (resolved), ignored on --resume."""
    import torch as th
    from imitation.util import logger as im_logger

    from reference.miner import load_dataset
    from wildrobot_gym.amp import AMPTrainer, ReferenceSampler, StripAMPFeatures

    t = cfg["training"]
    resume = resolve_checkpoint(ckpt_root) if args.resume else None
    saved = read_state(resume).get("amp") if resume is not None else None
    if resume is not None and (saved is None or not (resume / AMP_FILE).is_file()):
        raise SystemExit(f"--resume: {resume} has no AMP state (amp.pt / state.json 'amp'): not a Phase 3 AMP run")
    acfg = load_amp_run_config(args.amp_config, saved["config"] if saved else None)
    dataset_dir = resolve_amp_dataset(args.amp_dataset or (saved["dataset"] if saved else acfg.phase3.dataset))
    try:
        dataset = load_dataset(dataset_dir)
    except ValueError as e:
        raise SystemExit(f"AMP dataset {dataset_dir}: {e}") from None
    fc, hist = acfg.features, acfg.discriminator.history_frames
    try:
        ref = ReferenceSampler.from_dataset(dataset, acfg.reference, lin_vel_mode=fc.lin_vel_mode,
                                            lin_vel_clip=fc.lin_vel_clip, seed=t["seed"], history_frames=hist,
                                            source=str(dataset_dir))
    except ValueError as e:  # e.g. walking_only with no walking segment: the message names the dataset
        raise SystemExit(f"AMP reference: {e}") from None
    speed = "" if acfg.reference.min_speed is None else f", >= {acfg.reference.min_speed} m/s"
    print(f"phase 3 (AMP): {dataset_dir}: {dataset.total_seconds:.1f} s Tier 0+, {dataset.num_segments} segments "
          f"({ref.num_segments} sampled: {ref.walking_filter}{speed}), {len(ref.motions)} motions, {ref.num_transitions} "
          f"transitions of {hist} history frame(s)")

    # (lin_vel_mode, lin_vel_clip, history_frames): the envs' feature blocks match the discriminator's input
    raw = make_vec_env(cfg, t["n_envs"], t["n_workers"], t["start_method"], amp_features=(fc.lin_vel_mode, fc.lin_vel_clip, hist))
    tb_logger = None
    try:
        pdim = int(raw.get_attr("policy_obs_dim", [0])[0])
        if resume is not None:
            source = resume
            # Built on the policy-only space; the trainer points it at its own stack (`wildrobot_gym.amp` package docstring).
            model = resume_model(resume, StripAMPFeatures(raw, pdim), cfg, t["device"])
            print(f"resuming {resume} at step {model.num_timesteps}")
        else:
            source = init
            # Built on the policy-only space; the trainer points it at its own stack (`wildrobot_gym.amp` package docstring).
            model = PPO(env=StripAMPFeatures(raw, pdim), seed=t["seed"], device=t["device"], verbose=0,
                        **ppo_kwargs(cfg, policy=True))
            if source is not None:
                load_weights(model, "--init-from", source, t["device"])
                print(f"initialised from {source}")
            else:
                print("phase 3 from scratch (seed 000's route; --init-from starts from a checkpoint, e.g. Phase 2's)")
        vecnorm = source / VECNORM_FILE if source is not None else None
        if vecnorm is not None:  # checked here, so that a bad file exits naming it
            from wildrobot_gym.policy_io import read_vecnormalize

            try:
                read_vecnormalize(vecnorm)
            except ValueError as e:
                raise SystemExit(f"{'--resume' if resume is not None else '--init-from'}: {e}") from None
        trainer = AMPTrainer(
            venv=raw, gen_algo=model, reference=ref, config=acfg, policy_obs_dim=pdim, seed=t["seed"],
            policy_venv_fn=lambda v: wrap_normalize(v, cfg, vecnorm),
            # imitation's own log (round means) as CSV; the TensorBoard scalars go through PPO's logger.
            custom_logger=im_logger.configure(str(logdir / "imitation"), ["csv"]),
        )
        # imitation gave PPO its HierarchicalLogger, which would prefix PPO's scalars with raw/gen/...:
        # PPO keeps an SB3 logger so that Phase 3's curves have the same tags and step axis as 1E / 2.
        tb_logger = make_logger(logdir / "tb", args.verbose, model.num_timesteps if resume is not None else None)
        model.set_logger(tb_logger)
        if resume is not None:
            trainer.load_amp_state_dict(th.load(resume / AMP_FILE, map_location="cpu", weights_only=True))

        cur_cb = make_curriculum_callback(cfg, read_state(resume) if resume is not None else {}, args.verbose)

        def amp_state() -> dict:
            out = {"amp": {"dataset": str(dataset_dir), "config": asdict(acfg), "clock_steps": trainer.clock.steps,
                           "amp_weight": trainer.ramp.weight, "feature_stage": trainer.feature_schedule.name,
                           "pretrain": trainer.pretrain_metrics or (saved or {}).get("pretrain", {})}}
            if cur_cb is not None:
                out["curriculum"] = cur_cb.curriculum.state_dict()
            return out

        def amp_files() -> dict:
            return {AMP_FILE: lambda path: th.save(trainer.amp_state_dict(), path)}

        def set_style_weight(w: float) -> None:  # seed 002's schedule x amp.yaml's style_weight (x the ramp, in the wrapper)
            trainer.reward_wrapper.style_weight = w * acfg.reward.style_weight

        amp_sec = cfg["amp"]
        trainer.reward_wrapper.style_clip = float(amp_sec["style_reward_clip"])  # seed 002's style reward clipping
        trainer.add_gen_callback(EpisodeStatsCallback(on_episode=cur_cb.on_episode if cur_cb is not None else None,
                                                      print_every=args.log_every))
        if cur_cb is not None:  # after the episode statistics, which feed it
            trainer.add_gen_callback(cur_cb)
        trainer.add_gen_callback(TorchThreadsCallback(t["torch_threads"]))  # the update and discriminator: all cores
        trainer.add_gen_callback(StyleScheduleCallback(amp_sec["style_weights"], amp_sec["schedule_boundaries"],
                                                       t["total_timesteps"], apply=set_style_weight))
        trainer.add_gen_callback(CheckpointCallback(ckpt_root, t["checkpoint_interval"], cfg, amp_state,
                                                    verbose=args.verbose, extra_files=amp_files))

        if resume is None and acfg.phase3.pretrain_updates > 0:
            s, s2 = collect_policy_pairs(raw, model, trainer.venv_train, pdim, acfg.phase3.pretrain_policy_steps)
            m = trainer.pretrain_discriminator(s, s2, acfg.phase3.pretrain_updates)
            log_amp_metrics(model, m, prefix="amp_pretrain/")
            print(f"discriminator pretrained: {acfg.phase3.pretrain_updates} updates on {len(s)} starting-policy "
                  f"pairs: AUC {m['amp/auc']:.3f}, accuracy {m['amp/accuracy']:.3f}, loss {m['amp/disc_loss']:.3f}")

        def end_of_round(_round: int) -> None:
            m = dict(trainer.last_metrics)
            m["amp/style_weight"] = trainer.reward_wrapper.style_weight
            m["amp/effective_style_weight"] = trainer.reward_wrapper.effective_style_weight  # schedule x weight x ramp x scale
            log_amp_metrics(model, m)

        round_steps = trainer.gen_train_timesteps
        rounds = (t["total_timesteps"] - model.num_timesteps) // round_steps
        if rounds > 0:
            try:
                trainer.train(rounds * round_steps, callback=end_of_round, progress_bar=not args.no_progress_bar)
            except KeyboardInterrupt:
                print(f"\ninterrupted at step {model.num_timesteps}: saving a final checkpoint", flush=True)
        else:
            print(f"nothing to train: {t['total_timesteps'] - model.num_timesteps} steps left, one round is {round_steps}")
        final = save_checkpoint(ckpt_root, model, model.get_vec_normalize_env(), cfg, amp_state(), amp_files())
        m = trainer.last_metrics
        print(f"final checkpoint: {final} ({model.num_timesteps} steps; AMP weight {trainer.ramp.weight:.3f}, "
              f"feature stage {trainer.feature_schedule.name}, AUC {m.get('amp/auc', float('nan')):.3f})")
        return final
    finally:
        if tb_logger is not None:
            tb_logger.close()  # flush TensorBoard before the process exits
        raw.close()  # never blocks: see BatchedSubprocVecEnv.close


if __name__ == "__main__":
    main()
