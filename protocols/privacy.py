"""How the driver treats privacy: one small interface, no branching on the mechanism.

`NoPrivacy` is plain FedAvg (weights are sample counts, nothing clipped,
nothing noised). The DP-FedAvg mechanisms (McMahan et al., ICLR 2018) live in
`protocols.dpfedavg` and implement the same calls.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from protocols.aggregators.base import AggregationOutcome


class Privacy(Protocol):
    """The privacy side of a FedAvg run, called by the driver in this order."""

    name: str
    accounts_sampling: bool
    """Whether the reported epsilon is amplified by client sampling, which assumes the sample is
    secret: the driver then samples from the OS CSPRNG unless told otherwise."""

    def describe(self) -> dict[str, object]:
        """Parameters worth recording in the history (clip, noise, delta, ...)."""
        ...

    def check(self, sample_rate: float | None) -> None:
        """Before round 1: refuse a client-sampling scheme it cannot account.

        `sample_rate` is q for Poisson client sampling, 1.0 when every client
        takes part every round, None for fixed-size sampling of a subset.
        """
        ...

    def client_weight(self, samples: int) -> float:
        """The weight a client with `samples` examples carries in the mean."""
        ...

    def prepare(self, update: np.ndarray) -> np.ndarray:
        """Client side, before protection: e.g. clip to the L2 bound."""
        ...

    def release(self, outcome: AggregationOutcome) -> np.ndarray:
        """Server side: the mean update to apply (central noise is added here)."""
        ...

    def account(self, outcome: AggregationOutcome, sample_rate: float) -> float | None:
        """Record one released round; return epsilon spent so far (None: no DP)."""
        ...


class NoPrivacy:
    """FedAvg weighted by sample counts (McMahan et al., AISTATS 2017), no DP."""

    name = "none"
    accounts_sampling = False

    def describe(self) -> dict[str, object]:
        return {}

    def check(self, sample_rate: float | None) -> None:
        return None

    def client_weight(self, samples: int) -> float:
        return float(samples)

    def prepare(self, update: np.ndarray) -> np.ndarray:
        return update

    def release(self, outcome: AggregationOutcome) -> np.ndarray:
        return outcome.mean

    def account(self, outcome: AggregationOutcome, sample_rate: float) -> float | None:
        return None
