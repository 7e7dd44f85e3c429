"""The interface every accountant shares, and its ledger of composed events.

An accountant keeps a ledger ``{atomic event: count}``: composed and self-composed
events are flattened on entry, so 10,000 identical rounds cost one entry
(a ledger that grows with the kinds of events, not their number). ``supports`` is a dry run; ``compose`` refuses an
unsupported event loudly with ``UnsupportedEventError`` naming the part it cannot handle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

from dp._validate import check_count, check_real
from dp.errors import InvalidParameterError, UnsupportedEventError
from dp.events import ComposedEvent, Event, SelfComposedEvent


def flatten(event: Event, count: int = 1) -> Iterator[tuple[Event, int]]:
    """Yield (atomic event, count) pairs of a possibly nested composition."""
    if isinstance(event, SelfComposedEvent):
        yield from flatten(event.event, count * event.count)
    elif isinstance(event, ComposedEvent):
        for e in event.events:
            yield from flatten(e, count)
    elif count > 0:
        yield event, count


class Accountant(ABC):
    """Common interface: ``compose(event, count)``, then ``epsilon(delta)`` / ``delta(epsilon)``."""

    name: str = "accountant"

    def __init__(self) -> None:
        self._ledger: dict[Event, int] = {}

    @abstractmethod
    def _check_atomic(self, event: Event) -> None:
        """Raise ``UnsupportedEventError`` if the atomic ``event`` cannot be accounted."""

    @abstractmethod
    def epsilon(self, delta: float) -> float:
        """An upper bound on epsilon at ``delta`` for everything composed so far."""

    @abstractmethod
    def delta(self, epsilon: float) -> float:
        """An upper bound on delta at ``epsilon`` for everything composed so far."""

    def unsupported_reason(self, event: Event) -> str | None:
        """None if ``event`` is supported, else why not (a dry run of ``compose``)."""
        if not isinstance(event, Event):
            return f"{type(event).__name__} is not a dp Event"
        try:
            for atomic, _ in flatten(event):
                self._check_atomic(atomic)
        except UnsupportedEventError as err:
            return str(err)
        return None

    def supports(self, event: Event) -> bool:
        """True if ``compose(event)`` would succeed."""
        return self.unsupported_reason(event) is None

    def compose(self, event: Event, count: int = 1) -> Accountant:
        """Record ``event`` repeated ``count`` times; returns self so calls chain."""
        if not isinstance(event, Event):
            raise InvalidParameterError(f"event must be a dp Event, got {type(event).__name__}")
        check_count("count", count)
        pairs = list(flatten(event, count))
        for atomic, n in pairs:
            self._check_atomic(atomic)
            check_count("count of composed events", self._ledger.get(atomic, 0) + n)
        for atomic, n in pairs:
            self._ledger[atomic] = self._ledger.get(atomic, 0) + n
        self._on_change()
        return self

    def _on_change(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Hook for subclasses that cache derived state."""

    @property
    def ledger(self) -> dict[Event, int]:
        """A copy of the composed (atomic event -> count) ledger."""
        return dict(self._ledger)

    def state(self) -> tuple[tuple[Event, int], ...]:
        """The ledger as an immutable value, to save and later ``restore``."""
        return tuple(self._ledger.items())

    def restore(self, state: tuple[tuple[Event, int], ...]) -> Accountant:
        """Replace the ledger with a saved ``state`` (validated like ``compose``)."""
        self._ledger = {}
        for event, count in state:
            self.compose(event, count)
        self._on_change()
        return self

    def _unsupported(self, event: Event, reason: str) -> UnsupportedEventError:
        return UnsupportedEventError(type(self).__name__, event, reason)


def check_delta(delta: float) -> float:
    return check_real("delta", delta, low=0.0, high=1.0)


def check_epsilon(epsilon: float) -> float:
    return check_real("epsilon", epsilon, low=0.0, allow_inf=True)
