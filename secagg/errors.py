"""Typed errors of the secure-aggregation protocol.

Every failure a caller can act on has its own class; all derive from
:class:`ProtocolError`, itself a :class:`fedsecure.FedsecureError`, so that an
embedding system can catch one type.
"""

from __future__ import annotations

from fedsecure.errors import FedsecureError


class ProtocolError(FedsecureError):
    """Base class: the protocol cannot proceed as asked."""


class ConfigurationError(ProtocolError, ValueError):
    """The session parameters are inconsistent (threshold, degree, ids, sizes)."""


class EncodingError(ConfigurationError):
    """A fixed-point encoding cannot represent the requested range without wrapping."""


class InvalidMessageError(ProtocolError):
    """A received message is malformed, truncated, oversized, or inconsistent with the session."""


class ForgedSharesError(InvalidMessageError):
    """The shares of one client's secret cannot be reconciled with its commitment.

    Raised only when no correct reconstruction exists among the shares at hand, so
    the round aborts instead of producing a wrong sum. ``owner`` is the client whose
    secret it is, ``suspects`` the clients that may have lied (the share senders, or
    the owner when its shares agree with each other but not with its commitment).
    """

    def __init__(self, message: str, *, owner: int, suspects: tuple[int, ...]) -> None:
        super().__init__(message)
        self.owner = owner
        self.suspects = suspects


class TooFewSurvivorsError(ProtocolError):
    """Fewer clients than the threshold remain, so the round must abort (Bonawitz et al. 2017, Fig. 4)."""


class RefusedRequestError(ProtocolError):
    """An honest client refuses a request that would break its privacy (e.g. both secrets of one peer)."""


class ConsistencyError(ProtocolError):
    """The active-server consistency check failed: signatures do not match the survivor list."""


class StateError(ProtocolError):
    """A protocol method was called out of order or twice."""
