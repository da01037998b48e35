"""`Section`: the base of every config model (unknown keys are errors; the error wording hooks)."""
from __future__ import annotations

import functools
from typing import ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic.dataclasses import dataclass as pydantic_dataclass


class Section(BaseModel):
    """A mapping of the YAML with fixed keys. Unknown keys are errors (typos must not pass silently);
    `errors.format_error` reads the class variables below to word missing and unknown keys."""

    model_config = ConfigDict(extra="forbid")

    key_kind: ClassVar[str] = "key"        # "unknown <key_kind>; known: [...]"
    missing_hint: ClassVar[str] = ""       # "missing key<missing_hint>"


#: Decorator of the AMP and reference config sections: frozen pydantic dataclasses (attribute access,
#: `dataclasses.asdict` / `replace`, hashing) whose unknown keys are errors, as a `Section`'s.
config_dataclass = functools.partial(pydantic_dataclass, frozen=True, config=ConfigDict(extra="forbid"))
