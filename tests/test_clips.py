"""Tests of the clip loaders (retargeted pickles, project .npz), resampling, heading frame and augmentations."""
from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path

import mujoco
import numpy as np
import pytest

from reference.augment import mirror_clip, rotate_heading, time_warp
from reference.clips import (
    Clip,
    load_clip,
    load_clips,
    load_npz_clip,
    load_pickle_clip,
    quat_yaw,
    resample,
    save_clip,
    slerp,
    to_heading_frame,
    yaw_quat,
)
from wildrobot_gym.paths import CLIP_LIBRARY
from wildrobot_gym.robot import NUM_JOINTS, RobotSpec, load_model

SRC_FPS = 100.0 / 3.0  # the retargeted clips' ~33.3 Hz


def make_pickle_dict(n: int = 100, fps: float = SRC_FPS, speed: float = 0.3, heading: float = np.pi) -> dict:
    """A synthetic retargeted clip in clip_format.md's pickle layout, walking along `heading` (default -x).

    The root faces its walking direction (yaw = heading, with a small sway), so that heading removal
    can be checked; joints are smooth sines so that resampling can be checked.
    """
    t = np.arange(n) / fps
    direction = np.array([np.cos(heading), np.sin(heading)])
    root_pos = np.zeros((n, 3))
    root_pos[:, :2] = np.array([1.5, -0.7]) + np.outer(speed * t, direction)
    root_pos[:, 2] = 0.45 + 0.01 * np.sin(2 * np.pi * t)
    yaw = heading + 0.05 * np.sin(2 * np.pi * 1.0 * t)
    # x, y, z, w order, as the retargeting tool writes it
    root_rot = np.stack([np.zeros(n), np.zeros(n), np.sin(yaw / 2), np.cos(yaw / 2)], axis=1)
    dof_pos = 0.3 * np.sin(2 * np.pi * 0.5 * t[:, None] + np.arange(NUM_JOINTS)[None, :])
    return {
        "fps": fps,
        "root_pos": root_pos,
        "root_rot": root_rot,
        "dof_pos": dof_pos,
        "num_frames": n,
        "duration_sec": n / fps,
        "local_body_pos": None,
        "link_body_list": None,
        "source_file": "synthetic_walk.bvh",
        "robot": "wildrobot",
    }


def write_pickle(path: Path, obj: object) -> Path:
    with open(path, "wb") as f:
        pickle.dump(obj, f)
    return path


def make_clip(n: int = 60, fps: float = 50.0) -> Clip:
    """A Clip (wxyz) with a tilted, turning root orientation, so mirror/rotation checks are not trivial."""
    rng = np.random.default_rng(0)
    quat = rng.normal(size=(n, 4))
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    return Clip(
        name="synthetic",
        fps=fps,
        root_pos=rng.normal(size=(n, 3)),
        root_quat=quat,
        joint_pos=rng.normal(size=(n, NUM_JOINTS)),
        metadata={"source": "test"},
    )


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


# --------------------------------------------------------------------------------------------- loading


def test_pickle_loads_and_converts_xyzw_to_wxyz(tmp_path: Path) -> None:
    d = make_pickle_dict()
    clip = load_pickle_clip(write_pickle(tmp_path / "walk.pkl", d))
    assert clip.name == "walk"
    assert clip.fps == pytest.approx(SRC_FPS)
    assert clip.num_frames == 100
    np.testing.assert_allclose(clip.root_quat, d["root_rot"][:, [3, 0, 1, 2]], atol=1e-12)
    np.testing.assert_array_equal(clip.joint_pos, d["dof_pos"])
    np.testing.assert_array_equal(clip.root_pos, d["root_pos"])
    assert clip.metadata["source_file"] == "synthetic_walk.bvh"
    assert clip.metadata["robot"] == "wildrobot"
    # A specific quaternion: 90 deg about z is (x, y, z, w) = (0, 0, s, s) -> (w, x, y, z) = (s, 0, 0, s).
    d["root_rot"][:] = [0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)]
    clip = load_pickle_clip(write_pickle(tmp_path / "turned.pkl", d))
    np.testing.assert_allclose(clip.root_quat[0], [np.sqrt(0.5), 0, 0, np.sqrt(0.5)])
    assert quat_yaw(clip.root_quat[0]) == pytest.approx(np.pi / 2)


