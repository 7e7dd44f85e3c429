"""Exact Poisson and Skellam samplers drawing only from a CSPRNG.

Skellam(mu) is Poisson(mu/2) - Poisson(mu/2) for independent Poissons: symmetric, variance mu,
and closed under sums, so n clients' Skellam(mu) noise adds up to Skellam(n mu) (Agarwal,
Kairouz, Liu, "The Skellam Mechanism for Differentially Private Federated Learning",
NeurIPS 2021, Sec. 3).

Poisson by exact inversion: X = min{k : U < F(k)} for a uniform real U whose binary digits are
read lazily, 64 at a time, from the CSPRNG. The first word u gives U in [u, u+1) 2^-64; against
the rigorous bounds ``low <= 2^64 F(k) <= high`` of ``dp.poisson_table`` the draw is decided, in
one vectorized ``searchsorted``, when the first boundary with low > u exists and u >= high of
the one before it: then U < F(k) and U >= F(k-1) are both certain. Otherwise (u in some
[low, high) window or beyond the table; probability ``CdfTable.undecided_mass``, below 2^-46
for variances up to ``MAX_VARIANCE``) the draw appends another word and repeats against a table
with 64 more bits and a wider range, until it is decided. Every decision is an exact integer
comparison against proven bounds, so the output follows Poisson(rate) exactly; F(k) is
irrational for rational rate > 0 (Lindemann), so the refinement ends with probability 1.
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Rational

import numpy as np

from dp.csprng import CsprngSource
from dp.errors import InvalidParameterError
from dp.poisson_table import CdfTable, cdf_table

#: Largest variance accepted: its table has ~2.3e5 entries (3.6 MB) and builds in ~0.3 s.
MAX_VARIANCE = 1 << 28
_WORD_BITS = 64


def _exact_positive(name: str, value: object, limit: int) -> Fraction:
    """``value`` as an exact Fraction in (0, limit]; floats are converted exactly."""
    if isinstance(value, bool) or not isinstance(value, (Rational, float)):
        raise InvalidParameterError(f"{name} must be an int, Fraction or float, got {type(value).__name__}")
    if isinstance(value, float) and not np.isfinite(value):
        raise InvalidParameterError(f"{name} must be finite, got {value}")
    exact = Fraction(value)
    if not 0 < exact <= limit:
        raise InvalidParameterError(f"{name} must lie in (0, {limit}], got {value}")
    return exact


def _check_count(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InvalidParameterError(f"n must be a non-negative integer, got {n!r}")
    return int(n)


def _locate(table: CdfTable, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sample, decided) for uniform prefixes ``u`` of ``table.bits`` bits (see module docstring)."""
    idx = np.searchsorted(table.low, u, side="right")  # >= 1 since low[0] == 0
    decided = (idx < table.low.size) & (u >= table.high[idx - 1])
    return table.first + idx.astype(np.int64), decided


def _refine(src: CsprngSource, rate: Fraction, prefix: int) -> int:
    """Finish one undecided draw: extend the uniform by a word per level until a table decides it."""
    bits = _WORD_BITS
    while True:
        bits += _WORD_BITS
        prefix = (prefix << _WORD_BITS) | int(src.words(1)[0])
        sample, decided = _locate(cdf_table(rate, bits), np.array([prefix], dtype=object))
        if decided[0]:
            return int(sample[0])


def _poisson(src: CsprngSource, rate: Fraction, n: int) -> np.ndarray:
    u = src.words(n)
    out, decided = _locate(cdf_table(rate, _WORD_BITS), u)
    for i in np.nonzero(~decided)[0]:
        out[i] = _refine(src, rate, int(u[i]))
    return out


def poisson(src: CsprngSource, rate: Fraction | int | float, n: int) -> np.ndarray:
    """``n`` exact Poisson(rate) samples (int64), 0 < rate <= MAX_VARIANCE / 2."""
    return _poisson(src, _exact_positive("rate", rate, MAX_VARIANCE // 2), _check_count(n))


def skellam(src: CsprngSource, variance: Fraction | int | float, n: int) -> np.ndarray:
    """``n`` exact symmetric Skellam samples (int64) of the given variance: the difference of
    two independent Poisson(variance / 2), 0 < variance <= MAX_VARIANCE."""
    rate = _exact_positive("variance", variance, MAX_VARIANCE) / 2
    count = _check_count(n)
    both = _poisson(src, rate, 2 * count)
    return both[:count] - both[count:]
