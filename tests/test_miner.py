"""Tier 0+ miner and analysis on synthetic rollout records (reference.miner, reference.analyze)."""
from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from reference import analyze, miner
from reference.miner import (
    GateConfig,
    MiningConfig,
    ScoreConfig,
    candidate_windows,
    config_from_dict,
    gate_records,
    load_dataset,
    mine_records,
    mine_rollout,
    quality_score,
    usable_stretches,
    write_dataset,
)
from wildrobot_gym.amp_features import LAYOUT

WEIGHT = 33.19
FPS = 50.0


def make_records(
    frames: int = 200,
    *,
    clip: str = "walk",
    variant: str = "base",
    load: float = 1.0,
    harness: float = 0.02,
    slip: float = 0.01,
    attitude_deg: float = 2.0,
    seed: int = 0,
) -> dict:
    """A clean alternating walk at 50 Hz: 1 s gait cycle, single stance in 2/3 of the frames."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)
    phase = 2 * np.pi * t / 50.0
    left_share = np.clip(0.5 + 0.8 * np.sin(phase), 0.0, 1.0)
    foot_force = WEIGHT * load * np.stack([left_share, 1.0 - left_share], axis=1)
    qpos = np.zeros((frames, 15))
    qpos[:, 0] = 0.3 * t / FPS
    qpos[:, 2] = 0.47
    qpos[:, 3] = 1.0
    qpos[:, 7:] = 0.2 * np.sin(phase)[:, None] * np.array([1, 0.1, 1, 0.5, -1, -0.1, 1, 0.5])
    qvel = np.zeros((frames, 14))
    qvel[:, 0] = 0.3
    qvel[:, 6:] = np.gradient(qpos[:, 7:], axis=0) * FPS
    swing = foot_force < 0.1 * WEIGHT
    return {
        "qpos": qpos,
        "qvel": qvel,
        "foot_force": foot_force,
        "pad_contact": np.repeat(~swing, 2, axis=1),
        "foot_slip_speed": np.full((frames, 2), slip),
        "foot_height": np.where(swing, 0.02, 0.0),
        "harness_force": np.zeros((frames, 3)),
        "harness_torque": np.zeros((frames, 3)),
        "harness_equiv_force": np.full(frames, harness * WEIGHT),
        "harness_saturated": np.zeros(frames, bool),
        "actuator_torque": np.zeros((frames, 8)),
        "torque_saturated": np.zeros((frames, 8), bool),
        "roll": np.radians(attitude_deg) * rng.uniform(-1, 1, frames),
        "pitch": np.radians(attitude_deg) * rng.uniform(-1, 1, frames),
        "root_height": np.full(frames, 0.47),
        "forward_velocity": np.full(frames, 0.3),
        "ref_joint_pos": qpos[:, 7:].copy(),
        "restart": t == 0,
        "fallen": np.zeros(frames, bool),
        "clip": clip,
        "variant": variant,
        "fps": FPS,
        "weight": WEIGHT,
    }


CFG = MiningConfig()


# --- gates ---------------------------------------------------------------------------------------
def test_clean_walk_passes_every_gate() -> None:
    res = gate_records(make_records(), CFG.gates)
    assert res.passed and res.failing == ()
    m = res.metrics
    assert m["load_mean"] == pytest.approx(1.0)
    assert m["single_stance_fraction"] == pytest.approx(2 / 3, abs=0.03)  # |sin| > 0.5: 2/3 of a cycle


def test_fall_fails_and_no_window_contains_a_fall() -> None:
    rec = make_records(200)
    rec["fallen"][150:] = True
    rec["pitch"][140:] = np.radians(80.0)
    rec["foot_force"][150:] = 0.0
    res = gate_records(rec, CFG.gates)
    assert not res.passed and "no_fall" in res.failing
    mined = mine_rollout(rec, CFG)
    ends = mined.windows[:, 0] + mined.windows[:, 1]
    assert ends.max() <= 150
    assert not mined.accepted[150:].any()


def test_harness_carried_robot_fails_harness_and_load() -> None:
    res = gate_records(make_records(load=0.5, harness=0.5), CFG.gates)
    assert {"harness_p90", "harness_p95", "load_mean", "load_p10", "unloaded_fraction"} <= set(res.failing)
    assert any("harness_p95" in r for r in res.reasons)


def test_slipping_stance_fails_slip_gate_only() -> None:
    res = gate_records(make_records(slip=0.3), CFG.gates)
    assert res.failing == ("stance_slip",)
    assert res.metrics["stance_slip_rate"] == pytest.approx(1.0)


def test_harness_saturation_and_attitude_gates() -> None:
    rec = make_records()
    rec["harness_saturated"][:20] = True  # 10 % > 5 %
    assert gate_records(rec, CFG.gates).failing == ("harness_saturated",)
    assert "pitch_p95" in gate_records(make_records(attitude_deg=40.0), CFG.gates).failing
    tight = replace(CFG.gates, harness_p95_max=0.01)  # the Blocker B setting is just a threshold
    assert "harness_p95" in gate_records(make_records(harness=0.05), tight).failing


# --- windowing -----------------------------------------------------------------------------------
def test_window_count_stride_and_min_length() -> None:
    w = candidate_windows(np.array([[0, 100]]), CFG)
    np.testing.assert_array_equal(w[:, 0], [0, 10, 20, 30, 40, 50])
    assert (w[:, 1] == 50).all()
    short = candidate_windows(np.array([[0, 35], [40, 55], [60, 80]]), CFG)
    np.testing.assert_array_equal(short, [[0, 35], [60, 20]])  # 15 frames is too short, 20 is enough
    tail = candidate_windows(np.array([[0, 67]]), replace(CFG, include_tail_window=True))
    np.testing.assert_array_equal(tail[:, 0], [0, 10, 17])


def test_stretches_split_at_restart_and_fall() -> None:
    restart = np.zeros(120, bool)
    restart[[0, 60]] = True
    fallen = np.zeros(120, bool)
    fallen[100:105] = True
    s = usable_stretches(restart, fallen)
    np.testing.assert_array_equal(s, [[0, 60], [60, 100], [105, 120]])
    np.testing.assert_array_equal(usable_stretches(restart, fallen, pre_fall_margin=3)[1], [60, 97])


def test_no_window_or_segment_spans_a_restart() -> None:
    rec = make_records(120)
    rec["restart"][60] = True
    mined = mine_rollout(rec, CFG)
    a, b = mined.windows[:, 0], mined.windows[:, 0] + mined.windows[:, 1]
    assert not ((a < 60) & (b > 60)).any()
    np.testing.assert_array_equal(mined.segments, [[0, 60], [60, 120]])


# --- de-duplication ------------------------------------------------------------------------------
def test_overlapping_passing_windows_are_counted_once() -> None:
    mined = mine_rollout(make_records(100), CFG)
    assert mined.window_passed.sum() == 6  # six overlapping windows covering 100 frames
    np.testing.assert_array_equal(mined.segments, [[0, 100]])
    ds = mine_records([make_records(100)], CFG)
    assert ds.total_seconds == pytest.approx(2.0)  # not 6 windows x 1 s
    assert ds.num_frames == 100 and ds.num_segments == 1


def test_center_dedupe_keeps_window_centres() -> None:
    mined = mine_rollout(make_records(100), replace(CFG, dedupe="center", center_frames=30))
    np.testing.assert_array_equal(mined.segments, [[10, 90]])


def test_failing_stretch_splits_segments() -> None:
    rec = make_records(300)
    rec["foot_force"][140:160] = 0.0  # 0.4 s floating: windows covering it fail the load gates
    mined = mine_rollout(rec, CFG)
    assert len(mined.segments) == 2
    assert not mined.accepted[140:160].any()
    assert mined.accepted.sum() == sum(b - a for a, b in mined.segments)


# --- scoring -------------------------------------------------------------------------------------
def test_quality_score_terms() -> None:
    g, s = GateConfig(), ScoreConfig()
    best = {"load_mean": 0.97, "stance_slip_rate": 0.01, "pitch_p95_deg": 5.0, "roll_p95_deg": 5.0, "harness_p95": 0.05}
    assert float(quality_score(best, g, s)) == 3.0
    assert float(quality_score({**best, "harness_p95": 0.21}, g, s)) == 2.0  # >= 0.8 * 0.25
    assert float(quality_score({**best, "load_mean": 0.9, "roll_p95_deg": 20.0}, g, s)) == 1.0
    batch = {k: np.array([v, v]) for k, v in best.items()}
    batch["stance_slip_rate"] = np.array([0.01, 0.10])
    np.testing.assert_array_equal(quality_score(batch, g, s), [3.0, 2.0])


# --- dataset files -------------------------------------------------------------------------------
def _dataset(tmp_path: Path) -> Path:
    recs = [make_records(150, clip="walk"), make_records(120, clip="shuffle", variant="mirror", seed=1), make_records(80, clip="bad", harness=0.5)]
    write_dataset(mine_records(recs, CFG), tmp_path / "ds")
    return tmp_path / "ds"


def test_dataset_roundtrip_without_pickle(tmp_path: Path) -> None:
    recs = [make_records(150, clip="walk"), make_records(120, clip="shuffle", variant="mirror", seed=1)]
    ds = mine_records(recs, CFG)
    npz, js = write_dataset(ds, tmp_path / "ds")
    assert not list((tmp_path / "ds").glob(".*tmp"))  # no temp files left behind
    with np.load(npz, allow_pickle=False) as z:  # plain arrays only
        assert set(miner.REQUIRED_NPZ_KEYS) <= set(z.files)
        assert z["features"].dtype == np.float32
    side = json.loads(js.read_text())
    assert side["feature_version"] == LAYOUT.version and side["feature_layout"]["dim"] == LAYOUT.dim
    assert len(side["per_segment_metrics"]) == 2 and side["config"]["window_frames"] == 50
    back = load_dataset(tmp_path / "ds")
    for k, v in ds.arrays.items():
        np.testing.assert_array_equal(back.arrays[k], v, err_msg=k)
    assert back.total_seconds == pytest.approx(270 / 50)
    assert back.motion_names == ["walk:base", "shuffle:mirror"]
    np.testing.assert_allclose(miner.recompute_features(back), back.features, atol=1e-6)
    seg = back.segment_slice(1)
    assert (back.arrays["frame_segment"][seg] == 1).all()


def test_a_dataset_of_an_older_feature_version_loads_with_its_features_recomputed(tmp_path: Path) -> None:
    """wr-amp-1 had no root_gravity: its 31 columns come back as the current layout's, from the stored state."""
    from wildrobot_gym.amp_features import COMPONENTS, FeatureLayout

    d = _dataset(tmp_path)
    current = load_dataset(d)
    old_layout = FeatureLayout(tuple(c for c in COMPONENTS if c.name != "root_gravity"), "wr-amp-1")
    with np.load(d / "tier0plus.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["features"] = arrays["features"][:, LAYOUT.columns(old_layout.names)]
    np.savez(d / "tier0plus.npz", **arrays)
    side = json.loads((d / "tier0plus.json").read_text())
    side.update(feature_version="wr-amp-1", feature_layout=old_layout.to_dict(), npz_sha256=miner._sha256(d / "tier0plus.npz"))
    (d / "tier0plus.json").write_text(json.dumps(side))

    as_stored = load_dataset(d, check_feature_version=False)
    assert as_stored.features.shape[1] == 31 and as_stored.feature_version == "wr-amp-1"
    ds = load_dataset(d)
    assert ds.layout == LAYOUT and ds.feature_version == LAYOUT.version
    np.testing.assert_allclose(ds.features, current.features, atol=1e-6)
    g = ds.features[:, LAYOUT.slice("root_gravity")]
    np.testing.assert_allclose(np.linalg.norm(g, axis=1), 1.0, atol=1e-5)  # a unit vector, mostly down
    assert (g[:, 2] < -0.5).all()


def test_bad_dataset_files_raise_naming_file_and_key(tmp_path: Path) -> None:
    d = _dataset(tmp_path)
    side = json.loads((d / "tier0plus.json").read_text())

    with pytest.raises(ValueError, match="missing file"):
        load_dataset(tmp_path / "nowhere")
    (d / "tier0plus.json").write_text("{not json")
    with pytest.raises(ValueError, match="tier0plus.json is not valid JSON"):
        load_dataset(d)
    (d / "tier0plus.json").write_text(json.dumps({**side, "format_version": 99}))
    with pytest.raises(ValueError, match="'format_version'"):
        load_dataset(d)
    bad = {k: v for k, v in side.items() if k != "rollouts"}
    (d / "tier0plus.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="'rollouts'"):
        load_dataset(d)

    # An npz lacking a key, with the side-car's checksum updated so that the key check is reached.
    with np.load(d / "tier0plus.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "segment_scores"}
    np.savez(d / "tier0plus.npz", **arrays)
    (d / "tier0plus.json").write_text(json.dumps({**side, "npz_sha256": miner._sha256(d / "tier0plus.npz")}))
    with pytest.raises(ValueError, match="tier0plus.npz lacks array 'segment_scores'"):
        load_dataset(d)
    (d / "tier0plus.json").write_text(json.dumps(side))  # old checksum: the files do not belong together
    with pytest.raises(ValueError, match="npz_sha256"):
        load_dataset(d)
    (d / "tier0plus.npz").write_bytes(b"garbage")
    (d / "tier0plus.json").write_text(json.dumps({**side, "npz_sha256": miner._sha256(d / "tier0plus.npz")}))
    with pytest.raises(ValueError, match="cannot read"):
        load_dataset(d)


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    d = _dataset(tmp_path)
    with np.load(d / "tier0plus.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["motion_names"] = np.array([{"a": 1}], dtype=object)  # would need pickle to read
    np.savez(d / "tier0plus.npz", **arrays)
    side = json.loads((d / "tier0plus.json").read_text())
    (d / "tier0plus.json").write_text(json.dumps({**side, "npz_sha256": miner._sha256(d / "tier0plus.npz")}))
    with pytest.raises(ValueError, match="tier0plus.npz"):
        load_dataset(d)
    assert zipfile.is_zipfile(d / "tier0plus.npz")


def test_records_validation_names_key() -> None:
    rec = make_records(60)
    del rec["harness_equiv_force"]
    with pytest.raises(ValueError, match="'harness_equiv_force'"):
        mine_records([rec], CFG)
    rec = make_records(60)
    rec["pitch"] = rec["pitch"][:-1]
    with pytest.raises(ValueError, match="'pitch' has 59 frames"):
        mine_records([rec], CFG)
    rec = make_records(60)
    rec["fps"] = 100.0
    with pytest.raises(ValueError, match="fps"):
        mine_records([rec], CFG)


# --- configuration -------------------------------------------------------------------------------
def test_yaml_sections_hold_the_seed_defaults() -> None:
    assert miner.load_mining_config() == MiningConfig()
    assert analyze.load_analysis_config() == analyze.AnalysisConfig()


def test_config_loader_names_the_bad_key() -> None:
    with pytest.raises(ValueError, match=r"mining\.gates\.load_mean_mn: unknown key"):
        config_from_dict(MiningConfig, {"gates": {"load_mean_mn": 0.9}}, "mining")
    with pytest.raises(ValueError, match=r"mining\.window_frames: expected an integer"):
        config_from_dict(MiningConfig, {"window_frames": 50.5}, "mining")
    with pytest.raises(ValueError, match=r"mining\.gates\.harness_p95_max: expected a finite number"):
        config_from_dict(MiningConfig, {"gates": {"harness_p95_max": "low"}}, "mining")
    with pytest.raises(ValueError, match=r"mining\.include_tail_window: expected true/false"):
        config_from_dict(MiningConfig, {"include_tail_window": 1}, "mining")
    with pytest.raises(ValueError, match="dedupe"):
        config_from_dict(MiningConfig, {"dedupe": "hash"}, "mining")
    with pytest.raises(ValueError, match=r"analysis\.dashboard\.clips_min"):
        config_from_dict(analyze.AnalysisConfig, {"dashboard": {"clips_min": "3"}}, "analysis")
    cfg = config_from_dict(MiningConfig, {"gates": {"harness_p95_max": 0.10}, "stride_frames": 5}, "mining")
    assert cfg.gates.harness_p95_max == 0.10 and cfg.stride_frames == 5 and cfg.gates.load_mean_min == 0.85
    assert config_from_dict(MiningConfig, asdict(cfg), "mining") == cfg


# --- analysis ------------------------------------------------------------------------------------
def test_decision_thresholds() -> None:
    cfg = analyze.AnalysisConfig()
    assert [analyze.decide(s, cfg) for s in (75.0, 60.0, 45.0, 29.9)] == ["proceed", "proceed", "borderline", "stop_path_b"]
    assert analyze.decide(10.0, replace(cfg, borderline_seconds=5.0)) == "borderline"


def test_analyze_dataset_report_and_logs(tmp_path: Path) -> None:
    d = _dataset(tmp_path)
    rep = analyze.analyze_dataset(d)
    assert rep["total_tier0plus_seconds"] == pytest.approx(270 / 50)
    assert rep["num_segments"] == 2 and rep["num_clips_contributing"] == 2
    assert rep["decision"] == "stop_path_b"
    assert rep["load"]["mean"] == pytest.approx(1.0)
    assert rep["alternation_rate"] == pytest.approx(2 / 3, abs=0.03)
    assert rep["dashboard"]["tier0plus_seconds"]["status"] == "below_minimum"
    assert rep["windows"]["failed_by_gate"]["harness_p95"] >= 1
    logs = rep["clip_logs"]
    assert len(logs) == 3 and "VERDICT: [PASS]" in logs[0] and "VERDICT: [FAIL]" in logs[2]
    assert "harness_p95" in logs[2] and "REFERENCE GENERATION DIAGNOSTIC" in logs[0]
    json.dumps(rep, allow_nan=False)


def test_window_saturation_by_speed_band_flags_the_bands_over_the_check() -> None:
    a = {"window_passed": np.array([1, 1, 1, 1, 0], bool), "window_walking": np.array([0, 1, 1, 1, 1], bool),
         "window_actuator_saturation_rate": np.array([0.02, 0.04, 0.06, 0.20, 0.50]),
         "window_forward_velocity_mean": np.array([0.0, 0.31, 0.35, 0.72, 0.75])}
    sat = analyze.window_saturation(a, 0.1, 0.10)
    assert sat["passed_windows"] == pytest.approx(0.08) and sat["walking_windows"] == pytest.approx(0.10)
    assert sat["walking_by_speed_band"] == pytest.approx({"0.3-0.4": 0.05, "0.7-0.8": 0.20})  # the failed window left out
    text = analyze._saturation_text(sat)
    assert "0.3-0.4: 5.0%" in text and text.endswith("at or above the 10% check: 0.7-0.8")


def test_analyze_empty_dataset(tmp_path: Path) -> None:
    write_dataset(mine_records([make_records(80, load=0.3)], CFG), tmp_path / "empty")
    rep = analyze.analyze_dataset(tmp_path / "empty")
    assert rep["total_tier0plus_seconds"] == 0.0 and rep["num_segments"] == 0
    assert rep["load"]["mean"] is None and rep["decision"] == "stop_path_b"
    json.dumps(rep, allow_nan=False)


def test_cli_with_records_and_plots(tmp_path: Path) -> None:
    rollout = pytest.importorskip("reference.rollout")
    d = _dataset(tmp_path)
    rec_dir = tmp_path / "records"
    rec = make_records(150, clip="walk")
    rec["restart"][100] = True
    rollout.save_records(rec, rec_dir / "walk__base.npz")
    out = tmp_path / "analysis.json"
    rc = analyze.main(["--dataset", str(d), "--records", str(rec_dir), "--json-output", str(out), "--plots-dir", str(tmp_path / "plots")])
    assert rc == 0
    rep = json.loads(out.read_text())
    for key in ("total_tier0plus_seconds", "num_segments", "num_clips_contributing", "decision", "dashboard",
                "walking_seconds", "walking", "decision_basis", "decision_seconds"):
        assert key in rep
    assert rep["rollouts_source"] == "records" and len(rep["rollouts"]) == 1
    # make_records carries no reference root: the clip's speed is unknown, nothing is labelled walking
    assert rep["walking_seconds"] == 0.0 and rep["rollouts"][0]["clip_speed"] is None
    for name in ("window_histograms.png", "timeline.png", "walking_bands.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000
    assert analyze.main(["--dataset", str(tmp_path / "none"), "--json-output", str(out)]) == 2
