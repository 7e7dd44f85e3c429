"""Random safe primes p = 2p' + 1 from the OS CSPRNG, for the threshold Paillier dealer.

Fouque, Poupard and Stern (FC 2000, Sec. 3) need n = p q with p and q safe primes so that the
squares modulo n^2 have no small-order elements; the search is the incremental one of Brandt and
Damgard (CRYPTO 1992), whose small bias in which primes get picked they show to be harmless.
"""

from __future__ import annotations

import functools
import math
import secrets
from typing import Final

import gmpy2
import numpy as np

__all__ = ["safe_prime"]

_SIEVE_BOUND: Final = 1 << 16  # candidates p' and 2p' + 1 with a prime factor below this are sieved out
_SIEVE_WINDOW: Final = 1 << 16  # candidates p' per random start


@functools.cache
def _small_primes() -> tuple[int, ...]:
    """The odd primes below ``_SIEVE_BOUND`` (sieve of Eratosthenes)."""
    composite = np.zeros(_SIEVE_BOUND, dtype=bool)
    composite[:2] = True
    for i in range(2, math.isqrt(_SIEVE_BOUND) + 1):
        if not composite[i]:
            composite[i * i :: i] = True
    return tuple(int(p) for p in np.flatnonzero(~composite)[1:])


def safe_prime(bits: int) -> gmpy2.mpz:
    """A random ``bits``-bit safe prime ``p = 2p' + 1`` with its top two bits set (FPS00 Sec. 3).

    Incremental search (Brandt and Damgard, CRYPTO 1992) from a random odd ``p'`` drawn with
    :mod:`secrets`: a window of candidates is sieved so that neither ``p'`` nor ``2p' + 1`` has a
    prime factor below ``2^16``; survivors take a base-2 Fermat test on both, and the first to pass
    is confirmed by GMP's BPSW plus Miller-Rabin test (``gmpy2.is_prime``) on both.
    """
    primes = _small_primes()
    while True:
        start = gmpy2.mpz(secrets.randbits(bits - 3) | 3 << (bits - 3) | 1)  # p' of bits - 1 bits
        survivors = np.ones(_SIEVE_WINDOW, dtype=bool)  # survivors[j]: p' = start + 2j
        for r in primes:
            half = (r + 1) // 2  # the inverse of 2 modulo r
            offset = int(start % r)
            survivors[(-offset * half) % r :: r] = False  # r divides p'
            survivors[(half - 1 - offset) * half % r :: r] = False  # r divides 2p' + 1
        for j in np.flatnonzero(survivors):
            half_prime = start + 2 * int(j)
            prime = 2 * half_prime + 1
            if prime.bit_length() != bits:
                break
            if (
                gmpy2.powmod(2, half_prime - 1, half_prime) == 1
                and gmpy2.powmod(2, prime - 1, prime) == 1
                and gmpy2.is_prime(half_prime)
                and gmpy2.is_prime(prime)
            ):
                return prime
