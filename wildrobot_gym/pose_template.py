"""The reference pose of the gait clock: the joint angles the walking clips hold at a gait phase and speed.

A pose template is a table q_ref[s, b, j]: for each clip speed s, the mean joint angles (rad, actuator order)
of the clips' steady walk at gait phase b / B. Its phase follows the env's clock convention
(`wildrobot_gym.rewards.stance_expectation`): the left foot is in stance in [0, 0.5), so the right foot's swing
peaks at phase 0.25 and the left's at 0.75. `reference.pose_template` builds it from clips (the shipped file from
the shipped gait library); the ``pose_reference`` reward term reads ``target(command_phase, command)``.

File format (``.npz``, read with ``allow_pickle=False``): ``speeds`` (S,) m/s ascending, ``table`` (S, B, J),
``clips`` (S,) str, the clips averaged into each speed (comma-separated).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from wildrobot_gym.atomic_io import atomic_write
from wildrobot_gym.paths import ASSETS_DIR
from wildrobot_gym.robot import NUM_JOINTS

#: The template built from the shipped gait library (python -m reference.pose_template).
DEFAULT_POSE_TEMPLATE = ASSETS_DIR / "pose_template.npz"


class PoseTemplate:
    """Lookup of the reference joint angles at gait phase(s) and forward command(s): linear in the phase
    (periodic) and in the speed (clamped to the table's speeds)."""

    def __init__(self, speeds: np.ndarray, table: np.ndarray, source: str = "<array>") -> None:
        speeds = np.asarray(speeds, dtype=np.float64)
        table = np.asarray(table, dtype=np.float64)
        if speeds.ndim != 1 or len(speeds) == 0 or np.any(np.diff(speeds) <= 0) or not np.all(np.isfinite(speeds)):
            raise ValueError(f"{source}: speeds: expected a non-empty ascending 1-D array of m/s, got {speeds!r}")
        if table.shape[0] != len(speeds) or table.ndim != 3 or table.shape[2] != NUM_JOINTS or table.shape[1] < 2:
            raise ValueError(f"{source}: table: expected shape ({len(speeds)}, bins >= 2, {NUM_JOINTS}), got {table.shape}")
        if not np.all(np.isfinite(table)):
            raise ValueError(f"{source}: table: non-finite joint angles")
        self.speeds, self.table, self.source = speeds, table, source
        self._rate: np.ndarray | None = None  # d table / d phase, made on first use

    @property
    def bins(self) -> int:
        return int(self.table.shape[1])

    def target(self, phase, command) -> np.ndarray:
        """(..., J) reference joint angles at gait phase(s) in [0, 1) and forward command(s) (m/s)."""
        return self._lookup(self.table, phase, command)

    def rate(self, phase, command) -> np.ndarray:
        """(..., J) d q_ref / d phase (rad per gait cycle) at gait phase(s) and command(s): the table's central
        differences, looked up as `target`. Times the clock's frequency (Hz) it is the joints' reference velocity."""
        if self._rate is None:
            self._rate = (np.roll(self.table, -1, axis=1) - np.roll(self.table, 1, axis=1)) * (self.bins / 2.0)
        return self._lookup(self._rate, phase, command)

    def _lookup(self, table: np.ndarray, phase, command) -> np.ndarray:
        """Linear in the phase (periodic) and in the speed (clamped to the table's speeds)."""
        phase = np.asarray(phase, dtype=np.float64)
        command = np.asarray(command, dtype=np.float64)
        x = (phase % 1.0) * self.bins
        b0 = np.floor(x).astype(np.int64) % self.bins
        b1 = (b0 + 1) % self.bins
        u = (x - np.floor(x))[..., None]

        def at(s) -> np.ndarray:
            return (1.0 - u) * table[s, b0] + u * table[s, b1]

        if len(self.speeds) == 1:
            return at(0)
        c = np.clip(command, self.speeds[0], self.speeds[-1])
        s1 = np.clip(np.searchsorted(self.speeds, c, side="right"), 1, len(self.speeds) - 1)
        s0 = s1 - 1
        w = ((c - self.speeds[s0]) / (self.speeds[s1] - self.speeds[s0]))[..., None]
        return (1.0 - w) * at(s0) + w * at(s1)

    def save(self, path: str | Path, clips: list[str] | None = None) -> Path:
        """Write the template (atomically)."""
        names = np.asarray(clips if clips is not None else [""] * len(self.speeds))
        return atomic_write(path, lambda f: np.savez(f, speeds=self.speeds, table=self.table, clips=names))

    @classmethod
    def load(cls, path: str | Path) -> "PoseTemplate":
        """Read a template file; a missing or malformed one raises ValueError naming the file and key."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in ("speeds", "table") if k not in z.files]
                if missing:
                    raise ValueError(f"{path}: missing array(s) {missing}; expected speeds, table")
                return cls(z["speeds"], z["table"], source=str(path))
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: cannot read a pose template ({exc})") from None


def resolve_pose_template(name: str | Path | None) -> str:
    """The file a ``reward_params.pose_template`` value names: None the shipped template, else a path, or a bare
    file name in the package's assets folder (so that a config works from any directory). ValueError when
    neither exists."""
    if name is None:
        return str(DEFAULT_POSE_TEMPLATE)
    for candidate in (Path(name), ASSETS_DIR / str(name)):
        if candidate.is_file():
            return str(candidate.resolve())
    raise ValueError(f"reward_params.pose_template: no file {name!r} (nor {ASSETS_DIR / str(name)}); expected a "
                     "pose template .npz (python -m reference.pose_template), or null for the shipped one")


@lru_cache(maxsize=4)
def load_pose_template(path: str | None = None) -> PoseTemplate:
    """The template of `path` (`resolve_pose_template`; None: the shipped one), read once per process."""
    return PoseTemplate.load(resolve_pose_template(path))
