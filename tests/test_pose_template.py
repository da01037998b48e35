"""The gait clock's pose template: lookup, file checks and its build from the clips."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from reference.clips import load_clip, load_clips
from reference.pose_template import build_template, clip_phases
from wildrobot_gym.paths import CLIP_LIBRARY
from wildrobot_gym.pose_template import DEFAULT_POSE_TEMPLATE, PoseTemplate
from wildrobot_gym.robot import SCENE_XML


def _template() -> PoseTemplate:
    """Two speeds, four phase bins; joint 0 holds the bin index (+10 at the faster speed), the others 0."""
    table = np.zeros((2, 4, 8))
    table[0, :, 0] = [0.0, 1.0, 2.0, 3.0]
    table[1, :, 0] = [10.0, 11.0, 12.0, 13.0]
    return PoseTemplate(np.array([0.4, 0.8]), table)


def test_target_is_linear_in_phase_periodic_and_in_speed_clamped():
    t = _template()
    assert t.target(0.25, 0.4)[0] == pytest.approx(1.0)        # a bin start
    assert t.target(0.125, 0.4)[0] == pytest.approx(0.5)       # halfway between bins 0 and 1
    assert t.target(0.875, 0.4)[0] == pytest.approx(1.5)       # between the last bin and the first (periodic)
    assert t.target(1.25, 0.4)[0] == pytest.approx(1.0)        # phase modulo 1
    assert t.target(0.25, 0.6)[0] == pytest.approx(6.0)        # halfway between the speeds
    assert t.target(0.25, 0.1)[0] == pytest.approx(1.0)        # below the slowest: the slowest
    assert t.target(0.25, 2.0)[0] == pytest.approx(11.0)       # above the fastest: the fastest
    batch = t.target(np.array([0.0, 0.25]), np.array([0.4, 0.8]))
    assert batch.shape == (2, 8)
    np.testing.assert_allclose(batch[:, 0], [0.0, 11.0])
    one = PoseTemplate(np.array([0.5]), t.table[:1])  # a single speed: every command gets it
    assert one.target(0.125, 0.9)[0] == pytest.approx(0.5)


def test_rate_is_the_phase_derivative_of_the_target():
    t = _template()
    # joint 0 rises one rad per bin (a quarter cycle) but wraps from 3 back to 0: central differences
    assert t.rate(0.25, 0.4)[0] == pytest.approx(4.0)          # (2 - 0) / (2 bins) x 4 bins per cycle
    assert t.rate(0.0, 0.4)[0] == pytest.approx(-4.0)          # (1 - 3) / 2 x 4 at the wrap
    assert t.rate(0.25, 0.4)[1] == 0.0                         # a still joint
    shipped = PoseTemplate.load(DEFAULT_POSE_TEMPLATE)
    phase = np.linspace(0.0, 1.0, 200, endpoint=False)
    h = 1.0 / shipped.bins  # a bin either side: the table's central difference, linear between bins like target
    np.testing.assert_allclose(shipped.rate(phase, 0.65),
                               (shipped.target(phase + h, 0.65) - shipped.target(phase - h, 0.65)) / (2 * h), atol=1e-9)
    # and within 15 % of each joint's peak rate of the piecewise-linear curve's own slope (a finer difference)
    fine = (shipped.target(phase + 1e-3, 0.65) - shipped.target(phase - 1e-3, 0.65)) / 2e-3
    assert np.all(np.abs(shipped.rate(phase, 0.65) - fine).max(axis=0) <= 0.15 * np.abs(fine).max(axis=0))


def test_bad_template_files_raise_naming_the_file_and_array(tmp_path):
    with pytest.raises(ValueError, match="missing.npz"):
        PoseTemplate.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "nospeeds.npz", table=np.zeros((1, 4, 8)))
    with pytest.raises(ValueError, match=r"nospeeds.npz.*speeds"):
        PoseTemplate.load(tmp_path / "nospeeds.npz")
    np.savez(tmp_path / "shape.npz", speeds=np.array([0.5]), table=np.zeros((1, 4, 7)))
    with pytest.raises(ValueError, match=r"shape.npz: table"):
        PoseTemplate.load(tmp_path / "shape.npz")
    np.savez(tmp_path / "order.npz", speeds=np.array([0.6, 0.5]), table=np.zeros((2, 4, 8)))
    with pytest.raises(ValueError, match=r"order.npz: speeds"):
        PoseTemplate.load(tmp_path / "order.npz")


def test_clip_phase_follows_the_env_clock_right_swing_at_a_quarter():
    """Left stance in [0, 0.5) (rewards.stance_expectation): the right hip (negative = flexed) swings
    forward most near 0.25, the left (positive = flexed) near 0.75."""
    model = mujoco.MjModel.from_xml_path(str(SCENE_XML))
    clip = load_clip(CLIP_LIBRARY / "walk_v065_l150.npz")
    phase = clip_phases(clip, model)
    ok = np.isfinite(phase)
    assert ok.sum() > 200  # the steady walk has a phase
    right_hip, left_hip = clip.joint_pos[ok, 4], clip.joint_pos[ok, 0]
    right_peak = phase[ok][np.argmin(right_hip)]
    left_peak = phase[ok][np.argmax(left_hip)]
    assert abs(right_peak - 0.25) < 0.15, right_peak
    assert abs(left_peak - 0.75) < 0.15, left_peak


def test_shipped_template_is_the_build_of_the_shipped_clips():
    """The asset is not stale: rebuilding it from the clip library gives the same table."""
    clips, rejected = load_clips(CLIP_LIBRARY)
    assert not rejected
    built, names, bad = build_template(clips)
    assert not bad
    shipped = PoseTemplate.load(DEFAULT_POSE_TEMPLATE)
    np.testing.assert_allclose(built.speeds, shipped.speeds)
    np.testing.assert_allclose(built.table, shipped.table, atol=1e-9)
    assert sum(len(n.split(",")) for n in names) == len(clips)


def test_a_clip_without_a_speed_is_reported_and_the_rest_are_built():
    good = load_clip(CLIP_LIBRARY / "walk_v065_l150.npz")
    bad = load_clip(CLIP_LIBRARY / "walk_v050_l120.npz")
    bad.metadata = {k: v for k, v in bad.metadata.items() if k != "speed"}
    template, names, rejected = build_template([good, bad])
    assert template.speeds.tolist() == [0.65]
    assert len(rejected) == 1 and rejected[0][0] == bad.name and "speed" in rejected[0][1]
