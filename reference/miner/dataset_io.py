"""Dataset files on disk: `write_dataset` / `load_dataset` (the format: dataset.py) and
`recompute_features` (features of the stored state, for a dataset of an older feature version).

Both files are written to a temporary name and renamed, npz first.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Mapping

import numpy as np

from reference.miner.dataset import (
    _FRAME_SIGNALS,
    _FRAME_STATE,
    _SEGMENT_KEYS,
    _WALKING_FRAME,
    _WALKING_SEGMENT,
    REQUIRED_NPZ_KEYS,
    WALKING_NPZ_KEYS,
    MinedDataset,
)
from wildrobot_gym.amp_features import FEATURE_VERSION, LAYOUT, FeatureLayout, compute_features
from wildrobot_gym.atomic_io import atomic_write

DATASET_FORMAT = "wildrobot-tier0plus"
DATASET_FORMAT_VERSION = 1
NPZ_NAME = "tier0plus.npz"
JSON_NAME = "tier0plus.json"


# ------------------------------------------------------------------------------------------------
# Dataset files
# ------------------------------------------------------------------------------------------------
atomic_write_bytes = atomic_write  # the shared helper; name kept for callers


def _atomic_write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    atomic_write_bytes(path, lambda f: np.savez_compressed(f, **arrays))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_dataset(dataset: MinedDataset, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``tier0plus.npz`` then ``tier0plus.json`` into `out_dir`, each atomically; returns both paths."""
    out_dir = Path(out_dir)
    npz_path, json_path = out_dir / NPZ_NAME, out_dir / JSON_NAME
    for k in REQUIRED_NPZ_KEYS:
        if k not in dataset.arrays:
            raise ValueError(f"write_dataset: dataset lacks array {k!r}")
        if dataset.arrays[k].dtype == object:
            raise ValueError(f"write_dataset: array {k!r} has dtype object (would need pickle)")
    _atomic_write_npz(npz_path, dataset.arrays)
    side = {
        "format": DATASET_FORMAT,
        "format_version": DATASET_FORMAT_VERSION,
        "feature_version": dataset.feature_version,
        "feature_layout": dataset.layout.to_dict(),
        "feature_params": {
            "lin_vel_mode": dataset.config.get("lin_vel_mode", "clip"),
            "lin_vel_clip": dataset.config.get("lin_vel_clip", 1.5),
        },
        "fps": dataset.fps,
        "num_frames": dataset.num_frames,
        "num_segments": dataset.num_segments,
        "total_seconds": dataset.total_seconds,
        "walking_seconds": dataset.walking_seconds,
        "walking": dataset.walking_summary(),
        "motion_names": dataset.motion_names,
        "per_segment_metrics": dataset.per_segment_metrics,
        "rollouts": dataset.rollouts,
        "config": dataset.config,
        "npz_file": NPZ_NAME,
        "npz_sha256": _sha256(npz_path),
    }
    text = json.dumps(side, indent=1, allow_nan=False)
    atomic_write_bytes(json_path, lambda f: f.write(text.encode()))
    return npz_path, json_path


