"""Small argument checks shared by the ``dp`` modules (one place, one message format)."""

from __future__ import annotations

from typing import Any

from dp.errors import InvalidParameterError
from fedsecure import checks

MAX_NOISE = 1e100
"""Largest noise multiplier (or noise scale) taken: its square stays a finite float, and above it every
epsilon is 0 to double precision anyway."""
MAX_DIMENSION = 2**31
"""Largest vector a mechanism takes: the length secure aggregation frames carry (``secagg``'s limit)."""
MAX_COMPOSITIONS = 2**53
"""Most repetitions of one event an accountant takes: counts stay exact in float64 arithmetic."""


def check_real(name: str, value: object, **bounds: Any) -> float:
    """``value`` as a float in the given range (:func:`fedsecure.checks.real`), else ``InvalidParameterError``."""
    return checks.real(name, value, error=InvalidParameterError, **bounds)


def check_int(name: str, value: object, *, low: int = 0, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, else ``InvalidParameterError``."""
    return checks.integer(name, value, error=InvalidParameterError, low=low, high=high)


def check_count(name: str, value: object) -> int:
    """A number of compositions (steps, rounds, repetitions) in ``[0, 2^53]``."""
    return check_int(name, value, low=0, high=MAX_COMPOSITIONS)
