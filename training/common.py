"""Shared pieces of the training scripts: env and model construction, checkpoints, callbacks.

Checkpoint layout (one directory per checkpoint, written to ``<name>.tmp`` then renamed with
`os.replace`, so a killed run never leaves a half-written checkpoint under its final name)::

    <logdir>/checkpoints/step_000500000/
        model.zip          SB3 PPO (policy, optimizer, num_timesteps)
        vecnormalize.npz   observation (and reward) normalisation statistics (plain arrays, no pickle)
        state.json         {"num_timesteps", "phase", "config", "model", "curriculum", "amp", "saved_at"}
        amp.pt             Phase 3 only: discriminator, its optimiser, AMP ramp / feature stage, step clock
                           (`AMPTrainer.amp_state_dict`); state.json's "amp" holds the AMP config and dataset

Loading never unpickles (`wildrobot_gym.policy_io`): `load_vecnormalize` / `load_ppo` / `set_policy_weights`.
"""
from __future__ import annotations

import math
import sys
import os
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HumanOutputFormat, Logger, TensorBoardOutputFormat
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from wildrobot_gym.checkpoints import (  # noqa: F401  (re-exported: the training scripts' one import)
    BUNDLE_FILES, CKPT_PREFIX, VECNORM_FILE, BundleCheckpoint, checkpoint_dir, export_policy, list_checkpoints,
    read_state, resolve_checkpoint, save_checkpoint, unpack_policy,
)
from wildrobot_gym.policy_io import (  # noqa: F401  (re-exported)
    ACTIVATIONS, LegacyCheckpointError, load_ppo, load_vecnormalize, ppo_kwargs, save_vecnormalize, set_policy_weights,
)
from wildrobot_gym.batch_env import BatchedWalkVecEnv
from wildrobot_gym.config.ppo import DEFAULT_VEC_ENV
from wildrobot_gym.obs_mirror import mirror_normalizer
from wildrobot_gym.vec_env import BatchedSubprocVecEnv
from wildrobot_gym.wrappers import ContactCurriculum, make_phase_env, style_weight_at

REPO_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------- construction
class _EnvFactory:
    """A picklable env factory (worker processes build their envs from it).

    With `amp_features` = (lin_vel_mode, lin_vel_clip) the env also appends the AMP features to its
    observation (`AMPFeatureObservation`, Phase 3): computed in the worker, where the MuJoCo state is.
    """

    def __init__(self, cfg: Mapping[str, Any], amp_features: tuple[str, float] | None = None) -> None:
        self.cfg = dict(cfg)
        self.amp_features = amp_features

    def __call__(self):
        env = make_phase_env(self.cfg)
        if self.amp_features is None:
            return env
        from wildrobot_gym.amp import AMPFeatureObservation

        return AMPFeatureObservation(env, *self.amp_features)


def make_vec_env(cfg: Mapping[str, Any], n_envs: int, n_workers: int, start_method: str = "forkserver",
                 amp_features: tuple[str, float] | None = None, kind: str | None = None) -> VecEnv:
    """n_envs phase envs, stepped as `kind` says (default: the config's ``training.vec_env``):
    "batched" in this process on MuJoCo's batch API with n_workers physics threads (0: one per core),
    "subprocess" over n_workers worker processes (in this process when n_workers == 0), "dummy" one by one.
    `amp_features` = (lin_vel_mode, lin_vel_clip): observations carry the AMP features (Phase 3)."""
    kind = kind or cfg["training"].get("vec_env", DEFAULT_VEC_ENV)
    if kind == "batched":
        return BatchedWalkVecEnv(cfg, n_envs, n_threads=n_workers, amp_features=amp_features)
    fns = [_EnvFactory(cfg, amp_features) for _ in range(n_envs)]
    if n_workers == 0 or kind == "dummy":
        return DummyVecEnv(fns)
    return BatchedSubprocVecEnv(fns, n_workers=n_workers, start_method=start_method)


