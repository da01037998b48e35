"""Run the seed 000 decision tree end to end: Tier 0+ data -> go / no-go -> walking -> AMP (Phase 3).

    python training/run_pipeline.py --workdir runs/pipeline [--phase2-checkpoint runs/phase2] [--dry-run]
        [--timesteps phase1e=N --timesteps phase2=N --timesteps phase3=N] [--n-envs N --n-workers N]

Stages, top to bottom (each skipped when its output exists, so a killed pipeline is simply re-run):

1. generate      ``python -m reference.generate --output-dir WORKDIR/tier0plus`` (records, dataset, analysis)
2. analyse       ``WORKDIR/tier0plus/analysis.json`` (``python -m reference.analyze`` if generate left none);
                 its Tier 0+ seconds pick the branch with ``analysis.proceed_seconds`` /
                 ``borderline_seconds`` of configs/reference.yaml (`reference.analyze.decide`):
                 >= proceed: proceed; >= borderline: the same with a warning ("try with caution");
                 below: Path B ("AMP from scratch is not the efficient path: baseline PPO walking first").
3. Path B: phase1e, phase2   plain PPO walking (configs/phase1e.yaml, then configs/phase2.yaml from its final
                 checkpoint); skipped when --phase2-checkpoint is given. A training stage left unfinished
                 is continued with --resume.
4. proceed / borderline: smoke_test   the micro-train smoke test (``reference.smoke_test``, contacts and
                 height dropped, ``phase3.smoke_test_updates`` updates) against the policy Phase 3 starts
                 from: the scripted smooth random policy (from scratch), or --phase2-checkpoint's policy. Its
                 gates (AUC 0.6-0.9, reward variance > 0.05) must pass, else the tree says "debug
                 artifacts, check harness, try threshold relax" and the pipeline stops (--ignore-smoke-test
                 goes on).
   Path B: walking_check   evaluate the Phase 2 checkpoint; AMP is added "once stable walking is
                 achieved": forward velocity >= ``decision.proceed_min_velocity`` of the checkpoint's
                 config (--no-walking-gate: logged, not enforced).
5. phase3        ``train_ppo.py --config configs/phase3.yaml`` (AMPTrainer). proceed / borderline: from
                 scratch, seed 000's route (the one whose gait AMP shapes, docs/results/phase3_walking.md),
                 or ``--init-from`` --phase2-checkpoint when given. Path B: ``--init-from <Phase 2>``, AMP at
                 w_amp = ``phase3.path_b_initial_weight`` of the AMP config (seed: 0.1), i.e. the AMP ramp's
                 initial weight, written to WORKDIR/amp_path_b.yaml; the ramp then raises it.

Every decision is printed and appended, with its figures, to WORKDIR/decisions.log; the stages' status
and outputs are in WORKDIR/pipeline_state.json. --dry-run prints the plan (from what WORKDIR holds) and
changes nothing. Exit status 1 when a gate stops the pipeline.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from training.common import list_checkpoints, load_amp_run_config, read_state, resolve_checkpoint  # noqa: E402
from wildrobot_gym.atomic_io import atomic_write_text  # noqa: E402
from wildrobot_gym.paths import CONFIG_DIR  # noqa: E402

STATE_FILE = "pipeline_state.json"
LOG_FILE = "decisions.log"
TRAIN_STAGES = ("phase1e", "phase2", "phase3")
CONFIGS = CONFIG_DIR


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", type=Path, required=True, help="every stage's output, the state JSON and the decisions log")
    p.add_argument("--phase2-checkpoint", type=Path, default=None,
                   help="a walking policy: Path B skips Phase 1E / 2 training; proceed / borderline start Phase 3 from it")
    p.add_argument("--timesteps", action="append", default=[], metavar="STAGE=N",
                   help=f"total env steps of a training stage ({', '.join(TRAIN_STAGES)}); repeatable")
    p.add_argument("--n-envs", type=int, default=None, help="training stages: parallel envs")
    p.add_argument("--n-workers", type=int, default=None, help="training stages: worker processes (0: in-process)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    p.add_argument("--reference-config", type=Path, default=CONFIGS / "reference.yaml",
                   help="generation / mining / analysis config (the branch thresholds: analysis section)")
    p.add_argument("--input-dir", type=Path, default=None, help="clip folder for generation (default: the library)")
    p.add_argument("--generate-workers", type=int, default=None, help="reference.generate --workers")
    p.add_argument("--phase1e-config", type=Path, default=CONFIGS / "phase1e.yaml")
    p.add_argument("--phase2-config", type=Path, default=CONFIGS / "phase2.yaml")
    p.add_argument("--phase3-config", type=Path, default=CONFIGS / "phase3.yaml")
    p.add_argument("--amp-config", type=Path, default=None, help="AMP config (default configs/amp.yaml)")
    p.add_argument("--smoke-steps", type=int, default=None, help="smoke test updates (default: phase3.smoke_test_updates)")
    p.add_argument("--eval-episodes", type=int, default=10, help="episodes of the Path B walking check")
    p.add_argument("--ignore-smoke-test", action="store_true", help="go on to Phase 3 when the smoke test fails")
    p.add_argument("--no-walking-gate", action="store_true", help="Path B: go on to AMP even if walking is not stable")
    args = p.parse_args(argv)
    args.steps = {}
    for item in args.timesteps:
        stage, _, n = item.partition("=")
        if stage not in TRAIN_STAGES or not n.isdigit() or int(n) < 1:
            p.error(f"--timesteps {item!r}: expected STAGE=N with STAGE in {TRAIN_STAGES} and N > 0")
        args.steps[stage] = int(n)
    return args


# ---------------------------------------------------------------------------- bookkeeping
class Pipeline:
    """The workdir's state JSON and decisions log; `log` prints and appends (not on a dry run)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.work = args, args.workdir
        self.dataset = self.work / "tier0plus"
        self.state_path, self.log_path = self.work / STATE_FILE, self.work / LOG_FILE
        self.state: dict[str, Any] = json.loads(self.state_path.read_text()) if self.state_path.is_file() else {"stages": {}}

    def log(self, msg: str) -> None:
        print(msg, flush=True)
        if not self.args.dry_run:
            self.work.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "a") as f:
                f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {msg}\n")

    def save(self) -> None:
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, default=str))
        os.replace(tmp, self.state_path)

    def done(self, stage: str, output: Path, **figures: Any) -> None:
        self.state["stages"][stage] = {"status": "done", "output": str(output), **figures}
        self.save()

    def stage(self, name: str, output: Path, exists: bool, run: Callable[[], dict | None]) -> Path:
        """Run a stage unless its output exists; `run` returns the stage's figures for the state JSON
        (an "output" among them replaces `output`). Returns the stage's output."""
        if exists:
            self.log(f"[{name}] skipped: output exists ({output})")
            self.state["stages"].setdefault(name, {"status": "done", "output": str(output)})
            self.state["stages"][name]["status"] = "done"
            self.save()
            return Path(self.state["stages"][name]["output"])
        self.log(f"[{name}] running -> {output}")
        figures = dict(run() or {})
        output = Path(figures.pop("output", output))
        self.done(name, output, **figures)
        return output


