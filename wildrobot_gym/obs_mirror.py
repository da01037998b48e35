"""Left-right mirror of `WildRobotWalk-v0`'s observation: what the robot would observe in the mirror image
of its state (the reflection y -> -y of the world and of the body frame; x forward, y left, z up).

Each entry of `wildrobot_gym.env.OBS_LAYOUT` has one rule (`ENTRY_MIRROR`), a signed permutation of its
own columns, so the whole mirror is one signed permutation ``mirrored = obs[..., index] * sign``:

    up_vector, root_lin_vel   polar vectors: the lateral (y) component flips
    gyro                      an axial vector: roll and yaw rates flip, the pitch rate stays
    joint_pos, joint_vel,     the legs swap; hip pitch and roll flip (`wildrobot_gym.robot.mirror_joints`)
    prev_action               (home is the zero pose and the action scale is the same on both legs)
    command, root_height      unchanged
    gait_clock                half a cycle on: (sin, cos) -> (-sin, -cos). The clock expects the left foot
                              down where sin > 0 and the right where sin < 0 (`rewards.stance_expectation`),
                              so half a cycle later is the same moment with the legs swapped
    heading_error             flips (a turn to the left becomes one to the right)

The action mirror is `mirror_joints` (`action_mirror`). A policy with mean(M_o o) = M_a mean(o) walks the
same on both legs by construction (`wildrobot_gym.policy.MirrorSymmetricActorCriticPolicy`).
"""
from __future__ import annotations

import numpy as np
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecNormalize

from wildrobot_gym.robot import MIRROR_INDEX, MIRROR_SIGN

_JOINTS = (MIRROR_INDEX, MIRROR_SIGN)
#: OBS_LAYOUT entry name -> (column order within the entry, sign): mirrored[i] = sign[i] * entry[order[i]].
ENTRY_MIRROR: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "up_vector": (np.arange(3), np.array([1.0, -1.0, 1.0])),
    "gyro": (np.arange(3), np.array([-1.0, 1.0, -1.0])),
    "joint_pos": _JOINTS,
    "joint_vel": _JOINTS,
    "prev_action": _JOINTS,
    "command": (np.arange(1), np.ones(1)),
    "gait_clock": (np.arange(2), -np.ones(2)),
    "heading_error": (np.arange(1), -np.ones(1)),
    "root_lin_vel": (np.arange(3), np.array([1.0, -1.0, 1.0])),
    "root_height": (np.arange(1), np.ones(1)),
}


def observation_mirror(include_privileged: bool = True, include_heading: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(index, sign) of the observation with these flags: mirrored = obs[..., index] * sign."""
    from wildrobot_gym.env import OBS_LAYOUT, obs_slices

    slices = obs_slices(include_privileged, include_heading)
    dim = max(s.stop for s in slices.values())
    index, sign = np.arange(dim), np.ones(dim)
    for name, size, _privileged in OBS_LAYOUT:
        if name not in slices:
            continue
        if name not in ENTRY_MIRROR:
            raise KeyError(f"obs_mirror: OBS_LAYOUT entry {name!r} has no mirror rule (ENTRY_MIRROR)")
        order, s = ENTRY_MIRROR[name]
        if len(order) != size:
            raise ValueError(f"obs_mirror: the rule of {name!r} has {len(order)} columns, OBS_LAYOUT {size}")
        start = slices[name].start
        index[start:start + size] = start + np.asarray(order)
        sign[start:start + size] = s
    return index, sign


def observation_mirror_for_dim(obs_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """`observation_mirror` of the layout whose observation has `obs_dim` columns (the four layouts have four
    sizes); ValueError for any other size."""
    from wildrobot_gym.env import obs_flags_for_dim

    flags = obs_flags_for_dim(obs_dim)
    if flags is not None:
        return observation_mirror(*flags)
    raise ValueError(f"obs_mirror: an observation of {obs_dim} columns is not WildRobotWalk-v0's")


def action_mirror() -> tuple[np.ndarray, np.ndarray]:
    """(index, sign) of the action (one servo target offset per joint, about the symmetric home pose)."""
    return MIRROR_INDEX.copy(), MIRROR_SIGN.copy()


def restrict(index: np.ndarray, sign: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mirror of the sub-vector obs[..., columns]: (index, sign) within it. ValueError when the columns
    are not closed under the mirror (a column's mirror image is not among them)."""
    columns = np.asarray(columns, dtype=np.int64)
    where = {int(c): i for i, c in enumerate(columns)}
    missing = [int(index[c]) for c in columns if int(index[c]) not in where]
    if missing:
        raise ValueError(f"obs_mirror: columns {missing} mirror into the sub-vector but are not in it")
    return np.array([where[int(index[c])] for c in columns]), sign[columns].copy()


class MirroredRunningMeanStd(RunningMeanStd):
    """SB3's observation `RunningMeanStd` that counts every batch twice, as it is and mirrored, so that its
    mean and variance are mirror-symmetric (mean[index] * sign = mean, var[index] = var) and normalisation
    commutes with the mirror: what a mirror-symmetric actor needs (`MirrorSymmetricActorCriticPolicy`)."""

    def __init__(self, index: np.ndarray, sign: np.ndarray, epsilon: float = 1e-4, shape: tuple[int, ...] = ()) -> None:
        super().__init__(epsilon=epsilon, shape=shape)
        if len(index) != (shape[-1] if shape else 1):
            raise ValueError(f"MirroredRunningMeanStd: a mirror of {len(index)} columns for statistics of shape {shape}")
        self.index, self.sign = np.asarray(index), np.asarray(sign, dtype=np.float64)

    def update(self, arr: np.ndarray) -> None:
        arr = np.asarray(arr)
        super().update(np.concatenate([arr, arr[..., self.index] * self.sign], axis=0))

    def symmetrize(self) -> None:
        """Make the current statistics mirror-symmetric: those of the data and its mirror image together."""
        mirrored_mean = self.mean[..., self.index] * self.sign
        mean = 0.5 * (self.mean + mirrored_mean)
        self.var = 0.5 * (self.var + self.var[..., self.index]) + 0.25 * (self.mean - mirrored_mean) ** 2
        self.mean = mean


def mirror_normalizer(venv: VecNormalize) -> VecNormalize:
    """Replace `venv`'s observation statistics by a `MirroredRunningMeanStd` holding the same data, made
    symmetric (statistics loaded from an ordinary run are symmetrised once); returns `venv`."""
    rms = venv.obs_rms
    if not isinstance(rms, RunningMeanStd):
        raise ValueError(f"mirror_normalizer: expected one RunningMeanStd for a Box observation, got {type(rms).__name__}")
    index, sign = observation_mirror_for_dim(int(rms.mean.shape[-1]))
    out = MirroredRunningMeanStd(index, sign, shape=rms.mean.shape)
    out.mean, out.var, out.count = rms.mean.copy(), rms.var.copy(), rms.count
    out.symmetrize()
    venv.obs_rms = out
    return venv
