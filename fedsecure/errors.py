"""The root of the toolkit's error hierarchy."""

from __future__ import annotations


class FedsecureError(Exception):
    """Base class of every error the toolkit raises for bad input, bad state or a failed protocol.

    Each package keeps its own precise subclasses (``secagg.ProtocolError``,
    ``he.HEError``, ``dp.DPError``, ``protocols.AggregationError``, ...); this
    class lets a caller catch all of them at once without catching unrelated
    Python errors.
    """


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` for an error message, shortened when it is huge (e.g. an integer of 400 digits)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}...{text[-8:]} ({len(text)} characters)"
