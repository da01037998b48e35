"""Micro-train smoke test (seed 000, Phase 2 "Validate Reference Manifold").

Trains the AMP discriminator (the same net, loss, gradient penalty, input noise, normaliser, frame history
and reference sampler as Phase 3: `wildrobot_gym.amp`, configs/amp.yaml, ``reference.walking_only``
included) to tell Tier 0+ reference transitions from the transitions of a real physics rollout of the
env, then checks the seed's gates on held-out samples (``smoke_test.eval_fraction``): the rollout's last steps,
and the transitions of reference motions the discriminator never saw (`held_out_split`), so that the gates
measure what it learnt of the two walks, not frames it remembers:

* discriminator AUC in [0.6, 0.9]   (not saturated, not random)
* AMP (style) reward variance > 0.05 over the policy samples  (the policy has a landscape to climb)
* no NaN / Inf in features, logits or losses, and max |logit| below the ramp's saturation threshold.

The report also ranks the discriminator's feature columns by how well each alone separates the two sets
(``feature_separability``, `reference.overlap.column_separability`): where a gate fails, this says on what.

``--steps`` counts **discriminator updates** (each on ``--batch-size`` real and as many policy pairs),
as the seed's ``--steps 5000 --log-interval 100``. The policy samples come from one rollout of
``policy_steps`` env steps (configs/amp.yaml), collected before training: with ``--policy`` a PPO
checkpoint (a ``model.zip``, a train_ppo checkpoint directory or a policy bundle, whose ``vecnormalize.npz`` is applied)
acts stochastically, as during training; without it a scripted smooth random policy (low-pass filtered
Gaussian actions) drives the real env, falls and all. Gates and sizes: ``smoke_test`` of configs/amp.yaml.

    python -m reference.smoke_test --dataset data/tier0plus --steps 5000 --drop-contacts --drop-height \\
        --json-output smoke.json [--policy runs/phase2/checkpoints/<step>]

Exit status: 0 when every gate passes, 1 when one fails (the JSON says which).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch as th
import yaml
from gymnasium import spaces

from reference.miner import atomic_write_bytes, load_dataset
from reference.overlap import column_separability
from wildrobot_gym.amp import (
    CONTACT_COMPONENTS,
    DEFAULT_AMP_CONFIG,
    HEIGHT_COMPONENTS,
    AMPConfig,
    AMPFeatureObservation,
    ReferenceSampler,
    discriminator_update,
    load_amp_config,
    make_discriminator,
    roc_auc,
    style_reward,
)
from wildrobot_gym.amp_features import LAYOUT
from wildrobot_gym.checkpoints import resolve_checkpoint

STEPS_MEANING = "discriminator updates"


# ------------------------------------------------------------------------------------------------
# Policy samples
# ------------------------------------------------------------------------------------------------
def scripted_policy(num_actions: int, seed: int, scale: float = 0.5, smoothing: float = 0.9) -> Callable[[np.ndarray], np.ndarray]:
    """Smooth random actions a_t = s a_{t-1} + sqrt(1 - s^2) scale N(0, 1), clipped to [-1, 1]:
    joint motions at servo-like bandwidth instead of white noise (which only shakes in place)."""
    rng = np.random.default_rng(seed)
    state = np.zeros(num_actions)

    def act(_obs: np.ndarray) -> np.ndarray:
        state[:] = smoothing * state + math.sqrt(1 - smoothing**2) * scale * rng.standard_normal(num_actions)
        return np.clip(state, -1.0, 1.0)

    return act


def checkpoint_policy(path: Path, env: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A stochastic PPO policy from a checkpoint (directory, run, or policy bundle .zip), with its
    observation normalisation. Nothing in it is unpickled (`wildrobot_gym.policy_io`): the statistics are
    plain arrays (vecnormalize.npz), the PPO is rebuilt from the saved config and given its weights."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    from wildrobot_gym.checkpoints import VECNORM_FILE, read_state
    from wildrobot_gym.config import validate_config
    from wildrobot_gym.policy_io import load_ppo, load_vecnormalize

    try:
        ckpt = resolve_checkpoint(path)
        cfg = validate_config(read_state(ckpt)["config"])
        # the statistics were fitted on the policy's observation, without the AMP features
        base = env.env
        model = load_ppo(ckpt, None, cfg, device="cpu", observation_space=base.observation_space,
                         action_space=base.action_space)
        norm = None
        if (ckpt / VECNORM_FILE).is_file():
            norm = load_vecnormalize(ckpt / VECNORM_FILE, DummyVecEnv([lambda: base]))
            norm.training = False
    except (FileNotFoundError, ValueError, KeyError) as exc:  # missing, damaged, old format, or not fitting
        raise SystemExit(f"--policy {path}: {exc}") from None

    def act(obs: np.ndarray) -> np.ndarray:
        o = norm.normalize_obs(obs[None])[0] if norm is not None else obs
        a, _ = model.predict(o, deterministic=False)
        return np.asarray(a, dtype=np.float64)

    return act


def collect_policy_pairs(
    env: AMPFeatureObservation,
    policy: Callable[[np.ndarray], np.ndarray],
    steps: int,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """(s, s') feature blocks (the env's history_frames) of `steps` env steps; pairs never span a reset
    (the terminal state is an s')."""
    d = env.policy_obs_dim
    obs, _ = env.reset(seed=seed)
    s, s2 = [], []
    episodes = falls = 0
    for _ in range(steps):
        action = policy(obs[:d])
        nxt, _, term, trunc, _ = env.step(action)
        s.append(obs[d:])
        s2.append(nxt[d:])
        obs = nxt
        if term or trunc:
            episodes += 1
            falls += int(term)
            obs, _ = env.reset()
    stats = {"steps": float(steps), "episodes": float(episodes), "falls": float(falls)}
    return np.asarray(s, np.float32), np.asarray(s2, np.float32), stats


def make_env(env_config: Path | None, cfg: AMPConfig) -> AMPFeatureObservation:
    """The base env (with the ``env:`` section of a phase config, if given) plus the AMP features, with the
    discriminator's frame history (``discriminator.history_frames``)."""
    from wildrobot_gym.env import WildRobotWalkEnv

    kwargs: dict[str, Any] = {}
    if env_config is not None:
        doc = yaml.safe_load(Path(env_config).read_text()) or {}
        kwargs = dict(doc.get("env") or {})
    return AMPFeatureObservation(WildRobotWalkEnv(**kwargs), cfg.features.lin_vel_mode, cfg.features.lin_vel_clip,
                                 cfg.discriminator.history_frames)


# ------------------------------------------------------------------------------------------------
# The test
# ------------------------------------------------------------------------------------------------
def drop_components(drop_contacts: bool, drop_height: bool) -> tuple[str, ...]:
    """--drop-contacts: the contact flags and their continuous proxies; --drop-height: root height."""
    return (CONTACT_COMPONENTS if drop_contacts else ()) + (HEIGHT_COMPONENTS if drop_height else ())


def _finite(*arrays: np.ndarray) -> bool:
    return all(bool(np.isfinite(a).all()) for a in arrays)


def held_out_split(n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) indices of `n` policy pairs in time order: the held-out ones are the last
    round(fraction n) (at least one), a block of the rollout rather than pairs picked between training pairs
    20 ms from them."""
    n_eval = min(n, max(1, int(round(fraction * n))))
    return np.arange(n - n_eval), np.arange(n - n_eval, n)


def run_smoke_test(
    sampler: ReferenceSampler,
    policy_s: np.ndarray,
    policy_s2: np.ndarray,
    cfg: AMPConfig,
    *,
    steps: int,
    drop: Sequence[str] = (),
    batch_size: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train a discriminator for `steps` updates; gates on held-out samples. Returns the report.
    `sampler` and the policy blocks (in time order) must have the config's ``discriminator.history_frames``.
    The reference is split by motion (`ReferenceSampler.split_motions`) when it has two or more."""
    th.manual_seed(seed)
    rng = np.random.default_rng(seed)
    sc, dc = cfg.smoke_test, cfg.discriminator
    width = dc.history_frames * LAYOUT.dim
    if sampler.history_frames != dc.history_frames or policy_s.shape[-1] != width or policy_s2.shape[-1] != width:
        raise ValueError(f"smoke test: discriminator.history_frames is {dc.history_frames} ({width} feature columns), "
                         f"the reference sampler has {sampler.history_frames} frame(s) and the policy blocks "
                         f"{policy_s.shape[-1]} columns (build both with the config's history_frames)")
    batch = int(batch_size or dc.batch_size)
    n = len(policy_s)
    tr, ev = held_out_split(n, sc.eval_fraction)
    if len(tr) == 0:
        raise ValueError(f"smoke test: {n} policy samples leave none for training")
    split = sampler.split_motions(sc.eval_fraction)
    train_ref, eval_ref = split if split is not None else (sampler, sampler)
    features_finite = _finite(sampler.features, policy_s, policy_s2)

    space = spaces.Box(-np.inf, np.inf, (width,), np.float32)
    net = make_discriminator(space, spaces.Box(-1, 1, (1,), np.float32), dc, feature_start=0, drop=drop)
    opt = th.optim.Adam(net.parameters(), lr=dc.learning_rate, weight_decay=dc.weight_decay)
    t_ps, t_ps2 = th.as_tensor(policy_s[tr]), th.as_tensor(policy_s2[tr])
    history: list[dict[str, float]] = []
    train_finite = True
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        rs, rs2, _ = train_ref.sample(batch)
        i = th.as_tensor(rng.integers(0, len(tr), size=batch))
        m = discriminator_update(
            net, opt, th.as_tensor(rs), th.as_tensor(rs2), t_ps[i], t_ps2[i],
            grad_penalty_weight=dc.grad_penalty_weight, input_noise_std=dc.input_noise_std,
            saturation=cfg.ramp.max_abs_logit,
        )
        if not all(math.isfinite(v) for k, v in m.items() if k != "amp/auc"):
            train_finite = False
            history.append({"step": step, **m})
            break
        if step % sc.log_interval == 0 or step == steps:
            history.append({"step": step, **m})
    train_seconds = time.perf_counter() - t0

    # Held-out evaluation: the held-out motions' pairs vs the policy pairs never trained on.
    rs, rs2, motions = eval_ref.sample(sc.eval_size)
    net.eval()
    with th.no_grad():
        d_real = net.logits(th.as_tensor(rs), th.as_tensor(rs2)).double().numpy()
        d_fake = net.logits(th.as_tensor(policy_s[ev]), th.as_tensor(policy_s2[ev])).double().numpy()
        r_fake = style_reward(th.as_tensor(d_fake)).numpy()
    logits_finite = _finite(d_real, d_fake)
    auc = roc_auc(d_real, d_fake) if logits_finite else float("nan")
    # What gives the policy away, column by column (the discriminator's columns, current frame only).
    kept = LAYOUT.without(drop)
    cols = LAYOUT.columns(kept.names)
    separable = column_separability(rs[:, cols], policy_s[:, cols], kept.column_names())
    both = np.abs(np.concatenate([d_real, d_fake]))
    max_abs = float(both.max()) if logits_finite else float("inf")
    variance = float(r_fake.var()) if logits_finite else float("nan")
    checks = {
        "auc_in_range": bool(math.isfinite(auc) and sc.auc_min <= auc <= sc.auc_max),
        "reward_variance": bool(math.isfinite(variance) and variance > sc.min_reward_variance),
        "no_nan_inf": bool(features_finite and train_finite and logits_finite),
        "logits_not_saturated": bool(max_abs < cfg.ramp.max_abs_logit),
    }
    return {
        "auc": auc,
        "amp_reward_variance": variance,
        "amp_reward_mean": float(r_fake.mean()) if logits_finite else float("nan"),
        "expert_logit_mean": float(d_real.mean()),
        "policy_logit_mean": float(d_fake.mean()),
        "max_abs_logit": max_abs,
        "saturated_fraction": float((both >= cfg.ramp.max_abs_logit).mean()),
        "logit_saturation_threshold": cfg.ramp.max_abs_logit,
        "feature_separability": separable,
        "features_finite": features_finite,
        "training_finite": train_finite,
        "checks": checks,
        "passed": all(checks.values()),
        "gates": {"auc_min": sc.auc_min, "auc_max": sc.auc_max, "min_reward_variance": sc.min_reward_variance},
        "steps": steps,
        "steps_meaning": STEPS_MEANING,
        "batch_size": batch,
        "history_frames": dc.history_frames,
        "reference_segments": sampler.walking_filter,
        "drop": list(drop),
        "eval": {"reference_pairs": int(len(d_real)), "policy_pairs": int(len(d_fake)),
                 "reference_motions": int(len(np.unique(motions))),
                 "reference_split": "motions" if split is not None else "none (one motion)",
                 "held_out_motions": int(len(eval_ref.motions)) if split is not None else 0,
                 "policy_split": "the rollout's last pairs"},
        "train_seconds": train_seconds,
        "history": history,
    }


def _json_safe(x: Any) -> Any:
    """NaN / Inf become null so that the report is strict JSON."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m reference.smoke_test", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, type=Path, help="Tier 0+ dataset directory (reference.miner)")
    p.add_argument("--steps", type=int, default=5000, help=f"{STEPS_MEANING} (default 5000)")
    p.add_argument("--drop-contacts", action="store_true", help="drop foot contacts and their proxies")
    p.add_argument("--drop-height", action="store_true", help="drop the root height")
    p.add_argument("--policy", type=Path, default=None, help="PPO model.zip or checkpoint directory (default: scripted)")
    p.add_argument("--env-config", type=Path, default=None, help="phase YAML whose env: section configures the env")
    p.add_argument("--config", type=Path, default=DEFAULT_AMP_CONFIG, help="AMP config (default configs/amp.yaml)")
    p.add_argument("--policy-steps", type=int, default=None, help="env steps of the rollout (default: config)")
    p.add_argument("--batch-size", type=int, default=None, help="per update, real and policy each (default: config)")
    p.add_argument("--log-interval", type=int, default=None, help="updates between history entries (default: config)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json-output", type=Path, default=None, help="write the report here")
    a = p.parse_args(argv)
    if a.steps < 1:
        p.error("--steps must be >= 1")
    return a


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    th.set_num_threads(1)  # small nets: threads cost more than they give on a shared 2-core box
    try:
        cfg = load_amp_config(args.config)
        dataset = load_dataset(args.dataset)
    except ValueError as exc:
        raise SystemExit(f"smoke_test: {exc}") from None
    sc = cfg.smoke_test
    overrides = {k: v for k, v in (("policy_steps", args.policy_steps), ("log_interval", args.log_interval)) if v is not None}
    if overrides:
        cfg = replace(cfg, smoke_test=replace(sc, **overrides))
    fc = cfg.features
    try:
        sampler = ReferenceSampler.from_dataset(dataset, cfg.reference, lin_vel_mode=fc.lin_vel_mode,
                                                lin_vel_clip=fc.lin_vel_clip, seed=args.seed,
                                                history_frames=cfg.discriminator.history_frames, source=str(args.dataset))
    except ValueError as exc:  # e.g. walking_only and no walking segment: the message names the dataset
        raise SystemExit(f"smoke_test: {exc}") from None
    env = make_env(args.env_config, cfg)
    if args.policy is not None:
        policy, source = checkpoint_policy(args.policy, env), f"checkpoint:{args.policy}"
    else:
        policy, source = scripted_policy(env.action_space.shape[0], args.seed), "scripted_smooth_random"
    t0 = time.perf_counter()
    ps, ps2, roll = collect_policy_pairs(env, policy, cfg.smoke_test.policy_steps, args.seed)
    env.close()
    roll["seconds"] = time.perf_counter() - t0
    drop = drop_components(args.drop_contacts, args.drop_height)
    report = run_smoke_test(sampler, ps, ps2, cfg, steps=args.steps, drop=drop, batch_size=args.batch_size, seed=args.seed)
    report.update(
        policy_source=source,
        rollout=roll,
        dataset={"path": str(args.dataset), "frames": dataset.num_frames, "segments": dataset.num_segments,
                 "seconds": dataset.total_seconds, "motions": len(sampler.motions),
                 "sampled_segments": sampler.num_segments, "transitions": sampler.num_transitions},
        config={"discriminator": asdict(cfg.discriminator), "reference": asdict(cfg.reference)},
    )
    c = report["checks"]
    print(f"smoke test: AUC {report['auc']:.3f} (gate {sc.auc_min}-{sc.auc_max}), AMP reward variance "
          f"{report['amp_reward_variance']:.4f} (gate > {sc.min_reward_variance}), max |logit| "
          f"{report['max_abs_logit']:.2f}, finite {c['no_nan_inf']}: {'PASS' if report['passed'] else 'FAIL'} "
          f"({', '.join(k for k, v in c.items() if not v) or 'all gates'})")
    top = list(report["feature_separability"].items())[:3]
    print("most separable feature columns (max(AUC, 1 - AUC), 0.5 = same distribution): "
          + ", ".join(f"{k} {v:.3f}" for k, v in top))
    if args.json_output is not None:
        text = json.dumps(_json_safe(report), indent=1, allow_nan=False)
        atomic_write_bytes(Path(args.json_output), lambda f: f.write(text.encode()))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
