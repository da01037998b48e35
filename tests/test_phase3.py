"""Phase 3 (AMP) training, its evaluation rows and the seed 000 decision-tree pipeline, all tiny."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch as th
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the training/ scripts' package

from reference.miner import MiningConfig, mine_records, write_dataset  # noqa: E402
from training import evaluate, monitor_training, run_pipeline, train_ppo  # noqa: E402
from training.common import AMP_FILE, list_checkpoints, load_amp_run_config, load_discriminator, read_state  # noqa: E402
from wildrobot_gym.amp_features import LAYOUT  # noqa: E402

from test_miner import make_records  # noqa: E402
from test_training import tiny_config  # noqa: E402

th.set_num_threads(1)

TINY_AMP = {
    "discriminator": {"hidden_sizes": [32, 32], "batch_size": 64, "updates_per_round": 2},
    "replay": {"capacity": 2000},
    "ramp": {"ramp_start": 64, "ramp_end": 512, "auc_min": 0.0, "auc_max": 1.0},
    "features": {"stages": [
        {"name": "stage0", "start_step": 0, "drop": ["root_height", "foot_contact", "foot_height", "foot_z_vel"]},
        {"name": "height", "start_step": 128, "drop": ["foot_contact", "foot_height", "foot_z_vel"]},
    ]},
    "phase3": {"pretrain_updates": 5, "pretrain_policy_steps": 128, "smoke_test_updates": 20},
}


def tiny_phase_config(tmp_path: Path, phase: str, total: int = 256, **edits) -> Path:
    """test_training's tiny config, in this process (n_workers 0: the tests share the CPU)."""
    return tiny_config(tmp_path, phase, training__n_workers=0, training__total_timesteps=total, **edits)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    """A tiny Phase 1E checkpoint, a tiny Tier 0+ dataset (3 synthetic walks) and a tiny AMP config."""
    tmp = tmp_path_factory.mktemp("phase3")
    p1 = tmp / "p1"
    p1.mkdir()
    train_ppo.main(["--config", str(tiny_phase_config(p1, "phase1e")), "--logdir", str(p1 / "run"),
                    "--no-progress-bar"])
    ds = mine_records([make_records(150, clip=f"walk{i}", seed=i) for i in range(3)], MiningConfig())
    write_dataset(ds, tmp / "tier0plus")
    amp_cfg = tmp / "amp_tiny.yaml"
    amp_cfg.write_text(yaml.safe_dump(TINY_AMP))
    p3 = tmp / "p3"
    p3.mkdir()
    return {"tmp": tmp, "phase1e": p1 / "run", "dataset": tmp / "tier0plus", "amp_config": amp_cfg,
            # seed 002's style schedule (configs/phase3.yaml keeps 1.0 throughout), so the test sees it change
            "phase3_config": tiny_phase_config(p3, "phase3", amp__style_weights=[0.1, 0.5, 1.0])}


@pytest.fixture(scope="module")
def phase3_run(setup: dict) -> Path:
    logdir = setup["tmp"] / "p3run"
    train_ppo.main(["--config", str(setup["phase3_config"]), "--logdir", str(logdir), "--init-from",
                    str(setup["phase1e"]), "--amp-dataset", str(setup["dataset"]), "--amp-config",
                    str(setup["amp_config"]), "--no-progress-bar"])
    return logdir


