"""reference.overlap: the forward-velocity separability of mined walking frames and a policy's frames."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the training/ scripts' package

from reference import overlap  # noqa: E402
from reference.miner import MiningConfig, load_dataset, mine_records, write_dataset  # noqa: E402
from test_walking_label import _mixed  # noqa: E402

POLICY = Path(__file__).resolve().parent.parent / "policies" / "phase1e.zip"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("overlap") / "ds"
    write_dataset(mine_records(_mixed(), MiningConfig()), d)
    return d


def test_separability_is_one_half_for_the_same_values_and_one_apart() -> None:
    rng = np.random.default_rng(0)
    same = rng.normal(0.3, 0.05, 2000)
    assert overlap.separability(same, same) == pytest.approx(0.5)
    assert overlap.separability(same + 1.0, same) == 1.0
    assert overlap.separability(same, same + 1.0) == 1.0  # either side above: the same separability
    assert 0.5 < overlap.separability(same + 0.05, same) < 0.9


def test_column_separability_ranks_columns_and_checks_shapes() -> None:
    rng = np.random.default_rng(0)
    ref, pol = rng.normal(size=(300, 3)), rng.normal(size=(200, 3))
    pol[:, 2] -= 4.0  # the last column alone tells them apart
    sep = overlap.column_separability(ref, pol, ["a", "b", "c"])
    assert list(sep)[0] == "c" and sep["c"] > 0.99 and max(sep["a"], sep["b"]) < 0.65
    assert list(overlap.column_separability(ref, pol))[0] == "column[2]"
    with pytest.raises(ValueError, match="3 reference columns against 2"):
        overlap.column_separability(ref, pol[:, :2])
    with pytest.raises(ValueError, match="2 names for 3 columns"):
        overlap.column_separability(ref, pol, ["a", "b"])


def test_dataset_velocities_keep_the_walking_frames_only(dataset: Path) -> None:
    a = load_dataset(dataset).arrays
    walking = overlap.dataset_velocities(dataset)
    every = overlap.dataset_velocities(dataset, walking_only=False)
    assert len(every) == len(a["forward_velocity"]) > len(walking) == int(a["frame_walking"].sum()) > 0
    np.testing.assert_array_equal(walking, a["forward_velocity"][a["frame_walking"]])
    floor = float(np.median(walking))
    fast = overlap.dataset_velocities(dataset, min_speed=floor)
    np.testing.assert_array_equal(fast, walking[walking >= floor])
    assert 0 < len(fast) < len(walking)
    with pytest.raises(ValueError, match="min_speed"):
        overlap.dataset_velocities(dataset, min_speed=float("nan"))


def test_a_policy_runs_and_the_report_names_its_figures(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "overlap.json"
    report = overlap.main([str(dataset), "--policy", str(POLICY), "--episodes", "1", "--json-output", str(out)])
    assert json.loads(out.read_text()) == report
    assert report["policy_frames"] > 100 and report["reference_frames"] > 0
    assert 0.5 <= report["forward_velocity_auc"] <= 1.0
    assert report["policy_velocity_quartiles"][1] > 0.3  # the Phase 1E policy walks at ~0.6 m/s


def test_bad_inputs_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="missing file"):
        overlap.main([str(tmp_path / "nothing"), "--policy", str(POLICY)])
    with pytest.raises(ValueError, match="episodes"):
        overlap.policy_velocities(POLICY, episodes=0)