# ---------------------------------------------------------------------------- decisions
def analysis_branch(analysis_path: Path, reference_config: Path) -> tuple[str, float, Any]:
    """(branch, the seconds decided on, thresholds) from an analysis JSON and the config's analysis section.

    The seconds are the walking Tier 0+ seconds (``decision_seconds``; standing data is no walking reference);
    an analysis written before the walking label has only the total."""
    from reference.analyze import decide, load_analysis_config

    report = json.loads(analysis_path.read_text())
    seconds = float(report.get("decision_seconds", report["total_tier0plus_seconds"]))
    cfg = load_analysis_config(reference_config)
    return decide(seconds, cfg), seconds, cfg


def branch_message(branch: str, seconds: float, cfg: Any) -> str:
    figures = f"walking Tier 0+ {seconds:.1f} s (proceed >= {cfg.proceed_seconds:g} s, borderline >= {cfg.borderline_seconds:g} s)"
    return {
        "proceed": f"decision: proceed: {figures}: smoke test, then Phase 3 (AMP from scratch, or from "
                   "--phase2-checkpoint)",
        "borderline": f"decision: borderline: {figures}: WARNING: try with caution (little reference data): "
                      "smoke test, then Phase 3 (AMP from scratch, or from --phase2-checkpoint)",
        "stop_path_b": f"decision: stop_path_b: {figures}: AMP from scratch is not the efficient path: "
                       "Path B: plain PPO walking first (Phase 1E, Phase 2), then AMP at low weight, ramped up",
    }[branch]