# --- training ------------------------------------------------------------------------------------
def test_phase3_writes_amp_scalars_and_checkpoints_with_amp_pt(phase3_run: Path, setup: dict) -> None:
    ckpts = list_checkpoints(phase3_run / "checkpoints")
    assert [c.name for c in ckpts] == ["step_0000000128", "step_0000000256"]
    for c in ckpts:
        assert {p.name for p in c.iterdir()} == {"model.zip", "vecnormalize.npz", "state.json", AMP_FILE}
    state = read_state(ckpts[-1])
    assert state["curriculum"]["level"] == 1  # configs/phase3.yaml's weight schedule, stage 3A (3B at 16M)
    assert state["amp"]["clock_steps"] == 256 and state["amp"]["dataset"] == str(setup["dataset"].resolve())
    assert state["amp"]["pretrain"]["amp/disc_loss"] > 0
    acfg = load_amp_run_config(None, state["amp"]["config"])
    assert acfg.discriminator.hidden_sizes == (32, 32) and acfg.phase3.pretrain_updates == 5
    amp_state = th.load(ckpts[-1] / AMP_FILE, weights_only=True)
    assert amp_state["clock_steps"] == 256 and amp_state["feature_schedule"]["stage"] == 1  # 'height' at 128
    net = load_discriminator(ckpts[-1], acfg)
    assert net is not None and net.drop == ("foot_contact", "foot_height", "foot_z_vel")

    scalars = monitor_training.load_scalars(phase3_run)
    for tag in ("amp/disc_loss", "amp/accuracy", "amp/auc", "amp/expert_logit_mean", "amp/policy_logit_mean",
                "amp/grad_penalty", "amp/style_reward_mean", "amp/style_reward_var", "amp/amp_weight",
                "amp/feature_stage", "amp/env_style_reward_mean", "amp/effective_style_weight",
                "amp_pretrain/amp/auc", "velocity/forward", "episode/length", "train/approx_kl",
                "curriculum/style_weight", "curriculum/tracking_lin_xy"):
        assert tag in scalars, tag
    steps, values = scalars["amp/disc_loss"]
    assert steps.tolist() == [128, 256] and all(math.isfinite(v) for v in values)
    assert scalars["amp_pretrain/amp/auc"][0].tolist() == [0]
    assert scalars["curriculum/style_weight"][1].tolist() == pytest.approx([0.5, 1.0])  # seed 002: 1/3, 2/3 of 256
    # ... and applied: the reward wrapper's style weight is the schedule x reward.style_weight (1.0), and the
    # weight the style reward is paid at is that x the AUC-gated ramp x reward.style_scale (1.0)
    assert scalars["amp/style_weight"][1].tolist() == pytest.approx([0.5, 1.0])
    np.testing.assert_allclose(scalars["amp/effective_style_weight"][1],
                               scalars["amp/style_weight"][1] * scalars["amp/amp_weight"][1], rtol=1e-6)


def test_phase3_with_history_walking_reference_scale_and_no_gate(setup: dict, tmp_path: Path) -> None:
    """amp.yaml's issue 11 keys through train_ppo (the batched env): 2 history frames, walking segments
    only, style_scale 2, and the ramp by steps only (gate: always), with the AUC window kept."""
    recs = [{**make_records(150, clip=f"walk{i}", seed=i), "clip_speed": 0.3} for i in range(3)]  # labelled walking
    write_dataset(mine_records(recs, MiningConfig()), tmp_path / "walking")
    doc = {**TINY_AMP, "discriminator": {**TINY_AMP["discriminator"], "history_frames": 2},
           "reference": {"walking_only": True}, "reward": {"style_scale": 2.0},
           "ramp": {**TINY_AMP["ramp"], "auc_min": 0.6, "auc_max": 0.85, "gate": "always"}}
    amp_cfg = tmp_path / "amp_h2.yaml"
    amp_cfg.write_text(yaml.safe_dump(doc))
    base = ["--config", str(setup["phase3_config"]), "--init-from", str(setup["phase1e"]), "--amp-config",
            str(amp_cfg), "--no-progress-bar"]
    with pytest.raises(SystemExit, match=r"tier0plus has the walking label but 0 walking seconds"):
        train_ppo.main(base + ["--logdir", str(tmp_path / "refused"), "--amp-dataset", str(setup["dataset"])])
    logdir = tmp_path / "run"
    train_ppo.main(base + ["--logdir", str(logdir), "--amp-dataset", str(tmp_path / "walking")])
    ckpt = list_checkpoints(logdir / "checkpoints")[-1]
    acfg = load_amp_run_config(None, read_state(ckpt)["amp"]["config"])
    assert (acfg.discriminator.history_frames, acfg.reference.walking_only, acfg.reward.style_scale, acfg.ramp.gate) == \
        (2, True, 2.0, "always")
    disc = th.load(ckpt / AMP_FILE, weights_only=True)["discriminator"]
    assert disc["mlp.0.weight"].shape[1] == 3 * LAYOUT.dim  # (Phi_t-1, Phi_t, Phi_t+1)
    scalars = monitor_training.load_scalars(logdir)
    steps, weight = scalars["amp/amp_weight"]
    assert steps.tolist() == [128, 256]
    np.testing.assert_allclose(weight, 0.05 + 0.95 * (steps - 64) / (512 - 64), rtol=1e-6)  # whatever the AUC
    np.testing.assert_allclose(scalars["amp/effective_style_weight"][1], [0.5, 1.0] * weight * 2.0, rtol=1e-6)