def open_checkpoint(arg: str, path: Path) -> Path | BundleCheckpoint:
    """`resolve_checkpoint` for a command-line argument: a missing, damaged or old-format (pickle) one exits
    naming both."""
    try:
        return resolve_checkpoint(path)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"{arg} {path}: {e}") from None


def wrap_normalize(venv: VecEnv, cfg: Mapping[str, Any], vecnorm_path: Any = None,
                   training: bool = True) -> VecNormalize:
    """VecNormalize with the config's settings, or with the statistics of a checkpoint's vecnormalize.npz
    (`vecnorm_path`: its path, or ``ckpt / VECNORM_FILE`` of a bundle; never a pickle). With a left-right
    symmetric actor (``ppo.actor_inputs: measured_symmetric``) the statistics are kept mirror-symmetric
    (`wildrobot_gym.obs_mirror.mirror_normalizer`), so that normalising commutes with the actor's mirror."""
    t, gamma = cfg["training"], cfg["ppo"]["gamma"]
    if vecnorm_path is not None:
        vn = load_vecnormalize(vecnorm_path, venv)
    else:
        vn = VecNormalize(venv, norm_obs=t["norm_obs"], norm_reward=t["norm_reward"], clip_obs=t["clip_obs"],
                          gamma=gamma)
    if cfg["ppo"].get("actor_inputs") == "measured_symmetric" and vn.norm_obs:
        mirror_normalizer(vn)
    vn.training = training
    if not training:
        vn.norm_reward = False
    return vn


def set_torch_threads(n: int) -> None:
    """n > 0: that many threads; 0: one per CPU core."""
    torch.set_num_threads(n if n > 0 else (os.cpu_count() or 1))


class TorchThreadsCallback(BaseCallback):
    """torch on ``update_threads`` (0: every core) for the PPO update, when the physics threads are idle,
    and on one thread while collecting, when they need the cores: the small per-step policy calls gain
    nothing from more threads, and torch's spinning threads would slow the physics (throughput.md)."""

    def __init__(self, update_threads: int) -> None:
        super().__init__()
        self.update_threads = int(update_threads)

    def _on_rollout_start(self) -> None:
        torch.set_num_threads(1)

    def _on_rollout_end(self) -> None:
        set_torch_threads(self.update_threads)

    def _on_step(self) -> bool:
        return True


# ---------------------------------------------------------------------------- logging
class _TensorBoardOutput(TensorBoardOutputFormat):
    """SB3's TensorBoard output with torch's `purge_step`: the new event file starts with a
    SessionLog.START at that step, and TensorBoard's readers (EventAccumulator included) drop every
    scalar of the earlier files at a step >= it. SB3 2.2.1 builds its SummaryWriter without one."""

    def __init__(self, folder: str, purge_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=folder, purge_step=purge_step)
        self._is_closed = False


def make_logger(tb_dir: Path, verbose: int = 0, resume_step: int | None = None) -> Logger:
    """PPO's logger: TensorBoard in `tb_dir` (plus SB3's stdout tables when verbose).

    A resumed run passes its checkpoint's step: what the killed run logged after it is purged, so the
    curves have each step once. The checkpoint's own step stays (its scalars were dumped from data of
    before the save; the resumed run's first dump is a rollout later)."""
    tb_dir.mkdir(parents=True, exist_ok=True)
    outputs = [HumanOutputFormat(sys.stdout)] if verbose else []
    outputs.append(_TensorBoardOutput(str(tb_dir), None if resume_step is None else resume_step + 1))
    return Logger(folder=str(tb_dir), output_formats=outputs)


