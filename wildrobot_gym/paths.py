"""Where the project's data files live: the one definition, shared by the env, training and reference.

`assets/` (the MJCF and the gait clip library) and `configs/` (the YAML of every phase and of the
reference pipeline) are package data inside `wildrobot_gym`, so an installed wheel finds them as a
checkout does. The repository root's `assets` and `configs` are links to these folders, so commands
such as ``--config configs/phase2.yaml`` work from a checkout.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR / "assets"
CLIP_LIBRARY = ASSETS_DIR / "clips"
CONFIG_DIR = PACKAGE_DIR / "configs"
