"""Argument checks shared by every package: one place, one message format, the caller's error class.

Each check accepts Python and numpy numbers (never ``bool``), refuses values no float can hold
(an integer of 400 digits) or outside the stated range, and names the argument and the value.
"""

from __future__ import annotations

import math
import operator
from numbers import Real

from fedsecure.errors import FedsecureError, shown


def real(
    name: str,
    value: object,
    *,
    error: type[FedsecureError],
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a float, after checking it is a real number in the given range."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise error(f"{name} must be a real number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:
        raise error(f"{name} must be finite, got {shown(value)}") from None
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise error(f"{name} must be finite, got {v}")
    if v < low or (low_open and v == low) or v > high or (high_open and v == high):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise error(f"{name} must lie in {lo}{low}, {high}{hi}, got {v}")
    return v


def integer(
    name: str, value: object, *, error: type[FedsecureError], low: int | None = None, high: int | None = None
) -> int:
    """``value`` as an int, after checking it is an integer (Python or numpy) in ``[low, high]``."""
    if isinstance(value, bool):
        raise error(f"{name} must be an integer, got bool")
    try:
        v = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise error(f"{name} must be an integer, got {type(value).__name__}") from None
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise error(f"{name} must lie in [{lo}, {hi}], got {shown(v)}")
    return v