def test_values_exactly_at_joint_limits_are_legal(tmp_path: Path) -> None:
    d = make_pickle_dict()
    upper = np.radians([90, 10, 80, 45, 5, 90, 80, 45])
    lower = np.radians([-5, -90, 0, -45, -90, -10, 0, -45])
    d["dof_pos"][::2] = upper
    d["dof_pos"][1::2] = lower
    clip = load_pickle_clip(write_pickle(tmp_path / "limits.pkl", d))
    np.testing.assert_array_equal(clip.joint_pos[0], upper)


def _bad(key: str, value: object) -> dict:
    d = make_pickle_dict(n=20)
    d[key] = value
    return d


def _without(key: str) -> dict:
    d = make_pickle_dict(n=20)
    del d[key]
    return d


def _nan_in(key: str) -> dict:
    d = make_pickle_dict(n=20)
    d[key] = d[key].copy()
    d[key][7, 1] = np.nan
    return d


def _inf_in(key: str) -> dict:
    d = make_pickle_dict(n=20)
    d[key] = d[key].copy()
    d[key][3, 0] = np.inf
    return d


def _quat(row: np.ndarray) -> dict:
    d = make_pickle_dict(n=20)
    d["root_rot"][5] = row
    return d


def _frames(n: int) -> dict:
    d = make_pickle_dict(n=20)
    for key in ("root_pos", "root_rot", "dof_pos"):
        d[key] = d[key][:n]
    d["num_frames"] = n
    d["duration_sec"] = n / d["fps"]
    return d


BAD_CLIPS = {
    "missing_fps": (_without("fps"), "missing key"),
    "missing_root_pos": (_without("root_pos"), "missing key"),
    "missing_root_rot": (_without("root_rot"), "root_rot"),
    "missing_dof_pos": (_without("dof_pos"), "dof_pos"),
    "missing_num_frames": (_without("num_frames"), "num_frames"),
    "root_pos_2_columns": (_bad("root_pos", np.zeros((20, 2))), "root_pos"),
    "root_rot_3_columns": (_bad("root_rot", np.zeros((20, 3))), "root_rot"),
    "root_rot_wrong_length": (_bad("root_rot", np.tile([0.0, 0, 0, 1], (19, 1))), "(20, 4)"),
    "dof_pos_1d": (_bad("dof_pos", np.zeros(20)), "dof_pos"),
    "seven_joints": (_bad("dof_pos", np.zeros((20, 7))), "7 joints"),
    "nine_joints": (_bad("dof_pos", np.zeros((20, 9))), "9 joints"),
    "dof_pos_text": (_bad("dof_pos", "not an array"), "dof_pos"),
    "nan_dof": (_nan_in("dof_pos"), "NaN"),
    "nan_root_pos": (_nan_in("root_pos"), "root_pos"),
    "inf_root_rot": (_inf_in("root_rot"), "infinite"),
    "zero_quat": (_quat(np.zeros(4)), "zero quaternion"),
    "non_unit_quat": (_quat(np.array([0.0, 0.0, 0.0, 1.01])), "non-unit"),
    "fps_zero": (_bad("fps", 0.0), "fps"),
    "fps_negative": (_bad("fps", -33.3), "fps"),
    "fps_nan": (_bad("fps", float("nan")), "fps"),
    "fps_array": (_bad("fps", np.array([33.3, 33.3])), "fps"),
    "fps_string": (_bad("fps", "33.3"), "fps"),
    "one_frame": (_frames(1), "at least 2"),
    "zero_frames": (_frames(0), "at least 2"),
    "num_frames_mismatch": (_bad("num_frames", 21), "num_frames"),
    "num_frames_fraction": (_bad("num_frames", 20.5), "num_frames"),
    "duration_mismatch": (_bad("duration_sec", 5.0), "duration_sec"),
    "not_a_dict": ([1, 2, 3], "expected a dict"),
}


