"""Typed errors of the ``he`` package.

Every failure a caller can provoke (bad parameters, bytes from the network,
an aggregate that would overflow its packing headroom) raises a subclass of
:class:`HEError` naming what was wrong, so a server can reject one client's
message without crashing and without catching unrelated exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping

from fedsecure.errors import FedsecureError

__all__ = [
    "HEError",
    "ParameterError",
    "PackingOverflowError",
    "MalformedCiphertextError",
    "MalformedKeyError",
    "ContextMismatchError",
    "MalformedPartialError",
    "TooFewPartialsError",
    "InvalidPartialError",
    "WeakKeyWarning",
]


class HEError(FedsecureError):
    """Base class of every error raised by ``he``."""


class ParameterError(HEError, ValueError):
    """Scheme parameters or call arguments are invalid or cannot fit together."""


class PackingOverflowError(HEError, ArithmeticError):
    """An aggregate would exceed the headroom its encoding was built for.

    Raised before any homomorphic work is done, instead of returning a sum
    that silently wrapped around.
    """


class MalformedCiphertextError(HEError, ValueError):
    """Serialized ciphertext bytes are truncated, garbled or out of range."""


class MalformedKeyError(HEError, ValueError):
    """Serialized public-key / public-context bytes are invalid."""


class ContextMismatchError(HEError, ValueError):
    """A ciphertext belongs to another key, context or parameter set."""


class MalformedPartialError(HEError, ValueError):
    """Serialized partial-decryption bytes are truncated, garbled or out of range."""


class TooFewPartialsError(ParameterError):
    """Fewer partial decryptions than the threshold were given; ``holders`` are the indices given."""

    def __init__(self, needed: int, holders: tuple[int, ...]) -> None:
        self.needed = needed
        self.holders = holders
        given = ", ".join(map(str, holders)) or "none"
        super().__init__(f"too few partial decryptions: {len(holders)} given (holders {given}), {needed} needed")


class InvalidPartialError(HEError, ValueError):
    """Partial decryptions that were refused, by holder index: the key holders not to trust.

    ``reasons`` maps each refused holder to why (a failed proof of correctness, another
    ciphertext or key, a duplicate); ``holders`` lists them in order and ``holder`` is the first.
    """

    def __init__(self, reasons: Mapping[int, str]) -> None:
        self.reasons = dict(sorted(reasons.items()))
        self.holders = tuple(self.reasons)
        self.holder = self.holders[0]
        detail = "; ".join(f"holder {index}: {reason}" for index, reason in self.reasons.items())
        super().__init__(f"invalid partial decryption from {detail}")


class WeakKeyWarning(UserWarning):
    """A key size accepted for tests and notebooks although it is below 112-bit security."""
