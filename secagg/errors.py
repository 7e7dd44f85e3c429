"""Typed errors of the secure-aggregation protocol.

Every failure a caller can act on has its own class; all derive from
:class:`ProtocolError` so that an embedding system can catch one type.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class: the protocol cannot proceed as asked."""


class ConfigurationError(ProtocolError, ValueError):
    """The session parameters are inconsistent (threshold, degree, ids, sizes)."""


class EncodingError(ConfigurationError):
    """A fixed-point encoding cannot represent the requested range without wrapping."""


class InvalidMessageError(ProtocolError):
    """A received message is malformed, truncated, oversized, or inconsistent with the session."""


class TooFewSurvivorsError(ProtocolError):
    """Fewer clients than the threshold remain, so the round must abort (Bonawitz et al. 2017, Fig. 4)."""


class RefusedRequestError(ProtocolError):
    """An honest client refuses a request that would break its privacy (e.g. both secrets of one peer)."""


class ConsistencyError(ProtocolError):
    """The active-server consistency check failed: signatures do not match the survivor list."""


class StateError(ProtocolError):
    """A protocol method was called out of order or twice."""