@pytest.mark.parametrize("case", sorted(BAD_CLIPS))
def test_pickle_loader_rejects(tmp_path: Path, case: str) -> None:
    obj, expected = BAD_CLIPS[case]
    path = write_pickle(tmp_path / f"{case}.pkl", obj)
    with pytest.raises(ValueError) as info:
        load_pickle_clip(path)
    message = str(info.value)
    assert str(path) in message, message  # names the file
    assert expected.lower() in message.lower(), message  # names the problem


def test_missing_key_is_named(tmp_path: Path) -> None:
    path = write_pickle(tmp_path / "m.pkl", _without("dof_pos"))
    with pytest.raises(ValueError, match=r"missing key\(s\) \['dof_pos'\]"):
        load_pickle_clip(path)


def test_nearly_unit_quaternion_is_accepted_and_renormalised(tmp_path: Path) -> None:
    d = _quat(np.array([0.0, 0.0, 0.0, 1.0005]))
    clip = load_pickle_clip(write_pickle(tmp_path / "near.pkl", d))
    np.testing.assert_allclose(np.linalg.norm(clip.root_quat, axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("content", [b"", b"this is not a pickle", pickle.dumps(make_pickle_dict())[:200]])
def test_unreadable_pickle_is_rejected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pkl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a readable clip pickle") as info:
        load_pickle_clip(path)
    assert str(path) in str(info.value)


def test_pickle_cannot_run_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = write_pickle(tmp_path / "evil.pkl", {"fps": Evil()})
    with pytest.raises(ValueError, match="refusing to load global"):
        load_pickle_clip(path)


def test_missing_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nope.pkl"):
        load_clip(tmp_path / "nope.pkl")


def test_load_clip_dispatches_on_suffix(tmp_path: Path) -> None:
    pkl = load_clip(write_pickle(tmp_path / "a.pkl", make_pickle_dict()))
    npz = load_clip(save_clip(pkl, tmp_path / "a.npz"))
    np.testing.assert_allclose(npz.root_quat, pkl.root_quat)
    (tmp_path / "a.csv").write_text("1,2,3")
    with pytest.raises(ValueError, match="unknown clip file type"):
        load_clip(tmp_path / "a.csv")


def test_batch_loader_reports_bad_files_and_keeps_good_ones(tmp_path: Path) -> None:
    write_pickle(tmp_path / "good1.pkl", make_pickle_dict())
    write_pickle(tmp_path / "bad_joints.pkl", _bad("dof_pos", np.zeros((20, 7))))
    write_pickle(tmp_path / "bad_quat.pkl", _quat(np.zeros(4)))
    (tmp_path / "garbage.pkl").write_bytes(b"\x00\x01garbage")
    npz_clip = load_pickle_clip(write_pickle(tmp_path / "good2.pkl", make_pickle_dict(n=50)))
    npz_clip.name = "good3"  # .npz clips carry their name in the metadata
    save_clip(npz_clip, tmp_path / "good3.npz")
    (tmp_path / "notes.txt").write_text("ignored: not a clip suffix")

    clips, rejected = load_clips(tmp_path)
    assert sorted(c.name for c in clips) == ["good1", "good2", "good3"]
    assert sorted(Path(p).name for p, _ in rejected) == ["bad_joints.pkl", "bad_quat.pkl", "garbage.pkl"]
    reasons = dict((Path(p).name, r) for p, r in rejected)
    assert "7 joints" in reasons["bad_joints.pkl"]
    assert "zero quaternion" in reasons["bad_quat.pkl"]
    assert "bad_quat.pkl" in reasons["bad_quat.pkl"]

    # An explicit list, including a missing file, also never raises.
    clips, rejected = load_clips([tmp_path / "good1.pkl", tmp_path / "missing.pkl", str(tmp_path / "good3.npz")])
    assert [c.name for c in clips] == ["good1", "good3"]
    assert [Path(p).name for p, _ in rejected] == ["missing.pkl"]


def test_npz_roundtrip(tmp_path: Path) -> None:
    clip = load_pickle_clip(write_pickle(tmp_path / "walk.pkl", make_pickle_dict()))
    path = save_clip(clip, tmp_path / "out" / "walk.npz")
    back = load_npz_clip(path)
    assert back.name == clip.name
    assert back.fps == clip.fps
    np.testing.assert_array_equal(back.root_pos, clip.root_pos)
    np.testing.assert_array_equal(back.root_quat, clip.root_quat)
    np.testing.assert_array_equal(back.joint_pos, clip.joint_pos)
    assert back.metadata["source_file"] == "synthetic_walk.bvh"
    # A processed clip (heading frame, 50 Hz) keeps JSON-serialisable metadata and round-trips too.
    processed = resample(to_heading_frame(clip), 50.0)
    again = load_clip(save_clip(processed, tmp_path / "walk50.npz"))
    np.testing.assert_allclose(again.root_quat, processed.root_quat, atol=1e-12)
    assert again.fps == 50.0
    assert again.metadata["resampled_from_fps"] == pytest.approx(SRC_FPS)
    # Readable without the project's code: plain numpy, no pickle.
    with np.load(path, allow_pickle=False) as z:
        assert int(z["format_version"]) == 1
        assert json.loads(str(z["metadata_json"]))["name"] == "walk"


def test_npz_with_bad_quaternion_is_rejected_by_load_clip(tmp_path: Path) -> None:
    clip = make_clip()
    clip.root_quat[3] = 0.0
    path = save_clip(clip, tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="zero quaternion"):
        load_clip(path)


# --------------------------------------------------------------------------------------------- resampling


def test_resample_matches_analytic_signal(tmp_path: Path) -> None:
    n = 100
    clip = load_pickle_clip(write_pickle(tmp_path / "s.pkl", make_pickle_dict(n=n)))
    out = resample(clip, 50.0)
    span = (n - 1) / SRC_FPS
    assert out.fps == 50.0
    assert out.num_frames == int(np.floor(span * 50.0 + 1e-9)) + 1  # 99 / 33.33 s * 50 Hz -> 149 frames
    t = np.arange(out.num_frames) / 50.0
    assert t[-1] <= span + 1e-12
    want = 0.3 * np.sin(2 * np.pi * 0.5 * t[:, None] + np.arange(NUM_JOINTS)[None, :])
    # Linear interpolation error bound: h^2 / 8 * max|f''| = 0.03^2 / 8 * 0.3 * pi^2 ~ 3.3e-4.
    np.testing.assert_allclose(out.joint_pos, want, atol=5e-4)
    np.testing.assert_allclose(out.root_pos[:, 0], 1.5 - 0.3 * t, atol=1e-9)  # linear motion is exact
    np.testing.assert_allclose(out.root_pos[:, 2], 0.45 + 0.01 * np.sin(2 * np.pi * t), atol=1e-4)
    want_yaw = np.pi + 0.05 * np.sin(2 * np.pi * t)
    err = np.angle(np.exp(1j * (quat_yaw(out.root_quat) - want_yaw)))
    assert np.max(np.abs(err)) < 1e-3
    np.testing.assert_allclose(np.linalg.norm(out.root_quat, axis=1), 1.0, atol=1e-12)
    # First frame exact.
    np.testing.assert_array_equal(out.joint_pos[0], clip.joint_pos[0])
    np.testing.assert_array_equal(out.root_quat[0], clip.root_quat[0])


def test_resample_exact_endpoints_and_identity() -> None:
    clip = make_clip(n=51, fps=25.0)  # span 2 s: a multiple of 1/50 and of 1/25
    out = resample(clip, 50.0)
    assert out.num_frames == 101
    for a, b in ((out.root_pos, clip.root_pos), (out.root_quat, clip.root_quat), (out.joint_pos, clip.joint_pos)):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[-1], b[-1])
        np.testing.assert_array_equal(a[::2], b)  # every source frame lands on an output frame
    same = resample(clip, 25.0)
    np.testing.assert_array_equal(same.joint_pos, clip.joint_pos)


def test_slerp_endpoints_sign_flip_and_midpoint() -> None:
    q0 = yaw_quat(0.2)
    q1 = yaw_quat(1.4)
    np.testing.assert_allclose(slerp(q0, q1, 0.0), q0, atol=1e-15)
    np.testing.assert_allclose(slerp(q0, q1, 1.0), q1, atol=1e-15)
    np.testing.assert_allclose(slerp(q0, q1, 0.5), yaw_quat(0.8), atol=1e-12)
    # q and -q are the same rotation: slerp must take the short way, not swing through 360 deg.
    mid = slerp(q0, -q1, 0.5)
    assert quat_yaw(mid) == pytest.approx(0.8)
    np.testing.assert_allclose(slerp(q0, q0, 0.3), q0, atol=1e-15)


def test_resample_handles_quaternion_sign_flips() -> None:
    n, fps = 40, SRC_FPS
    t = np.arange(n) / fps
    quat = yaw_quat(0.8 * t)
    quat[1::2] *= -1.0  # same rotations, alternating sign
    clip = Clip("flip", fps, np.zeros((n, 3)), quat, np.zeros((n, NUM_JOINTS)))
    out = resample(clip, 50.0)
    t_out = np.arange(out.num_frames) / 50.0
    # Constant-rate rotation about one axis: slerp reproduces it exactly.
    np.testing.assert_allclose(quat_yaw(out.root_quat), 0.8 * t_out, atol=1e-9)


def test_resample_rejects_bad_fps() -> None:
    with pytest.raises(ValueError, match="fps"):
        resample(make_clip(), 0.0)


# --------------------------------------------------------------------------------------------- heading frame


def test_heading_frame_turns_minus_x_walk_into_plus_x_from_origin(tmp_path: Path) -> None:
    clip = load_pickle_clip(write_pickle(tmp_path / "w.pkl", make_pickle_dict(n=150, speed=0.3)))
    assert clip.root_pos[-1, 0] < clip.root_pos[0, 0]  # walks toward -x
    out = to_heading_frame(clip)
    np.testing.assert_allclose(out.root_pos[0, :2], 0.0, atol=1e-12)
    np.testing.assert_array_equal(out.root_pos[:, 2], clip.root_pos[:, 2])  # height kept
    np.testing.assert_array_equal(out.joint_pos, clip.joint_pos)
    disp = out.root_pos[-1, :2] - out.root_pos[0, :2]
    assert disp[0] == pytest.approx(0.3 * 149 / SRC_FPS, rel=1e-3)
    assert abs(disp[1]) < 0.02
    yaw = quat_yaw(out.root_quat)
    assert np.max(np.abs(yaw)) < 0.06  # faces +x (the sway of +-0.05 rad is kept)
    assert abs(np.cos(out.metadata["heading_removed_rad"]) + 1.0) < 1e-3  # about 180 deg (+-pi)


@pytest.mark.parametrize("heading", [np.pi, -np.pi + 0.01, 0.7, -2.0])
def test_heading_frame_any_heading(heading: float) -> None:
    n = 80
    d = make_pickle_dict(n=n, heading=heading)
    clip = Clip("h", d["fps"], d["root_pos"], d["root_rot"][:, [3, 0, 1, 2]], d["dof_pos"])
    out = to_heading_frame(clip)
    direction = out.root_pos[-1, :2] / np.linalg.norm(out.root_pos[-1, :2])
    np.testing.assert_allclose(direction, [1.0, 0.0], atol=0.02)


# --------------------------------------------------------------------------------------------- augmentation


def test_mirror_twice_is_identity() -> None:
    clip = make_clip()
    twice = mirror_clip(mirror_clip(clip))
    np.testing.assert_array_equal(twice.root_pos, clip.root_pos)
    np.testing.assert_array_equal(twice.root_quat, clip.root_quat)
    np.testing.assert_array_equal(twice.joint_pos, clip.joint_pos)


def test_mirror_is_a_reflection_in_the_xz_plane() -> None:
    clip = make_clip(n=5)
    out = mirror_clip(clip)
    m = np.diag([1.0, -1.0, 1.0])
    for q, q_m in zip(clip.root_quat, out.root_quat):
        np.testing.assert_allclose(quat_to_mat(q_m), m @ quat_to_mat(q) @ m, atol=1e-12)
    np.testing.assert_array_equal(out.root_pos[:, 1], -clip.root_pos[:, 1])
    np.testing.assert_array_equal(out.root_pos[:, [0, 2]], clip.root_pos[:, [0, 2]])
    # Legs swap; hip pitch/roll change sign (robot.md).
    np.testing.assert_array_equal(out.joint_pos[:, 4], -clip.joint_pos[:, 0])
    np.testing.assert_array_equal(out.joint_pos[:, 5], -clip.joint_pos[:, 1])
    np.testing.assert_array_equal(out.joint_pos[:, 6], clip.joint_pos[:, 2])
    assert out.metadata["mirrored"] is True
    assert clip.metadata == {"source": "test"}  # input untouched


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_time_warp_scales_duration(factor: float) -> None:
    clip = make_clip(n=201, fps=50.0)  # 4 s span
    out = time_warp(clip, factor)
    assert out.fps == clip.fps
    span_in = (clip.num_frames - 1) / clip.fps
    span_out = (out.num_frames - 1) / out.fps
    assert span_out == pytest.approx(span_in / factor, abs=1.0 / clip.fps)
    assert out.duration == pytest.approx(clip.duration / factor, abs=1.5 / clip.fps)
    np.testing.assert_array_equal(out.joint_pos[0], clip.joint_pos[0])


def test_time_warp_plays_faster() -> None:
    n, fps = 201, 50.0
    t = np.arange(n) / fps
    joints = np.tile(t[:, None], (1, NUM_JOINTS))  # a ramp: warped value at frame k is k * factor / fps
    clip = Clip("ramp", fps, np.zeros((n, 3)), np.tile([1.0, 0, 0, 0], (n, 1)), joints)
    out = time_warp(clip, 1.1)
    np.testing.assert_allclose(out.joint_pos[:, 0], np.arange(out.num_frames) * 1.1 / fps, atol=1e-12)
    with pytest.raises(ValueError, match="factor"):
        time_warp(clip, 0.0)


def test_rotate_heading() -> None:
    clip = to_heading_frame(Clip("r", 50.0, np.column_stack([np.linspace(0, 1, 20), np.zeros(20), np.full(20, 0.45)]),
                                 np.tile([1.0, 0, 0, 0], (20, 1)), np.zeros((20, NUM_JOINTS))))
    out = rotate_heading(clip, np.pi / 2)
    np.testing.assert_allclose(out.root_pos[-1], [0.0, 1.0, 0.45], atol=1e-12)
    np.testing.assert_allclose(quat_yaw(out.root_quat), np.pi / 2, atol=1e-12)
    back = rotate_heading(out, -np.pi / 2)
    np.testing.assert_allclose(back.root_pos, clip.root_pos, atol=1e-12)
    np.testing.assert_allclose(back.root_quat, clip.root_quat, atol=1e-12)


# ------------------------------------------------------------------------------ the gait clip library
# The generated library (reference.make_clips -> wildrobot_gym/assets/clips): read the .npz files only.

LIBRARY_FILES = sorted(CLIP_LIBRARY.glob("walk_v*_l*.npz"))
NAME_RE = re.compile(r"walk_v(\d{3})_l(\d{3})$")


@pytest.fixture(scope="module")
def fk_model():
    model = load_model()
    return model, mujoco.MjData(model), RobotSpec.from_model(model)


def _name_speed_length(name: str) -> tuple[float, float]:
    m = NAME_RE.match(name)
    assert m, f"{name}: library clip names are walk_vSSS_lLLL (speed cm/s, step length mm)"
    return int(m.group(1)) / 100.0, int(m.group(2)) / 1000.0


def test_library_covers_0p2_to_0p8_m_per_s_with_three_clips_per_band():
    speeds = [_name_speed_length(p.stem)[0] for p in LIBRARY_FILES]
    assert min(speeds) == pytest.approx(0.2) and max(speeds) == pytest.approx(0.8)
    for lo in (0.3, 0.4, 0.5, 0.6, 0.7):
        top = lo + 0.1 + (1e-9 if lo == 0.7 else -1e-9)  # bands [lo, lo + 0.1); 0.8 in the last one
        band = [v for v in speeds if lo - 1e-9 <= v < top]
        assert len(band) >= 3, f"{len(band)} clips in {lo:.1f}-{lo + 0.1:.1f} m/s"
    assert (CLIP_LIBRARY / "walk_v030_l080.npz").exists()  # used by tests/test_amp.py


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=[p.stem for p in LIBRARY_FILES])
def test_library_clip_is_in_range_has_double_support_and_walks_at_its_named_speed(path, fk_model):
    model, data, spec = fk_model
    clip = load_npz_clip(path)
    meta = clip.metadata
    speed, length = _name_speed_length(clip.name)
    assert meta["speed"] == pytest.approx(speed) and meta["step_length"] == pytest.approx(length)
    assert clip.fps == 50.0 and clip.duration == pytest.approx(10.0, abs=1e-9)

    # Joint angles inside the model's ranges, and not sitting on a limit: the generator clips its
    # targets to the ranges, so a gait that needed a joint beyond one would show it exactly there.
    lo, hi = spec.joint_range[:, 0], spec.joint_range[:, 1]
    margin = np.minimum(clip.joint_pos - lo, hi - clip.joint_pos).min()
    assert margin >= np.radians(1.0), f"joint {np.degrees(margin):.2f} deg from its limit"
    assert meta["min_joint_margin_rad"] >= 0.0  # the unclipped IK, recorded by make_clips

    # Double support from the clip's kinematics: both soles on their standing height and still.
    feet = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"{s}_foot") for s in ("left", "right")]
    pos = np.zeros((clip.num_frames, 2, 3))
    for k in range(clip.num_frames):
        data.qpos[:3], data.qpos[3:7] = clip.root_pos[k], clip.root_quat[k]
        data.qpos[spec.joint_qpos_adr] = clip.joint_pos[k]
        mujoco.mj_kinematics(model, data)
        pos[k] = data.xpos[feet]
    down = np.abs(pos[:, :, 2] - pos[0, :, 2]) < 1e-4
    down[1:] &= np.linalg.norm(np.diff(pos[:, :, :2], axis=0), axis=2) < 1e-4
    t = np.arange(clip.num_frames) / clip.fps
    t0, t1 = meta["steady_start_s"], meta["steady_end_s"]
    steady = (t >= t0 - 1e-9) & (t < t1 - 1e-9)
    ds = float(np.mean(down[steady].all(axis=1)))
    assert 0.15 <= meta["double_support"] <= 0.30
    assert 0.15 <= ds <= 0.30, f"kinematic double support {ds:.3f}"
    assert abs(ds - meta["double_support"]) <= 1.0 / (clip.fps * meta["step_time"]) + 1e-9  # one frame a step
    assert down[steady].any(axis=1).all()  # never both feet in the air: walking, not running

    # Mean forward speed over the full strides within 10 % of the name's speed.
    k0, k1 = int(round(t0 * clip.fps)), int(round(t1 * clip.fps))
    v = (clip.root_pos[k1, 0] - clip.root_pos[k0, 0]) / (t[k1] - t[k0])
    assert abs(v - speed) <= 0.1 * speed, f"{v:.3f} m/s"
    assert abs(clip.root_pos[-1, 1] - clip.root_pos[0, 1]) < 0.02  # straight ahead


