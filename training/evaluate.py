"""Evaluate a checkpoint against its phase's success criteria (seed 002).

    python training/evaluate.py CHECKPOINT [--episodes 20] [--stochastic] [--json-output FILE] [--video FILE]
        [--command-range LO HI]
    python training/evaluate.py CHECKPOINT --suite robustness [--episodes 20] [--json-output FILE]

CHECKPOINT is a checkpoint directory (``runs/x/checkpoints/step_N``), its ``model.zip``, or a run's
logdir (its latest checkpoint). The phase and its criteria come from the config saved with the
checkpoint; ``--command-range`` draws the commands from another range than the checkpoint's
``env.command_range`` (a policy trained on 0.5-0.9 m/s judged on the issue's 0.5-0.8). Episodes are
split evenly over up to 8 envs (each env runs its own quota, so short, falling
episodes are not over-counted). Prints the criteria table with PASS/FAIL per row; a row whose figure
cannot be measured prints 'n/a' (or 'n/a until AMP') with the reason.

Gait figures (`wildrobot_gym.gait_metrics`, one definition; each episode's ``gait/<name>`` statistics):
the JSON's ``gait`` block holds their means over the episodes (non-finite values left out, None when
none is left; ``torque_saturation_pct`` repeated there), ``gait_human_reference`` the human figures
(`HUMAN_REFERENCE`), and the printed table has a gait part with the human figure beside each row.

``--suite robustness`` runs the robustness suite instead (`training.robustness`: named perturbations
of the robot, success, velocity tracking, torque saturation and falls per condition, the issue's targets).

Phase 3 rows (the envs then also compute the AMP features, `AMPFeatureObservation`, recorded per step):

* ``joint_trajectory_correlation``: the policy's joint trajectories (q_j = qpos[7:15]) cut into
  non-overlapping windows of one gait cycle (W = round(50 Hz / env.gait_frequency) frames, from each
  episode's first step); each window is matched with the Tier 0+ window of the same length, starting at
  any frame of any segment (so the best lag / gait phase; at most 4000 reference windows, a seeded
  subsample), that maximises the mean over the 8 joints of the per-joint Pearson correlation. The
  figure is the mean of those best correlations over the windows (a joint that does not move in a
  window counts 0); ``joint_trajectory_correlation_per_joint`` gives the per-joint means at the best
  matches. It is a nearest-neighbour score: high when every policy cycle resembles *some* reference
  cycle, whatever the coverage. Needs the dataset: ``--amp-dataset``, else the one the checkpoint was
  trained on (state.json "amp").
* ``discriminator_score``: the mean AMP style reward max(0, 1 - 0.25 (D - 1)^2) (1: judged reference,
  0: judged policy) of the checkpoint's discriminator (``amp.pt``, at its saved feature stage) on the
  policy's transitions (Phi(s), Phi(s')); ``discriminator_logit_mean`` and
  ``discriminator_real_fraction`` (share of D > 0) come with it. ``discriminator_reference_score``: the
  same judge's score of its own real transitions (the Tier 0+ segments it samples) whose segment walks
  within the evaluated command range: the score of a policy that moved exactly like the reference at
  its speeds. A least-squares judge that cannot tell two samples apart gives both D = 0, a score of
  0.75, so this, not 1, is the ceiling the policy's score is read against. ``discriminator_auc``: the
  judge's ROC AUC of those reference transitions against the policy's (0.5: it cannot tell them apart,
  1: it always can). The score depends on how flat the gradient penalty keeps D; the AUC does not.

``--video FILE`` renders one deterministic episode up to its last state (the clip stops when the episode
ends, never showing the reset pose). ``.mp4`` is the compact choice (H.264, yuv420p, even frame size;
needs imageio-ffmpeg): a 10 s clip is a few hundred kB, where a GIF of it is megabytes. ``.gif`` is for
short clips (a README): 25 fps (every other frame), one shared 128-colour palette. Rendering needs an OpenGL backend
(MUJOCO_GL=egl or osmesa, set to egl here when unset).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

if "--video" in sys.argv:  # the GL backend is chosen when mujoco is imported
    os.environ.setdefault("MUJOCO_GL", "egl")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize  # noqa: E402

import torch as th  # noqa: E402
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper  # noqa: E402

from training.common import (  # noqa: E402
    VECNORM_FILE, load_amp_run_config, load_discriminator, load_ppo, load_vecnormalize, read_state, resolve_amp_dataset,
    open_checkpoint,
)
from wildrobot_gym.atomic_io import atomic_write  # noqa: E402
from wildrobot_gym.config import validate_config  # noqa: E402
from wildrobot_gym.gait_metrics import HUMAN_REFERENCE, gait_rows, mean_over_episodes  # noqa: E402
from wildrobot_gym.wrappers import ContactCurriculum, make_phase_env  # noqa: E402

NA_AMP = "n/a until AMP"


class TransitionRecorder(VecEnvWrapper):
    """Records the AMP feature pairs (Phi(s), Phi(s')) of every step and each finished episode's feature
    rows, from observations [policy obs | Phi] (below `StripAMPFeatures`)."""

    def __init__(self, venv: VecEnv, policy_obs_dim: int) -> None:
        super().__init__(venv)
        self.d = int(policy_obs_dim)
        self.s: list[np.ndarray] = []
        self.s2: list[np.ndarray] = []
        self.episodes: list[np.ndarray] = []  # (T + 1, feature dim) per finished episode: s_0 .. s_T
        self._current: list[list[np.ndarray]] = [[] for _ in range(venv.num_envs)]
        self._last: np.ndarray | None = None

    def reset(self):
        obs = self.venv.reset()
        self._last = obs
        self._current = [[o[self.d:]] for o in obs]
        return obs

    def step_wait(self):
        obs, rews, dones, infos = self.venv.step_wait()
        for i, (o, done, info) in enumerate(zip(obs, dones, infos)):
            nxt = info["terminal_observation"] if done else o
            self.s.append(self._last[i, self.d:])
            self.s2.append(nxt[self.d:])
            self._current[i].append(nxt[self.d:])
            if done:
                self.episodes.append(np.stack(self._current[i]))
                self._current[i] = [o[self.d:]]
        self._last = obs
        return obs, rews, dones, infos


def find_wrapper(venv: VecEnv, cls: type) -> Any:
    """The first VecEnv wrapper of type `cls` down the chain, or None."""
    while venv is not None:
        if isinstance(venv, cls):
            return venv
        venv = getattr(venv, "venv", None)
    return None


def load_policy(ckpt: Path, n_envs: int = 1, render_mode: str | None = None,
                env_overrides: Mapping[str, Any] | None = None,
                wrap_env: Callable[[gym.Env], gym.Env] | None = None) -> tuple[PPO, VecNormalize, dict, dict]:
    """(model, normalised eval VecEnv, config, state) of a checkpoint, with the phase's weights at save time.
    `env_overrides` replace env arguments of the saved config (the render size; another gait clock);
    `wrap_env` wraps each env (outermost, below the VecEnv: it sees every step before the auto-reset).

    Phase 3: the envs also compute the AMP features (with the run's feature parameters); a
    `TransitionRecorder` keeps them and `StripAMPFeatures` hides them from the policy.

    `ckpt`: a checkpoint directory or an in-memory bundle (`resolve_checkpoint`). Nothing in it is
    unpickled (`wildrobot_gym.policy_io`); a file that does not fit raises ValueError naming it."""
    state = read_state(ckpt)
    cfg = validate_config(state["config"])
    cfg["env"] = {**cfg.get("env", {}), **(env_overrides or {})}
    wrap = wrap_env or (lambda e: e)
    if cfg["phase"] == "3":
        from wildrobot_gym.amp import AMPFeatureObservation, StripAMPFeatures

        acfg = load_amp_run_config(None, (state.get("amp") or {}).get("config") or {})
        fc, hist = acfg.features, acfg.discriminator.history_frames
        base = DummyVecEnv([lambda: wrap(AMPFeatureObservation(make_phase_env(cfg, render_mode=render_mode),
                                                               fc.lin_vel_mode, fc.lin_vel_clip, hist))
                            for _ in range(n_envs)])
        pdim = int(base.get_attr("policy_obs_dim", [0])[0])
        venv = StripAMPFeatures(TransitionRecorder(base, pdim), pdim)
    else:
        venv = DummyVecEnv([lambda: wrap(make_phase_env(cfg, render_mode=render_mode)) for _ in range(n_envs)])
    if cfg.get("curriculum") and "curriculum" in state:
        cur = ContactCurriculum.from_config(cfg)
        cur.load_state_dict(state["curriculum"])
        venv.env_method("set_reward_weights", cur.state().weights)
    # Phase 3: no style weight to push into the envs: their StyleRewardWrapper has no style_fn (the AMP
    # style reward is added on the VecEnv side in training), so the episode returns are the task reward.
    # Nothing is unpickled: plain-array statistics, the PPO rebuilt from the config and given its weights.
    venv = load_vecnormalize(ckpt / VECNORM_FILE, venv)
    venv.training = False
    venv.norm_reward = False
    model = load_ppo(ckpt, None, cfg, device="cpu", observation_space=venv.observation_space,
                     action_space=venv.action_space)
    return model, venv, cfg, state


def run_episodes(model: PPO, venv: VecNormalize, episodes: int, deterministic: bool, seed: int) -> list[dict]:
    """``episodes`` end-of-episode stats dicts (plus fall_reason), each env running its own quota."""
    n = venv.num_envs
    quota = [episodes // n + (1 if i < episodes % n else 0) for i in range(n)]
    done_count = [0] * n
    out: list[dict] = []
    venv.seed(seed)
    obs = venv.reset()
    while sum(done_count) < episodes:
        action, _ = model.predict(obs, deterministic=deterministic)
        obs, _, dones, infos = venv.step(action)
        for i in np.flatnonzero(dones):
            if done_count[i] < quota[i] and "episode_stats" in infos[i]:
                out.append({**infos[i]["episode_stats"], "fall_reason": infos[i].get("fall_reason", "")})
                done_count[i] += 1
    return out


def one_episode(ckpt: Path, steps: int = 500, seed: int = 12345) -> tuple[np.ndarray, list[dict]]:
    """One deterministic episode of `ckpt` on one env, at most `steps` control steps: the raw (unnormalised)
    observations (T, D) and the step infos, for probes that look at a policy's motion."""
    model, venv, _, _ = load_policy(ckpt, 1)
    try:
        venv.seed(seed)
        obs, raw, infos = venv.reset(), [], []
        for _ in range(steps):
            action, _ = model.predict(obs, deterministic=True)
            obs, _, done, info = venv.step(action)
            raw.append(venv.get_original_obs()[0].copy())
            infos.append(info[0])
            if done[0]:
                break
    finally:
        venv.close()
    return np.array(raw), infos


def summarize(episodes: list[dict]) -> dict[str, Any]:
    """The evaluation figures (keys used by the configs' success_criteria)."""
    def mean(key: str) -> float:
        return float(np.mean([e[key] for e in episodes]))

    touchdowns = np.array([e["touchdowns"] for e in episodes])
    air = np.array([e["air_time"] for e in episodes])
    falls: dict[str, int] = {}
    for e in episodes:
        r = e["fall_reason"] or "time_limit"
        falls[r] = falls.get(r, 0) + 1
    vel = [e["forward_velocity"] for e in episodes]
    return {
        "episodes": len(episodes),
        "forward_velocity_mean": float(np.mean(vel)),
        "forward_velocity_std": float(np.std(vel)),
        "min_episode_forward_velocity": float(np.min(vel)),
        "command_mean": mean("command"),
        # mean over episodes of |episode mean velocity - its command| (issue 11: <= 0.05 m/s)
        "velocity_error_mean": mean("velocity_error"),
        "backward_episode_fraction": float(np.mean(np.array(vel) < 0)),
        "success_rate": mean("success"),
        "episode_length_mean": mean("length"),
        "return_mean": mean("return"),
        "forward_velocity_bonus_mean": mean("terms/forward_velocity_bonus") if "terms/forward_velocity_bonus" in episodes[0] else 0.0,
        "lateral_speed_mean": mean("lateral_speed"),
        "foot_sliding_speed": mean("foot_sliding_speed"),
        "proper_contact_fraction": mean("proper_contact_fraction"),
        # Touchdown-weighted: the mean swing duration over all touchdowns of all episodes.
        "air_time": float((air * touchdowns).sum() / max(touchdowns.sum(), 1)),
        "torque_saturation_pct": mean("torque_saturation_pct"),
        "fall_reasons": falls,
        "reward_terms": {k[6:]: mean(k) for k in episodes[0] if k.startswith("terms/")},
        # Means over episodes of each episode's gait figures (wildrobot_gym.gait_metrics).
        "gait": {**mean_over_episodes(episodes), "torque_saturation_pct": mean("torque_saturation_pct")},
        "gait_human_reference": dict(HUMAN_REFERENCE),
    }


# ---------------------------------------------------------------------------- Phase 3 rows
def _zscore_windows(x: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """(N, window, J) windows of x (T, J) at `starts`, each joint standardised within its window
    (a joint without motion in a window: zeros, i.e. correlation 0)."""
    w = x[starts[:, None] + np.arange(window)[None, :]]
    w = w - w.mean(axis=1, keepdims=True)
    std = w.std(axis=1, keepdims=True)
    return np.where(std > 1e-8, w / np.maximum(std, 1e-8), 0.0)


def joint_trajectory_correlation(
    policy: list[np.ndarray], reference: np.ndarray, seg_start: np.ndarray, seg_length: np.ndarray,
    window: int, max_reference_windows: int = 4000, seed: int = 0,
) -> tuple[float, np.ndarray, int]:
    """(mean best correlation, per-joint means at the best matches (J,), number of policy windows) of
    the module docstring's definition; NaN (and zeros) when no policy episode or segment is a window long.

    `policy`: joint trajectories (T_i, J); `reference`: the dataset's joint positions (F, J) with its
    segments (`seg_start`, `seg_length`): reference windows never cross a segment boundary."""
    n_joints = reference.shape[1]
    p_windows = [_zscore_windows(p, np.arange(0, len(p) - window + 1, window), window) for p in policy if len(p) >= window]
    r_starts = np.concatenate([np.arange(a, a + n - window + 1) for a, n in zip(seg_start, seg_length) if n >= window]
                              or [np.zeros(0, np.int64)]).astype(np.int64)
    if not p_windows or len(r_starts) == 0:
        return float("nan"), np.zeros(n_joints), 0
    if len(r_starts) > max_reference_windows:
        r_starts = np.sort(np.random.default_rng(seed).choice(r_starts, max_reference_windows, replace=False))
    zp = np.concatenate(p_windows)                     # (Np, W, J)
    zr = _zscore_windows(reference, r_starts, window)  # (Nr, W, J)
    # Mean over joints of the per-joint Pearson r = sum over (t, j) of z_p z_r / (W J).
    corr = zp.reshape(len(zp), -1) @ zr.reshape(len(zr), -1).T / (window * n_joints)
    best = corr.argmax(axis=1)
    per_joint = (zp * zr[best]).sum(axis=1) / window  # (Np, J) at each window's best match
    return float(corr[np.arange(len(zp)), best].mean()), per_joint.mean(axis=0), int(len(zp))


def phase3_figures(ckpt: Path, cfg: Mapping[str, Any], state: Mapping[str, Any], recorder: TransitionRecorder,
                   dataset_arg: Path | None) -> dict[str, Any]:
    """Joint-trajectory correlation and discriminator score of the recorded evaluation (module
    docstring); what cannot be measured is named in ``unavailable`` with the reason."""
    from reference.miner import load_dataset
    from wildrobot_gym.amp import style_reward
    from wildrobot_gym.amp.losses import roc_auc
    from wildrobot_gym.amp_features import LAYOUT

    saved = state.get("amp") or {}
    acfg = load_amp_run_config(None, saved.get("config") or {})
    out: dict[str, Any] = {"unavailable": {}}
    dataset_path = dataset_arg or saved.get("dataset") or acfg.phase3.dataset
    try:
        ds = load_dataset(resolve_amp_dataset(dataset_path))
    except (SystemExit, ValueError) as e:
        out["unavailable"]["joint_trajectory_correlation"] = f"no reference: {e}"
    else:
        jp = LAYOUT.slice("joint_pos")
        window = int(round(ds.fps / float(cfg["env"].get("gait_frequency", 1.5))))
        corr, per_joint, n = joint_trajectory_correlation(
            [e[:, jp] for e in recorder.episodes], np.asarray(ds.arrays["qpos"])[:, 7:15],
            ds.arrays["segment_start"], ds.arrays["segment_length"], window)
        out.update(joint_trajectory_correlation=corr, joint_trajectory_correlation_per_joint=per_joint.tolist(),
                   joint_trajectory_correlation_windows=n, joint_trajectory_window_frames=window,
                   amp_dataset=str(dataset_path))
        if n == 0:
            out["unavailable"]["joint_trajectory_correlation"] = f"no episode or segment is one gait cycle ({window} frames) long"
    try:
        net = load_discriminator(ckpt, acfg)
    except ValueError as e:  # e.g. a discriminator of an older feature layout: the rest of the evaluation stands
        out["unavailable"]["discriminator_score"] = str(e)
        return out
    if net is None:
        out["unavailable"]["discriminator_score"] = f"the checkpoint has no discriminator ({ckpt}/amp.pt)"
    else:
        with th.no_grad():
            logits = net.logits(th.as_tensor(np.asarray(recorder.s)), th.as_tensor(np.asarray(recorder.s2)))
        out.update(discriminator_score=float(style_reward(logits).mean()), discriminator_logit_mean=float(logits.mean()),
                   discriminator_real_fraction=float((logits > 0).float().mean()), discriminator_pairs=int(len(logits)),
                   discriminator_feature_drop=list(net.drop))
        if "amp_dataset" in out:
            lo, hi = (float(v) for v in cfg["env"]["command_range"])
            ref_logits = reference_logits(net, acfg, ds, lo, hi)
            if ref_logits is None:
                why = f"no reference segment the judge samples walks at {lo}-{hi} m/s"
                out["unavailable"].update(discriminator_reference_score=why, discriminator_auc=why)
            else:
                out["discriminator_reference_score"] = float(style_reward(th.as_tensor(ref_logits)).mean())
                out["discriminator_auc"] = roc_auc(ref_logits, logits.numpy())
    return out


def judge_reference(acfg: Any, ds: Any) -> Any:
    """The `ReferenceSampler` the judge of AMP config `acfg` trains on, over dataset `ds` (its segment selection and
    its feature parameters); raises ValueError when the selection leaves nothing."""
    from wildrobot_gym.amp import ReferenceSampler

    fc = acfg.features
    return ReferenceSampler.from_dataset(ds, acfg.reference, lin_vel_mode=fc.lin_vel_mode, lin_vel_clip=fc.lin_vel_clip,
                                         seed=0, history_frames=acfg.discriminator.history_frames)


def reference_logits(net: Any, acfg: Any, ds: Any, lo: float, hi: float) -> np.ndarray | None:
    """The judge `net`'s logits on its own real transitions (`ReferenceSampler` of `acfg` on dataset `ds`)
    from segments whose mean forward speed lies in [lo, hi] m/s (module docstring); None when there is
    none (or the dataset has no segment speeds)."""
    speed = ds.arrays.get("segment_forward_velocity")
    if speed is None:
        return None
    try:
        ref = judge_reference(acfg, ds)
    except ValueError:  # the judge's reference selection leaves nothing in this dataset
        return None
    seg_speed = np.asarray(speed, np.float64)[ref.pair_segment]
    idx = np.flatnonzero((seg_speed >= lo) & (seg_speed <= hi))
    if len(idx) == 0:
        return None
    logits = []
    for chunk in np.array_split(idx, max(1, len(idx) // 8192)):
        s, s2 = ref.transitions(chunk)
        with th.no_grad():
            logits.append(np.asarray(net.logits(th.as_tensor(s), th.as_tensor(s2)), dtype=np.float64))
    return np.concatenate(logits)


def judge(criteria: list[Mapping[str, Any]], figures: Mapping[str, Any]) -> list[dict]:
    """One result row per criterion: value, target met, PASS/FAIL (or n/a with a note; the reason of
    ``figures["unavailable"][metric]`` when the evaluation says why it could not measure it)."""
    rows = []
    unavailable = figures.get("unavailable") or {}
    for c in criteria:
        value = figures.get(c["metric"])
        if value is not None and not np.isfinite(value):
            value = None
        row = {"metric": c["metric"], "label": c["label"], "value": value, "target": _range(c.get("target_min"), c.get("target_max"))}
        if value is None or (c.get("pass_min") is None and c.get("pass_max") is None):
            note = unavailable.get(c["metric"]) or c.get("note") or "not measured by evaluate"
            row.update(result=NA_AMP if "AMP" in note else "n/a", note=note, threshold="")
        else:
            ok = (c.get("pass_min") is None or value >= c["pass_min"]) and (c.get("pass_max") is None or value <= c["pass_max"])
            row.update(result="PASS" if ok else "FAIL", threshold=_range(c.get("pass_min"), c.get("pass_max")),
                       in_target=(c.get("target_min") is not None or c.get("target_max") is not None)
                       and _in(value, c.get("target_min"), c.get("target_max")))
        rows.append(row)
    return rows


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo:g} - {hi:g}"
    if lo is not None:
        return f">= {lo:g}"
    if hi is not None:
        return f"<= {hi:g}"
    return ""


def _in(v: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or v >= lo) and (hi is None or v <= hi)


def print_table(phase: str, rows: list[dict], figures: Mapping[str, Any], deterministic: bool) -> None:
    print(f"\nPhase {phase.upper()} success criteria ({figures['episodes']} episodes, "
          f"{'deterministic' if deterministic else 'stochastic'} policy)")
    print(f"{'criterion':50s} {'value':>9s} {'target':>12s} {'pass if':>10s}  result")
    notes = []
    for r in rows:
        v = "" if r["value"] is None else f"{r['value']:.3f}"
        print(f"{r['label'][:50]:50s} {v:>9s} {r['target']:>12s} {r['threshold']:>10s}  {r['result']}"
              + ("  (in target)" if r.get("in_target") else ""))
        if r.get("note"):
            notes.append(f"  {r['label']}: {r['note']}")
    if notes:
        print("notes:\n" + "\n".join(notes))
    if figures.get("discriminator_reference_score") is not None:
        print(f"  Discriminator score: the judge gives its own reference at these commands' speeds "
              f"{figures['discriminator_reference_score']:.3f} (0.75: a judge that cannot tell them apart); "
              f"AUC reference vs policy {figures['discriminator_auc']:.3f} (0.5: it cannot)")
    print(f"falls: {figures['fall_reasons']}; mean episode length {figures['episode_length_mean']:.0f} steps; "
          f"torque saturation {figures['torque_saturation_pct']:.1f}%")
    if figures.get("gait"):
        print("\n" + "\n".join(gait_rows(figures["gait"])))
        print(f"(straight-line speed: along each episode's start heading; the heading-frame forward velocity "
              f"is {figures['forward_velocity_mean']:.3f} m/s)")


class FrameInInfo(gym.Wrapper):
    """Renders after every step into ``info["frame"]`` (with ``info["sim_time"]``, s). The VecEnv resets
    a finished env inside its step, so a frame rendered after `venv.step` would show the reset pose;
    this one is the episode's last state."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, "frame": self.env.render(),
                                                    "sim_time": float(self.env.unwrapped.data.time)}


class Clip(NamedTuple):
    frames: list[np.ndarray]  # (H, W, 3) uint8, the reset state first, the episode's last state last
    sim_times: list[float]    # the simulation time (s) of each frame's state
    fps: float                # one frame per control step


def collect_frames(model: PPO | None, ckpt: Path, seed: int, seconds: float = 10.0, size: tuple[int, int] = (640, 480),
                   env_overrides: Mapping[str, Any] | None = None) -> Clip:
    """The first `seconds` of one deterministic episode, rendered at `size` (width, height); stops at
    termination/truncation, so the last frame is the episode's last state, not the next reset.
    `model` None: the checkpoint's own policy."""
    if seconds <= 0:
        raise ValueError(f"seconds: expected a positive clip length, got {seconds}")
    loaded, venv, cfg, _ = load_policy(ckpt, 1, render_mode="rgb_array", wrap_env=FrameInInfo,
                                       env_overrides={**(env_overrides or {}), "width": size[0], "height": size[1]})
    model = loaded if model is None else model
    try:
        env = venv.unwrapped.envs[0]
        venv.seed(seed)
        obs = venv.reset()
        frames, times = [env.render()], [float(env.unwrapped.data.time)]
        fps = round(1.0 / env.unwrapped.dt)  # 50 Hz control: a whole number
        steps = min(int(cfg["env"].get("max_episode_steps", 500)), max(1, round(seconds * fps)))
        for _ in range(steps):
            action, _ = model.predict(obs, deterministic=True)
            obs, _, dones, infos = venv.step(action)
            frames.append(infos[0]["frame"])
            times.append(infos[0]["sim_time"])
            if dones[0]:
                break
        return Clip(frames, times, fps)
    finally:
        venv.close()


GIF_FRAME_STEP = 2  # GIF: every other control step (25 fps at 50 Hz); GIFs are for short clips


def write_clip(clip: Clip, path: Path) -> None:
    """MP4 (H.264, yuv420p: small, plays everywhere) or GIF, by `path`'s suffix."""
    suffix = path.suffix.lower()
    if suffix == ".gif":
        write_gif(clip.frames[::GIF_FRAME_STEP], path, duration_ms=1000.0 * GIF_FRAME_STEP / clip.fps)
    elif suffix == ".mp4":
        import imageio.v2 as imageio

        h, w = clip.frames[0].shape[:2]
        if h % 2 or w % 2:
            raise ValueError(f"clip: yuv420p needs an even frame size, got {w}x{h} (render at an even size)")
        # macro_block_size 2: keep the frame size as rendered (the default 16 would rescale 640x360 etc.)
        tmp = path.with_name(f".{path.stem}.tmp.mp4")  # written aside, then renamed: never half a video
        try:
            imageio.mimsave(tmp, clip.frames, format="FFMPEG", fps=clip.fps, codec="libx264",
                            pixelformat="yuv420p", macro_block_size=2)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        raise ValueError(f"path: expected a .mp4 or .gif video file, got {path.name!r}")


def write_gif(frames: list[np.ndarray], path: Path, duration_ms: float, colors: int = 128) -> None:
    """A looping GIF with one palette for all frames, without dithering: per-frame palettes and dither
    noise change most pixels every frame, which defeats GIF's compression (and Pillow's optimize, which
    stores only the changed rectangle); this is about 4x smaller at the same look."""
    from PIL import Image

    if not frames:
        raise ValueError("frames: expected at least one frame, got none")
    picks = np.linspace(0, len(frames) - 1, min(4, len(frames))).astype(int)  # the palette sees the whole clip
    palette = Image.fromarray(np.concatenate([frames[i] for i in picks])).quantize(colors, Image.Quantize.MEDIANCUT)
    images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    atomic_write(path, lambda f: images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                                                duration=round(duration_ms), loop=0, optimize=True))


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """`size` rounded up to even numbers: H.264 in yuv420p halves the chroma planes."""
    return size[0] + size[0] % 2, size[1] + size[1] % 2


def record_video(model: PPO, ckpt: Path, path: Path, seed: int, seconds: float = 10.0,
                 size: tuple[int, int] = (640, 480)) -> str:
    """Render the first `seconds` of one deterministic episode to MP4/GIF at `size` (width, height;
    rounded up to even for MP4); returns a message (never raises for missing GL or ffmpeg)."""
    try:
        if path.suffix.lower() == ".mp4":
            size = even_size(size)
        clip = collect_frames(model, ckpt, seed, seconds, size)
        write_clip(clip, path)
        return f"video: {path} ({len(clip.frames)} frames, {path.stat().st_size / 1e6:.2f} MB)"
    except Exception as e:  # no GL context, no ffmpeg...: say so clearly, keep the evaluation
        return (f"video: rendering unavailable ({type(e).__name__}: {e}). Rendering needs an OpenGL backend: "
                f"MUJOCO_GL=egl (GPU/EGL) or MUJOCO_GL=osmesa (software), and imageio-ffmpeg for .mp4 (or use .gif).")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of the mean")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--suite", choices=("criteria", "robustness"), default="criteria",
                   help="criteria: the phase's success criteria (default); robustness: the robustness "
                        "suite (training/robustness.py), --episodes envs per condition")
    p.add_argument("--json-output", type=Path, default=None)
    p.add_argument("--video", type=Path, default=None,
                   help="render one deterministic episode to FILE: .mp4 (H.264, compact: use it for anything "
                        "longer than a few seconds) or .gif (large: for short clips)")
    p.add_argument("--video-seconds", type=float, default=10.0, help="length of the rendered clip (default 10 s)")
    p.add_argument("--video-size", default="640x480", help="WIDTHxHEIGHT of the rendered clip (default 640x480)")
    p.add_argument("--amp-dataset", type=Path, default=None,
                   help="Phase 3: Tier 0+ dataset for the joint-trajectory correlation (default: the run's)")
    p.add_argument("--command-range", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="draw each episode's command from [LO, HI] m/s (default: the checkpoint's env.command_range)")
    args = p.parse_args(argv)
    if args.command_range is not None:
        lo, hi = args.command_range
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise SystemExit(f"--command-range: expected LO <= HI, two finite speeds in m/s, got {lo} {hi}")
    if args.episodes < 1:
        raise SystemExit("--episodes: expected a positive integer")
    if args.video_seconds <= 0:
        raise SystemExit(f"--video-seconds: expected a positive number of seconds, got {args.video_seconds}")
    try:
        video_size = tuple(int(v) for v in args.video_size.lower().split("x"))
        if len(video_size) != 2 or min(video_size) < 16:
            raise ValueError
    except ValueError:
        raise SystemExit(f"--video-size: expected WIDTHxHEIGHT with both >= 16, e.g. 320x240; got {args.video_size!r}") from None

    if args.video is not None and args.video.suffix.lower() not in (".mp4", ".gif"):
        raise SystemExit(f"--video: expected a .mp4 (compact) or .gif (short clips) file, got {str(args.video)!r}")

    if args.suite == "robustness" and args.video is not None:
        raise SystemExit("--video: not with --suite robustness (render with the default --suite criteria)")
    if args.suite == "robustness" and args.command_range is not None:
        raise SystemExit("--command-range: not with --suite robustness (its conditions fix their own commands)")
    ckpt = open_checkpoint("checkpoint", args.checkpoint)
    if args.suite == "robustness":
        from training.robustness import main_suite

        return main_suite(args.checkpoint, ckpt, args.episodes, args.seed, not args.stochastic, args.json_output)
    try:
        overrides = None if args.command_range is None else {"command_range": list(args.command_range)}
        model, venv, cfg, state = load_policy(ckpt, n_envs=min(args.episodes, 8), env_overrides=overrides)
    except ValueError as e:  # a file of the checkpoint that does not load (named in the message)
        raise SystemExit(f"checkpoint {args.checkpoint}: {e}") from None
    deterministic = not args.stochastic
    try:
        episodes = run_episodes(model, venv, args.episodes, deterministic, args.seed)
    finally:
        venv.close()
    figures = summarize(episodes)
    if cfg["phase"] == "3":
        figures.update(phase3_figures(ckpt, cfg, state, find_wrapper(venv, TransitionRecorder), args.amp_dataset))
    rows = judge(cfg["success_criteria"], figures)
    print(f"checkpoint {args.checkpoint} (phase {cfg['phase']}, {state['num_timesteps']} steps)")
    print_table(cfg["phase"], rows, figures, deterministic)
    result = {"checkpoint": str(args.checkpoint), "phase": cfg["phase"], "num_timesteps": state["num_timesteps"],
              "deterministic": deterministic, "command_range": list(cfg["env"].get("command_range") or []),
              **figures, "criteria": rows,
              "all_pass": all(r["result"] == "PASS" for r in rows if r["result"] in ("PASS", "FAIL"))}
    if args.video is not None:
        print(record_video(model, ckpt, args.video, args.seed, args.video_seconds, video_size))
    if args.json_output is not None:
        args.json_output.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json_output.with_name(args.json_output.name + ".tmp")
        tmp.write_text(json.dumps(result, indent=1, default=_json_default))
        os.replace(tmp, args.json_output)
    return result


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


if __name__ == "__main__":
    main()
