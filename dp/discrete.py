"""Exact integer noise samplers of Canonne, Kamath, Steinke, "The Discrete Gaussian for
Differential Privacy", NeurIPS 2020 (Algorithms 1-3), vectorized: every sample of a batch runs
the same rejection loops in lockstep on the still-undecided entries. Only integer and rational
arithmetic decides an outcome; all randomness comes from a ``CsprngSource``.
"""

from __future__ import annotations

from fractions import Fraction
from math import isqrt

import numpy as np

from dp.csprng import CsprngSource
from dp.errors import InvalidParameterError


def bernoulli_exp(src: CsprngSource, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Exact Bernoulli(exp(-num/den)) elementwise for integers num >= 0, den > 0 (CKS 2020, Alg. 1):
    one Bernoulli(exp(-1)) per unit of the integer part, then the series trick on the fraction.
    int64 arrays stay int64; object arrays of Python ints carry any size."""
    whole = num // den
    out = _bernoulli_exp_unit(src, num - whole * den, den)
    left = whole.astype(np.int64)
    active = np.nonzero(out & (left > 0))[0]
    while active.size:
        ones = np.ones(active.size, dtype=np.int64)
        out[active] = _bernoulli_exp_unit(src, ones, ones)
        left[active] -= 1
        active = active[out[active] & (left[active] > 0)]
    return out


def _bernoulli_exp_unit(src: CsprngSource, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Bernoulli(exp(-x)) for x = num/den in [0, 1]: draw A_k ~ Bernoulli(x/k) for k = 1, 2, ...
    until the first failure; the output is 1 iff that k is odd."""
    out = np.zeros(num.size, dtype=bool)
    k = np.ones(num.size, dtype=np.int64)
    alive = np.arange(num.size)
    while alive.size:
        a = src.bernoulli(num[alive], den[alive] * k[alive])
        stopped = alive[~a]
        out[stopped] = (k[stopped] % 2) == 1
        alive = alive[a]
        k[alive] += 1
    return out


def discrete_laplace(src: CsprngSource, scale: int, n: int) -> np.ndarray:
    """``n`` exact samples of the discrete Laplace P(x) ~ exp(-|x|/scale), integer scale
    (CKS 2020, Alg. 2 with s = 1)."""
    out = np.empty(n, dtype=np.int64)
    todo = np.arange(n)
    t = np.int64(scale)
    while todo.size:
        m = todo.size
        u = src.below(np.full(m, t))
        kept = np.nonzero(bernoulli_exp(src, u, np.full(m, t)))[0]
        x = u[kept] + t * _geometric_exp1(src, kept.size)
        neg = src.bits(kept.size)
        ok = ~(neg & (x == 0))
        out[todo[kept[ok]]] = np.where(neg[ok], -x[ok], x[ok])
        done = np.zeros(m, dtype=bool)
        done[kept[ok]] = True
        todo = todo[~done]
    return out


def _geometric_exp1(src: CsprngSource, n: int) -> np.ndarray:
    """Number of successes before the first failure of Bernoulli(exp(-1)) trials."""
    v = np.zeros(n, dtype=np.int64)
    alive = np.arange(n)
    one = np.ones(n, dtype=np.int64)
    while alive.size:
        a = bernoulli_exp(src, one[: alive.size], one[: alive.size])
        alive = alive[a]
        v[alive] += 1
    return v


def discrete_gaussian(src: CsprngSource, sigma2: Fraction, n: int) -> np.ndarray:
    """``n`` exact samples of N_Z(0, sigma2), P(x) ~ exp(-x^2 / (2 sigma2)) (CKS 2020, Alg. 3):
    discrete Laplace proposals with scale t = floor(sigma) + 1, accepted with probability
    exp(-(|y| - sigma2/t)^2 / (2 sigma2)), an exact rational exponent."""
    if not isinstance(sigma2, Fraction) or sigma2 <= 0:
        raise InvalidParameterError("sigma2 must be a positive fractions.Fraction")
    sn, sd = sigma2.numerator, sigma2.denominator
    t = isqrt(sn // sd) + 1
    out = np.empty(n, dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        y = discrete_laplace(src, t, todo.size)
        num, den = _acceptance_exponent(np.abs(y), t, sn, sd)
        accept = bernoulli_exp(src, num, den)
        out[todo[accept]] = y[accept]
        todo = todo[~accept]
    return out


def _acceptance_exponent(y: np.ndarray, t: int, sn: int, sd: int) -> tuple[np.ndarray, np.ndarray]:
    """(num, den) with num/den = (y - sigma2/t)^2 / (2 sigma2) for sigma2 = sn/sd, as int64 arrays
    when every value fits (and den < 2^31, so den * k stays small), else Python-int object arrays."""
    den = 2 * sn * sd * t * t
    a_max = int(y.max(initial=0)) * t * sd + sn
    if a_max < 1 << 31 and den < 1 << 31:
        a = y * (t * sd) - sn
        return a * a, np.full(y.size, den, dtype=np.int64)
    a_o = y.astype(object) * (t * sd) - sn
    return a_o * a_o, np.full(y.size, den, dtype=object)