def amp_config_for(p: Pipeline, branch: str) -> Path | None:
    """The AMP config of Phase 3: the given / default one; Path B: a copy whose ramp starts at the
    configured w_amp (written to the workdir, so a resumed run reads the same file)."""
    if branch != "stop_path_b":
        return p.args.amp_config
    acfg = load_amp_run_config(p.args.amp_config)
    w = acfg.phase3.path_b_initial_weight
    path = p.work / "amp_path_b.yaml"
    if not p.args.dry_run:
        doc = asdict(replace(acfg, ramp=replace(acfg.ramp, initial=w)))
        atomic_write_text(path, yaml.safe_dump(json.loads(json.dumps(doc)), sort_keys=False))
    return path


def final_checkpoint(logdir: Path) -> Path | None:
    """The latest checkpoint of a training logdir, or None."""
    found = list_checkpoints(logdir / "checkpoints")
    return found[-1] if found else None


# ---------------------------------------------------------------------------- stages
def train_stage(p: Pipeline, name: str, config: Path, init_from: Path | None, extra: list[str] = ()) -> Path:
    """train_ppo for one phase into WORKDIR/<name>; continued with --resume when it has checkpoints."""
    from training import train_ppo

    logdir = p.work / name
    argv = ["--logdir", str(logdir), "--no-progress-bar"]
    if final_checkpoint(logdir) is not None:
        argv += ["--resume"]
    else:
        argv += ["--config", str(config)] + (["--init-from", str(init_from)] if init_from else []) + list(extra)
    if name in p.args.steps:
        argv += ["--total-timesteps", str(p.args.steps[name])]
    for flag, value in (("--n-envs", p.args.n_envs), ("--n-workers", p.args.n_workers)):
        if value is not None:
            argv += [flag, str(value)]
    p.log(f"[{name}] python training/train_ppo.py {' '.join(argv)}")
    return train_ppo.main(argv)


def trained_stage(p: Pipeline, name: str, config: Path, init_from: Path | None, extra: list[str] = ()) -> Path:
    """A training stage's final checkpoint: trained (or continued) unless the state says it is done."""
    entry = p.state["stages"].get(name, {})
    finished = entry.get("status") == "done" and Path(entry.get("output", "")).is_dir()

    def run() -> dict:
        ckpt = train_stage(p, name, config, init_from, extra)
        return {"output": ckpt, "steps": read_state(ckpt)["num_timesteps"]}

    return p.stage(name, Path(entry["output"]) if finished else p.work / name, finished, run)


def walking_policy(p: Pipeline) -> Path:
    """The Phase 2 checkpoint: given, or trained (Phase 1E, then Phase 2 from it)."""
    if p.args.phase2_checkpoint is not None:
        ckpt = resolve_checkpoint(p.args.phase2_checkpoint)  # a run's logdir means its latest checkpoint
        p.log(f"[walking] given: {ckpt} (Phase 1E / 2 training skipped)")
        return ckpt
    phase1e = trained_stage(p, "phase1e", p.args.phase1e_config, None)
    return trained_stage(p, "phase2", p.args.phase2_config, phase1e)


def start_policy(p: Pipeline, branch: str) -> Path | None:
    """The policy Phase 3 starts from: Path B, the walking policy (given or trained); proceed / borderline,
    --phase2-checkpoint when given, else None (from scratch, seed 000's route)."""
    if branch == "stop_path_b":
        return walking_policy(p)
    if p.args.phase2_checkpoint is not None:
        ckpt = resolve_checkpoint(p.args.phase2_checkpoint)
        p.log(f"[start] Phase 3 starts from the given policy {ckpt}")
        return ckpt
    p.log("[start] Phase 3 starts from scratch (seed 000's route); the smoke test uses the scripted policy")
    return None


def _json_finite(x: Any) -> Any:
    """NaN / Inf -> null, so that the report is strict JSON."""
    if isinstance(x, float):
        return x if x == x and abs(x) != float("inf") else None
    if isinstance(x, dict):
        return {k: _json_finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_finite(v) for v in x]
    return x


