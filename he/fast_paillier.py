"""Fast Paillier encryption: short-exponent randomness with a fixed-base table.

Standard Paillier (Paillier, EUROCRYPT 1999) encrypts ``m`` as
``(1 + n)^m * r^n mod n^2`` with ``r`` uniform in ``Z_n^*``; the ``r^n``
exponentiation (a full ``|n|``-bit exponent modulo ``n^2``) is the whole cost.

Damgard, Jurik and Nielsen ("A generalization of Paillier's public-key system
with applications to electronic voting", Int. J. Inf. Secur. 9(6), 2010; the
``s = 1`` case of their key-generation/encryption variant) instead publish
``h_s = h^n mod n^2`` for ``h = -x^2 mod n`` with a secret random ``x`` and
encrypt as ``(1 + n)^m * h_s^a mod n^2`` with ``a`` a uniformly random
``ceil(|n| / 2)``-bit integer. Because the base ``h_s`` is fixed, a table of
``h_s^(d * 2^(w*i))`` turns each encryption into about ``|n| / (2w)`` modular
multiplications (fixed-base windowing, Brickell et al., EUROCRYPT 1992).

Security argument. The randomness ``h_s^a = (h^a)^n`` is still an ``n``-th
power, so the ciphertext encrypts ``m`` and decrypts unchanged; only the
distribution of the randomizer changes, from a uniform ``n``-th residue to
``(h^a)^n`` with ``h^a`` in the cyclic subgroup ``<h>``. DJN argue IND-CPA
under the Decisional Composite Residuosity assumption *plus* the assumption
that ``h^a`` for a random ``ceil(|n|/2)``-bit ``a`` cannot be told apart
from a uniform element of ``<h>`` (a short-exponent indistinguishability
assumption in a group of unknown order, of the kind studied by Koshiba and
Kurosawa, PKC 2004). Known attacks on short exponents are generic, about
``2^(|n|/4)`` operations (``2^512`` at 2048 bits), far above the cost of
factoring ``n``. Two caveats, stated plainly: (1) the DJN analysis is given
for moduli built from safe primes, where ``<h>`` is the whole subgroup of
Jacobi symbol 1; ``phe`` generates ordinary primes, for which ``<h>`` is a
cyclic subgroup of small index with overwhelming probability (the index
grows with ``gcd(p - 1, q - 1)``), so the reduction does not carry over
verbatim; (2) the short-exponent assumption is an *extra* assumption. SecretFlow
HEU's DJ mode and Intel's Paillier library use the same construction. For
both reasons the standard path stays the default and this one is opt-in
(``PaillierScheme.generate(fast_encryption=True)``).

Secrets: ``x`` and every ``a`` come from :mod:`secrets`; ``x`` is discarded
after key generation (knowing it does not help decrypt, but it is not needed).
"""

from __future__ import annotations

import math
import secrets
from typing import Final

import gmpy2

from he.errors import MalformedKeyError

__all__ = ["make_fixed_base", "check_fixed_base", "FixedBaseRandomizer"]

_WINDOW: Final = 8


def make_fixed_base(n: int) -> int:
    """Key-generation step of DJN: ``h_s = (-x^2)^n mod n^2`` for random ``x`` in ``Z_n^*``."""
    n_mpz = gmpy2.mpz(n)
    while True:
        x = gmpy2.mpz(secrets.randbelow(n - 2) + 2)
        if gmpy2.gcd(x, n_mpz) == 1:
            break
    h = (-(x * x)) % n_mpz
    return int(gmpy2.powmod(h, n_mpz, n_mpz * n_mpz))


def check_fixed_base(n: int, h_s: int) -> None:
    """Reject a published base outside ``(1, n^2)`` or sharing a factor with ``n``."""
    if not (1 < h_s < n * n) or gmpy2.gcd(h_s, n) != 1:
        raise MalformedKeyError("fixed base h_s must lie in (1, n^2) and be coprime to n")


class FixedBaseRandomizer:
    """Draws ``h_s^a mod n^2`` for fresh ``ceil(|n|/2)``-bit ``a`` via a windowed table."""

    def __init__(self, n: int, h_s: int) -> None:
        check_fixed_base(n, h_s)
        nsquare = gmpy2.mpz(n) * n
        self._nsquare = nsquare
        self.exponent_bits = -(-n.bit_length() // 2)
        windows = math.ceil(self.exponent_bits / _WINDOW)
        self._table: list[list[gmpy2.mpz]] = []
        base = gmpy2.mpz(h_s)
        for _ in range(windows):
            row = [gmpy2.mpz(1)]
            for _ in range((1 << _WINDOW) - 1):
                row.append(row[-1] * base % nsquare)
            self._table.append(row)
            base = row[-1] * base % nsquare  # base^(2^w) for the next window
        self._mask = (1 << _WINDOW) - 1

    def sample(self) -> gmpy2.mpz:
        """``h_s^a mod n^2`` with ``a`` drawn uniformly from ``[0, 2^exponent_bits)``."""
        exponent = secrets.randbits(self.exponent_bits)
        acc = gmpy2.mpz(1)
        nsquare = self._nsquare
        for row in self._table:
            acc = acc * row[exponent & self._mask] % nsquare  # no branch on secret digits
            exponent >>= _WINDOW
        return acc
