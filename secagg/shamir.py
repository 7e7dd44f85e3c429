"""t-of-n Shamir secret sharing over a prime field (Shamir 1979).

Used for the two 256-bit secrets each client splits among its neighbours in the
ShareKeys round (Bonawitz et al. 2017, Sec. 4, Round 1): the self-mask seed and
the mask-agreement private key. The default field is GF(p) with
``p = 2^256 + 297``, the smallest prime above ``2^256``, so every 32-byte secret
is a field element. Share x-coordinates are the holders' client ids.
Polynomial coefficients come from :mod:`secrets`; arithmetic uses gmpy2.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import gmpy2

from secagg.errors import ConfigurationError, ForgedSharesError, InvalidMessageError
from secagg.reed_solomon import decode

SECRET_BYTES = 32


@dataclass(frozen=True)
class ShamirField:
    """Sharing over GF(prime); ``prime`` must be prime and exceed every secret and id."""

    prime: int
    share_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        if self.prime < 3 or not gmpy2.is_prime(self.prime):
            raise ConfigurationError(f"Shamir modulus {self.prime} is not an odd prime")
        object.__setattr__(self, "share_bytes", (self.prime.bit_length() + 7) // 8)

    def split(self, secret: int, holders: Iterable[int], threshold: int) -> dict[int, int]:
        """Shares of ``secret`` for each holder id, any ``threshold`` of which reconstruct it."""
        xs = sorted(set(holders))
        if not 0 <= secret < self.prime:
            raise ConfigurationError("secret is outside the field")
        if not 1 <= threshold <= len(xs):
            raise ConfigurationError(f"threshold {threshold} must lie in [1, {len(xs)} holders]")
        if xs and not (0 < xs[0] and xs[-1] < self.prime):
            raise ConfigurationError("holder ids must be non-zero field elements")
        p = gmpy2.mpz(self.prime)
        coefficients = [gmpy2.mpz(secret)] + [gmpy2.mpz(secrets.randbelow(self.prime)) for _ in range(threshold - 1)]
        shares: dict[int, int] = {}
        for x in xs:
            acc = gmpy2.mpz(0)
            for c in reversed(coefficients):  # Horner
                acc = (acc * x + c) % p
            shares[x] = int(acc)
        return shares

    def reconstruct(self, shares: Mapping[int, int], threshold: int) -> int:
        """Interpolate at zero from ``threshold`` shares (the lowest ids are used)."""
        if threshold < 1:
            raise ConfigurationError(f"threshold must be positive, got {threshold}")
        if len(shares) < threshold:
            raise InvalidMessageError(f"{len(shares)} shares cannot reconstruct a {threshold}-of-n secret")
        xs = tuple(sorted(shares)[:threshold])
        if any(not 0 < x < self.prime for x in xs) or any(not 0 <= shares[x] < self.prime for x in xs):
            raise InvalidMessageError("share outside the field")
        coefficients = _lagrange_at_zero(self.prime, xs)
        p = gmpy2.mpz(self.prime)
        total = gmpy2.mpz(0)
        for x, lam in zip(xs, coefficients, strict=True):
            total = (total + lam * shares[x]) % p
        return int(total)

    def encode_share(self, value: int) -> bytes:
        return value.to_bytes(self.share_bytes, "big")

    def decode_share(self, data: bytes) -> int:
        if len(data) != self.share_bytes:
            raise InvalidMessageError(f"share of {len(data)} bytes, expected {self.share_bytes}")
        value = int.from_bytes(data, "big")
        if value >= self.prime:
            raise InvalidMessageError("share outside the field")
        return value


@lru_cache(maxsize=256)
def _lagrange_at_zero(prime: int, xs: tuple[int, ...]) -> tuple[gmpy2.mpz, ...]:
    """Lagrange basis polynomials at 0: l_j(0) = prod_{m != j} x_m / (x_m - x_j)."""
    p = gmpy2.mpz(prime)
    out = []
    for j, xj in enumerate(xs):
        num, den = gmpy2.mpz(1), gmpy2.mpz(1)
        for m, xm in enumerate(xs):
            if m != j:
                num = num * xm % p
                den = den * (xm - xj) % p
        out.append(num * gmpy2.invert(den, p) % p)
    return tuple(out)


FIELD = ShamirField(2**256 + 297)
"""The field for 256-bit protocol secrets (shares of 33 bytes)."""


def split_secret(secret: bytes, holders: Iterable[int], threshold: int) -> dict[int, bytes]:
    """Share a 32-byte secret; returns holder id -> encoded share."""
    if len(secret) != SECRET_BYTES:
        raise ConfigurationError(f"secrets are {SECRET_BYTES} bytes, got {len(secret)}")
    shares = FIELD.split(int.from_bytes(secret, "big"), holders, threshold)
    return {holder: FIELD.encode_share(y) for holder, y in shares.items()}


def reconstruct_secret(shares: Mapping[int, bytes], threshold: int) -> bytes:
    """Recover a 32-byte secret from at least ``threshold`` encoded shares."""
    chosen = sorted(shares)[:threshold]  # the shares FIELD.reconstruct would use; decode only those
    value = FIELD.reconstruct({x: FIELD.decode_share(shares[x]) for x in chosen}, threshold)
    if value >> (8 * SECRET_BYTES):
        raise InvalidMessageError("reconstructed value is not a 32-byte secret: inconsistent shares")
    return value.to_bytes(SECRET_BYTES, "big")


@dataclass(frozen=True)
class Recovery:
    """A reconstructed secret and the holders whose shares of it were wrong (and corrected)."""

    secret: bytes
    forged: tuple[int, ...] = ()


def recover_secret(
    shares: Mapping[int, bytes], threshold: int, accept: Callable[[bytes], bool], *, owner: int, what: str
) -> Recovery:
    """Reconstruct a secret that ``accept`` confirms (a commitment or public key), correcting forged shares.

    The lowest-id ``threshold`` shares are tried first. If ``accept`` refuses the
    result, all the shares are decoded as a Reed-Solomon codeword
    (:mod:`secagg.reed_solomon`), which corrects up to floor((m - t) / 2) wrong
    shares of m and names their senders. When no confirmed secret can be found,
    :class:`~secagg.errors.ForgedSharesError` names the suspects: never a wrong secret.
    """
    try:
        secret = reconstruct_secret(shares, threshold)
    except InvalidMessageError:
        pass  # a share outside the field or an over-long value: decode below
    else:
        if accept(secret):
            return Recovery(secret)
    points: dict[int, int] = {}
    unreadable: list[int] = []
    for holder, data in shares.items():
        try:
            points[holder] = FIELD.decode_share(data)
        except InvalidMessageError:
            unreadable.append(holder)
    decoded = decode(points, threshold, FIELD.prime)
    if decoded is not None and not decoded.secret >> (8 * SECRET_BYTES):
        secret = decoded.secret.to_bytes(SECRET_BYTES, "big")
        if accept(secret):
            return Recovery(secret, tuple(sorted([*unreadable, *decoded.wrong])))
        if not decoded.wrong and not unreadable:
            raise ForgedSharesError(
                f"the {len(shares)} shares of the {what} of client {owner} agree with each other but not with "
                f"what client {owner} committed to: client {owner} is the suspect",
                owner=owner,
                suspects=(owner,),
            )
    suspects = tuple(sorted({owner, *shares}))
    raise ForgedSharesError(
        f"the {len(shares)} shares of the {what} of client {owner} (threshold {threshold}) cannot be reconciled "
        f"with its commitment: more than {(len(shares) - threshold) // 2} are wrong; suspects {list(suspects)[:10]}",
        owner=owner,
        suspects=suspects,
    )