def run_smoke_test(dataset: Path, policy: Path | None, env_config: Path, amp_config: Path | None, steps: int,
                   out: Path) -> dict:
    """reference.smoke_test's test (its functions, its report) against the policy Phase 3 starts from (None:
    the scripted smooth random policy, a from-scratch start): contacts and height dropped, as Phase 3 starts."""
    from reference import smoke_test as st
    from reference.miner import load_dataset
    from wildrobot_gym.amp import ReferenceSampler

    acfg = load_amp_run_config(amp_config)
    ds = load_dataset(dataset)
    fc = acfg.features
    sampler = ReferenceSampler.from_dataset(ds, acfg.reference, lin_vel_mode=fc.lin_vel_mode, lin_vel_clip=fc.lin_vel_clip,
                                            seed=0, history_frames=acfg.discriminator.history_frames,
                                            source=str(dataset))
    env = st.make_env(env_config, acfg)
    try:
        act = st.checkpoint_policy(policy, env) if policy is not None else st.scripted_policy(env.action_space.shape[0], 0)
        ps, ps2, roll = st.collect_policy_pairs(env, act, acfg.smoke_test.policy_steps, 0)
    finally:
        env.close()
    report = st.run_smoke_test(sampler, ps, ps2, acfg, steps=steps, drop=st.drop_components(True, True), seed=0)
    source = f"checkpoint:{policy}" if policy is not None else "scripted_smooth_random"
    report.update(policy_source=source, rollout=roll,
                  dataset={"path": str(dataset), "seconds": ds.total_seconds, "segments": ds.num_segments})
    atomic_write_text(out, json.dumps(_json_finite(report), indent=1, allow_nan=False))
    return report


def smoke_test(p: Pipeline, policy: Path | None, amp_config: Path | None) -> bool:
    """The micro-train smoke test; True when its gates pass (or --ignore-smoke-test)."""
    out = p.work / "smoke_test.json"
    steps = p.args.smoke_steps or load_amp_run_config(amp_config).phase3.smoke_test_updates

    def run_smoke() -> None:
        p.log(f"[smoke_test] {steps} discriminator updates, policy {policy or 'scripted (from scratch)'}, "
              "contacts and height dropped")
        run_smoke_test(p.dataset, policy, p.args.phase3_config, amp_config, steps, out)

    p.stage("smoke_test", out, out.is_file(), run_smoke)
    rep = json.loads(out.read_text())
    figures = (f"AUC {rep['auc']} (gate {rep['gates']['auc_min']}-{rep['gates']['auc_max']}), reward variance "
               f"{rep['amp_reward_variance']} (gate > {rep['gates']['min_reward_variance']}), max |logit| {rep['max_abs_logit']}")
    if rep["passed"]:
        p.log(f"decision: smoke test passed: {figures}: Phase 3")
        return True
    failed = ", ".join(k for k, v in rep["checks"].items() if not v)
    if p.args.ignore_smoke_test:
        p.log(f"decision: smoke test FAILED ({failed}): {figures}: going on (--ignore-smoke-test)")
        return True
    p.log(f"decision: smoke test FAILED ({failed}): {figures}: stop: debug artifacts, check the harness, "
          "try relaxing thresholds (seed 000); --ignore-smoke-test goes on regardless")
    return False


def walking_check(p: Pipeline, policy: Path) -> bool:
    """Path B: is the walking stable enough to add AMP? Evaluates the Phase 2 policy."""
    from training import evaluate

    out = p.work / "walking_eval.json"
    argv = [str(policy), "--episodes", str(p.args.eval_episodes), "--json-output", str(out)]

    def run_eval() -> None:
        p.log(f"[walking_check] python training/evaluate.py {' '.join(argv)}")
        evaluate.main(argv)

    p.stage("walking_check", out, out.is_file(), run_eval)
    ev = json.loads(out.read_text())
    ckpt_cfg = read_state(resolve_checkpoint(ev["checkpoint"]))["config"]  # a dir, a run or a bundle
    v_min = ckpt_cfg["decision"]["proceed_min_velocity"]
    figures = (f"forward velocity {ev['forward_velocity_mean']:.3f} m/s (need >= {v_min}), success rate "
               f"{ev['success_rate']:.2f}, {ev['episodes']} episodes")
    if ev["forward_velocity_mean"] >= v_min:
        p.log(f"decision: walking stable: {figures}: add AMP")
        return True
    if p.args.no_walking_gate:
        p.log(f"decision: walking NOT stable: {figures}: adding AMP anyway (--no-walking-gate)")
        return True
    p.log(f"decision: walking NOT stable: {figures}: stop: train walking longer (Phase 2) before AMP; "
          "--no-walking-gate goes on regardless")
    return False


def phase3(p: Pipeline, policy: Path | None, amp_config: Path | None) -> Path:
    """Phase 3 (AMP) from `policy` (None: from scratch), on the pipeline's dataset."""
    extra = ["--amp-dataset", str(p.dataset)] + (["--amp-config", str(amp_config)] if amp_config else [])
    ckpt = trained_stage(p, "phase3", p.args.phase3_config, policy, extra)
    amp = read_state(ckpt)["amp"]
    p.log(f"[phase3] checkpoint {ckpt}: {read_state(ckpt)['num_timesteps']} steps, AMP weight "
          f"{amp['amp_weight']:.3f}, feature stage {amp['feature_stage']}")
    return ckpt


