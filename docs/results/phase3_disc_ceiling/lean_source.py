"""Where the walking reference's forward lean comes from: the clip's planned torso pitch against the tracked robot's,
and the joints' error from their reference (measured minus clip angle) and the tracker's residual (servo target minus
clip angle) that go with it, over the walking Tier 0+ segments, by the segment's speed.

The clip plans the lean (configs/gaits.yaml `torso_pitch_deg`); the robot tracking it leans more if its stance joints
do not hold their reference angles (the knees bend past them) and the tracker does not correct it.

    python docs/results/phase3_disc_ceiling/lean_source.py data/tier0plus_v14 [--json-output lean_source.json]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from reference.miner import load_dataset  # noqa: E402
from reference.rollout.physics import _quat_roll_pitch  # noqa: E402
from wildrobot_gym.atomic_io import atomic_write_json  # noqa: E402
from wildrobot_gym.robot import JOINT_NAMES  # noqa: E402

BANDS = ((0.0, 0.3), (0.3, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8))


def quat_pitch_deg(q_wxyz: np.ndarray) -> np.ndarray:
    """Pitch (deg) of (N, 4) w-x-y-z quaternions, as generation computes the records' `pitch`."""
    return np.degrees([_quat_roll_pitch(q)[1] for q in q_wxyz])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", type=Path, help="a reference.generate output directory (dataset + records/)")
    p.add_argument("--json-output", type=Path, default=None)
    a = p.parse_args()
    arr = load_dataset(a.dataset).arrays
    names = arr["motion_names"]
    per_band: dict[tuple[float, float], dict[str, list]] = {b: {"pitch": [], "ref_pitch": [], "err": [], "res": []}
                                                           for b in BANDS}
    records: dict[str, dict[str, np.ndarray]] = {}
    for m, start, n, walking, v in zip(arr["segment_motion"], arr["segment_source_start"], arr["segment_length"],
                                       arr["segment_walking"], arr["segment_forward_velocity"]):
        band = next((b for b in BANDS if b[0] <= v < b[1]), None)
        if not walking or band is None:
            continue
        name = str(names[m])
        if name not in records:
            path = a.dataset / "records" / (name.replace(":", "__") + ".npz")
            with np.load(path, allow_pickle=False) as r:
                records[name] = {k: r[k] for k in ("pitch", "ref_root_quat", "qpos", "ref_joint_pos", "ctrl")}
        r, rows = records[name], slice(int(start), int(start) + int(n))
        acc = per_band[band]
        acc["pitch"].append(np.degrees(r["pitch"][rows]))
        acc["ref_pitch"].append(quat_pitch_deg(r["ref_root_quat"][rows]))
        acc["err"].append(r["qpos"][rows, 7:] - r["ref_joint_pos"][rows])
        acc["res"].append(r["ctrl"][rows] - r["ref_joint_pos"][rows])
    out = []
    print(f"{a.dataset}: walking Tier 0+ frames by segment speed; joint columns {', '.join(JOINT_NAMES)}")
    for (lo, hi), acc in per_band.items():
        if not acc["pitch"]:
            continue
        pitch, ref = np.concatenate(acc["pitch"]), np.concatenate(acc["ref_pitch"])
        err, res = np.concatenate(acc["err"]).mean(0), np.concatenate(acc["res"]).mean(0)
        row = {"band": [lo, hi], "frames": int(len(pitch)), "tracked_pitch_deg": float(pitch.mean()),
               "planned_pitch_deg": float(ref.mean()), "extra_lean_deg": float(pitch.mean() - ref.mean()),
               "joint_error_rad": dict(zip(JOINT_NAMES, map(float, err))),
               "residual_rad": dict(zip(JOINT_NAMES, map(float, res)))}
        out.append(row)
        print(f"{lo:.1f}-{hi:.1f} m/s ({len(pitch)} frames): tracked lean {pitch.mean():5.1f} deg, planned "
              f"{ref.mean():5.1f}, extra {pitch.mean() - ref.mean():+4.1f}")
        print("   joint - clip (rad) " + " ".join(f"{e:+.3f}" for e in err))
        print("   target - clip (rad)" + " ".join(f"{e:+.3f}" for e in res))
    if a.json_output:
        atomic_write_json(a.json_output, out, indent=1)


if __name__ == "__main__":
    main()
