"""Generation config: the `generation:` schema (HarnessConfig, BalanceConfig, PreconditionConfig,
GenerationConfig and `load_generation_config`, re-exported from wildrobot_gym/config/reference.py),
`DEFAULT_CONFIG` (the shipped reference.yaml) and `config_from_dict`."""
from __future__ import annotations

from typing import Any, Mapping

from wildrobot_gym.config.reference import (  # noqa: F401  (re-exported: the rest of reference/ imports them here)
    DEFAULT_REFERENCE_CONFIG,
    BalanceConfig,
    GenerationConfig,
    HarnessConfig,
    PreconditionConfig,
    load_generation_config,
    section_from_dict,
)

DEFAULT_CONFIG = DEFAULT_REFERENCE_CONFIG


# ----------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------
# The `generation:` schema (HarnessConfig, BalanceConfig, PreconditionConfig, GenerationConfig: frozen
# pydantic dataclasses with ranges, imported above) and `load_generation_config` live in
# wildrobot_gym/config/reference.py, the one place of the reference pipeline's settings.


def config_from_dict(section: Mapping[str, Any] | None) -> GenerationConfig:
    """GenerationConfig from the `generation:` mapping; missing keys take the seed's defaults. A bad value
    raises `ConfigError` (a ValueError) naming its dotted key (``generation.harness.mode: ...``)."""
    return section_from_dict(GenerationConfig, section, "generation")
