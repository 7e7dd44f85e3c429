"""How the driver treats privacy: one small interface, no branching on the mechanism.

`NoPrivacy` is plain FedAvg (weights are sample counts, nothing clipped,
nothing noised). The DP-FedAvg mechanisms (McMahan et al., ICLR 2018) live in
`protocols.dpfedavg` and implement the same four calls.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from protocols.aggregators.base import AggregationOutcome


class Privacy(Protocol):
    """The privacy side of a FedAvg round, called in this order by the driver."""

    name: str

    def client_weight(self, samples: int) -> float:
        """The weight a client with `samples` examples carries in the mean."""
        ...

    def prepare(self, update: np.ndarray) -> np.ndarray:
        """Client side, before protection: e.g. clip to the L2 bound."""
        ...

    def release(self, outcome: AggregationOutcome, sampled: int) -> np.ndarray:
        """Server side: the mean update to apply (central noise is added here)."""
        ...

    def account(self, outcome: AggregationOutcome, sampled: int, population: int) -> float | None:
        """Record one released round; return epsilon spent so far (None: no DP)."""
        ...


class NoPrivacy:
    """FedAvg weighted by sample counts (McMahan et al., AISTATS 2017), no DP."""

    name = "none"

    def client_weight(self, samples: int) -> float:
        return float(samples)

    def prepare(self, update: np.ndarray) -> np.ndarray:
        return update

    def release(self, outcome: AggregationOutcome, sampled: int) -> np.ndarray:
        return outcome.mean

    def account(self, outcome: AggregationOutcome, sampled: int, population: int) -> float | None:
        return None
