"""Name -> aggregator construction for the command line and the benchmark.

This is the only place that knows the concrete aggregator classes; the
FedAvg loop receives whatever is built here through `SecureAggregator`.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.aggregators.base import PlainAggregator, SecureAggregator

BACKENDS = ("plain", "secagg", "secagg+", "ckks", "paillier")


class BackendError(ValueError):
    """A backend name or option that cannot be honoured."""


@dataclass(frozen=True)
class BackendOptions:
    """Options shared by the backends; each backend reads the ones it needs."""

    clients_per_round: int
    threshold: int | None = None
    degree: int | None = None
    modulus_bits: int = 32
    active: bool = False
    clip: float = 4.0


def build_aggregator(name: str, options: BackendOptions) -> SecureAggregator:
    """Construct the aggregator called `name`, validating its options up front."""
    if name == "plain":
        return PlainAggregator(min_clients=options.threshold or 1)
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
