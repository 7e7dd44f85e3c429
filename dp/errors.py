"""Typed errors raised by the ``dp`` package.

Every error names what was wrong, so a caller (the FedAvg driver, a notebook)
can report it without guessing.
"""

from __future__ import annotations

from fedsecure.errors import FedsecureError


class DPError(FedsecureError):
    """Base class of every error raised by ``dp``."""


class InvalidParameterError(DPError, ValueError):
    """A parameter is out of its valid range or has the wrong type."""


class UnsupportedEventError(DPError):
    """An accountant was given an event it cannot account for.

    ``event`` is the (sub-)event that is unsupported; the message says why.
    """

    def __init__(self, accountant: str, event: object, reason: str) -> None:
        self.accountant = accountant
        self.event = event
        self.reason = reason
        super().__init__(f"{accountant} does not support {type(event).__name__}: {reason}")


class CalibrationError(DPError):
    """A privacy target cannot be met with the given parameters."""


class SamplerError(DPError):
    """A noise sampler was asked for something it cannot draw exactly."""
