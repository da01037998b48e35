"""AMP feature layout, formulas, dropping and mirroring (wildrobot_gym.amp_features)."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from wildrobot_gym.amp_features import (
    COMPONENTS,
    CORE_DROP,
    FEATURE_VERSION,
    LAYOUT,
    STAGE0_DROP,
    FeatureLayout,
    compute_features,
    foot_z_velocity,
    mirror_features,
    select,
    yaw_from_quat,
)
from wildrobot_gym.robot import mirror_joints


def _quat_yaw(yaw: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(yaw / 2), np.zeros_like(yaw), np.zeros_like(yaw), np.sin(yaw / 2)], axis=-1)


def _random_state(t: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    qpos = rng.normal(size=(t, 15))
    q = rng.normal(size=(t, 4))
    qpos[:, 3:7] = q / np.linalg.norm(q, axis=1, keepdims=True)
    qvel = rng.normal(size=(t, 14))
    contact = rng.random((t, 4)) > 0.5
    fh = rng.random((t, 2)) * 0.05
    fv = rng.normal(size=(t, 2)) * 0.2
    return qpos, qvel, contact, fh, fv


def test_layout_dims_and_slices() -> None:
    assert LAYOUT.version == FEATURE_VERSION
    assert [c.dim for c in COMPONENTS] == [8, 8, 3, 3, 3, 1, 4, 2, 2]
    assert LAYOUT.dim == 34
    sl = LAYOUT.slices()
    assert list(sl) == ["joint_pos", "joint_vel", "root_ang_vel", "root_lin_vel", "root_gravity", "root_height", "foot_contact", "foot_height", "foot_z_vel"]
    stops = 0
    for c in COMPONENTS:  # contiguous, in order, of the declared width
        assert sl[c.name].start == stops and sl[c.name].stop - sl[c.name].start == c.dim
        stops = sl[c.name].stop
    assert {c.name for c in COMPONENTS if c.droppable} == {"root_height", "foot_contact", "foot_height", "foot_z_vel"}
    assert FeatureLayout.from_dict(LAYOUT.to_dict()) == LAYOUT
    with pytest.raises(KeyError, match="nope"):
        LAYOUT.slice("nope")


def test_formulas_in_columns() -> None:
    qpos, qvel, contact, fh, fv = _random_state(5)
    f = compute_features(qpos, qvel, contact, fh, fv)
    sl = LAYOUT.slices()
    assert f.dtype == np.float32 and f.shape == (5, 34)
    np.testing.assert_allclose(f[:, sl["joint_pos"]], qpos[:, 7:], rtol=1e-6)
    np.testing.assert_allclose(f[:, sl["joint_vel"]], qvel[:, 6:], rtol=1e-6)
    np.testing.assert_allclose(f[:, sl["root_ang_vel"]], qvel[:, 3:6], rtol=1e-6)
    np.testing.assert_allclose(f[:, sl["root_height"]][:, 0], qpos[:, 2], rtol=1e-6)
    np.testing.assert_array_equal(f[:, sl["foot_contact"]], contact.astype(np.float32))
    np.testing.assert_allclose(f[:, sl["foot_height"]], fh, rtol=1e-6)
    np.testing.assert_allclose(f[:, sl["foot_z_vel"]], fv, rtol=1e-6)
    for t in range(5):  # gravity in the body frame: R^T (0, 0, -1), R from MuJoCo's own quaternion code
        r = np.zeros(9)
        mujoco.mju_quat2Mat(r, qpos[t, 3:7])
        np.testing.assert_allclose(f[t, sl["root_gravity"]], r.reshape(3, 3).T @ [0.0, 0.0, -1.0], atol=1e-6)


def test_root_gravity_shows_the_torso_pitch_and_mirrors_as_a_polar_vector() -> None:
    qpos, qvel, contact, fh, fv = _random_state(6, seed=4)
    pitch = np.deg2rad(25.0)  # a forward lean: a rotation about +y
    qpos[0, 3:7] = [np.cos(pitch / 2), 0.0, np.sin(pitch / 2), 0.0]
    g = compute_features(qpos, qvel, contact, fh, fv)[:, LAYOUT.slice("root_gravity")]
    np.testing.assert_allclose(g[0], [np.sin(pitch), 0.0, -np.cos(pitch)], atol=1e-6)
    # The reflection y -> -y maps an attitude (w, x, y, z) to (w, -x, y, -z): the features follow mirror_features.
    m = qpos.copy()
    m[:, 3:7] *= [1.0, -1.0, 1.0, -1.0]
    gm = compute_features(m, qvel, contact, fh, fv)[:, LAYOUT.slice("root_gravity")]
    full = compute_features(qpos, qvel, contact, fh, fv)
    np.testing.assert_allclose(gm, mirror_features(full)[:, LAYOUT.slice("root_gravity")], atol=1e-6)


def test_heading_frame_velocity_clip_and_direction() -> None:
    qpos = np.zeros((2, 15))
    qpos[:, 3:7] = _quat_yaw(np.array([np.pi / 2, 0.0]))
    qvel = np.zeros((2, 14))
    qvel[0, 0:3] = [0.0, 0.4, 0.1]  # facing +y, walking +y: forward in the heading frame
    qvel[1, 0:3] = [3.0, -2.0, 0.0]  # beyond the clip
    args = (qpos, qvel, np.zeros((2, 4), bool), np.zeros((2, 2)), np.zeros((2, 2)))
    v = compute_features(*args)[:, LAYOUT.slice("root_lin_vel")]
    np.testing.assert_allclose(v[0], [0.4, 0.0, 0.1], atol=1e-6)
    np.testing.assert_allclose(v[1], [1.5, -1.5, 0.0], atol=1e-6)
    d = compute_features(*args, lin_vel_mode="direction")[:, LAYOUT.slice("root_lin_vel")]
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(yaw_from_quat(qpos[:, 3:7]), [np.pi / 2, 0.0], atol=1e-9)
    with pytest.raises(ValueError, match="lin_vel_mode"):
        compute_features(*args, lin_vel_mode="fast")


def test_single_frame_and_shape_errors() -> None:
    qpos, qvel, contact, fh, fv = _random_state(1)
    one = compute_features(qpos[0], qvel[0], contact[0], fh[0], fv[0])
    assert one.shape == (1, 34)
    np.testing.assert_array_equal(one, compute_features(qpos, qvel, contact, fh, fv))
    with pytest.raises(ValueError, match="qvel"):
        compute_features(qpos, qvel[:, :10], contact, fh, fv)
    with pytest.raises(ValueError, match="frames"):
        compute_features(np.repeat(qpos, 2, 0), qvel, contact, fh, fv)


def test_features_finite_on_random_and_still_states() -> None:
    f = compute_features(*_random_state(200, seed=3))
    assert np.isfinite(f).all()
    qpos, qvel, contact, fh, fv = _random_state(3)
    qvel[:] = 0.0  # a still robot: the direction mode must not divide by zero
    assert np.isfinite(compute_features(qpos, qvel, contact, fh, fv, lin_vel_mode="direction")).all()


def test_select_drops_components() -> None:
    f = compute_features(*_random_state(4))
    s0 = select(f, STAGE0_DROP)
    assert s0.shape == (4, 29)
    kept = LAYOUT.without(STAGE0_DROP)
    assert "root_height" not in kept.names and "foot_contact" not in kept.names and kept.dim == 29
    np.testing.assert_array_equal(s0[:, kept.slice("foot_height")], f[:, LAYOUT.slice("foot_height")])
    assert select(f, CORE_DROP).shape == (4, 25)
    assert select(f, ()).shape == f.shape
    with pytest.raises(ValueError, match="not droppable"):
        select(f, ("joint_pos",))
    with pytest.raises(KeyError, match="unknown"):
        select(f, ("elbow",))
    with pytest.raises(ValueError, match="columns"):
        select(s0, STAGE0_DROP)


def test_mirror_twice_is_identity_full_and_reduced() -> None:
    f = compute_features(*_random_state(20, seed=1))
    np.testing.assert_array_equal(mirror_features(mirror_features(f)), f)
    reduced = LAYOUT.without(STAGE0_DROP)
    s = select(f, STAGE0_DROP)
    np.testing.assert_array_equal(mirror_features(mirror_features(s, reduced), reduced), s)
    np.testing.assert_array_equal(mirror_features(s, reduced), select(mirror_features(f), STAGE0_DROP))


def test_mirror_matches_mirrored_physical_state() -> None:
    """Features of the reflected state equal the mirrored features of the state."""
    qpos, qvel, contact, fh, fv = _random_state(10, seed=2)
    yaw = np.linspace(-2, 2, 10)
    qpos[:, 3:7] = _quat_yaw(yaw)  # a yaw-only attitude reflects to -yaw exactly
    m_qpos, m_qvel = qpos.copy(), qvel.copy()
    m_qpos[:, 1] *= -1
    m_qpos[:, 3:7] = _quat_yaw(-yaw)
    m_qpos[:, 7:] = mirror_joints(qpos[:, 7:])
    m_qvel[:, 1] *= -1
    m_qvel[:, 3] *= -1
    m_qvel[:, 5] *= -1
    m_qvel[:, 6:] = mirror_joints(qvel[:, 6:])
    mirrored = compute_features(m_qpos, m_qvel, contact[:, [2, 3, 0, 1]], fh[:, ::-1], fv[:, ::-1])
    np.testing.assert_allclose(mirrored, mirror_features(compute_features(qpos, qvel, contact, fh, fv)), atol=1e-5)


def test_foot_z_velocity_backward_difference_and_restart() -> None:
    h = np.array([[0.0, 0.0], [0.02, 0.0], [0.04, 0.01], [0.10, 0.0]])
    v = foot_z_velocity(h, 50.0, restart=np.array([True, False, False, True]))
    np.testing.assert_allclose(v, [[0, 0], [1.0, 0], [1.0, 0.5], [0, 0]])
