"""The walking label (reference/walking.py) in the miner and the analysis: standing Tier 0+ data is mined
but labelled, and the go / no-go counts walking seconds (issue 10)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reference import analyze, miner, walking
from reference.miner import MiningConfig, load_dataset, mine_records, mine_rollout, write_dataset
from wildrobot_gym.config.reference import WalkingConfig

WEIGHT = 33.19
FPS = 50.0
CFG = MiningConfig()
CLIP_SPEED = 0.3


def records(frames: int = 150, *, speed: float = CLIP_SPEED, alternate: bool = True, clip_speed: float = CLIP_SPEED,
            clip: str = "walk", variant: str = "base", with_reference: bool = True) -> dict:
    """Clean (every gate passes) records of a robot moving at `speed` (m/s), feet alternating (single
    stance in 2/3 of the frames) or both loaded all the time; the reference root moves at `clip_speed`."""
    t = np.arange(frames)
    phase = 2 * np.pi * t / 50.0
    share = np.clip(0.5 + 0.8 * np.sin(phase), 0.0, 1.0) if alternate else np.full(frames, 0.5)
    foot_force = WEIGHT * np.stack([share, 1.0 - share], axis=1)
    speed = np.broadcast_to(np.asarray(speed, dtype=np.float64), (frames,))
    qpos = np.zeros((frames, 15))
    qpos[:, 0] = np.cumsum(speed) / FPS
    qpos[:, 2], qpos[:, 3] = 0.47, 1.0
    qpos[:, 7:] = 0.2 * np.sin(phase)[:, None] * np.array([1, 0.1, 1, 0.5, -1, -0.1, 1, 0.5])
    qvel = np.zeros((frames, 14))
    qvel[:, 0] = speed
    swing = foot_force < 0.1 * WEIGHT
    rec = {
        "qpos": qpos, "qvel": qvel, "foot_force": foot_force, "pad_contact": np.repeat(~swing, 2, axis=1),
        "foot_slip_speed": np.full((frames, 2), 0.01), "foot_height": np.where(swing, 0.02, 0.0),
        "harness_force": np.zeros((frames, 3)), "harness_torque": np.zeros((frames, 3)),
        "harness_equiv_force": np.full(frames, 0.02 * WEIGHT), "harness_saturated": np.zeros(frames, bool),
        "actuator_torque": np.zeros((frames, 8)), "torque_saturated": np.zeros((frames, 8), bool),
        "roll": np.zeros(frames), "pitch": np.zeros(frames), "root_height": np.full(frames, 0.47),
        "forward_velocity": speed.copy(), "ref_joint_pos": qpos[:, 7:].copy(), "restart": t == 0,
        "fallen": np.zeros(frames, bool), "clip": clip, "variant": variant, "fps": FPS, "weight": WEIGHT,
    }
    if with_reference:
        ref = np.zeros((frames, 3))
        ref[:, 0] = clip_speed * t / FPS
        rec.update(ref_root_pos=ref, ref_root_quat=np.tile([1.0, 0.0, 0.0, 0.0], (frames, 1)),
                   frame_index=t.astype(np.int64), in_blend=np.zeros(frames, bool))
    return rec


# --- the clip's speed ----------------------------------------------------------------------------------
def test_clip_speed_from_the_reference_root():
    assert walking.clip_speed(records()) == pytest.approx(CLIP_SPEED)
    rec = records(300)
    rec["ref_root_pos"][:90, 0] = 0.0  # the clip stands for its first 30 %: still its walking speed
    rec["ref_root_pos"][90:, 0] = CLIP_SPEED * np.arange(210) / FPS
    assert walking.clip_speed(rec) == pytest.approx(CLIP_SPEED)
    rec = records(300)
    rec["in_blend"][100:130] = True  # the neutral blends stand still: not counted
    rec["ref_root_pos"][100:130, 0] = rec["ref_root_pos"][100, 0]
    rec["ref_root_pos"][130:, 0] -= rec["ref_root_pos"][130, 0] - rec["ref_root_pos"][100, 0]
    assert walking.clip_speed(rec) == pytest.approx(CLIP_SPEED)
    rec = records()
    rec["ref_root_quat"][:] = [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]  # heading +y: sideways is not forward
    assert walking.clip_speed(rec) == pytest.approx(0.0, abs=1e-12)
    assert walking.clip_speed({**records(), "clip_speed": 0.25}) == 0.25  # a scalar in the records wins
    assert walking.clip_speed(records(with_reference=False)) is None


def test_clip_speed_is_not_raised_by_the_waist_surge():
    """A waist that surges once a step (0.3 s: 3.3 steps a 1 s window) walks at its mean speed; a flat
    1 s average keeps a part of the surge and its p90 reads ~8 % high, the Hann-weighted one does not."""
    rec = records(1000)
    t = np.arange(1000) / FPS
    step_time, surge = 0.3, 1.0  # the forward speed swings from 0 to twice the mean once a step
    rec["ref_root_pos"][:, 0] = CLIP_SPEED * (t + surge * step_time / (2 * np.pi) * np.sin(2 * np.pi * t / step_time))
    v = np.diff(rec["ref_root_pos"][:, 0]) * FPS
    flat = np.convolve(v, np.ones(50) / 50, "valid")
    assert np.percentile(flat, 90) > 1.06 * CLIP_SPEED  # what the flat average would say
    assert walking.clip_speed(rec) == pytest.approx(CLIP_SPEED, rel=0.01)


# --- the definition --------------------------------------------------------------------------------------
def test_the_walking_definition():
    w = WalkingConfig()
    assert (w.speed_ratio_min, w.single_stance_min) == (0.7, 0.15)
    cases = {  # (mean forward speed, single stance fraction) -> walking
        "standing": ((0.03, 0.0), False),
        "at the clip's speed, alternating": ((0.3, 0.6), True),
        "at 0.7x exactly": ((0.21, 0.6), True),
        "at 0.5x": ((0.15, 0.6), False),
        "at speed, always double stance": ((0.3, 0.0), False),
        "at speed, single stance 15 %": ((0.3, 0.15), True),
        "at speed, single stance 10 %": ((0.3, 0.10), False),
    }
    for name, ((v, single), want) in cases.items():
        assert bool(walking.is_walking(v, single, CLIP_SPEED, w)[0]) is want, name
    assert not walking.is_walking(0.3, 0.6, None, w)[0]  # unknown clip speed: nothing walks
    assert not walking.is_walking(0.3, 0.6, 0.01, w)[0]  # a clip in place: nothing walks


@pytest.mark.parametrize("name, kwargs, walks", [
    ("standing robot", dict(speed=0.03, alternate=False), False),
    ("at the clip's speed, alternating", dict(), True),
    ("at 0.5x the clip's speed", dict(speed=0.5 * CLIP_SPEED), False),
    ("at speed, double stance all the time", dict(alternate=False), False),
])
def test_mined_windows_and_segments_are_labelled(name, kwargs, walks):
    mined = mine_rollout(records(150, **kwargs), CFG)
    assert mined.window_passed.all() and len(mined.segments) == 1, name  # Tier 0+ either way: mined
    assert mined.window_walking.all() == walks and mined.window_walking.any() == walks, name
    assert mined.segment_walking.tolist() == [walks], name
    assert mined.walking.sum() == (150 if walks else 0), name


def test_a_rollout_that_stops_is_split_into_walking_and_standing_segments():
    speed = np.r_[np.full(150, CLIP_SPEED), np.full(150, 0.02)]
    mined = mine_rollout(records(300, speed=speed), CFG)
    assert mined.accepted.all()  # every frame passes the gates
    assert mined.segment_walking.tolist() == [True, False]
    (a0, b0), (a1, b1) = mined.segments
    assert a0 == 0 and b0 == a1 and b1 == 300 and 150 <= b0 < 200  # windows reaching into the stop still walk
    assert mined.walking[:b0].all() and not mined.walking[b0:].any()


# --- the dataset -----------------------------------------------------------------------------------------
def _mixed() -> list[dict]:
    return [
        records(150, clip="walk"),                                        # 3 s at 0.3 m/s: band 0.3-0.4
        records(150, clip="slow", speed=0.16, clip_speed=0.2),            # 3 s at 0.16 (0.8x): band 0.1-0.2
        records(150, clip="stand", speed=0.03, alternate=False),          # 3 s standing
        records(150, clip="fast", variant="mirror", speed=0.33),          # 3 s at 0.33 (1.1x): band 0.3-0.4
    ]


def test_dataset_label_and_walking_seconds_per_band(tmp_path: Path):
    write_dataset(mine_records(_mixed(), CFG), tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    a = ds.arrays
    assert ds.has_walking_label and set(miner.WALKING_NPZ_KEYS) <= set(a)
    assert ds.total_seconds == pytest.approx(12.0) and ds.walking_seconds == pytest.approx(9.0)
    np.testing.assert_array_equal(a["frame_walking"], a["segment_walking"][a["frame_segment"]])
    assert a["segment_walking"].tolist() == [True, True, False, True]
    side = json.loads((tmp_path / "ds" / "tier0plus.json").read_text())
    wk = side["walking"]
    assert side["walking_seconds"] == pytest.approx(9.0)
    assert wk["seconds_by_speed_band"] == pytest.approx({"0.1-0.2": 3.0, "0.3-0.4": 6.0})
    assert sum(wk["seconds_by_speed_band"].values()) == pytest.approx(wk["walking_seconds"])
    assert wk["non_walking_seconds"] == pytest.approx(3.0)
    assert wk["speed_ratio_mean"] == pytest.approx((1.0 + 0.8 + 1.1) / 3)
    assert wk["double_support_fraction"] == pytest.approx(1 / 3, abs=0.03)  # single stance in 2/3 of the frames
    assert set(wk["double_support_by_speed_band"]) == set(wk["seconds_by_speed_band"])
    assert all(v == pytest.approx(1 / 3, abs=0.05) for v in wk["double_support_by_speed_band"].values())
    assert [s["walking"] for s in side["per_segment_metrics"]] == [True, True, False, True]
    stand = side["rollouts"][2]
    assert stand["walking_seconds"] == 0.0 and stand["walking_any_fraction"] == 0.0 and stand["tier0plus_frames"] == 150
    assert side["rollouts"][0]["walking_any_fraction"] == 1.0 and side["rollouts"][0]["clip_speed"] == pytest.approx(0.3)


def test_bands_add_up_with_segments_in_several_bands():
    rng = np.random.default_rng(0)
    n = 400
    seg = np.repeat(np.arange(8), 50)
    fv = np.repeat(rng.uniform(0.0, 0.6, 8), 50)
    label = np.repeat(rng.uniform(size=8) < 0.6, 50)
    out = walking.summarize(label, seg, fv, np.full((n, 2), 0.5), np.full(n, 0.5), FPS, 0.1)
    assert sum(out["seconds_by_speed_band"].values()) == pytest.approx(out["walking_seconds"])
    assert out["walking_seconds"] + out["non_walking_seconds"] == pytest.approx(n / FPS)
    assert walking.speed_band(0.34) == "0.3-0.4" and walking.speed_band(0.3) == "0.3-0.4"
    assert walking.speed_band(0.05) == "0.0-0.1" and walking.speed_band(0.62, 0.25) == "0.50-0.75"


# --- the decision ----------------------------------------------------------------------------------------
def test_600_s_of_standing_tier0plus_is_stop_path_b(tmp_path: Path):
    standing = [records(3000, clip=f"c{i}", speed=0.03, alternate=False) for i in range(10)]
    write_dataset(mine_records(standing, CFG), tmp_path / "stand")
    rep = analyze.analyze_dataset(tmp_path / "stand")
    assert rep["total_tier0plus_seconds"] == pytest.approx(600.0)
    assert rep["walking_seconds"] == 0.0 and rep["walking"]["label_source"] == "dataset"
    assert rep["decision"] == "stop_path_b" and rep["decision_basis"] == "walking_seconds"
    assert rep["decision_seconds"] == 0.0
    assert "Walking seconds: 0.00s of 600.00s" in rep["report_text"]

    walking_recs = [records(1750, clip=f"w{i}") for i in range(2)]  # 70 s walking
    write_dataset(mine_records(walking_recs + standing[:2], CFG), tmp_path / "walk")
    rep = analyze.analyze_dataset(tmp_path / "walk")
    assert rep["walking_seconds"] == pytest.approx(70.0) and rep["total_tier0plus_seconds"] == pytest.approx(190.0)
    assert rep["decision"] == "proceed" and rep["dashboard"]["walking_seconds"]["status"] == "target"
    json.dumps(rep, allow_nan=False)


# --- datasets mined before the label ---------------------------------------------------------------------
def _strip_label(d: Path) -> None:
    with np.load(d / "tier0plus.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k not in miner.WALKING_NPZ_KEYS}
    np.savez(d / "tier0plus.npz", **arrays)
    side = json.loads((d / "tier0plus.json").read_text())
    side = {k: v for k, v in side.items() if k not in ("walking", "walking_seconds")}
    new_keys = set(walking.rollout_figures(None, np.zeros(1), np.zeros(1), FPS))
    side["rollouts"] = [{k: v for k, v in r.items() if k not in new_keys} for r in side["rollouts"]]
    side["per_segment_metrics"] = [{k: v for k, v in m.items() if k not in ("walking", "clip_speed", "speed_ratio")}
                                   for m in side["per_segment_metrics"]]
    side["npz_sha256"] = miner._sha256(d / "tier0plus.npz")
    (d / "tier0plus.json").write_text(json.dumps(side))


def test_old_datasets_still_load_and_are_relabelled_from_records(tmp_path: Path):
    rollout = pytest.importorskip("reference.rollout")
    from wildrobot_gym.amp import ReferenceSampler

    recs = _mixed()
    d = tmp_path / "ds"
    write_dataset(mine_records(recs, CFG), d)
    new = analyze.analyze_dataset(d)
    _strip_label(d)
    old = load_dataset(d)
    assert not old.has_walking_label and old.walking_seconds is None and old.walking_summary() is None
    ReferenceSampler.from_dataset(old, seed=0).sample(8)  # the AMP sampler reads it as before (all frames)

    rep = analyze.analyze_dataset(d)  # no records: unknown, the decision falls back to Tier 0+ seconds
    assert rep["walking_seconds"] is None and rep["walking"]["label_source"] is None
    assert rep["decision_basis"].startswith("tier0plus_seconds") and rep["decision_seconds"] == pytest.approx(12.0)
    assert "Walking: n/a" in rep["clip_logs"][0]

    rec_dir = tmp_path / "records"
    for r in recs:
        rollout.save_records(r, rec_dir / rollout.records_filename(r["clip"], r["variant"]))
    out = tmp_path / "analysis.json"
    assert analyze.main(["--dataset", str(d), "--records", str(rec_dir), "--json-output", str(out),
                         "--plots-dir", str(tmp_path / "plots")]) == 0
    rep = json.loads(out.read_text())
    assert rep["walking"]["label_source"] == "records" and rep["decision_basis"] == "walking_seconds"
    for key in ("walking_seconds", "seconds_by_speed_band", "speed_ratio_mean", "double_support_fraction"):
        assert rep["walking"][key] == pytest.approx(new["walking"][key]), key
    assert (tmp_path / "plots" / "walking_bands.png").stat().st_size > 1000
    log = next(text for text in rep["clip_logs"] if "stand (base)" in text)
    assert "0.00 s of 3.00 s (0.0%) in walking windows" in log


def test_a_partial_label_is_refused_naming_the_key(tmp_path: Path):
    d = tmp_path / "ds"
    write_dataset(mine_records(_mixed(), CFG), d)
    with np.load(d / "tier0plus.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "segment_walking"}
    np.savez(d / "tier0plus.npz", **arrays)
    side = json.loads((d / "tier0plus.json").read_text())
    (d / "tier0plus.json").write_text(json.dumps({**side, "npz_sha256": miner._sha256(d / "tier0plus.npz")}))
    with pytest.raises(ValueError, match="lacks array 'segment_walking'"):
        load_dataset(d)


# --- benchmarks/walking_windows.py: why walking windows fail ----------------------------------------------
def _walking_windows():
    """The benchmark script as a module (benchmarks/ is not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "walking_windows.py"
    spec = importlib.util.spec_from_file_location("_walking_windows", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_walking_windows_report_names_the_failing_gate_and_skips_a_bad_file(tmp_path: Path, capsys):
    walking_windows = _walking_windows()
    rec_dir = tmp_path / "records"
    rec_dir.mkdir()
    slipping = records(150, clip="slip")
    slipping["foot_slip_speed"] = np.full((150, 2), 0.3)  # every loaded foot slides: the stance-slip gate fails
    np.savez(rec_dir / "slip__base.npz", **slipping)
    np.savez(rec_dir / "clean__base.npz", **records(150, clip="clean"))
    np.savez(rec_dir / "stand__base.npz", **records(150, clip="stand", speed=0.02, alternate=False))
    (rec_dir / "broken__base.npz").write_bytes(b"not an npz")
    assert walking_windows.main([str(tmp_path), "--min-speed", "0.2"]) == 0
    out, err = capsys.readouterr()
    rollouts, bands = out.split("\n\n")
    lines = {line.split(":")[0]: line for line in rollouts.splitlines()[1:]}
    assert set(lines) == {"slip", "clean"}  # the standing rollout has no walking window
    assert "pass   0" in lines["slip"] and "'stance_slip'" in lines["slip"]
    assert "pass  11" in lines["clean"] and lines["clean"].endswith("{}")
    assert "broken__base.npz: skipped" in err
    # Band table: both rollouts' 22 walking windows, the clean one's 11 passing, in one 0.1 m/s band.
    rows = [r.split(" | ") for r in bands.splitlines()[1:]]
    assert [(r[1], r[2]) for r in rows] == [("22", "11")] and rows[0][3].endswith("%")


def test_walking_windows_slip_by_stance_frame_finds_touchdown_slip():
    walking_windows = _walking_windows()
    rec = records(150)
    loaded = rec["foot_force"] / WEIGHT > CFG.gates.stance_load_threshold
    touchdown = loaded & ~np.r_[np.zeros((1, 2), bool), loaded[:-1]]
    rec["foot_slip_speed"] = np.where(touchdown, 0.3, 0.01)  # every foot slides in its first loaded frame only
    text = walking_windows.slip_by_stance_frame(rec, CFG.gates)
    assert text.startswith("first 1.00 second 0.00 middle 0.00 second-last 0.00 last 0.00")
