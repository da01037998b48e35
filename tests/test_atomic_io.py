"""wildrobot_gym.atomic_io: a failed write leaves the previous file whole and no temp file behind."""
from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from wildrobot_gym.atomic_io import atomic_write, atomic_write_json, atomic_write_text


def test_writes_the_content_readable_by_all(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "sub" / "a.txt", "hello")
    assert path.read_text() == "hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    atomic_write_json(path, {"x": 1})
    assert path.read_text() == '{\n  "x": 1\n}\n'


def test_a_failing_writer_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")

    def half_then_fail(f) -> None:
        f.write(b"new, half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_a_gif_whose_encoding_fails_keeps_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from training.evaluate import write_gif

    path = tmp_path / "clip.gif"
    frames = [np.full((8, 8, 3), 40 * i, np.uint8) for i in range(4)]
    write_gif(frames, path, duration_ms=40)
    before = path.read_bytes()

    def encode_half(self, fp, *args, **kwargs) -> None:
        if isinstance(fp, (str, Path)):
            fp = open(fp, "wb")
        fp.write(b"GIF89a, half")
        raise OSError("encoder died")

    monkeypatch.setattr(Image.Image, "save", encode_half)
    with pytest.raises(OSError, match="encoder died"):
        write_gif(frames, path, duration_ms=40)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.gif"]