def load_dataset(directory: str | Path, check_feature_version: bool = True) -> MinedDataset:
    """Read a dataset written by `write_dataset`; any problem raises ValueError naming the file and key.

    A dataset of an older feature version (`FEATURE_VERSION`) has its features recomputed from its stored
    state (`recompute_features`, with its own lin_vel parameters) and comes back in the current layout;
    ``check_feature_version=False`` returns the stored features and layout as they are."""
    directory = Path(directory)
    npz_path, json_path = directory / NPZ_NAME, directory / JSON_NAME
    for p in (json_path, npz_path):
        if not p.is_file():
            raise ValueError(f"load_dataset: missing file {p}")
    try:
        side = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load_dataset: {json_path} is not valid JSON: {exc}") from exc
    if not isinstance(side, dict):
        raise ValueError(f"load_dataset: {json_path} must hold a JSON object")
    for key in ("format", "format_version", "feature_version", "feature_layout", "fps", "num_frames", "per_segment_metrics", "rollouts", "config"):
        if key not in side:
            raise ValueError(f"load_dataset: {json_path} lacks key {key!r}")
    if side["format"] != DATASET_FORMAT:
        raise ValueError(f"load_dataset: {json_path} key 'format' is {side['format']!r}, expected {DATASET_FORMAT!r}")
    if side["format_version"] != DATASET_FORMAT_VERSION:
        raise ValueError(f"load_dataset: {json_path} key 'format_version' is {side['format_version']!r}, this code reads {DATASET_FORMAT_VERSION}")
    try:
        layout = FeatureLayout.from_dict(side["feature_layout"])
    except ValueError as exc:
        raise ValueError(f"load_dataset: {json_path} key 'feature_layout': {exc}") from exc
    if side.get("npz_sha256") and side["npz_sha256"] != _sha256(npz_path):
        raise ValueError(f"load_dataset: {npz_path} does not match key 'npz_sha256' of {json_path} (files from different writes?)")
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:  # pickled object arrays raise ValueError here
        raise ValueError(f"load_dataset: cannot read {npz_path}: {exc}") from exc
    for k in REQUIRED_NPZ_KEYS:
        if k not in arrays:
            raise ValueError(f"load_dataset: {npz_path} lacks array {k!r}")
    f = int(side["num_frames"])
    feats = arrays["features"]
    if feats.ndim != 2 or feats.shape != (f, layout.dim):
        raise ValueError(f"load_dataset: {npz_path} array 'features' has shape {feats.shape}, expected ({f}, {layout.dim})")
    for k in _FRAME_STATE + _FRAME_SIGNALS + ("frame_motion", "frame_segment"):
        if arrays[k].shape[0] != f:
            raise ValueError(f"load_dataset: {npz_path} array {k!r} has {arrays[k].shape[0]} rows, expected {f}")
    s = arrays["segment_length"].shape[0]
    for k in _SEGMENT_KEYS:
        if arrays[k].shape != (s,):
            raise ValueError(f"load_dataset: {npz_path} array {k!r} has shape {arrays[k].shape}, expected ({s},)")
    if int(arrays["segment_length"].sum()) != f:
        raise ValueError(f"load_dataset: {npz_path} array 'segment_length' sums to {int(arrays['segment_length'].sum())}, expected {f}")
    if any(k in arrays for k in WALKING_NPZ_KEYS):  # the walking label: optional, whole when present
        want = {**{k: f for k in _WALKING_FRAME}, **{k: s for k in _WALKING_SEGMENT},
                "window_walking": arrays["window_passed"].shape[0]}
        for k, n in want.items():
            if k not in arrays:
                raise ValueError(f"load_dataset: {npz_path} has part of the walking label but lacks array {k!r}")
            if arrays[k].shape != (n,):
                raise ValueError(f"load_dataset: {npz_path} array {k!r} has shape {arrays[k].shape}, expected ({n},)")
    if len(side["per_segment_metrics"]) != s:
        raise ValueError(f"load_dataset: {json_path} key 'per_segment_metrics' has {len(side['per_segment_metrics'])} entries, the npz has {s} segments")
    ds = MinedDataset(
        arrays=arrays,
        per_segment_metrics=side["per_segment_metrics"],
        rollouts=side["rollouts"],
        config=side["config"],
        layout=layout,
        feature_version=side["feature_version"],
        fps=float(side["fps"]),
    )
    if check_feature_version and ds.feature_version != FEATURE_VERSION:
        if not isinstance(ds.config, dict):
            raise ValueError(f"load_dataset: {json_path} key 'config' must be a JSON object, got {type(ds.config).__name__}")
        try:
            arrays["features"] = recompute_features(ds)
        except ValueError as exc:
            raise ValueError(f"load_dataset: {npz_path}: cannot recompute the {ds.feature_version!r} features in "
                             f"layout {FEATURE_VERSION!r}: {exc}") from exc
        ds.layout, ds.feature_version = LAYOUT, FEATURE_VERSION
    return ds


def recompute_features(dataset: MinedDataset, lin_vel_mode: str | None = None, lin_vel_clip: float | None = None) -> np.ndarray:
    """Features of the stored raw state with the current `compute_features` (e.g. after a layout change)."""
    a = dataset.arrays
    return compute_features(
        a["qpos"], a["qvel"], a["pad_contact"], a["foot_height"], a["foot_z_vel"],
        lin_vel_mode=lin_vel_mode or dataset.config.get("lin_vel_mode", "clip"),
        lin_vel_clip=lin_vel_clip if lin_vel_clip is not None else dataset.config.get("lin_vel_clip", 1.5),
    )
