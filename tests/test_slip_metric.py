"""foot_slip_speed (wildrobot_gym.metrics) is the speed where a foot bears on the floor: a foot rolling about its toe
pad's front edge (a heel-off) does not slip although its sole point moves; the same foot sliding does."""
import mujoco
import numpy as np
import pytest

from wildrobot_gym.metrics import MetricsTracker
from wildrobot_gym.robot import RobotSpec, load_model


def _rotate_y(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] + s * v[2], v[1], -s * v[0] + c * v[2]])


def _heel_off_state(model: mujoco.MjModel, pitch: float, omega: float, slide: float) -> tuple[mujoco.MjData, dict]:
    """The home pose tipped forward by `pitch` about the line through both toe edges (pressed 0.5 mm into the
    floor, so the toe pads carry load and the heels are up), the whole robot rolling on about that line at
    `omega` rad/s and sliding forward at `slide` m/s."""
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, "home"))
    mujoco.mj_forward(model, data)
    edge = data.site("left_toe_edge").xpos.copy()
    edge[1] = 0.0
    root = data.qpos[:3] - edge
    edge[2] -= 5e-4
    data.qpos[:3] = edge + _rotate_y(root, pitch)
    data.qpos[3:7] = [np.cos(pitch / 2), 0.0, np.sin(pitch / 2), 0.0]
    w = np.array([0.0, omega, 0.0])
    data.qvel[:3] = np.cross(w, data.qpos[:3] - edge) + np.array([slide, 0.0, 0.0])
    data.qvel[3:6] = w  # the free joint's angular velocity is in the body frame: about y, the same axis
    mujoco.mj_forward(model, data)
    spec = RobotSpec.from_model(model)
    return data, MetricsTracker(model, spec, control_dt=0.02).compute(data)


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_a_foot_rolling_about_its_toe_edge_does_not_slip(model):
    data, m = _heel_off_state(model, pitch=0.35, omega=5.0, slide=0.0)
    assert m["pad_contact"].tolist() == [True, False, True, False]  # on the toe pads only
    sole_speed = np.hypot(*data.sensor("left_sole_vel").data[:2])
    assert sole_speed > 0.1  # the sole point moves as the foot rolls ...
    assert m["foot_slip_speed"] == pytest.approx([0.0, 0.0], abs=1e-6)  # ... while nothing slides on the floor


def test_a_foot_sliding_on_its_toe_edge_slips(model):
    _, m = _heel_off_state(model, pitch=0.35, omega=5.0, slide=0.3)
    assert m["pad_contact"].tolist() == [True, False, True, False]
    assert m["foot_slip_speed"] == pytest.approx([0.3, 0.3], abs=1e-6)


def test_a_flat_foot_slips_at_its_sole_point(model):
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_KEY, "home"))
    data.qpos[2] -= 5e-4
    data.qvel[:2] = [0.2, 0.1]
    mujoco.mj_forward(model, data)
    m = MetricsTracker(model, RobotSpec.from_model(model), control_dt=0.02).compute(data)
    assert m["pad_contact"].all()
    assert m["foot_slip_speed"] == pytest.approx([np.hypot(0.2, 0.1)] * 2, abs=1e-6)


def test_edge_sites_lie_on_the_pads_outer_bottom_edges(model):
    for side in ("left", "right"):
        for pad, edge, sign in (("toe", "toe_edge", 1.0), ("heel", "heel_edge", -1.0)):
            g = model.geom(f"{side}_{pad}")
            site = model.site(f"{side}_{edge}")
            assert site.bodyid == g.bodyid
            assert site.pos[0] == pytest.approx(g.pos[0] + sign * g.size[0])
            assert site.pos[2] == pytest.approx(g.pos[2] - g.size[2])
