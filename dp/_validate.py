"""Small argument checks shared by the ``dp`` modules (one place, one message format)."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from dp.errors import InvalidParameterError


def check_real(
    name: str,
    value: object,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as a float after checking it is a real number in the given range."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidParameterError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise InvalidParameterError(f"{name} must be finite, got {v}")
    if v < low or (low_open and v == low) or v > high or (high_open and v == high):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise InvalidParameterError(f"{name} must lie in {lo}{low}, {high}{hi}, got {v}")
    return v


def check_int(name: str, value: object, *, low: int = 0, high: int | None = None) -> int:
    """Return ``value`` as an int after checking it is an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidParameterError(f"{name} must be an integer, got {type(value).__name__}")
    v = int(value)
    if v < low or (high is not None and v > high):
        raise InvalidParameterError(f"{name} must lie in [{low}, {high if high is not None else 'inf'}], got {v}")
    return v
