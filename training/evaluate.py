"""Evaluate a checkpoint against its phase's success criteria (seed 002).

    python training/evaluate.py CHECKPOINT [--episodes 20] [--stochastic] [--json-output FILE] [--video FILE]

CHECKPOINT is a checkpoint directory (``runs/x/checkpoints/step_N``), its ``model.zip``, or a run's
logdir (its latest checkpoint). The phase and its criteria come from the config saved with the
checkpoint. Episodes are split evenly over up to 8 envs (each env runs its own quota, so short, falling
episodes are not over-counted). Prints the criteria table with PASS/FAIL per row; rows that need the
AMP reference clips or discriminator print 'n/a until AMP'.

``--video FILE`` (.mp4 or .gif) renders one deterministic episode; it needs an OpenGL backend
(MUJOCO_GL=egl or osmesa, set to egl here when unset).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping

if "--video" in sys.argv:  # the GL backend is chosen when mujoco is imported
    os.environ.setdefault("MUJOCO_GL", "egl")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize  # noqa: E402

from training.common import read_state, resolve_checkpoint  # noqa: E402
from wildrobot_gym.config import validate_config  # noqa: E402
from wildrobot_gym.wrappers import ContactCurriculum, make_phase_env, style_weight_at  # noqa: E402

NA_AMP = "n/a until AMP"


def load_policy(ckpt: Path, n_envs: int = 1, render_mode: str | None = None) -> tuple[PPO, VecNormalize, dict, dict]:
    """(model, normalised eval VecEnv, config, state) of a checkpoint, with the phase's weights at save time."""
    state = read_state(ckpt)
    cfg = validate_config(state["config"])
    venv = DummyVecEnv([lambda: make_phase_env(cfg, render_mode=render_mode) for _ in range(n_envs)])
    if cfg["phase"] == "2" and "curriculum" in state:
        cur = ContactCurriculum.from_config(cfg)
        cur.load_state_dict(state["curriculum"])
        venv.env_method("set_reward_weights", cur.state().weights)
    if cfg["phase"] == "3":
        amp = cfg["amp"]
        progress = min(state["num_timesteps"] / cfg["training"]["total_timesteps"], 1.0)
        venv.env_method("set_style_weight", style_weight_at(progress, amp["style_weights"], amp["schedule_boundaries"]))
    venv = VecNormalize.load(str(ckpt / "vecnormalize.pkl"), venv)
    venv.training = False
    venv.norm_reward = False
    model = PPO.load(ckpt / "model.zip", device="cpu")
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
    }


def judge(criteria: list[Mapping[str, Any]], figures: Mapping[str, Any]) -> list[dict]:
    """One result row per criterion: value, target met, PASS/FAIL (or n/a with a note)."""
    rows = []
    for c in criteria:
        value = figures.get(c["metric"])
        row = {"metric": c["metric"], "label": c["label"], "value": value, "target": _range(c.get("target_min"), c.get("target_max"))}
        if value is None or (c.get("pass_min") is None and c.get("pass_max") is None):
            note = c.get("note") or "not measured by evaluate"
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
    print(f"falls: {figures['fall_reasons']}; mean episode length {figures['episode_length_mean']:.0f} steps; "
          f"torque saturation {figures['torque_saturation_pct']:.1f}%")


def record_video(model: PPO, ckpt: Path, path: Path, seed: int) -> str:
    """Render one deterministic episode to MP4/GIF; returns a message (never raises for missing GL)."""
    try:
        import imageio.v2 as imageio

        _, venv, cfg, _ = load_policy(ckpt, 1, render_mode="rgb_array")
        env = venv.venv.envs[0]
        venv.seed(seed)
        obs = venv.reset()
        frames = [env.render()]
        for _ in range(int(cfg["env"].get("max_episode_steps", 500))):
            action, _ = model.predict(obs, deterministic=True)
            obs, _, dones, _ = venv.step(action)
            frames.append(env.render())
            if dones[0]:
                break
        fps = 50
        if path.suffix.lower() == ".gif":
            imageio.mimsave(path, frames[::2], duration=2.0 / fps)
        else:
            imageio.mimsave(path, frames, fps=fps)
        return f"video: {path} ({len(frames)} frames)"
    except Exception as e:  # no GL context, no ffmpeg...: say so clearly, keep the evaluation
        return (f"video: rendering unavailable ({type(e).__name__}: {e}). Rendering needs an OpenGL backend: "
                f"MUJOCO_GL=egl (GPU/EGL) or MUJOCO_GL=osmesa (software), and imageio-ffmpeg for .mp4 (or use .gif).")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of the mean")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--json-output", type=Path, default=None)
    p.add_argument("--video", type=Path, default=None, help="render one episode to FILE (.mp4 or .gif)")
    args = p.parse_args(argv)
    if args.episodes < 1:
        raise SystemExit("--episodes: expected a positive integer")

    ckpt = resolve_checkpoint(args.checkpoint)
    model, venv, cfg, state = load_policy(ckpt, n_envs=min(args.episodes, 8))
    deterministic = not args.stochastic
    try:
        episodes = run_episodes(model, venv, args.episodes, deterministic, args.seed)
    finally:
        venv.close()
    figures = summarize(episodes)
    rows = judge(cfg["success_criteria"], figures)
    print(f"checkpoint {ckpt} (phase {cfg['phase']}, {state['num_timesteps']} steps)")
    print_table(cfg["phase"], rows, figures, deterministic)
    result = {"checkpoint": str(ckpt), "phase": cfg["phase"], "num_timesteps": state["num_timesteps"],
              "deterministic": deterministic, **figures, "criteria": rows,
              "all_pass": all(r["result"] == "PASS" for r in rows if r["result"] in ("PASS", "FAIL"))}
    if args.video is not None:
        print(record_video(model, ckpt, args.video, args.seed))
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
    raise TypeError(type(o).__name__)


if __name__ == "__main__":
    main()
