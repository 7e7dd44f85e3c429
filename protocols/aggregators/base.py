"""The one interface through which the FedAvg driver sees every protection scheme.

An aggregator takes each surviving client's float update and weight and
returns the weighted mean over the clients it could include, who was
included, and what the step cost. Implementations: `PlainAggregator` here,
`SecAggAggregator` (SecAgg / SecAgg+), `CKKSAggregator` and
`PaillierAggregator`. The driver never branches on which one it holds.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from fedsecure.errors import FedsecureError
from secagg.stage import Stage


class AggregationError(FedsecureError, ValueError):
    """Inputs that no aggregator can accept (ids, lengths, weights)."""


class AggregationAborted(FedsecureError, RuntimeError):
    """The round cannot produce a correct aggregate (e.g. too few survivors).

    The driver reports such a round and skips it; it never uses a partial result.
    """


@dataclass(frozen=True)
class Cost:
    """What one aggregation step cost: bytes each client sent and received, seconds per phase.

    Phase names start with the party: `client.<phase>` is the mean over the
    clients that ran it, `server.<phase>` and `keyholder.<phase>` are totals.
    """

    bytes_up: Mapping[int, int] = field(default_factory=dict)
    bytes_down: Mapping[int, int] = field(default_factory=dict)
    seconds: Mapping[str, float] = field(default_factory=dict)

    def mean_up(self, clients: Iterable[int]) -> float:
        """Mean bytes sent by `clients` (e.g. the included ones)."""
        return _mean(self.bytes_up, clients)

    def mean_down(self, clients: Iterable[int]) -> float:
        """Mean bytes received by `clients`."""
        return _mean(self.bytes_down, clients)


def _mean(table: Mapping[int, int], clients: Iterable[int]) -> float:
    values = [table.get(c, 0) for c in clients]
    return float(np.mean(values)) if values else 0.0


@dataclass(frozen=True)
class AggregationOutcome:
    """The weighted mean over `included` clients, the total weight, and the cost.

    `participants` is how many clients the round's protocol started with (included or not),
    where the aggregator reports it: XNoise's accounting depends on it (`protocols.dpfedavg`).
    """

    mean: np.ndarray
    total_weight: float
    included: tuple[int, ...]
    cost: Cost
    participants: int | None = None


@runtime_checkable
class SecureAggregator(Protocol):
    """One aggregation step: sum_i w_i x_i / sum_i w_i over the clients that make it."""

    name: str

    def aggregate(
        self,
        updates: Mapping[int, np.ndarray],
        weights: Mapping[int, float],
        dropouts: Mapping[int, Stage] | None = None,
    ) -> AggregationOutcome: ...

    def threat_model(self) -> str:
        """One sentence: who must be trusted for what, and what lies outside the guarantee."""
        ...


def check_inputs(
    updates: Mapping[int, np.ndarray],
    weights: Mapping[int, float],
    dropouts: Mapping[int, Stage] | None,
) -> tuple[int, dict[int, Stage]]:
    """Validate one step's inputs; return the vector length and the dropout map.

    Ids are positive ints, updates are finite 1-D float arrays of one length,
    weights are finite and positive, and dropouts name only known clients.
    """
    if not updates:
        raise AggregationError("no client updates given")
    if set(updates) != set(weights):
        raise AggregationError("updates and weights must have the same client ids")
    lengths = set()
    for cid, vector in updates.items():
        if not isinstance(cid, int) or isinstance(cid, bool) or cid < 1:
            raise AggregationError(f"client id {cid!r} is not a positive int")
        if not isinstance(vector, np.ndarray) or vector.ndim != 1:
            raise AggregationError(f"client {cid}: update must be a 1-D numpy array")
        if not np.all(np.isfinite(vector)):
            raise AggregationError(f"client {cid}: update has non-finite values")
        lengths.add(vector.shape[0])
        weight = weights[cid]
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise AggregationError(f"client {cid}: weight {weight!r} is not a real number")
        if not (math.isfinite(weight) and weight > 0):
            raise AggregationError(f"client {cid}: weight {weight!r} must be finite and > 0")
    if len(lengths) != 1:
        raise AggregationError(f"updates have different lengths {sorted(lengths)}")
    drops = dict(dropouts or {})
    unknown = set(drops) - set(updates)
    if unknown:
        raise AggregationError(f"dropouts name unknown clients {sorted(unknown)}")
    for cid, stage in drops.items():
        if not isinstance(stage, Stage):
            raise AggregationError(f"client {cid}: dropout stage {stage!r} is not a Stage")
    return lengths.pop(), drops


def senders(updates: Mapping[int, np.ndarray], drops: Mapping[int, Stage]) -> list[int]:
    """Ids whose update arrives: no dropout, or a dropout after the upload."""
    return sorted(c for c in updates if c not in drops or drops[c].update_sent)


class PlainAggregator:
    """Plaintext FedAvg aggregation: the server sees every update (the baseline).

    Computes the exact weighted mean sum_i n_i x_i / sum_i n_i of McMahan et
    al. (AISTATS 2017, Algorithm 1) in float64 over the clients whose update
    arrived; aborts when fewer than `min_clients` arrive.
    """

    name = "plain"

    def __init__(self, min_clients: int = 1) -> None:
        if min_clients < 1:
            raise AggregationError(f"min_clients must be >= 1, got {min_clients}")
        self.min_clients = min_clients

    def threat_model(self) -> str:
        return "plaintext FedAvg: the server sees every client's update (the unprotected baseline)"

    def aggregate(
        self,
        updates: Mapping[int, np.ndarray],
        weights: Mapping[int, float],
        dropouts: Mapping[int, Stage] | None = None,
    ) -> AggregationOutcome:
        length, drops = check_inputs(updates, weights, dropouts)
        start = time.perf_counter()
        included = senders(updates, drops)
        if len(included) < self.min_clients:
            raise AggregationAborted(f"{len(included)} updates arrived, fewer than min_clients={self.min_clients}")
        total_weight = float(sum(weights[c] for c in included))
        weighted = sum(float(weights[c]) * updates[c].astype(np.float64) for c in included)
        mean = np.asarray(weighted, dtype=np.float64) / total_weight
        return AggregationOutcome(
            mean=mean,
            total_weight=total_weight,
            included=tuple(included),
            cost=Cost(
                bytes_up={c: 4 * length + 8 for c in included},  # float32 + weight
                bytes_down={c: 0 for c in updates},
                seconds={"server.aggregate": time.perf_counter() - start},
            ),
        )
