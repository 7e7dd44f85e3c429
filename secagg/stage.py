"""The rounds of the protocol, in order (Bonawitz et al. CCS 2017, Fig. 4)."""

from __future__ import annotations

import enum


class Stage(enum.IntEnum):
    """A protocol round. Used to name where a client drops out.

    A client mapped to a stage in a dropout schedule never sends its message for
    that round, nor for any later one.
    """

    ADVERTISE_KEYS = 0
    SHARE_KEYS = 1
    MASKED_INPUT = 2
    CONSISTENCY_CHECK = 3
    UNMASKING = 4
