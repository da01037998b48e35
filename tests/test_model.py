"""The MJCF reproduces robot.md: names, order, ranges, signs, masses, standing at home, symmetry."""

import mujoco
import numpy as np
import pytest

from wildrobot_gym.robot import (
    JOINT_NAMES, MIRROR_INDEX, MIRROR_SIGN, PAD_NAMES, RobotSpec, load_model, mirror_joints,
)

RANGES_DEG = {
    "left_hip_pitch": (-5, 90), "left_hip_roll": (-90, 10), "left_knee_pitch": (0, 80),
    "left_ankle_pitch": (-45, 45), "right_hip_pitch": (-90, 5), "right_hip_roll": (-10, 90),
    "right_knee_pitch": (0, 80), "right_ankle_pitch": (-45, 45),
}
AXES = {
    "left_hip_pitch": (0, -1, 0), "left_hip_roll": (-1, 0, 0), "left_knee_pitch": (0, 1, 0),
    "left_ankle_pitch": (0, 1, 0), "right_hip_pitch": (0, 1, 0), "right_hip_roll": (-1, 0, 0),
    "right_knee_pitch": (0, 1, 0), "right_ankle_pitch": (0, 1, 0),
}
MASSES = {"waist": 1.2808, "left_hip": 0.085, "right_hip": 0.085, "left_upper_leg": 0.2366,
          "right_upper_leg": 0.2366, "left_lower_leg": 0.3757, "right_lower_leg": 0.3757,
          "left_foot": 0.3493, "right_foot": 0.3493}
COM_WORLD = {"waist": (-0.006, 0.001, 0.549), "left_foot": (0.019, 0.090, 0.012),
             "right_foot": (0.019, -0.090, 0.012), "left_lower_leg": (None, 0.090, 0.141),
             "left_upper_leg": (None, 0.089, 0.277), "left_hip": (None, 0.087, 0.445)}


@pytest.fixture(scope="module")
def model():
    return load_model()


def home_data(model):
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, "home"))
    mujoco.mj_forward(model, data)
    return data


def test_joints_names_order_ranges_axes(model):
    data = home_data(model)
    assert model.nu == 8
    for a, name in enumerate(JOINT_NAMES):
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        assert model.actuator_trnid[a, 0] == j, name
        assert np.allclose(np.degrees(model.jnt_range[j]), RANGES_DEG[name]), name
        assert np.allclose(np.degrees(model.actuator_ctrlrange[a]), RANGES_DEG[name]), name
        assert np.allclose(data.xaxis[j], AXES[name]), name  # world axis at home
        assert model.dof_damping[model.jnt_dofadr[j]] == pytest.approx(0.0852)
        assert model.dof_armature[model.jnt_dofadr[j]] == pytest.approx(0.025)
        assert model.dof_frictionloss[model.jnt_dofadr[j]] == pytest.approx(0.0223)


def test_positive_motion_directions(model):
    """robot.md's 'positive motion' column: hip flexion moves the foot forward, abduction outward."""
    spec = RobotSpec.from_model(model)

    def foot_after(joint, angle):
        data = home_data(model)
        data.qpos[spec.joint_qpos_adr[JOINT_NAMES.index(joint)]] = angle
        mujoco.mj_kinematics(model, data)
        return data.site_xpos[spec.sole_sites].copy()

    home = foot_after("left_hip_pitch", 0.0)
    assert foot_after("left_hip_pitch", 0.3)[0, 0] > home[0, 0] + 0.05  # left flexion: forward
    assert foot_after("right_hip_pitch", -0.3)[1, 0] > home[1, 0] + 0.05  # right flexion is negative
    assert foot_after("left_hip_roll", -0.3)[0, 1] > home[0, 1] + 0.05  # left abduction: out (+y)
    assert foot_after("right_hip_roll", 0.3)[1, 1] < home[1, 1] - 0.05  # right abduction: out (-y)


def test_servos(model):
    for a in range(model.nu):
        assert model.actuator_gainprm[a, 0] == pytest.approx(21.1)
        assert np.allclose(model.actuator_biasprm[a, :3], (0.0, -21.1, -0.5))
        assert np.allclose(model.actuator_forcerange[a], (-4.0, 4.0))
        assert model.actuator_forcelimited[a]


