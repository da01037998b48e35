"""`ConfigError` and the translation of pydantic's `ValidationError` into it.

Every message starts with the dotted key of the bad value, then says what was expected::

    ppo.batch_size: expected a positive integer >= 2, got '2048'
    success_criteria[2].metric: missing key
    reward_weights.foot_slipping: unknown reward term; known: [...]

Only the first error is spelled out (one line for the command line); the count of the others follows.
"""
from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .values import EXPECT_ERROR, short_repr


class ConfigError(ValueError):
    """A config value is missing, unknown, of the wrong type or out of range; the message starts with its key.

    Model validators that check several fields together raise it with the key relative to their model
    (``batch_size: ...`` inside ``ppo``); `format_error` puts the model's own path in front.
    """


def dotted(prefix: str, loc: tuple) -> str:
    """('stages', 1, 'weights') -> 'curriculum.stages[1].weights' for prefix 'curriculum'."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields(typ: Any) -> dict[str, Any] | None:
    """A model's or pydantic dataclass's fields (name -> FieldInfo), else None."""
    return getattr(typ, "__pydantic_fields__", None)


def _strip(typ: Any) -> Any:
    """X of Optional[X] / Annotated[X, ...]."""
    while True:
        origin = typing.get_origin(typ)
        if origin is typing.Annotated:
            typ = typing.get_args(typ)[0]
        elif origin is typing.Union:
            args = [a for a in typing.get_args(typ) if a is not type(None)]
            if len(args) != 1:
                return typ
            typ = args[0]
        else:
            return typ


def container(root: Any, loc: tuple) -> Any:
    """The model (or dataclass) that holds the last key of `loc`, or None when the path leaves the models."""
    typ = root
    for part in loc[:-1]:
        typ = _strip(typ)
        if isinstance(part, int):  # a list / tuple item
            args = typing.get_args(typ)
            if not args:
                return None
            typ = args[0]
        else:
            fields = _fields(typ)
            if not fields or part not in fields:
                return None
            typ = fields[part].annotation
    typ = _strip(typ)
    return typ if _fields(typ) is not None else None


def _is_section(root: Any, name: str) -> bool:
    """Whether the top-level key `name` holds a mapping or a list of them (what a file calls a section)."""
    field = (_fields(root) or {}).get(name)
    typ = _strip(field.annotation) if field is not None else None
    if typing.get_origin(typ) in (list, tuple):
        typ = _strip(typing.get_args(typ)[0])
    return _fields(typ) is not None


def _message(err: dict, root: Any) -> str:
    """The text after ``key: `` of one pydantic error."""
    kind, loc, ctx = err["type"], err["loc"], err.get("ctx") or {}
    if kind == EXPECT_ERROR:
        return err["msg"]
    if kind in ("missing", "missing_argument", "missing_keyword_only_argument"):
        holder = container(root, loc)
        section = holder is root and len(loc) == 1 and _is_section(root, loc[0])
        return f"missing {'section' if section else 'key'}{getattr(holder, 'missing_hint', '')}"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        holder = container(root, loc)
        known = sorted(_fields(holder) or ())
        return f"unknown {getattr(holder, 'key_kind', 'key')}; known: {known}"
    if kind in ("model_type", "model_attributes_type", "dataclass_type", "dataclass_exact_type", "dict_type"):
        return f"expected a mapping, got {short_repr(err.get('input'))}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {short_repr(err.get('input'))}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    return f"{err['msg']}, got {short_repr(err.get('input'))}"  # a type without a wording of ours


def format_error(exc: ValidationError, root: Any, prefix: str = "") -> ConfigError:
    """The `ConfigError` of pydantic's first error in `exc`: ``<dotted key>: <what is wrong>``.

    root: the model validated (to name the known keys of the section an unknown key is in);
    prefix: the dotted path of that model in its file ('' for a phase config, 'amp' for amp.yaml).
    """
    errors = exc.errors(include_url=False)
    err = errors[0]
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, ConfigError):  # a model validator's message, its key relative to the model
        path = dotted(prefix, err["loc"])
        text = f"{path}.{error}" if path else str(error)
    else:
        text = f"{dotted(prefix, err['loc']) or 'config'}: {_message(err, root)}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return ConfigError(text)


def read_yaml(path: str | Path, label: str = "config") -> Any:
    """The parsed YAML file; a missing file, undecodable bytes or bad YAML raise `ConfigError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{label}: no such file {str(path)!r}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{label}: {path} is not UTF-8 text (byte {e.start}: {e.reason})") from None
    except OSError as e:
        raise ConfigError(f"{label}: cannot read {path}: {e.strerror or e}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{label}: {path} is not valid YAML: {e}") from None
