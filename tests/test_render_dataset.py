"""reference.render_dataset: picks the fastest segments that pass the filters and draws them into a GIF."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the training/ scripts' package

from reference import render_dataset  # noqa: E402
from reference.miner import MiningConfig, load_dataset, mine_records, write_dataset  # noqa: E402
from test_walking_label import _mixed  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("render") / "ds"
    write_dataset(mine_records(_mixed(), MiningConfig()), d)
    return d


def test_segments_are_picked_fastest_first_and_filtered(dataset: Path):
    a = load_dataset(dataset).arrays
    speed = a["segment_forward_velocity"]
    every = render_dataset.pick_segments(a, 10, walking_only=False, min_speed=0.0)
    assert len(every) == len(speed) and np.all(np.diff(speed[every]) <= 0)
    walking = render_dataset.pick_segments(a, 10, walking_only=True, min_speed=0.0)
    assert a["segment_walking"][walking].all() and len(walking) == int(a["segment_walking"].sum())
    fast = render_dataset.pick_segments(a, 1, walking_only=True, min_speed=0.3)
    assert len(fast) == 1 and speed[fast[0]] == speed[walking].max() >= 0.3
    assert len(render_dataset.pick_segments(a, 5, walking_only=False, min_speed=5.0)) == 0


def test_bad_arguments_and_empty_selections_are_named(dataset: Path, tmp_path: Path, capsys):
    with pytest.raises(SystemExit):
        render_dataset.main(["--dataset", str(dataset), "--output", str(tmp_path / "x.png")])
    assert "--output" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        render_dataset.main(["--dataset", str(dataset), "--output", str(tmp_path / "x.gif"), "--size", "big"])
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert render_dataset.main(["--dataset", str(tmp_path / "none"), "--output", str(tmp_path / "x.gif")]) == 2
    assert "missing file" in capsys.readouterr().err
    assert render_dataset.main(["--dataset", str(dataset), "--output", str(tmp_path / "x.gif"),
                                "--min-speed", "5"]) == 1
    assert "no segment" in capsys.readouterr().err and not (tmp_path / "x.gif").exists()


def test_writes_a_gif_of_the_chosen_segments(dataset: Path, tmp_path: Path):
    out = tmp_path / "walk.gif"
    try:
        rc = render_dataset.main(["--dataset", str(dataset), "--output", str(out), "--walking-only",
                                  "--segments", "2", "--seconds", "0.4", "--size", "64x48"])
    except Exception as exc:  # no GL backend on this machine
        pytest.skip(f"offscreen rendering unavailable ({type(exc).__name__}: {exc}); set MUJOCO_GL=egl or osmesa")
    from PIL import Image

    assert rc == 0
    with Image.open(out) as im:
        assert im.size == (64, 48) and im.n_frames == 2 * 10  # 2 segments x 20 frames, every other one
    assert [p.name for p in tmp_path.iterdir()] == ["walk.gif"]  # no temporary file left