def test_masses_and_centres_of_mass(model):
    data = home_data(model)
    for body, mass in MASSES.items():
        b = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
        assert model.body_mass[b] == pytest.approx(mass, abs=1e-6), body
    for body, com in COM_WORLD.items():
        b = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
        for axis, value in enumerate(com):
            if value is not None:
                assert data.xipos[b, axis] == pytest.approx(value, abs=2e-3), (body, axis)
    root = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "waist")
    assert model.body_subtreemass[root] == pytest.approx(3.383, abs=1e-3)
    assert model.body_subtreemass[root] * 9.81 == pytest.approx(33.19, abs=0.01)
    assert data.subtree_com[root, 2] == pytest.approx(0.303, abs=0.003)
    assert data.qpos[2] == pytest.approx(0.4699)
    imu = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "imu")
    assert data.site_xpos[imu, 2] == pytest.approx(0.637, abs=1e-3)


def test_pads_and_fall_geoms(model):
    spec = RobotSpec.from_model(model)
    data = home_data(model)
    for name, g in zip(PAD_NAMES, spec.pad_geoms):
        assert mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) == name
        assert data.geom_xpos[g, 2] - model.geom_size[g, 2] == pytest.approx(0.0, abs=1e-3)  # sole on floor
    assert model.geom_size[spec.pad_geoms[0], 0] * 2 == pytest.approx(0.076)
    assert model.geom_size[spec.pad_geoms[1], 0] * 2 == pytest.approx(0.044)
    # torso, thighs and shanks can touch the floor, and doing so is a fall
    for name in ("torso", "left_thigh", "left_shank", "right_thigh", "right_shank"):
        g = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
        assert spec.fall_geoms[g], name
    assert not spec.fall_geoms[spec.pad_geoms].any()
    # one floor-contact sensor per fall geom
    assert spec.fall_contacts.stop - spec.fall_contacts.start == spec.fall_geoms.sum() == 5


def test_stands_five_seconds_on_its_pads(model):
    spec = RobotSpec.from_model(model)
    data = home_data(model)
    data.ctrl[:] = data.qpos[spec.joint_qpos_adr]
    home = data.qpos[spec.joint_qpos_adr].copy()
    for _ in range(250):  # 5 s of 50 Hz control
        mujoco.mj_step(model, data, 10)
        drift = np.degrees(np.abs(data.qpos[spec.joint_qpos_adr] - home))
        assert drift.max() < 1.0
    load = data.sensordata[spec.pad_touch_adr]
    assert (load > 0).all()  # all four pads carry weight
    assert load.sum() == pytest.approx(spec.weight, rel=0.02)
    assert data.qpos[2] == pytest.approx(0.4699, abs=0.005)


def test_mirror_symmetry(model):
    spec = RobotSpec.from_model(model)
    rng = np.random.default_rng(0)
    # ranges map onto each other under the mirror map
    lo, hi = spec.joint_range[:, 0], spec.joint_range[:, 1]
    m_lo = np.where(MIRROR_SIGN > 0, lo[MIRROR_INDEX], -hi[MIRROR_INDEX])
    m_hi = np.where(MIRROR_SIGN > 0, hi[MIRROR_INDEX], -lo[MIRROR_INDEX])
    assert np.allclose(m_lo, lo) and np.allclose(m_hi, hi)
    # masses and inertias of mirrored bodies are equal
    for side in ("hip", "upper_leg", "lower_leg", "foot"):
        lb = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"left_{side}")
        rb = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"right_{side}")
        assert model.body_mass[lb] == model.body_mass[rb]
        assert np.allclose(model.body_inertia[lb], model.body_inertia[rb])
    # a random pose and its mirror give mirrored feet (y negated, left/right swapped)
    q = rng.uniform(lo, hi) * 0.5
    feet = []
    for pose in (q, mirror_joints(q)):
        data = home_data(model)
        data.qpos[spec.joint_qpos_adr] = pose
        mujoco.mj_kinematics(model, data)
        feet.append(data.site_xpos[spec.sole_sites].copy())
    a, b = feet
    assert np.allclose(a[0] * (1, -1, 1), b[1], atol=1e-3)
    assert np.allclose(a[1] * (1, -1, 1), b[0], atol=1e-3)
    assert np.allclose(mirror_joints(mirror_joints(q)), q)


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="model_path"):
        load_model(tmp_path / "nope.xml")
    bad = tmp_path / "bad.xml"
    bad.write_text("<mujoco><worldbody><body></mujoco>")
    with pytest.raises(ValueError, match="could not compile"):
        load_model(bad)
