"""Name -> aggregator construction for the command line and the benchmark.

This is the only place that knows the concrete aggregator classes; the
FedAvg loop receives whatever is built here through `SecureAggregator`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedsecure.errors import FedsecureError
from protocols.aggregators.base import PlainAggregator, SecureAggregator
from protocols.aggregators.homomorphic import ckks_aggregator, paillier_aggregator
from protocols.aggregators.masking import Codec, SecAggAggregator, default_degree

BACKENDS = ("plain", "secagg", "secagg+", "ckks", "paillier")


class BackendError(FedsecureError, ValueError):
    """A backend name or option that cannot be honoured."""


@dataclass(frozen=True)
class BackendOptions:
    """Options shared by the backends; each backend reads the ones it needs.

    `clip=None` takes each backend's default per-coordinate clip (4 for the
    fixed-point codec of SecAgg, 1 for CKKS and Paillier). `codec` replaces
    SecAgg's fixed-point codec (distributed DP); `protect_weights=False` when
    the weights are public by construction (DP-FedAvg's equal weights).
    """

    clients_per_round: int
    threshold: int | None = None
    degree: int | None = None
    modulus_bits: int = 32
    active: bool = False
    clip: float | None = None
    codec: Codec | None = None
    protect_weights: bool = True


def build_aggregator(name: str, options: BackendOptions) -> SecureAggregator:
    """Construct the aggregator called `name`, validating its options up front."""
    n = options.clients_per_round
    if options.codec is not None and name not in ("secagg", "secagg+"):
        raise BackendError(f"distributed DP needs a masking backend (secagg, secagg+), not {name}")
    if options.degree is not None and name != "secagg+":
        raise BackendError("--degree applies to the secagg+ backend only")
    if name == "plain":
        return PlainAggregator(min_clients=options.threshold or 1)
    if name in ("secagg", "secagg+"):
        return SecAggAggregator(
            n,
            degree=None if name == "secagg" else options.degree or default_degree(n),
            threshold=options.threshold,
            modulus_bits=options.modulus_bits,
            active=options.active,
            clip=options.clip or 4.0,
            codec=options.codec,
            protect_weights=options.protect_weights,
        )
    if name == "ckks":
        return ckks_aggregator(
            n, clip=options.clip or 1.0, min_clients=options.threshold or 1, protect_weights=options.protect_weights
        )
    if name == "paillier":
        return paillier_aggregator(
            n, clip=options.clip or 1.0, min_clients=options.threshold or 1, protect_weights=options.protect_weights
        )
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
