"""Value types of the config models: strict, finite, with ranges, and the wording of their errors.

Each type ends in `expect(...)`, which turns whatever pydantic reports about the value into one
``expected <what>, got <value>`` error, so every message reads the same (``errors.format_error``
puts the dotted key in front). Strict because YAML typos should fail: an integer field does not take
"2048" or 3.5, a flag does not take 1 or "yes", and no number may be inf or nan.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from annotated_types import Interval, Len, MinLen
from pydantic import AllowInfNan, Field, Strict, StrictFloat, StrictInt, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError

#: The error type of every `expect` error (``errors.format_error`` prints its message as is).
EXPECT_ERROR = "config_expected"


def expect(what: str, keep_item_errors: bool = False) -> WrapValidator:
    """Validator metadata: any failure of the wrapped type becomes ``expected {what}, got {value!r}``.

    keep_item_errors: for containers; errors inside an item keep their own path and message
    (``pi_net[1]: expected a positive integer``), only a failure of the container itself is replaced.
    """
    def wrap(value: Any, handler):
        try:
            return handler(value)
        except ValidationError as exc:
            if keep_item_errors and any(e["loc"] for e in exc.errors()):
                raise
            raise PydanticCustomError(EXPECT_ERROR, "expected {what}, got {got}",
                                      {"what": what, "got": short_repr(value)}) from None
    return WrapValidator(wrap)


def short_repr(value: Any, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters (a whole section pasted in the wrong place stays one line)."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _bounds(gt=None, ge=None, lt=None, le=None) -> str:
    """' > 0', ' in [0, 1]', ' in (0, 1]', ... ('' without bounds)."""
    lo = f"({gt}" if gt is not None else f"[{ge}" if ge is not None else None
    hi = f"{lt})" if lt is not None else f"{le}]" if le is not None else None
    if lo and hi:
        return f" in {lo}, {hi}"
    if lo:
        return f" > {gt}" if gt is not None else f" >= {ge}"
    if hi:
        return f" < {lt}" if lt is not None else f" <= {le}"
    return ""


# A finite int or float that stays what YAML gave (the phase config is handed on as plain dicts, so
# `clip_obs: 10` stays 10); left_to_right: an int is never turned into a float.
_NUMBER = Annotated[Union[StrictInt, Annotated[StrictFloat, AllowInfNan(False)]], Field(union_mode="left_to_right")]


def number(what: str | None = None, **bounds: float) -> Any:
    """A finite int or float (type kept), within `bounds` (gt, ge, lt, le)."""
    what = what or ("a number" + _bounds(**bounds) if bounds else "a finite number")
    return Annotated[_NUMBER, Interval(**bounds), expect(what)]


def real(what: str | None = None, **bounds: float) -> Any:
    """A finite number stored as float (int accepted), within `bounds`: the AMP dataclasses' floats."""
    what = what or ("a number" + _bounds(**bounds) if bounds else "a finite number")
    return Annotated[float, Strict(), AllowInfNan(False), Interval(**bounds), expect(what)]


def integer(what: str | None = None, **bounds: int) -> Any:
    """An int (not a bool, not 3.0, not "3"), within `bounds`."""
    return Annotated[int, Strict(), Interval(**bounds), expect(what or "an integer" + _bounds(**bounds))]


def flag(what: str = "true or false") -> Any:
    """A YAML bool (not 0/1, not "yes")."""
    return Annotated[bool, Strict(), expect(what)]


def text(what: str = "a non-empty string") -> Any:
    """A non-empty string."""
    return Annotated[str, Strict(), MinLen(1), expect(what)]


def one_of(*values: str) -> Any:
    """One of the given strings."""
    return Annotated[Literal[values], expect(f"one of {values}")]


def items(item: Any, what: str, min_len: int = 1, max_len: int | None = None) -> Any:
    """A YAML list of `item` (a list in the dumped dict too); `what` describes the whole list."""
    return Annotated[list[item], Len(min_len, max_len), expect(what, keep_item_errors=True)]


# ------------------------------------------------------------------------------------- shorthands
Finite = number()
NonNeg = number(ge=0)
Positive = number(gt=0)
UnitInterval = number(ge=0, le=1)
NonNegInt = integer(ge=0)
PosInt = integer("a positive integer", gt=0)
Flag = flag()
Text = text()
