"""The miner's configuration: the `mining:` schema (re-exported from wildrobot_gym/config/reference.py)
and the config helpers the rest of reference/ imports from `reference.miner`."""
from __future__ import annotations

from wildrobot_gym.config.reference import (  # noqa: F401  (re-exported: the rest of reference/ imports them here)
    DEFAULT_REFERENCE_CONFIG,
    GateConfig,
    MiningConfig,
    ScoreConfig,
    WalkingConfig,
    load_mining_config,
    read_section,
    section_from_dict,
)

DEFAULT_CONFIG_PATH = DEFAULT_REFERENCE_CONFIG


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------
# The `mining:` schema (GateConfig, ScoreConfig, MiningConfig: frozen pydantic dataclasses with ranges)
# and its loader live in wildrobot_gym/config/reference.py, the one place of the reference pipeline's
# settings (imported above, re-exported here for the rest of reference/).


#: config_from_dict(cls, data, section): `cls` (MiningConfig, analyze.AnalysisConfig, ...) from a mapping,
#: missing keys at their defaults; a bad value raises `ConfigError` naming its dotted key.
config_from_dict = section_from_dict
#: read_config_section(path, section): the raw mapping of one top-level section; errors name the file.
read_config_section = read_section