# ---------------------------------------------------------------------------- callbacks
class EpisodeStatsCallback(BaseCallback):
    """TensorBoard scalars from the end-of-episode ``info["episode_stats"]`` (cheap: only done envs).

    Groups: ``reward/<term>`` (per-step mean of each weighted term), ``velocity/forward``,
    ``velocity/lateral``, ``episode/success_rate``, ``episode/length``, ``episode/return``,
    ``contact/foot_sliding_speed``, ``contact/proper_contact_fraction``, ``contact/air_time``,
    ``actuator/torque_saturation_pct``, ``gait/<name>`` (the gait figures of `wildrobot_gym.gait_metrics`:
    support phases, cadence, step length, peak foot force, cost of transport, yaw rate, straight-line
    speed), ``falls/<reason>`` and ``time/steps_per_second``, averaged over the episodes that ended during
    the rollout (a non-finite value, e.g. the cost of transport of a root that never moved, is left out
    of its key's mean; PPO's own statistics are under ``train/``).

    With ``print_every`` = N > 0 it also prints one progress line every N rollouts (= PPO updates, or
    AMP rounds): env step, steps/s, and the mean forward velocity, success rate and return of the
    episodes that ended since the previous line.
    """

    GROUPS = {
        "forward_velocity": "velocity/forward", "lateral_speed": "velocity/lateral",
        "success": "episode/success_rate", "length": "episode/length", "return": "episode/return",
        "foot_sliding_speed": "contact/foot_sliding_speed",
        "proper_contact_fraction": "contact/proper_contact_fraction", "air_time": "contact/air_time",
        "torque_saturation_pct": "actuator/torque_saturation_pct",
    }

    def __init__(self, on_episode: Callable[[Mapping[str, float]], None] | None = None,
                 print_every: int = 0) -> None:
        super().__init__()
        self.print_every = int(print_every)
        self._line = ProgressLine()
        self._rollouts = 0
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._falls: dict[str, int] = {}
        self._episodes = 0
        self._on_episode = on_episode
        self._t_last = time.perf_counter()
        self._steps_last = 0
        self._started = False

    def _on_training_start(self) -> None:
        # Only at the first learn(): Phase 3 calls learn() once per AMP round with this same callback, and
        # the clocks (the line's steps/s, time/steps_per_second) and the line's episodes run on across
        # rounds, so that steps/s is wall-clock over everything, the discriminator's updates included.
        if self._started:
            return
        self._started = True
        self._t_last = time.perf_counter()
        self._steps_last = self.num_timesteps
        self._line.start(self.num_timesteps)

    def _on_step(self) -> bool:
        dones = self.locals["dones"]
        if dones.any():
            infos = self.locals["infos"]
            for i in np.flatnonzero(dones):
                stats = infos[i].get("episode_stats")
                if stats is None:
                    continue
                self._episodes += 1
                for k, v in stats.items():
                    if math.isfinite(v):
                        self._sums[k] = self._sums.get(k, 0.0) + v
                        self._counts[k] = self._counts.get(k, 0) + 1
                reason = infos[i].get("fall_reason") or "time_limit"
                self._falls[reason] = self._falls.get(reason, 0) + 1
                self._line.add(stats)
                if self._on_episode is not None:
                    self._on_episode(stats)
        return True

    def _on_rollout_end(self) -> None:
        self._rollouts += 1
        if self.print_every > 0 and self._rollouts % self.print_every == 0:
            print(self._line.take(self.num_timesteps), flush=True)
        now = time.perf_counter()
        # Steps per second over the last rollout *and* the update before it: end-to-end throughput.
        self.logger.record("time/steps_per_second", (self.num_timesteps - self._steps_last) / max(now - self._t_last, 1e-9))
        self._t_last, self._steps_last = now, self.num_timesteps
        n = self._episodes
        if n == 0:
            return
        for k, v in self._sums.items():
            name = (f"reward/{k[6:]}" if k.startswith("terms/") else k if k.startswith("gait/")
                    else self.GROUPS.get(k))
            if name is not None:
                self.logger.record(name, v / self._counts[k])
        self.logger.record("episode/count", n)
        for reason, c in self._falls.items():
            self.logger.record(f"falls/{reason}", c / n)
        self._sums.clear()
        self._counts.clear()
        self._falls.clear()
        self._episodes = 0


