"""A wheel built from the project installs and works on its own: the MJCF, the clip library and the
configs are package data, the LICENSE named in setup.cfg ships, and `gym.make` finds the env."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if res.returncode != 0 and "No module named" in res.stderr:
        pytest.skip(f"cannot build a wheel here: {res.stderr.strip().splitlines()[-1]}")
    assert res.returncode == 0, res.stderr
    (path,) = out.glob("wildrobot_gym-*.whl")
    return path


def test_wheel_carries_package_data_and_license(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("wildrobot_gym/assets/scene.xml", "wildrobot_gym/assets/wildrobot.xml",
                   "wildrobot_gym/configs/phase1e.yaml", "wildrobot_gym/configs/phase2.yaml",
                   "wildrobot_gym/configs/phase3.yaml", "wildrobot_gym/configs/amp.yaml",
                   "wildrobot_gym/configs/reference.yaml", "wildrobot_gym/configs/gaits.yaml"):
        assert needed in names, f"{needed} missing from {wheel.name}"
    clips = [n for n in names if n.startswith("wildrobot_gym/assets/clips/") and n.endswith(".npz")]
    assert len(clips) == len(list((REPO / "wildrobot_gym" / "assets" / "clips").glob("*.npz"))) > 0
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)


def test_installed_wheel_makes_the_env_outside_the_checkout(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    code = (
        "import gymnasium as gym, wildrobot_gym\n"
        "from wildrobot_gym.config import load_config\n"
        "from wildrobot_gym.paths import CONFIG_DIR\n"
        "print(wildrobot_gym.__file__)\n"
        "env = gym.make('wildrobot_gym:WildRobotWalk-v0')\n"
        "obs, _ = env.reset(seed=0)\n"
        "env.step(env.action_space.sample())\n"
        "print(obs.shape, load_config(CONFIG_DIR / 'phase2.yaml')['phase'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    # Run from an empty folder so that nothing of the checkout is importable by accident.
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    first, second = res.stdout.strip().splitlines()[-2:]
    assert first.startswith(str(site)), f"imported {first}, not the installed wheel"
    assert second.endswith(" 2") and second.startswith("(")
