"""Tier 0+ segment miner (seed 000): windows, gates, de-duplication, quality scores, the dataset file.

One job per module (the pipeline's steps 1-6, per rollout, are told where they run):

    config.py      the `mining:` schema (from wildrobot_gym/config/reference.py), `config_from_dict`,
                   `read_config_section`
    records.py     a rollout's records: `RECORD_ARRAYS` / `RECORD_META`, `validate_records`, `frame_signals`
    windows.py     steps 1-2: `usable_stretches`, `candidate_windows`
    gates.py       steps 3 and 5: window metrics (`METRIC_NAMES`), the gates (`GATE_NAMES`, `check_gates`,
                   `gate_records`), `quality_score`
    mining.py      steps 4 and 6: `mine_rollout` (one rollout into segments), `mine_records` (the dataset)
    dataset.py     `MinedDataset` and the arrays of the dataset format (its docstring has the table)
    dataset_io.py  the dataset files: `write_dataset`, `load_dataset`, `recompute_features`

Everything the rest of the repo uses is importable from `reference.miner` itself.
"""
from __future__ import annotations

from reference.miner.config import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_REFERENCE_CONFIG,
    GateConfig,
    MiningConfig,
    ScoreConfig,
    WalkingConfig,
    config_from_dict,
    load_mining_config,
    read_config_section,
    read_section,
    section_from_dict,
)
from reference.miner.dataset import REQUIRED_NPZ_KEYS, WALKING_NPZ_KEYS, MinedDataset
from reference.miner.dataset_io import (
    DATASET_FORMAT,
    DATASET_FORMAT_VERSION,
    JSON_NAME,
    NPZ_NAME,
    _sha256,
    atomic_write_bytes,
    load_dataset,
    recompute_features,
    write_dataset,
)
from reference.miner.gates import (
    GATE_NAMES,
    METRIC_NAMES,
    GateResult,
    check_gates,
    gate_matrix,
    gate_records,
    quality_score,
    span_metrics,
    window_metrics,
)
from reference.miner.mining import (
    RolloutMining,
    accepted_frames,
    mine_records,
    mine_rollout,
    segments_from_mask,
)
from reference.miner.records import RECORD_ARRAYS, RECORD_META, frame_signals, validate_records
from reference.miner.windows import candidate_windows, usable_stretches

__all__ = [
    # config.py
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_REFERENCE_CONFIG",
    "GateConfig",
    "MiningConfig",
    "ScoreConfig",
    "WalkingConfig",
    "config_from_dict",
    "load_mining_config",
    "read_config_section",
    "read_section",
    "section_from_dict",
    # records.py
    "RECORD_ARRAYS",
    "RECORD_META",
    "frame_signals",
    "validate_records",
    # windows.py
    "candidate_windows",
    "usable_stretches",
    # gates.py
    "GATE_NAMES",
    "METRIC_NAMES",
    "GateResult",
    "check_gates",
    "gate_matrix",
    "gate_records",
    "quality_score",
    "span_metrics",
    "window_metrics",
    # mining.py
    "RolloutMining",
    "accepted_frames",
    "mine_records",
    "mine_rollout",
    "segments_from_mask",
    # dataset.py
    "REQUIRED_NPZ_KEYS",
    "WALKING_NPZ_KEYS",
    "MinedDataset",
    # dataset_io.py
    "DATASET_FORMAT",
    "DATASET_FORMAT_VERSION",
    "JSON_NAME",
    "NPZ_NAME",
    "_sha256",  # private, but the tests hash dataset files with it
    "atomic_write_bytes",
    "load_dataset",
    "recompute_features",
    "write_dataset",
]