# ---------------------------------------------------------------------------- plan and run
def plan(p: Pipeline) -> dict[str, Any]:
    """The stages this workdir still needs, without running anything (--dry-run)."""
    analysis = p.dataset / "analysis.json"
    stages = [{"stage": "generate", "status": "done" if (p.dataset / "tier0plus.npz").is_file() else "todo"},
              {"stage": "analyse", "status": "done" if analysis.is_file() else "todo"}]
    branch = None
    if analysis.is_file():
        branch, seconds, cfg = analysis_branch(analysis, p.args.reference_config)
        p.log(branch_message(branch, seconds, cfg))
    else:
        p.log("decision: after the analysis (branch unknown until the dataset exists); planned as 'proceed'")
    if branch == "stop_path_b" and p.args.phase2_checkpoint is None:
        stages += [{"stage": s, "status": p.state["stages"].get(s, {}).get("status", "todo")} for s in ("phase1e", "phase2")]
    gate = "walking_check" if branch == "stop_path_b" else "smoke_test"
    stages.append({"stage": gate, "status": p.state["stages"].get(gate, {}).get("status", "todo")})
    note = ("from the given checkpoint" if p.args.phase2_checkpoint is not None else
            "from scratch (seed 000's route)") + ", AMP ramp of the AMP config"
    if branch == "stop_path_b":
        w = load_amp_run_config(p.args.amp_config).phase3.path_b_initial_weight
        note = f"Path B: AMP at w_amp = {w:g} (ramp initial weight), ramped up"
    stages.append({"stage": "phase3", "status": p.state["stages"].get("phase3", {}).get("status", "todo"), "note": note})
    for s in stages:
        p.log(f"plan: {s['stage']:14s} {s['status']}" + (f"  ({s['note']})" if "note" in s else ""))
    return {"branch": branch, "stages": stages, "dry_run": True}


def run(p: Pipeline) -> dict[str, Any]:
    from reference import analyze, generate

    gen_argv = ["--output-dir", str(p.dataset), "--config", str(p.args.reference_config), "--no-progress"]
    gen_argv += (["--input-dir", str(p.args.input_dir)] if p.args.input_dir else [])
    gen_argv += (["--workers", str(p.args.generate_workers)] if p.args.generate_workers else [])

    def run_generate() -> None:
        p.log(f"[generate] python -m reference.generate {' '.join(gen_argv)}")
        if generate.main(gen_argv) != 0:
            raise SystemExit("reference.generate failed (see above)")

    p.stage("generate", p.dataset / "tier0plus.npz", (p.dataset / "tier0plus.npz").is_file(), run_generate)
    analysis = p.dataset / "analysis.json"
    ana_argv = ["--dataset", str(p.dataset), "--json-output", str(analysis), "--config", str(p.args.reference_config)]

    def run_analyse() -> None:
        if analyze.main(ana_argv) != 0:
            raise SystemExit("reference.analyze failed (see above)")

    p.stage("analyse", analysis, analysis.is_file(), run_analyse)
    branch, seconds, cfg = analysis_branch(analysis, p.args.reference_config)
    p.state.update(branch=branch, tier0plus_seconds=seconds)
    p.log(branch_message(branch, seconds, cfg))
    p.save()

    policy = start_policy(p, branch)
    amp_config = amp_config_for(p, branch)
    gate_ok = walking_check(p, policy) if branch == "stop_path_b" else smoke_test(p, policy, amp_config)
    if not gate_ok:
        p.state["stopped"] = "gate"
        p.save()
        return {**p.state, "ok": False}
    ckpt = phase3(p, policy, amp_config)
    p.log(f"pipeline finished: Phase 3 checkpoint {ckpt}; evaluate with python training/evaluate.py {ckpt}")
    p.state.pop("stopped", None)
    p.save()
    return {**p.state, "ok": True}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    p = Pipeline(args)
    if args.dry_run:
        return plan(p)
    args.workdir.mkdir(parents=True, exist_ok=True)
    p.log(f"pipeline start: workdir {args.workdir}")
    return run(p)


if __name__ == "__main__":
    sys.exit(0 if main().get("ok", True) else 1)
