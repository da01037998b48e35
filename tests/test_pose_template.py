"""The gait clock's pose template: lookup, file checks and its build from the clips."""
from __future__ import annotations

from types import SimpleNamespace

import mujoco
import numpy as np
import pytest

from reference.clips import load_clip, load_clips
from reference.pose_template import build_template, clip_phases, dataset_template, peak_phases
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


def _swings(n: int, period: int, right_first: bool = True) -> np.ndarray:
    """(n, 2) sole heights of an alternating walk: each foot lifts 4 cm in a half-sine over half a period, the
    other foot down; the right foot's swing first when `right_first`."""
    h = np.zeros((n, 2))
    t = np.arange(n) % period
    lift = 0.04 * np.sin(np.pi * (t % (period // 2)) / (period // 2))
    first, second = (1, 0) if right_first else (0, 1)
    h[t < period // 2, first] = lift[t < period // 2]
    h[t >= period // 2, second] = lift[t >= period // 2]
    return h


def test_peak_phases_put_the_right_swing_peak_at_a_quarter_and_skip_one_foots_repeats():
    h = _swings(100, 20)  # right peaks at frames 5, 25, ...; left at 15, 35, ...
    phase = peak_phases(h)
    assert np.isnan(phase[:5]).all() and phase[5] == pytest.approx(0.25) and phase[15] == pytest.approx(0.75)
    assert phase[10] == pytest.approx(0.5) and phase[20] == pytest.approx(0.0)
    assert np.isnan(peak_phases(h, first=30)[:35]).all()   # peaks before `first` do not start a phase
    h[10:20, 0] = 0.0                                       # the left foot skips a swing: right, right
    assert np.isnan(peak_phases(h)[5:25]).all()


def _dataset(segments: list[tuple[float, bool, int]]) -> SimpleNamespace:
    """A mined dataset's arrays for segments of (forward velocity, walking, frames): an alternating walk of
    period 24 frames whose left knee (joint 2) holds 0.5 + speed + 0.2 cos(2 pi phase)."""
    foot, qpos, start, length = [], [], [], []
    for v, _, n in segments:
        h = _swings(n, 24)
        phase = peak_phases(h)
        q = np.zeros((n, 15))
        q[:, 9] = 0.5 + v + 0.2 * np.cos(2 * np.pi * np.nan_to_num(phase))
        start.append(sum(length))
        length.append(n)
        foot.append(h)
        qpos.append(q)
    return SimpleNamespace(arrays={
        "qpos": np.concatenate(qpos), "foot_height": np.concatenate(foot),
        "segment_start": np.asarray(start), "segment_length": np.asarray(length),
        "segment_walking": np.asarray([w for _, w, _ in segments]),
        "segment_forward_velocity": np.asarray([v for v, _, _ in segments])})


def test_dataset_template_fits_the_walking_segments_by_speed_band():
    ds = _dataset([(0.52, True, 600), (0.58, True, 600), (0.31, True, 600), (0.05, False, 600), (0.75, True, 60)])
    template, names = dataset_template(ds, bins=8, band=0.1, min_frames=300)
    # two bands have enough frames: 0.3-0.4 and 0.5-0.6 (0.75 has too few; the standing segment is not walking)
    np.testing.assert_allclose(template.speeds, [0.31, 0.55], atol=1e-6)
    assert names[1].startswith("walking 0.50-0.60 m/s")
    phase = np.arange(8) / 8
    np.testing.assert_allclose(template.table[1, :, 2], 0.5 + 0.55 + 0.2 * np.cos(2 * np.pi * phase), atol=1e-3)
    np.testing.assert_allclose(template.table[0, :, 2], 0.81 + 0.2 * np.cos(2 * np.pi * phase), atol=1e-3)
    assert np.abs(template.table[:, :, [0, 1, 3, 4, 5, 6, 7]]).max() < 1e-9


def test_dataset_template_names_what_is_missing():
    with pytest.raises(ValueError, match="no 0.1 m/s band has 500"):
        dataset_template(_dataset([(0.5, True, 100)]))
    with pytest.raises(ValueError, match="no walking segment"):
        dataset_template(_dataset([(0.5, False, 600)]))
    with pytest.raises(ValueError, match=r"lacks \['foot_height'\]"):
        ds = _dataset([(0.5, True, 600)])
        del ds.arrays["foot_height"]
        dataset_template(ds)
