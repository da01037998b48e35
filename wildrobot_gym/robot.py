"""The robot's constants: one place for joint names, order, ranges, mirror signs and asset paths.

Everything that can be read from the MJCF is read from it (`RobotSpec.from_model`); the few facts
the MJCF cannot express (the left/right mirror map) are declared here once.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from wildrobot_gym.paths import ASSETS_DIR


MODEL_XML = ASSETS_DIR / "wildrobot.xml"
SCENE_XML = ASSETS_DIR / "scene.xml"

#: Actuator order = joint order (robot.md). Clips recorded for the real robot use this order.
JOINT_NAMES: tuple[str, ...] = (
    "left_hip_pitch",
    "left_hip_roll",
    "left_knee_pitch",
    "left_ankle_pitch",
    "right_hip_pitch",
    "right_hip_roll",
    "right_knee_pitch",
    "right_ankle_pitch",
)
NUM_JOINTS = len(JOINT_NAMES)
PAD_NAMES: tuple[str, ...] = ("left_toe", "left_heel", "right_toe", "right_heel")
FOOT_NAMES: tuple[str, ...] = ("left", "right")

#: Left-right mirror of a joint vector: new[i] = MIRROR_SIGN[i] * old[MIRROR_INDEX[i]].
#: Legs swap; hip pitch and hip roll change sign because their axes are opposite on the two legs.
MIRROR_INDEX = np.array([4, 5, 6, 7, 0, 1, 2, 3])
MIRROR_SIGN = np.array([-1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0])

GRAVITY = 9.81


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """Mirror joint angles (or velocities) left-to-right; works on (..., 8) arrays."""
    joints = np.asarray(joints)
    if joints.shape[-1] != NUM_JOINTS:
        raise ValueError(f"mirror_joints: expected last dimension {NUM_JOINTS}, got shape {joints.shape}")
    return joints[..., MIRROR_INDEX] * MIRROR_SIGN


@dataclass(frozen=True)
class RobotSpec:
    """Indices and figures of a compiled WildRobot model, read from the MJCF."""

    joint_qpos_adr: np.ndarray  # (8,) qpos index of each joint, in actuator order
    joint_dof_adr: np.ndarray  # (8,) qvel index of each joint
    joint_range: np.ndarray  # (8, 2) radians
    home_qpos: np.ndarray  # (nq,) the `home` keyframe
    total_mass: float
    weight: float  # m * g, newtons
    root_body: int
    floor_geom: int
    pad_geoms: np.ndarray  # (4,) in PAD_NAMES order
    pad_touch_adr: np.ndarray  # (4,) sensordata index of each pad's touch sensor
    sole_vel_adr: np.ndarray  # (2, 3) sensordata indices of each sole's world linear velocity
    sole_sites: np.ndarray  # (2,) site ids of the soles (left, right)
    gyro_adr: np.ndarray  # (3,)
    accel_adr: np.ndarray  # (3,)
    fall_geoms: np.ndarray  # (ngeom,) bool: robot geoms whose floor contact is a fall
    # Contiguous sensordata / state slices: the env's hot path copies these in one go.
    qpos_joints: slice  # qpos of the 8 joints
    qvel_joints: slice  # qvel of the 8 joints
    pad_force: slice  # sensordata: 4 pad normal forces
    sole_vel: slice  # sensordata: 2 x 3 sole velocities (world frame)
    edge_vel: slice  # sensordata: 4 x 3 velocities of the pads' outer bottom edges (world frame), PAD_NAMES order
    imu_block: slice  # sensordata: gyro (3), joint positions (8), joint velocities (8)
    root_vel_local: slice  # sensordata: root linear velocity in the body frame (3)
    fall_contacts: slice  # sensordata: per fall geom, the number of its contacts with the floor

    @staticmethod
    def from_model(model: mujoco.MjModel) -> "RobotSpec":
        def jid(name: str) -> int:
            i = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
            if i < 0:
                raise ValueError(f"model has no joint named {name!r}")
            return i

        def sensor_adr(name: str) -> np.ndarray:
            i = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SENSOR, name)
            if i < 0:
                raise ValueError(f"model has no sensor named {name!r}")
            a = model.sensor_adr[i]
            return np.arange(a, a + model.sensor_dim[i])

        def named(obj: mujoco.mjtObj, name: str) -> int:
            i = mujoco.mj_name2id(model, obj, name)
            if i < 0:
                raise ValueError(f"model has no {obj.name[6:].lower()} named {name!r}")
            return i

        joints = [jid(n) for n in JOINT_NAMES]
        for a, n in enumerate(JOINT_NAMES):
            if model.actuator_trnid[a, 0] != joints[a]:
                raise ValueError(f"actuator {a} does not drive joint {n!r}: actuator order must equal joint order")
        pad_geoms = np.array([named(mujoco.mjtObj.mjOBJ_GEOM, n) for n in PAD_NAMES])
        root = named(mujoco.mjtObj.mjOBJ_BODY, "waist")
        key = named(mujoco.mjtObj.mjOBJ_KEY, "home")
        # Every collidable geom on the robot except the sole pads: touching the floor with it is a fall.
        robot_geom = np.isin(model.geom_bodyid, np.arange(model.nbody)[model.body_rootid == root])
        collidable = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
        fall = robot_geom & collidable
        fall[pad_geoms] = False
        # One floor-contact sensor per fall geom, named "<geom>_floor", in one contiguous block.
        fall_names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in np.flatnonzero(fall)]
        fall_adr = np.concatenate([sensor_adr(f"{n}_floor") for n in fall_names])
        imu_block = np.concatenate(
            [sensor_adr("imu_gyro")]
            + [sensor_adr(f"{n}_pos") for n in JOINT_NAMES]
            + [sensor_adr(f"{n}_vel") for n in JOINT_NAMES]
        )
        mass = float(model.body_subtreemass[root])
        g = float(-model.opt.gravity[2])
        return RobotSpec(
            joint_qpos_adr=model.jnt_qposadr[joints].copy(),
            joint_dof_adr=model.jnt_dofadr[joints].copy(),
            joint_range=model.jnt_range[joints].copy(),
            home_qpos=model.key_qpos[key].copy(),
            total_mass=mass,
            weight=mass * g,
            root_body=root,
            floor_geom=mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor"),
            pad_geoms=pad_geoms,
            pad_touch_adr=np.concatenate([sensor_adr(f"{p}_force") for p in PAD_NAMES]),
            sole_vel_adr=np.stack([sensor_adr(f"{f}_sole_vel") for f in FOOT_NAMES]),
            sole_sites=np.array([named(mujoco.mjtObj.mjOBJ_SITE, f"{f}_sole") for f in FOOT_NAMES]),
            gyro_adr=sensor_adr("imu_gyro"),
            accel_adr=sensor_adr("imu_accel"),
            fall_geoms=fall,
            qpos_joints=_as_slice(model.jnt_qposadr[joints], "joint qpos addresses"),
            qvel_joints=_as_slice(model.jnt_dofadr[joints], "joint dof addresses"),
            pad_force=_as_slice(np.concatenate([sensor_adr(f"{p}_force") for p in PAD_NAMES]), "pad touch sensors"),
            sole_vel=_as_slice(np.concatenate([sensor_adr(f"{f}_sole_vel") for f in FOOT_NAMES]), "sole velocity sensors"),
            edge_vel=_as_slice(np.concatenate([sensor_adr(f"{p}_edge_vel") for p in PAD_NAMES]),
                               "pad edge velocity sensors"),
            imu_block=_as_slice(imu_block, "gyro + joint position + joint velocity sensors"),
            root_vel_local=_as_slice(sensor_adr("root_vel_local"), "root velocimeter"),
            fall_contacts=_as_slice(fall_adr, "fall contact sensors"),
        )


def _as_slice(index: np.ndarray, what: str) -> slice:
    """The slice equal to a run of consecutive indices; the MJCF must declare them in that order."""
    index = np.asarray(index)
    if len(index) == 0 or not np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        raise ValueError(f"model: {what} must be consecutive in the MJCF, got indices {index.tolist()}")
    return slice(int(index[0]), int(index[0]) + len(index))


def load_model(path: str | Path = SCENE_XML) -> mujoco.MjModel:
    """Compile the scene (robot + floor); a missing or broken file raises ValueError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model_path: no such MJCF file: {path}")
    try:
        return mujoco.MjModel.from_xml_path(str(path))
    except Exception as exc:  # mujoco raises ValueError with the parser's message
        raise ValueError(f"model_path: could not compile {path}: {exc}") from exc
