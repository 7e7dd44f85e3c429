"""Decoding Shamir shares with errors: Gao's Reed-Solomon decoder over GF(p).

The shares of a t-of-n Shamir sharing are the evaluations f(x_1), ..., f(x_m)
of one polynomial f of degree below t at the holders' ids: a Reed-Solomon
codeword of length m and dimension t (McEliece and Sarwate, CACM 1981). Up to
floor((m - t) / 2) wrong shares can therefore be corrected and their senders
named. Gao's algorithm (S. Gao, "A New Algorithm for Decoding Reed-Solomon
Codes", 2002) does it with one interpolation and one partial extended Euclidean
algorithm, O(m^2) field operations:

1. g1 = the polynomial of degree < m through all m points; g0 = prod (X - x_i);
2. run the extended Euclidean algorithm on (g0, g1) until the remainder g has
   degree < (m + t) / 2, keeping g = u g0 + v g1;
3. f = g / v if v divides g and deg f < t; otherwise more than (m - t) / 2
   shares are wrong and decoding fails.

Polynomials are lists of gmpy2 integers, lowest degree first, without trailing zeros.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import gmpy2

Poly = list[gmpy2.mpz]


@dataclass(frozen=True)
class Decoded:
    """The polynomial's value at zero (the secret) and the x-coordinates whose shares were wrong."""

    secret: int
    wrong: tuple[int, ...]


def decode(points: Mapping[int, int], threshold: int, prime: int) -> Decoded | None:
    """Recover f(0) for the polynomial of degree < ``threshold`` agreeing with all but at most
    floor((m - threshold) / 2) of the ``m`` points, or ``None`` if no such polynomial exists."""
    m = len(points)
    if not 1 <= threshold <= m:
        return None
    p = gmpy2.mpz(prime)
    xs = sorted(points)
    g0, g1 = _interpolate(xs, [points[x] for x in xs], p)
    r0, r1, v0, v1 = g0, g1, [], [gmpy2.mpz(1)]
    while 2 * (len(r1) - 1) >= m + threshold:
        quotient, remainder = _divmod(r0, r1, p)
        r0, r1 = r1, remainder
        v0, v1 = v1, _sub(v0, _mul(quotient, v1, p), p)
    f, remainder = _divmod(r1, v1, p)
    if remainder or len(f) > threshold:
        return None
    wrong = tuple(x for x in xs if _evaluate(f, x, p) != points[x] % p)
    if 2 * len(wrong) > m - threshold:
        return None
    return Decoded(int(f[0]) if f else 0, wrong)


def _interpolate(xs: list[int], ys: list[int], p: gmpy2.mpz) -> tuple[Poly, Poly]:
    """(prod (X - x_i), the Lagrange interpolant of degree < m), in O(m^2)."""
    g0: Poly = [gmpy2.mpz(1)]
    for x in xs:
        g0 = _trim([(low - x * high) % p for low, high in zip([gmpy2.mpz(0), *g0], [*g0, gmpy2.mpz(0)], strict=True)])
    g1 = [gmpy2.mpz(0)] * (len(xs))
    for x, y in zip(xs, ys, strict=True):
        basis = _divide_linear(g0, x, p)  # prod_{j != i} (X - x_j)
        scale = y * gmpy2.invert(_evaluate(basis, x, p), p) % p
        for k, c in enumerate(basis):
            g1[k] = (g1[k] + scale * c) % p
    return g0, _trim(g1)


def _divide_linear(a: Poly, x: int, p: gmpy2.mpz) -> Poly:
    """a / (X - x) for a root x of a (synthetic division)."""
    out = [gmpy2.mpz(0)] * (len(a) - 1)
    carry = gmpy2.mpz(0)
    for k in range(len(a) - 1, 0, -1):
        carry = (a[k] + carry * x) % p
        out[k - 1] = carry
    return out


def _evaluate(a: Poly, x: int, p: gmpy2.mpz) -> gmpy2.mpz:
    acc = gmpy2.mpz(0)
    for c in reversed(a):
        acc = (acc * x + c) % p
    return acc


def _trim(a: Poly) -> Poly:
    while a and a[-1] == 0:
        a.pop()
    return a


def _sub(a: Poly, b: Poly, p: gmpy2.mpz) -> Poly:
    size = max(len(a), len(b))
    padded_a = a + [gmpy2.mpz(0)] * (size - len(a))
    padded_b = b + [gmpy2.mpz(0)] * (size - len(b))
    return _trim([(u - w) % p for u, w in zip(padded_a, padded_b, strict=True)])


def _mul(a: Poly, b: Poly, p: gmpy2.mpz) -> Poly:
    if not a or not b:
        return []
    out = [gmpy2.mpz(0)] * (len(a) + len(b) - 1)
    for i, u in enumerate(a):
        for j, w in enumerate(b):
            out[i + j] += u * w
    return _trim([c % p for c in out])


def _divmod(a: Poly, b: Poly, p: gmpy2.mpz) -> tuple[Poly, Poly]:
    """Polynomial long division; ``b`` must be non-zero."""
    remainder = list(a)
    if len(remainder) < len(b):
        return [], remainder
    inverse = gmpy2.invert(b[-1], p)
    quotient = [gmpy2.mpz(0)] * (len(remainder) - len(b) + 1)
    for shift in range(len(quotient) - 1, -1, -1):
        coefficient = remainder[shift + len(b) - 1] * inverse % p
        quotient[shift] = coefficient
        if coefficient:
            for k, c in enumerate(b):
                remainder[shift + k] = (remainder[shift + k] - coefficient * c) % p
    return _trim(quotient), _trim(remainder[: len(b) - 1])