class ProgressLine:
    """The progress line's figures: episodes that ended since the last line, and the step clock."""

    def __init__(self) -> None:
        self.start(0)

    def start(self, step: int) -> None:
        self._t, self._step = time.perf_counter(), step
        self._n, self._v, self._success, self._ret = 0, 0.0, 0.0, 0.0

    def add(self, stats: Mapping[str, float]) -> None:
        self._n += 1
        self._v += stats.get("forward_velocity", 0.0)
        self._success += stats.get("success", 0.0)
        self._ret += stats.get("return", 0.0)

    def take(self, step: int) -> str:
        """The line for the span since the last one; starts the next span."""
        rate = (step - self._step) / max(time.perf_counter() - self._t, 1e-9)
        # Under 80 columns: rich (SB3's progress bar) wraps what is printed above the bar.
        line = f"step {step:,}  {rate:,.0f} steps/s  "
        if self._n:
            n = self._n
            line += (f"v_fwd {self._v / n:.3f} m/s  success {100 * self._success / n:.0f}%  "
                     f"return {self._ret / n:.1f}  ({n} ep)")
        else:
            line += "(no episode ended)"
        self.start(step)
        return line


class CheckpointCallback(BaseCallback):
    """A checkpoint every ``interval`` env steps (checked at rollout end) via `save_checkpoint`."""

    def __init__(self, root: Path, interval: int, cfg: Mapping[str, Any],
                 extra_state: Callable[[], Mapping[str, Any]] | None = None, verbose: int = 0,
                 extra_files: Callable[[], Mapping[str, Callable[[Path], None]]] | None = None) -> None:
        super().__init__(verbose)
        self.root, self.interval, self.cfg = root, int(interval), cfg
        self.extra_state = extra_state or (lambda: {})
        self.extra_files = extra_files or (lambda: {})
        self._next = 0

    def _on_training_start(self) -> None:
        self._next = (self.num_timesteps // self.interval + 1) * self.interval

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.num_timesteps >= self._next:
            path = self.save()
            if self.verbose:
                print(f"checkpoint: {path}")
            self._next = (self.num_timesteps // self.interval + 1) * self.interval

    def save(self) -> Path:
        venv = self.model.get_vec_normalize_env()
        return save_checkpoint(self.root, self.model, venv, self.cfg, self.extra_state(), self.extra_files())


class CurriculumCallback(BaseCallback):
    """Drives a `ContactCurriculum` (Phase 2, or Phase 3's weight schedule) from episode velocities; pushes
    weights with env_method.

    The velocity signal is the mean forward velocity of the last ``window`` finished episodes; the
    curriculum is updated once per rollout, and the window is cleared after a change so the next
    decision sees only episodes under the new weights. Logs ``curriculum/stage``, ``curriculum/scale``
    and ``curriculum/<term>``.
    """

    def __init__(self, curriculum: ContactCurriculum, window: int = 100, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.curriculum = curriculum
        self.velocities: deque[float] = deque(maxlen=window)

    def on_episode(self, stats: Mapping[str, float]) -> None:
        """Fed by `EpisodeStatsCallback` (so episode infos are scanned once)."""
        self.velocities.append(stats["forward_velocity"])

    def _push(self, weights: Mapping[str, float]) -> None:
        self.training_env.env_method("set_reward_weights", dict(weights))

    def _on_training_start(self) -> None:
        self._push(self.curriculum.state().weights)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        v = float(np.mean(self.velocities)) if self.velocities else None
        st = self.curriculum.update(self.num_timesteps, v)
        if st.event:
            self._push(st.weights)
            self.velocities.clear()
            if self.verbose:
                print(f"curriculum: {st.event} -> {st.stage} x{st.scale} {st.weights} (v={v:.3f})")
        self.logger.record("curriculum/stage", st.level)
        self.logger.record("curriculum/scale", st.scale)
        if v is not None:
            self.logger.record("curriculum/velocity_signal", v)
        for k, w in st.weights.items():
            self.logger.record(f"curriculum/{k}", w)


class StyleScheduleCallback(BaseCallback):
    """Phase 3: the style weight of `style_weight_at` (start / middle / end), pushed into the envs'
    `StyleRewardWrapper`, or, with `apply`, handed to it (AMP: the trainer's reward wrapper, where the
    style term is added and multiplied by the AMP ramp)."""

    def __init__(self, weights: list[float], boundaries: list[float], total_timesteps: int,
                 apply: Callable[[float], None] | None = None) -> None:
        super().__init__()
        self.weights, self.boundaries, self.total = weights, boundaries, max(int(total_timesteps), 1)
        self.apply = apply
        self.current: float | None = None

    def _update(self) -> None:
        w = style_weight_at(min(self.num_timesteps / self.total, 1.0), self.weights, self.boundaries)
        if w != self.current:
            if self.apply is not None:
                self.apply(w)
            else:
                self.training_env.env_method("set_style_weight", w)
            self.current = w
        self.logger.record("curriculum/style_weight", w)

    def _on_training_start(self) -> None:
        self._update()

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self._update()


# ---------------------------------------------------------------------------- Phase 3 (AMP)
AMP_FILE = "amp.pt"


def resolve_amp_dataset(path: str | Path) -> Path:
    """The Tier 0+ dataset directory (``tier0plus.npz`` + ``tier0plus.json``); relative paths are tried
    from the working directory, then from the repository root. Exits naming the path when missing."""
    p = Path(path)
    for cand in (p, REPO_ROOT / p) if not p.is_absolute() else (p,):
        if (cand / "tier0plus.npz").is_file() and (cand / "tier0plus.json").is_file():
            return cand.resolve()
    raise SystemExit(f"AMP dataset not found: {str(path)!r} (expected tier0plus.npz and tier0plus.json there). "
                     f"Generate it with:  python -m reference.generate --output-dir {path}")


def load_amp_run_config(path: str | Path | None, saved: Mapping[str, Any] | None = None):
    """The AMP config of a Phase 3 run: the one saved with a checkpoint (state.json "amp"), else the YAML
    at `path` (default configs/amp.yaml). Exits with the loader's message on a bad file."""
    from wildrobot_gym.amp import DEFAULT_AMP_CONFIG, AMPConfig, config_from_dict, load_amp_config

    try:
        if saved is not None and path is None:
            return config_from_dict(AMPConfig, saved, "amp")
        return load_amp_config(path or DEFAULT_AMP_CONFIG)
    except ValueError as e:
        raise SystemExit(f"amp config error: {e}") from None


def load_discriminator(ckpt: Path | BundleCheckpoint, acfg: Any, obs_dim: int | None = None):
    """The checkpoint's discriminator (amp.pt), at its saved feature stage, in eval mode, or None when the
    checkpoint has no amp.pt. It reads features from column 0 of its input (`obs_dim` = features only)."""
    import torch as th
    from gymnasium import spaces

    from wildrobot_gym.amp import FeatureSchedule, make_discriminator
    from wildrobot_gym.amp.trainer import check_feature_version
    from wildrobot_gym.amp_features import LAYOUT

    path = ckpt / AMP_FILE
    if not path.is_file():
        return None
    import io

    try:
        state = th.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  (weights_only refuses anything but tensors and plain containers)
        raise ValueError(f"{path}: not a weights-only tensor file ({str(e).strip().splitlines()[0]})") from None
    check_feature_version(state, str(path))
    schedule = FeatureSchedule.from_config(acfg.features)
    schedule.load_state_dict(state["feature_schedule"])
    space = spaces.Box(-np.inf, np.inf, (obs_dim or acfg.discriminator.history_frames * LAYOUT.dim,), np.float32)
    net = make_discriminator(space, spaces.Box(-1, 1, (1,), np.float32), acfg.discriminator, 0, schedule.drop)
    net.load_state_dict(state["discriminator"])
    net.eval()
    return net
