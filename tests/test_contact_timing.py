"""training/contact_timing.py: the figures from recorded rows, and a short run of a shipped policy."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training import contact_timing  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _rows(shift: float, steps: int = 100, envs: int = 2) -> list:
    """A clean alternating gait at the 3 Hz clock (50 Hz steps), its stances shifted by `shift` of a cycle."""
    rows = []
    for t in range(steps):
        phase = np.full(envs, (t * 3.0 * 0.02) % 1.0)
        left = ((phase - shift) % 1.0) < 0.5
        rows.append((phase, np.stack([left, ~left], axis=1), np.array([0, 1])[:envs]))
    return rows


def test_a_gait_on_the_clock_is_proper_and_one_half_a_cycle_off_is_not():
    on = contact_timing.summarize(_rows(0.0), warmup=0)
    assert on["proper_contact_fraction"] == 1.0 and on["flight"] == 0.0 and on["double_support"] == 0.0
    assert on["by_phase"][2]["left_down"] == 1.0 and on["by_phase"][7]["right_down"] == 1.0
    off = contact_timing.summarize(_rows(0.5), warmup=0)
    assert off["proper_contact_fraction"] == 0.0
    assert off["by_phase"][2]["left_down"] == 0.0 and off["by_phase"][2]["right_down"] == 1.0
    assert set(off["proper_by_action_latency"]) == {0, 1}


def test_runs_a_shipped_policy_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "timing.json"
    s = contact_timing.main([str(ROOT / "policies" / "phase2.zip"), "--envs", "2", "--steps", "40",
                             "--warmup", "10", "--json-output", str(out)])
    assert s["env_steps"] == 60 and 0.0 <= s["proper_contact_fraction"] <= 1.0
    assert json.loads(out.read_text())["env_steps"] == 60
    assert "clock phase" in capsys.readouterr().out


def test_bad_arguments_name_the_argument(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        contact_timing.main([str(ROOT / "policies" / "phase2.zip"), "--warmup", "500"])
    assert "--warmup" in capsys.readouterr().err


def test_phase_bins_no_step_fell_in_print_as_a_dash(capsys: pytest.CaptureFixture) -> None:
    s = contact_timing.summarize(_rows(0.0, steps=1), warmup=0)  # one step: one bin of ten
    assert sum(row["left_down"] is None for row in s["by_phase"]) == 9
    contact_timing.print_summary(s)
    assert capsys.readouterr().out.count("      -") == 18
