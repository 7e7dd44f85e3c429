"""Exact samplers: goodness of fit against the exact pmf, CSPRNG as the only source of randomness."""

from __future__ import annotations

import math
import pathlib
import re
from fractions import Fraction

import numpy as np
import pytest
from dp_testing import CountingStream, gof

import dp
from dp.csprng import CsprngSource
from dp.discrete import bernoulli_exp


@pytest.mark.parametrize("sigma2", [Fraction(1, 4), Fraction(3), Fraction(101, 4), Fraction(400)])
def test_discrete_gaussian_fits_exact_pmf(sigma2: Fraction) -> None:
    x = dp.discrete_gaussian(CsprngSource(CountingStream(b"test_discrete_gaussian_fits_exact_pmf")), sigma2, 40000)
    s2 = float(sigma2)
    assert gof(x, lambda v: -(v.astype(float) ** 2) / (2 * s2), int(12 * math.sqrt(s2)) + 3) > 1e-4


def test_discrete_laplace_fits_exact_pmf() -> None:
    x = dp.discrete_laplace(CsprngSource(CountingStream(b"test_discrete_laplace_fits_exact_pmf")), 3, 40000)
    assert gof(x, lambda v: -np.abs(v) / 3.0, 60) > 1e-4


def test_bernoulli_exp_frequency() -> None:
    src = CsprngSource()
    n = 200000
    hits = bernoulli_exp(src, np.full(n, 3, dtype=np.int64), np.full(n, 2, dtype=np.int64)).mean()
    p = math.exp(-1.5)
    assert abs(hits - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_large_variances_use_exact_big_integers() -> None:
    x = dp.discrete_gaussian(CsprngSource(), Fraction(10**14), 20000)
    assert x.dtype == np.int64
    assert 0.95 < x.var() / 1e14 < 1.05


def test_bernoulli_tie_is_decided_exactly() -> None:
    # Bernoulli(1/3): the first word equals floor(2^64/3), so more words decide the comparison.
    words = [(2**64) // 3, 0]
    src = CsprngSource(lambda n: b"".join(w.to_bytes(8, "little") for w in [words.pop(0)] * (n // 8)), batch_words=1)
    assert bool(src.bernoulli(np.array([1]), np.array([3]))[0]) is True


def test_samples_are_a_function_of_the_csprng_stream_only() -> None:
    a = dp.discrete_gaussian(CsprngSource(CountingStream(b"seed-one")), Fraction(50), 2000)
    b = dp.discrete_gaussian(CsprngSource(CountingStream(b"seed-one")), Fraction(50), 2000)
    c = dp.discrete_gaussian(CsprngSource(CountingStream(b"seed-two")), Fraction(50), 2000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_short_byte_source_is_refused() -> None:
    with pytest.raises(dp.SamplerError, match="bytes"):
        CsprngSource(lambda n: b"\x00").words(4)


def test_no_non_cryptographic_randomness_in_dp() -> None:
    pattern = re.compile(r"np\.random|numpy\.random|^\s*import random|from random import", re.M)
    root = pathlib.Path(dp.__file__).parent
    offenders = [p.name for p in root.glob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_hundred_thousand_samples_under_a_second() -> None:
    import time

    t = time.process_time()  # CPU time: robust to other load on the shared box
    dp.discrete_gaussian(CsprngSource(), Fraction(40000**2), 100000)
    assert time.process_time() - t < 1.0  # ~0.2 s measured