def test_phase3_weight_schedule_advances_and_reaches_the_amp_envs(setup: dict, tmp_path: Path) -> None:
    """A Phase 3 curriculum stage at step 128 (velocity rules open): pushed through the AMP VecEnv stack at
    the first rollout's end, logged, and stored for --resume."""
    cfg = yaml.safe_load(setup["phase3_config"].read_text())
    cfg["curriculum"].update(advance_velocity=-1.0, degrade_velocity=-2.0, fail_velocity=-2.0)
    cfg["curriculum"]["stages"][1]["start_step"] = 128
    path = tmp_path / "phase3_schedule.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    logdir = tmp_path / "run"
    train_ppo.main(["--config", str(path), "--logdir", str(logdir), "--init-from", str(setup["phase1e"]),
                    "--amp-dataset", str(setup["dataset"]), "--amp-config", str(setup["amp_config"]),
                    "--no-progress-bar"])
    assert read_state(list_checkpoints(logdir / "checkpoints")[-1])["curriculum"]["level"] == 2
    steps, weight = monitor_training.load_scalars(logdir)["curriculum/tracking_lin_xy"]
    assert steps.tolist() == [128, 256] and weight.tolist() == [60.0, 60.0]


def test_phase3_resume_continues_amp_state(phase3_run: Path) -> None:
    train_ppo.main(["--logdir", str(phase3_run), "--resume", "--total-timesteps", "384", "--no-progress-bar"])
    last = list_checkpoints(phase3_run / "checkpoints")[-1]
    assert read_state(last)["num_timesteps"] == 384
    assert th.load(last / AMP_FILE, weights_only=True)["clock_steps"] == 384  # the clock went on, no restart
    steps, _ = monitor_training.load_scalars(phase3_run)["amp/disc_loss"]
    assert steps.tolist() == [128, 256, 384]
    assert len(monitor_training.load_scalars(phase3_run)["amp_pretrain/amp/auc"][0]) == 1  # no second pretraining


def test_missing_dataset_names_the_path(setup: dict, tmp_path: Path) -> None:
    missing = tmp_path / "no_such_dataset"
    with pytest.raises(SystemExit, match=r"no_such_dataset.*python -m reference\.generate --output-dir"):
        train_ppo.main(["--config", str(setup["phase3_config"]), "--logdir", str(tmp_path / "run"),
                        "--amp-dataset", str(missing), "--no-progress-bar"])