def test_human_like_defaults_degrade_only_the_legacy_gaits_and_varied_spans_the_library(tmp_path):
    from reference import human_like

    def sources(paths):
        return [human_like.load_pickle_dict(p)["source_file"].rsplit(":", 1)[1] for p in paths]

    default = human_like.synthesize(tmp_path / "default", num_clips=3, total_seconds=12.0, seed=0)
    assert sources(default) == list(human_like.LEGACY_SOURCES[:3])
    assert human_like.HumanLikeParams().timing_shift_s == (0.0, 0.0)  # opt-in only

    varied = human_like.synthesize(tmp_path / "varied", num_clips=4, total_seconds=16.0, seed=1,
                                   params=human_like.VARIED_PARAMS, source_names=None, spread=True)
    names = sources(varied)
    assert names[0] == LIBRARY_FILES[0].stem and max(_name_speed_length(n)[0] for n in names) >= 0.6
    lo, hi = human_like.JOINT_RANGE[:, 0], human_like.JOINT_RANGE[:, 1]
    for p in varied:
        d = human_like.load_pickle_dict(p)
        assert np.all(d["dof_pos"] >= lo - 1e-12) and np.all(d["dof_pos"] <= hi + 1e-12)
        assert 3.0 - 0.1 <= human_like.clip_stats(d)["duration_s"] <= 7.0 + 0.1
