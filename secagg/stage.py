"""The rounds of the protocol, in order (Bonawitz et al. CCS 2017, Fig. 4)."""

from __future__ import annotations

import enum

from secagg.errors import StateError


class Stage(enum.IntEnum):
    """A protocol round. Used to name where a client drops out, in `secagg.simulate`
    and in the FedAvg driver alike.

    A client mapped to a stage in a dropout schedule never sends its message for
    that round, nor for any later one.
    """

    ADVERTISE_KEYS = 0
    SHARE_KEYS = 1
    MASKED_INPUT = 2
    CONSISTENCY_CHECK = 3
    UNMASKING = 4

    @property
    def update_sent(self) -> bool:
        """Whether a client dropping here has already sent its (masked or encrypted) update.

        One dropping at MASKED_INPUT or earlier contributes nothing; one dropping at
        CONSISTENCY_CHECK or UNMASKING is included. Schemes with fewer rounds
        (plaintext, HE) read every stage up to MASKED_INPUT as "update never arrives".
        """
        return self > Stage.MASKED_INPUT


class StageTracker:
    """Enforces the order of rounds for one party; the consistency round exists only when active."""

    def __init__(self, party: str, active: bool, expecting: Stage | None = Stage.ADVERTISE_KEYS) -> None:
        self._party = party
        self._active = active
        self._next = expecting

    @property
    def expecting(self) -> Stage | None:
        """The round that may run next (``None`` once the session is over)."""
        return self._next

    def enter(self, stage: Stage) -> None:
        """Start ``stage`` or raise :class:`~secagg.errors.StateError` if it is out of order."""
        if self._next != stage:
            expected = self._next.name if self._next is not None else "nothing (session finished)"
            raise StateError(f"{self._party}: {stage.name} called while expecting {expected}")
        if stage == Stage.UNMASKING:
            self._next = None
        elif stage == Stage.MASKED_INPUT and not self._active:
            self._next = Stage.UNMASKING
        else:
            self._next = Stage(stage + 1)