# --- evaluation ----------------------------------------------------------------------------------
def test_evaluate_phase3_rows_produce_numbers(phase3_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    result = evaluate.main([str(phase3_run), "--episodes", "2", "--json-output", str(out)])
    data = json.loads(out.read_text())
    assert data["all_pass"] == result["all_pass"]
    rows = {r["metric"]: r for r in data["criteria"]}
    for metric in ("joint_trajectory_correlation", "discriminator_score"):
        assert rows[metric]["result"] in ("PASS", "FAIL"), rows[metric]
        assert isinstance(rows[metric]["value"], float)
    assert -1.0 <= data["joint_trajectory_correlation"] <= 1.0
    assert 0.0 <= data["discriminator_score"] <= 1.0
    assert math.isfinite(data["discriminator_logit_mean"])
    assert len(data["joint_trajectory_correlation_per_joint"]) == 8
    assert rows["energy_efficiency"]["result"] == "n/a until AMP"
    # the judge's score of its own reference at the commands' speeds and its AUC, or the reason it has none
    for key in ("discriminator_reference_score", "discriminator_auc"):
        assert 0.0 <= data.get(key, -1.0) <= 1.0 or key in data["unavailable"]


def test_reference_logits_read_only_segments_at_the_commanded_speeds() -> None:
    """A judge whose logit is feature 0, set to +1 on the fast segment's frames and -1 on the slow one's, so
    the logits tell which segments were read."""
    from types import SimpleNamespace

    acfg = load_amp_run_config(None, TINY_AMP)
    feats = np.zeros((40, LAYOUT.dim), np.float32)
    feats[:20, 0], feats[20:, 0] = -1.0, 1.0
    arrays = {"features": feats, "segment_start": np.array([0, 20]), "segment_length": np.array([20, 20]),
              "segment_motion": np.array([0, 1]), "segment_scores": np.zeros(2), "segment_walking": np.array([True, True]),
              "segment_forward_velocity": np.array([0.2, 0.6])}
    ds = SimpleNamespace(arrays=arrays, config={"lin_vel_mode": acfg.features.lin_vel_mode,
                                                "lin_vel_clip": acfg.features.lin_vel_clip})
    judge = SimpleNamespace(logits=lambda s, s2: s[:, 0])
    assert set(evaluate.reference_logits(judge, acfg, ds, 0.5, 0.8)) == {1.0}
    assert set(evaluate.reference_logits(judge, acfg, ds, 0.0, 0.3)) == {-1.0}
    both = evaluate.reference_logits(judge, acfg, ds, 0.0, 1.0)
    assert len(both) == 2 * len(evaluate.reference_logits(judge, acfg, ds, 0.5, 0.8)) and both.mean() == 0.0
    assert evaluate.reference_logits(judge, acfg, ds, 0.9, 1.2) is None
    arrays.pop("segment_forward_velocity")
    assert evaluate.reference_logits(judge, acfg, ds, 0.0, 1.0) is None


def test_joint_trajectory_correlation_definition() -> None:
    """Best-lag nearest-window correlation: a phase-shifted copy of the reference scores 1."""
    import numpy as np

    t = np.arange(200)
    ref = np.stack([np.sin(2 * np.pi * t / 33 + k) for k in range(8)], axis=1)
    seg_start, seg_len = np.array([0]), np.array([200])
    shifted = ref[7:150]  # the same gait, 7 frames later
    corr, per_joint, n = evaluate.joint_trajectory_correlation([shifted], ref, seg_start, seg_len, window=33)
    assert corr == pytest.approx(1.0, abs=1e-6) and n == 4 and per_joint.shape == (8,)
    noise = np.random.default_rng(0).normal(size=(150, 8))
    low, _, _ = evaluate.joint_trajectory_correlation([noise], ref, seg_start, seg_len, window=33)
    assert low < 0.6


# --- pipeline ------------------------------------------------------------------------------------
def scripted_workdir(tmp_path: Path, setup: dict, seconds: float) -> Path:
    """A workdir whose generate / analyse stages are done: the tiny dataset plus an analysis with `seconds`."""
    import shutil

    work = tmp_path / f"work{seconds:g}"
    shutil.copytree(setup["dataset"], work / "tier0plus")
    (work / "tier0plus" / "analysis.json").write_text(json.dumps({"total_tier0plus_seconds": seconds}))
    return work


@pytest.mark.parametrize("seconds, branch, stages", [
    (75.0, "proceed", ["generate", "analyse", "smoke_test", "phase3"]),      # from scratch: no walking training
    (45.0, "borderline", ["generate", "analyse", "smoke_test", "phase3"]),
    (12.0, "stop_path_b", ["generate", "analyse", "phase1e", "phase2", "walking_check", "phase3"]),
])
def test_pipeline_dry_run_branches(tmp_path: Path, setup: dict, seconds: float, branch: str, stages: list,
                                   capsys) -> None:
    work = scripted_workdir(tmp_path, setup, seconds)
    plan = run_pipeline.main(["--workdir", str(work), "--dry-run"])
    assert plan["branch"] == branch and [s["stage"] for s in plan["stages"]] == stages
    assert [s["status"] for s in plan["stages"][:2]] == ["done", "done"]
    out = capsys.readouterr().out
    assert f"{seconds:.1f} s" in out and branch in out
    if branch == "borderline":
        assert "warning" in out.lower()
    p3 = plan["stages"][-1]
    if branch == "stop_path_b":
        assert "w_amp = 0.1" in p3["note"]
    else:
        assert "from scratch" in p3["note"]
    with_ckpt = run_pipeline.main(["--workdir", str(work), "--dry-run", "--phase2-checkpoint", str(setup["phase1e"])])
    assert [s["stage"] for s in with_ckpt["stages"]][2] != "phase1e"  # walking training skipped
    assert branch == "stop_path_b" or "from the given checkpoint" in with_ckpt["stages"][-1]["note"]
    assert not (work / "pipeline_state.json").exists()  # a dry run changes nothing


def test_pipeline_path_b_runs_end_to_end_and_resumes(tmp_path: Path, setup: dict) -> None:
    work = scripted_workdir(tmp_path, setup, 12.0)
    argv = ["--workdir", str(work), "--phase2-checkpoint", str(setup["phase1e"]),
            "--phase3-config", str(setup["phase3_config"]), "--amp-config", str(setup["amp_config"]),
            "--timesteps", "phase3=128", "--no-walking-gate", "--eval-episodes", "1"]
    state = run_pipeline.main(argv)
    assert state["branch"] == "stop_path_b" and state["stages"]["phase3"]["status"] == "done"
    ckpt = Path(state["stages"]["phase3"]["output"])
    assert (ckpt / AMP_FILE).is_file() and read_state(ckpt)["num_timesteps"] == 128
    acfg = load_amp_run_config(None, read_state(ckpt)["amp"]["config"])
    assert acfg.ramp.initial == pytest.approx(0.1)  # Path B: AMP at w_amp = 0.1, then ramped
    log = (work / "decisions.log").read_text()
    assert "12.0 s" in log and "stop_path_b" in log and "walking" in log
    again = run_pipeline.main(argv)  # every stage's output exists: all skipped
    assert all(s["status"] == "done" for s in again["stages"].values())
    assert "skipped" in (work / "decisions.log").read_text()


def test_pipeline_proceed_trains_phase3_from_scratch(tmp_path: Path, setup: dict) -> None:
    """proceed without --phase2-checkpoint: no walking training, the smoke test against the scripted policy,
    Phase 3 from scratch (seed 000's route)."""
    work = scripted_workdir(tmp_path, setup, 75.0)
    state = run_pipeline.main(["--workdir", str(work), "--phase3-config", str(setup["phase3_config"]),
                               "--amp-config", str(setup["amp_config"]), "--timesteps", "phase3=128",
                               "--ignore-smoke-test"])
    assert state["ok"] and set(state["stages"]) == {"generate", "analyse", "smoke_test", "phase3"}
    report = json.loads((work / "smoke_test.json").read_text())
    assert report["policy_source"] == "scripted_smooth_random" and "feature_separability" in report
    ckpt = Path(state["stages"]["phase3"]["output"])
    assert read_state(ckpt)["num_timesteps"] == 128 and "from scratch" in (work / "decisions.log").read_text()


def test_pipeline_smoke_test_gate_stops_or_goes_on(tmp_path: Path, setup: dict) -> None:
    """Borderline branch for real: the smoke test runs on the given policy; a failed gate stops the
    pipeline (exit status 1) unless --ignore-smoke-test."""
    work = scripted_workdir(tmp_path, setup, 45.0)
    argv = ["--workdir", str(work), "--phase2-checkpoint", str(setup["phase1e"]),
            "--phase3-config", str(setup["phase3_config"]), "--amp-config", str(setup["amp_config"]),
            "--timesteps", "phase3=128"]
    state = run_pipeline.main(argv)
    report = json.loads((work / "smoke_test.json").read_text())
    assert state["branch"] == "borderline" and report["steps"] == TINY_AMP["phase3"]["smoke_test_updates"]
    log = (work / "decisions.log").read_text()
    assert "WARNING: try with caution" in log and f"AUC {report['auc']}" in log
    if report["passed"]:
        assert state["ok"] and state["stages"]["phase3"]["status"] == "done"
    else:
        assert not state["ok"] and "phase3" not in state["stages"] and "debug artifacts" in log
        state = run_pipeline.main(argv + ["--ignore-smoke-test"])
        assert state["ok"] and state["stages"]["phase3"]["status"] == "done"
        assert state["stages"]["smoke_test"]["status"] == "done"  # not run twice
