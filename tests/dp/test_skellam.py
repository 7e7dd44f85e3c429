"""Exact Poisson and Skellam samplers: rigorous cdf tables, exact refinement of undecided draws,
goodness of fit against the exact pmf, closure under sums, CSPRNG as the only randomness."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from dp_testing import CountingStream, gof
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson as poisson_dist
from scipy.stats import skellam as skellam_dist

import dp
from dp.csprng import CsprngSource
from dp.poisson import MAX_VARIANCE
from dp.poisson_table import cdf_table


def _exact_cdf(rate: Fraction, ks: range, prec: int = 400) -> list[mpmath.mpf]:
    """Poisson cdf at ``ks`` (all >= -1) by direct summation in 400-bit arithmetic (independent of
    the table's fixed-point walk)."""
    with mpmath.workprec(prec):
        lam = mpmath.mpf(rate.numerator) / rate.denominator
        term, total, out = mpmath.exp(-lam), mpmath.mpf(0), []
        for k in range(max(ks) + 1):
            total += term
            term = term * lam / (k + 1)
            if k in ks:
                out.append(total)
        return [mpmath.mpf(0)] * sum(1 for k in ks if k < 0) + out


def _inverse_cdf(rate: Fraction, prefix: int, bits: int) -> int | None:
    """min{k : U < F(k)} if it is the same for every U in [prefix, prefix + 1) 2^-bits, else None."""
    ks = range(-1, int(rate + 60 * math.sqrt(rate)) + 100)
    cdf = _exact_cdf(rate, ks, prec=bits + 300)
    with mpmath.workprec(bits + 300):
        lo, hi = mpmath.mpf(prefix) / 2**bits, mpmath.mpf(prefix + 1) / 2**bits
        k_lo = next(k for k, f in zip(ks, cdf, strict=True) if lo < f)
        k_hi = next((k for k, f in zip(ks, cdf, strict=True) if hi <= f), None)  # None: U may exceed all
    return k_lo if k_lo == k_hi else None


@settings(max_examples=25, deadline=None)
@given(num=st.integers(1, 400), den=st.integers(1, 7), bits=st.sampled_from([64, 128]))
def test_cdf_table_bounds_hold(num: int, den: int, bits: int) -> None:
    rate = Fraction(num, den)
    table = cdf_table(rate, bits)
    low, high = [int(v) for v in table.low], [int(v) for v in table.high]
    assert low[0] == 0 and low == sorted(low) and high == sorted(high)
    cdf = _exact_cdf(rate, range(table.first, table.first + len(low)))
    with mpmath.workprec(400):
        for lo, f, hi in zip(low, cdf, high, strict=True):
            assert lo <= f * 2**bits <= hi
    assert table.undecided_mass < Fraction(1, 2**40)


@pytest.mark.parametrize("variance", [Fraction(1), Fraction(15, 2), Fraction(1000), 2.5e5])
def test_skellam_fits_exact_pmf(variance: Fraction | float) -> None:
    x = dp.skellam(CsprngSource(CountingStream(b"test_skellam_fits_exact_pmf")), variance, 40000)
    half = float(variance) / 2
    support = int(12 * math.sqrt(float(variance))) + 3
    assert x.dtype == np.int64
    assert gof(x, lambda v: skellam_dist.logpmf(v, half, half), support) > 1e-4


@pytest.mark.parametrize("rate", [Fraction(1, 3), Fraction(40), Fraction(123457, 10)])
def test_poisson_fits_exact_pmf(rate: Fraction) -> None:
    x = dp.poisson(CsprngSource(CountingStream(b"test_poisson_fits_exact_pmf")), rate, 40000)
    lam = float(rate)
    assert x.min() >= 0
    assert gof(x, lambda v: poisson_dist.logpmf(v, lam), int(lam + 12 * math.sqrt(lam)) + 10) > 1e-4


def test_sum_of_clients_noise_is_skellam_of_the_summed_variance() -> None:
    clients, mu, n = 8, Fraction(5, 2), 50000
    src = CsprngSource(CountingStream(b"test_sum_of_clients_noise_is_skellam_of_the_summed_variance"))
    total = np.sum([dp.skellam(src, mu, n) for _ in range(clients)], axis=0)
    var = float(clients * mu)
    # variance of the sample variance of a Skellam(var): (2 var^2 + var) / n (excess kurtosis 1/var)
    assert abs(total.var() - var) < 5 * math.sqrt((2 * var**2 + var) / n)
    assert gof(total, lambda v: skellam_dist.logpmf(v, var / 2, var / 2), 40) > 1e-4


class WordStream:
    """Serves the given 64-bit words first, then SHAKE-256 output; records every word served."""

    def __init__(self, words: list[int]) -> None:
        self.head, self.tail = list(words), CountingStream(b"after-the-given-words")
        self.served: list[int] = []

    def __call__(self, n: int) -> bytes:
        out = b"".join(self.head.pop(0).to_bytes(8, "little") if self.head else self.tail(8) for _ in range(n // 8))
        self.served += [int.from_bytes(out[i : i + 8], "little") for i in range(0, n, 8)]
        return out


@pytest.mark.parametrize("rate", [Fraction(3, 2), Fraction(250)])
def test_undecided_draws_are_refined_exactly(rate: Fraction) -> None:
    table = cdf_table(rate, 64)
    window = next(i for i in range(table.low.size) if table.low[i] < table.high[i] and table.low[i] > 0)
    beyond = (1 << 64) - 1  # above the last boundary of the 64-bit table
    for first in (int(table.low[window]), beyond):
        for second in (0, 1 << 63, (1 << 64) - 1):
            stream = WordStream([first, second])
            got = int(dp.poisson(CsprngSource(stream, batch_words=1), rate, 1)[0])
            assert len(stream.served) >= 2  # the first word alone did not decide the draw
            prefix, want = 0, None
            for j, word in enumerate(stream.served, start=1):  # lazy inversion by an independent oracle
                prefix = (prefix << 64) | word
                want = _inverse_cdf(rate, prefix, 64 * j)
                if want is not None:
                    assert j == len(stream.served)  # the sampler read exactly as many words as needed
                    break
            assert got == want


def test_samples_are_a_function_of_the_csprng_stream_only() -> None:
    a = dp.skellam(CsprngSource(CountingStream(b"seed-one")), 1000, 5000)
    b = dp.skellam(CsprngSource(CountingStream(b"seed-one")), 1000, 5000)
    c = dp.skellam(CsprngSource(CountingStream(b"seed-two")), 1000, 5000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_two_words_per_skellam_sample() -> None:
    stream = CountingStream(b"count")
    dp.skellam(CsprngSource(stream, batch_words=1), 1e6, 3000)
    assert stream.served == 8 * 2 * 3000  # an undecided draw (p < 2^-46) would take more


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: dp.skellam(s, 0, 10), "variance"),
        (lambda s: dp.skellam(s, -1.0, 10), "variance"),
        (lambda s: dp.skellam(s, math.nan, 10), "finite"),
        (lambda s: dp.skellam(s, math.inf, 10), "finite"),
        (lambda s: dp.skellam(s, True, 10), "variance"),
        (lambda s: dp.skellam(s, "4", 10), "variance"),  # type: ignore[arg-type]
        (lambda s: dp.skellam(s, MAX_VARIANCE + 1, 10), "variance"),
        (lambda s: dp.skellam(s, 4, -1), "n must"),
        (lambda s: dp.skellam(s, 4, 2.0), "n must"),  # type: ignore[arg-type]
        (lambda s: dp.poisson(s, 0, 10), "rate"),
        (lambda s: dp.poisson(s, MAX_VARIANCE, 10), "rate"),
    ],
)
def test_bad_parameters_raise_typed_errors(call: Callable[[CsprngSource], object], match: str) -> None:
    with pytest.raises(dp.InvalidParameterError, match=match):
        call(CsprngSource())


def test_hundred_thousand_samples_well_under_a_second() -> None:
    src = CsprngSource()
    for variance in (1, 1000, 10**6):
        t = time.process_time()  # CPU time, table build included: robust to load on the shared box
        x = dp.skellam(src, variance, 100000)
        assert time.process_time() - t < 0.5  # ~0.01-0.05 s measured
        assert x.shape == (100000,)
