"""Typed errors of the ``he`` package.

Every failure a caller can provoke (bad parameters, bytes from the network,
an aggregate that would overflow its packing headroom) raises a subclass of
:class:`HEError` naming what was wrong, so a server can reject one client's
message without crashing and without catching unrelated exceptions.
"""

from __future__ import annotations

from fedsecure.errors import FedsecureError

__all__ = [
    "HEError",
    "ParameterError",
    "PackingOverflowError",
    "MalformedCiphertextError",
    "MalformedKeyError",
    "ContextMismatchError",
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
