"""Human-like clip synthesiser (reference.human_like) and the tracker's clip preconditioning."""
from __future__ import annotations

import math

import numpy as np
import pytest

from reference import human_like
from reference.clips import load_clips, to_heading_frame
from reference.rollout import (PreconditionConfig, config_from_dict, default_model, forward_progress,
                               precondition_clip, precondition_joints)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("human_like")
    paths = human_like.synthesize(out, num_clips=4, total_seconds=20.0, seed=3)
    return out, paths


def test_synthetic_clips_load_with_the_documented_properties(synthetic):
    out, paths = synthetic
    clips, rejected = load_clips(out)
    assert rejected == [] and len(clips) == len(paths) == 4
    for clip, path in zip(clips, paths):
        assert clip.fps == pytest.approx(100.0 / 3.0)
        assert clip.metadata["source_format"] == "retargeted_pickle"
        assert 3.0 - 0.1 <= clip.duration <= 7.0 + 0.1
        # Heading about 180 deg: the clip walks toward world -x (curving a little).
        heading = math.degrees(to_heading_frame(clip).metadata["heading_removed_rad"])
        assert abs(abs(heading) - 180.0) < 25.0
        assert clip.root_pos[-1, 0] < clip.root_pos[0, 0]
        assert 0.41 <= clip.root_pos[:, 2].mean() <= 0.49
        knees = clip.joint_pos[:, [2, 6]]
        assert 0.35 <= np.mean(knees == 0.0) <= 0.85  # stiff knees, exactly at the limit
        stats = human_like.clip_stats(human_like.load_pickle_dict(path))
        assert 0.25 <= stats["hip_limit_fraction"] <= 0.5  # robot.md: ~39 %
        lo, hi = human_like.JOINT_RANGE[:, 0], human_like.JOINT_RANGE[:, 1]
        assert np.all(clip.joint_pos >= lo - 1e-12) and np.all(clip.joint_pos <= hi + 1e-12)


def test_synthetic_quaternion_is_written_xyzw(synthetic):
    _, paths = synthetic
    d = human_like.load_pickle_dict(paths[0])
    q = np.asarray(d["root_rot"])
    # Upright, heading ~180 deg: in x, y, z, w order the z component dominates and w is small.
    assert np.all(np.abs(q[:, 2]) > 0.9) and np.all(np.abs(q[:, 3]) < 0.45)
    assert d["num_frames"] == len(d["dof_pos"]) and d["local_body_pos"] is None


def test_precondition_keeps_joints_inside_the_range_and_bends_the_knees():
    rng = np.random.default_rng(0)
    joint_range = human_like.JOINT_RANGE
    raw = np.clip(rng.normal(0.0, 0.8, (200, 8)), joint_range[:, 0], joint_range[:, 1])
    raw[:, [2, 6]] = 0.0  # straight knees, on the limit
    cfg = PreconditionConfig(mode="all", smooth_s=0.1, limit_margin=0.05, knee_min=0.3)
    out = precondition_joints(raw, cfg, joint_range, 50.0)
    assert out.shape == raw.shape and np.all(np.isfinite(out))
    assert np.all(out >= joint_range[:, 0] + 0.05 - 1e-12) and np.all(out <= joint_range[:, 1] - 0.05 + 1e-12)
    assert np.all(out[:, [2, 6]] >= 0.3 - 1e-12)
    assert not np.any(np.isclose(out, joint_range[:, 0]) | np.isclose(out, joint_range[:, 1]))


def test_precondition_compensates_the_knee_with_hip_and_ankle():
    joints = np.zeros((20, 8))
    cfg = PreconditionConfig(mode="all", smooth_s=0.0, limit_margin=0.0, knee_min=0.4)
    out = precondition_joints(joints, cfg, human_like.JOINT_RANGE, 50.0)
    np.testing.assert_allclose(out[:, [2, 6]], 0.4)
    np.testing.assert_allclose(out[:, 0], 0.2)  # left flexion is +
    np.testing.assert_allclose(out[:, 4], -0.2)  # right flexion is -
    np.testing.assert_allclose(out[:, [3, 7]], -0.2)


def test_precondition_mode_selects_the_clips(synthetic):
    out, _ = synthetic
    clips, _ = load_clips(out)
    model = default_model()
    off = precondition_clip(clips[0], PreconditionConfig(mode="off"), model.actuator_ctrlrange)
    assert off is clips[0]
    on = precondition_clip(clips[0], PreconditionConfig(mode="retargeted", time_warp=0.8), model.actuator_ctrlrange)
    assert on.metadata["preconditioned"]["knee_min"] == 0.3
    assert on.num_frames > clips[0].num_frames  # slower playback: more frames
    gait = clips[0].__class__("g", 50.0, clips[0].root_pos, clips[0].root_quat, clips[0].joint_pos, {})
    assert precondition_clip(gait, PreconditionConfig(mode="retargeted"), model.actuator_ctrlrange) is gait


def test_precondition_config_is_checked():
    with pytest.raises(ValueError, match="precondition.mode"):
        config_from_dict({"precondition": {"mode": "sometimes"}})
    with pytest.raises(ValueError, match="precondition"):
        config_from_dict({"precondition": {"time_warp": 0.0}})


def test_forward_progress_counts_each_stretch_from_its_restart():
    n = 10
    ref = np.zeros((n, 3))
    ref[:, 0] = 0.1 * np.arange(n)
    qpos = np.zeros((n, 15))
    qpos[:, 0] = 0.05 * np.arange(n)
    qpos[5:, 0] = ref[5, 0] + 0.05 * np.arange(5)  # a restart puts it back on the reference
    restart = np.zeros(n, dtype=bool)
    restart[[0, 5]] = True
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    tracked, reference = forward_progress({"restart": restart, "qpos": qpos, "ref_root_pos": ref,
                                           "ref_root_quat": quat})
    assert reference == pytest.approx(0.8) and tracked == pytest.approx(0.4)
