"""Rigorous cumulative tables of the Poisson distribution in exact integer arithmetic.

A table at precision ``bits`` = B holds, for boundaries k = k_lo - 1, ..., k_hi, integers
``low[i] <= 2^B F(k) <= high[i]`` where F is the Poisson(rate) cdf, both non-decreasing in k.
No floating point is involved: with rate = a/b, the weights w(k) = p(k)/p(m) relative to the
mode m = floor(rate) follow w(k+1) = w(k) a / (b (k+1)) and w(k-1) = w(k) k b / a, carried in
fixed point with 2^(B+40) for w(m) and every step rounded down for the lower and up for the
upper bound. The mass outside [k_lo, k_hi] is bounded by geometric series (the ratio of
consecutive weights is at most rate/(k_hi+1) to the right and k_lo/rate to the left), and the
walk stops once each bound is below 2^-(B+4) w(m). Normalizing by the total weight Z, known
within [sum of lower weights, sum of upper weights + both tail bounds], gives the cdf bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import accumulate

import numpy as np

_GUARD_BITS = 40  # fixed-point bits beyond B: absorb the ~1 unit of rounding per step of the walk
_TAIL_BITS = 4  # each tail is below 2^-(B+4) p(m), so it rarely leaves a draw undecided


@dataclass(frozen=True)
class CdfTable:
    """Bounds ``low <= 2^bits F(first + i) <= high`` on the cdf (see the module docstring).
    ``low[0] == 0``; entries whose upper bound reaches 2^bits are left out, so a uniform in the
    top end always falls beyond the table. Arrays are uint64 when bits == 64, else Python ints."""

    bits: int
    first: int
    low: np.ndarray
    high: np.ndarray

    @property
    def undecided_mass(self) -> Fraction:
        """Probability that a uniform B-bit prefix does not decide the sample: it falls in some
        [low, high) window or beyond the last boundary."""
        widths = sum(int(h) - int(lo) for lo, h in zip(self.low, self.high, strict=True))
        return Fraction(widths + (1 << self.bits) - int(self.low[-1]), 1 << self.bits)


def _walk(mode: int, rate: Fraction, bits: int, right: bool) -> tuple[list[int], list[int], int, int]:
    """Lower and upper fixed-point weights stepping away from the mode; returns the weights,
    the last k reached and a ceiling on the tail weight beyond it (0 if the walk reached k = 0)."""
    a, b = rate.numerator, rate.denominator
    one = 1 << (bits + _GUARD_BITS)
    stop = one >> (bits + _TAIL_BITS)
    lo, hi, k = one, one, mode
    lows: list[int] = []
    highs: list[int] = []
    while True:
        if right:  # tail beyond k: w(k) * rate / (k + 1 - rate) when k + 1 > rate
            room = (k + 1) * b - a
            tail = -((-hi * a) // room) if room > 0 else None
        else:  # tail below k: w(k) * k / (rate - k) when k < rate, nothing when k = 0
            room = a - k * b
            tail = 0 if k == 0 else (-((-hi * k * b) // room) if room > 0 else None)
        if tail is not None and tail <= stop:
            return lows, highs, k, tail
        if right:
            num, den = a, b * (k + 1)
            k += 1
        else:
            num, den = k * b, a
            k -= 1
        lo, hi = lo * num // den, -((-hi * num) // den)
        lows.append(lo)
        highs.append(hi)


@lru_cache(maxsize=64)
def cdf_table(rate: Fraction, bits: int) -> CdfTable:
    """The cdf table of Poisson(rate) at precision ``bits`` (cached: one build per rate and level)."""
    m = rate.numerator // rate.denominator
    one = 1 << (bits + _GUARD_BITS)
    left_lo, left_hi, k_lo, tail_left = _walk(m, rate, bits, right=False)
    right_lo, right_hi, _, tail_right = _walk(m, rate, bits, right=True)
    # cumulative weight up to boundary k_lo - 1 + i; each weight list is dropped once summed
    c_lo = [0, *accumulate(left_lo[::-1] + [one] + right_lo)]
    del left_lo, right_lo
    c_hi = [0, *accumulate(left_hi[::-1] + [one] + right_hi)]
    del left_hi, right_hi
    z_lo, z_hi = c_lo[-1], c_hi[-1] + tail_left + tail_right
    scale = 1 << bits
    keep = next((i for i, c in enumerate(c_hi) if (c + tail_left) * scale > (scale - 1) * z_lo), len(c_hi))
    low = (c * scale // z_hi for c in c_lo[:keep])
    high = (-((-(c + tail_left) * scale) // z_lo) for c in c_hi[:keep])
    if bits == 64:
        return CdfTable(bits, k_lo - 1, np.fromiter(low, np.uint64, keep), np.fromiter(high, np.uint64, keep))
    return CdfTable(bits, k_lo - 1, np.array(list(low), dtype=object), np.array(list(high), dtype=object))
