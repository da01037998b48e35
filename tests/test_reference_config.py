"""The ``generation:``, ``mining:`` and ``analysis:`` sections of configs/reference.yaml on their pydantic
schemas (wildrobot_gym/config/reference.py): the shipped file loads as it always did, and every bad value
is refused with its dotted key first."""
from __future__ import annotations

import dataclasses
import math
import re

import pytest
import yaml

from reference import analyze, miner, rollout
from wildrobot_gym.config import ConfigError
from wildrobot_gym.config.reference import (
    DEFAULT_REFERENCE_CONFIG,
    AnalysisConfig,
    GenerationConfig,
    HarnessConfig,
    MiningConfig,
    load_analysis_config,
    load_generation_config,
    load_mining_config,
)

RAW = yaml.safe_load(DEFAULT_REFERENCE_CONFIG.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ the shipped file
def _same(loaded, raw: dict, where: str) -> None:
    """Every key of the YAML mapping `raw` reads back from the config object `loaded`, value for value."""
    for key, want in raw.items():
        got = getattr(loaded, key)
        if isinstance(want, dict):
            _same(got, want, f"{where}.{key}")
        elif isinstance(want, list):
            assert [dict(v) if isinstance(v, dict) else v for v in got] == want, f"{where}.{key}"
        else:
            assert got == want and type(got) is type(want), f"{where}.{key}: {got!r} != {want!r}"


def test_shipped_generation_section_loads_as_written():
    cfg = load_generation_config()
    _same(cfg, RAW["generation"], "generation")
    # the spots the rest of reference/ reads
    assert cfg.multi_start_interval == 150 and cfg.cycles is None
    assert cfg.harness.mode == "stabilizer" and cfg.harness.cap_fraction == 0.15
    assert cfg.precondition.mode == "retargeted" and cfg.balance.swing_placement_kp == -0.6
    assert cfg.neutral_pose == (0.0,) * 8 and isinstance(cfg.neutral_pose, tuple)
    assert cfg.variants == ({"name": "base"}, {"name": "mirror", "mirror": True}, {"name": "warp0.9", "time_warp": 0.9},
                            {"name": "warp1.1", "time_warp": 1.1}, {"name": "heading+10", "heading_deg": 10.0})
    assert (cfg.min_clip_fps, cfg.max_clip_fps, cfg.max_clip_seconds, cfg.min_joint_motion) == (10.0, 1000.0, 120.0, 0.05)
    # the same object through the old entry points, and after a JSON-style round trip
    assert rollout.load_generation_config() == cfg == rollout.config_from_dict(RAW["generation"])
    assert rollout.config_from_dict(cfg.to_dict()) == cfg


def test_shipped_mining_and_analysis_sections_load_as_written():
    mining = load_mining_config()
    _same(mining, RAW["mining"], "mining")
    assert miner.load_mining_config() == mining == MiningConfig()  # the YAML holds the seed's defaults
    assert miner.config_from_dict(MiningConfig, dataclasses.asdict(mining), "mining") == mining
    w = mining.walking  # the walking label (issue 10): the seed's defaults, in the YAML
    assert (w.speed_ratio_min, w.single_stance_min, w.speed_band_width) == (0.7, 0.15, 0.1)
    assert miner.config_from_dict(MiningConfig, {"walking": {"speed_ratio_min": 0.8}}, "mining").walking.single_stance_min == 0.15
    analysis = load_analysis_config()
    _same(analysis, RAW["analysis"], "analysis")
    assert analyze.load_analysis_config() == analysis == AnalysisConfig()


def test_overrides_update_nested_sections_key_by_key():
    cfg = load_generation_config(overrides={"multi_start_interval": 50, "harness": {"cap_fraction": 0.1}})
    assert cfg.multi_start_interval == 50 and cfg.harness.cap_fraction == 0.1
    assert cfg.harness.gate_deg == RAW["generation"]["harness"]["gate_deg"]  # the rest of the section stays
    with pytest.raises(ConfigError, match=r"^generation\.harness\.cap_fraction: expected a finite number in \[0, 1\]"):
        load_generation_config(overrides={"harness": {"cap_fraction": 1.5}})


def test_configs_stay_frozen_dataclasses():
    cfg = GenerationConfig()
    assert dataclasses.is_dataclass(cfg)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.fps = 25.0
    changed = dataclasses.replace(cfg, harness=HarnessConfig(mode="off"), cycles=2)
    assert changed.harness.mode == "off" and changed.cycles == 2 and cfg.cycles is None
    with pytest.raises(ValueError):  # direct construction is checked too
        HarnessConfig(cap_fraction=2.0)
    with pytest.raises(ValueError):
        dataclasses.replace(MiningConfig(), min_segment_frames=60)


def test_empty_sections_keep_their_defaults():
    assert rollout.config_from_dict(None) == GenerationConfig()
    assert rollout.config_from_dict({"harness": None, "neutral_pose": None, "variants": None}) == GenerationConfig()
    assert miner.config_from_dict(MiningConfig, {"gates": None, "score": None, "walking": None}, "mining") == MiningConfig()


# ------------------------------------------------------------------------------ bad values
GENERATION_ERRORS = [
    # (section, expected message start)
    ({"fps": 0}, "generation.fps: expected a finite number > 0, got 0"),
    ({"fps": float("nan")}, "generation.fps: expected a finite number > 0, got nan"),
    ({"substeps": 0}, "generation.substeps: expected an integer >= 1, got 0"),
    ({"substeps": "3"}, "generation.substeps: expected an integer >= 1, got '3'"),
    ({"substeps": 3.5}, "generation.substeps: expected an integer >= 1, got 3.5"),
    ({"substeps": True}, "generation.substeps: expected an integer >= 1, got True"),
    ({"duration_s": -1.0}, "generation.duration_s: expected a finite number >= 0"),
    ({"cycles": 0}, "generation.cycles: expected an integer >= 1, got 0"),
    ({"blend_time": "long"}, "generation.blend_time: expected a finite number >= 0, got 'long'"),
    ({"neutral_pose": [0.0] * 7}, "generation.neutral_pose: expected a list of 8 numbers"),
    ({"neutral_pose": [0.0] * 7 + ["x"]}, "generation.neutral_pose[7]: expected a finite number, got 'x'"),
    ({"multi_start_interval": 2.5}, "generation.multi_start_interval: expected an integer >= 1, got 2.5"),
    ({"multi_start_interval": 0}, "generation.multi_start_interval: expected an integer >= 1, got 0"),
    ({"contact_threshold": -1.0}, "generation.contact_threshold: expected a finite number >= 0"),
    ({"saturation_warn_rate": 1.5}, "generation.saturation_warn_rate: expected a finite number in [0, 1]"),
    ({"min_clip_fps": 0}, "generation.min_clip_fps: expected a finite number > 0, got 0"),
    ({"max_clip_fps": "fast"}, "generation.max_clip_fps: expected a finite number > 0, got 'fast'"),
    ({"max_clip_seconds": float("inf")}, "generation.max_clip_seconds: expected a finite number > 0, got inf"),
    ({"min_joint_motion": -0.1}, "generation.min_joint_motion: expected a finite number >= 0, got -0.1"),
    ({"min_clip_fps": 60.0, "max_clip_fps": 30.0}, "generation.min_clip_fps: expected <= max_clip_fps (30.0), got 60.0"),
    ({"blend_tme": 0.3}, "generation.blend_tme: unknown key; known: ["),
    ({"harness": "strong"}, "generation.harness: expected a mapping, got 'strong'"),
    ({"harness": {"mode": "rope"}}, "generation.harness.mode: expected one of ('stabilizer', 'height_spring', 'both', 'off'), got 'rope'"),
    ({"harness": {"cap_fraction": True}}, "generation.harness.cap_fraction: expected a finite number in [0, 1], got True"),
    ({"harness": {"cap_fraction": 2}}, "generation.harness.cap_fraction: expected a finite number in [0, 1], got 2"),
    ({"harness": {"gate_deg": 0}}, "generation.harness.gate_deg: expected a finite number in (0, 180]"),
    ({"harness": {"lever_arm": 0.0}}, "generation.harness.lever_arm: expected a finite number > 0"),
    ({"harness": {"rot_kp": -4.0}}, "generation.harness.rot_kp: expected a finite number >= 0"),
    ({"harness": {"filter_tau": -0.1}}, "generation.harness.filter_tau: expected a finite number >= 0"),
    ({"harness": {"capfraction": 0.1}}, "generation.harness.capfraction: unknown key; known: ['cap_fraction'"),
    ({"balance": {"enabled": 1}}, "generation.balance.enabled: expected true/false, got 1"),
    ({"balance": {"max_correction": -0.3}}, "generation.balance.max_correction: expected a finite number >= 0"),
    ({"balance": {"ankle_kp": "1"}}, "generation.balance.ankle_kp: expected a finite number, got '1'"),
    ({"precondition": {"mode": "sometimes"}}, "generation.precondition.mode: expected one of ('off', 'retargeted', 'all')"),
    ({"precondition": {"time_warp": 0.0}}, "generation.precondition.time_warp: expected a finite number > 0, got 0.0"),
    ({"precondition": {"smooth_s": -0.1}}, "generation.precondition.smooth_s: expected a finite number >= 0"),
    ({"precondition": {"knee_min": -0.3}}, "generation.precondition.knee_min: expected a finite number >= 0"),
    ({"variants": []}, "generation.variants: expected a non-empty list of variants, got []"),
    ({"variants": {"name": "base"}}, "generation.variants: expected a non-empty list of variants"),
    ({"variants": ["base"]}, "generation.variants[0]: expected a mapping, got 'base'"),
    ({"variants": [{"mirror": True}]}, "generation.variants[0].name: missing key"),
    ({"variants": [{"name": ""}]}, "generation.variants[0].name: expected a non-empty string, got ''"),
    ({"variants": [{"name": "x", "mirorr": True}]}, "generation.variants[0].mirorr: unknown key; known: ['heading_deg', 'mirror', 'name', 'time_warp']"),
    ({"variants": [{"name": "a"}, {"name": "b", "time_warp": 0}]}, "generation.variants[1].time_warp: expected a finite number > 0, got 0"),
    ({"variants": [{"name": "a"}, {"name": "b", "time_warp": "fast"}]}, "generation.variants[1].time_warp: expected a finite number > 0"),
    ({"variants": [{"name": "a", "mirror": 1}]}, "generation.variants[0].mirror: expected true/false, got 1"),
    ({"variants": [{"name": "a", "heading_deg": "10"}]}, "generation.variants[0].heading_deg: expected a finite number"),
    ({"variants": [{"name": "a"}, {"name": "a", "mirror": True}]}, "generation.variants: expected unique names, got ['a', 'a']"),
]


@pytest.mark.parametrize("section, message", GENERATION_ERRORS, ids=[m.split(":")[0] for _, m in GENERATION_ERRORS])
def test_generation_errors_start_with_the_dotted_key(section, message):
    with pytest.raises(ConfigError) as err:
        rollout.config_from_dict(section)
    assert str(err.value).startswith(message), str(err.value)


MINING_ERRORS = [
    ({"fps": -50.0}, "mining.fps: expected a finite number > 0"),
    ({"window_frames": 50.5}, "mining.window_frames: expected an integer >= 1, got 50.5"),
    ({"window_frames": "50"}, "mining.window_frames: expected an integer >= 1, got '50'"),
    ({"window_frames": 0}, "mining.window_frames: expected an integer >= 1, got 0"),
    ({"stride_frames": 0}, "mining.stride_frames: expected an integer >= 1, got 0"),
    ({"min_segment_frames": 0}, "mining.min_segment_frames: expected an integer >= 1, got 0"),
    ({"min_segment_frames": 60}, "mining.min_segment_frames: expected <= window_frames (50), got 60"),
    ({"include_tail_window": 1}, "mining.include_tail_window: expected true/false, got 1"),
    ({"pre_fall_margin_frames": -1}, "mining.pre_fall_margin_frames: expected an integer >= 0, got -1"),
    ({"dedupe": "hash"}, "mining.dedupe: expected one of ('merge', 'center'), got 'hash'"),
    ({"center_frames": 0}, "mining.center_frames: expected an integer >= 1, got 0"),
    ({"dedupe": "center", "center_frames": 60}, "mining.center_frames: expected <= window_frames (50) with dedupe: center, got 60"),
    ({"lin_vel_mode": "speed"}, "mining.lin_vel_mode: expected one of ('clip', 'direction'), got 'speed'"),
    ({"lin_vel_clip": 0}, "mining.lin_vel_clip: expected a finite number > 0, got 0"),
    ({"gates": [0.85]}, "mining.gates: expected a mapping"),
    ({"gates": {"load_mean_mn": 0.9}}, "mining.gates.load_mean_mn: unknown key; known: ['harness_p90_max'"),
    ({"gates": {"harness_p95_max": "low"}}, "mining.gates.harness_p95_max: expected a finite number >= 0, got 'low'"),
    ({"gates": {"harness_p95_max": float("inf")}}, "mining.gates.harness_p95_max: expected a finite number >= 0, got inf"),
    ({"gates": {"load_mean_min": True}}, "mining.gates.load_mean_min: expected a finite number >= 0, got True"),
    ({"gates": {"stance_slip_rate_max": 1.5}}, "mining.gates.stance_slip_rate_max: expected a finite number in [0, 1], got 1.5"),
    ({"gates": {"pitch_p95_max_deg": 200.0}}, "mining.gates.pitch_p95_max_deg: expected a finite number in [0, 180]"),
    ({"score": {"slip_rate_bonus_max": -0.05}}, "mining.score.slip_rate_bonus_max: expected a finite number in [0, 1]"),
    ({"score": {"bonus": 1}}, "mining.score.bonus: unknown key; known: ['attitude_bonus_max_deg'"),
    ({"walking": {"speed_ratio_min": -0.1}}, "mining.walking.speed_ratio_min: expected a finite number >= 0, got -0.1"),
    ({"walking": {"speed_ratio_min": "fast"}}, "mining.walking.speed_ratio_min: expected a finite number >= 0, got 'fast'"),
    ({"walking": {"single_stance_min": 1.5}}, "mining.walking.single_stance_min: expected a finite number in [0, 1], got 1.5"),
    ({"walking": {"min_clip_speed": float("nan")}}, "mining.walking.min_clip_speed: expected a finite number >= 0"),
    ({"walking": {"speed_band_width": 0}}, "mining.walking.speed_band_width: expected a finite number > 0, got 0"),
    ({"walking": {"speed_ratio": 0.7}}, "mining.walking.speed_ratio: unknown key"),
]


@pytest.mark.parametrize("section, message", MINING_ERRORS, ids=[m.split(":")[0] for _, m in MINING_ERRORS])
def test_mining_errors_start_with_the_dotted_key(section, message):
    with pytest.raises(ConfigError) as err:
        miner.config_from_dict(MiningConfig, section, "mining")
    assert str(err.value).startswith(message), str(err.value)


ANALYSIS_ERRORS = [
    ({"borderline_seconds": 70.0}, "analysis.borderline_seconds: expected <= proceed_seconds (60.0), got 70.0"),
    ({"histogram_bins": 0}, "analysis.histogram_bins: expected an integer >= 1, got 0"),
    ({"timeline_rollout": -2}, "analysis.timeline_rollout: expected an integer >= -1"),
    ({"actuator_saturation_max": 2}, "analysis.actuator_saturation_max: expected a finite number in [0, 1], got 2"),
    ({"dashboard": {"clips_min": "3"}}, "analysis.dashboard.clips_min: expected an integer >= 0, got '3'"),
    ({"dashboard": {"clip_min": 3}}, "analysis.dashboard.clip_min: unknown key"),
]


@pytest.mark.parametrize("section, message", ANALYSIS_ERRORS, ids=[m.split(":")[0] for _, m in ANALYSIS_ERRORS])
def test_analysis_errors_start_with_the_dotted_key(section, message):
    with pytest.raises(ConfigError) as err:
        miner.config_from_dict(AnalysisConfig, section, "analysis")
    assert str(err.value).startswith(message), str(err.value)


def test_a_section_that_is_not_a_mapping_is_named():
    with pytest.raises(ConfigError, match=r"^generation: expected a mapping, got list"):
        rollout.config_from_dict([1, 2])
    with pytest.raises(ConfigError, match=r"^mining: expected a mapping, got str"):
        miner.config_from_dict(MiningConfig, "merge", "mining")


# ------------------------------------------------------------------------------ files
def test_a_bad_value_in_a_file_is_named_by_its_key(tmp_path):
    doc = dict(RAW)
    doc["generation"] = {**RAW["generation"], "harness": {**RAW["generation"]["harness"], "mode": "rope"}}
    doc["mining"] = {**RAW["mining"], "gates": {**RAW["mining"]["gates"], "stance_slip_rate_max": "x"}}
    path = tmp_path / "reference.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^generation\.harness\.mode: expected one of"):
        load_generation_config(path)
    with pytest.raises(ConfigError, match=r"^mining\.gates\.stance_slip_rate_max: expected a finite number"):
        load_mining_config(path)
    assert load_analysis_config(path) == AnalysisConfig()


@pytest.mark.parametrize("loader", [load_generation_config, load_mining_config, load_analysis_config])
def test_unreadable_files_are_named(tmp_path, loader):
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("generation:\n  fps: 50.0  # 50 Hz \xb1 1\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"^config: {re.escape(str(latin1))} is not UTF-8 text"):
        loader(latin1)
    broken = tmp_path / "broken.yaml"
    broken.write_text("generation: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^config: {re.escape(str(broken))} is not valid YAML"):
        loader(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- generation\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^config: {re.escape(str(listed))} must hold a mapping at the top level"):
        loader(listed)
    with pytest.raises(ConfigError, match=r"^config: no such file"):
        loader(tmp_path / "missing.yaml")


def test_an_empty_file_gives_the_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert load_generation_config(path) == GenerationConfig()
    assert load_mining_config(path) == MiningConfig()
    assert load_analysis_config(path) == AnalysisConfig()
    assert math.isclose(load_generation_config(path, {"duration_s": 1}).duration_s, 1.0)
