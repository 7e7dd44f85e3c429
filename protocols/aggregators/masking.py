"""Pairwise-masking secure aggregation over `secagg`: SecAgg and SecAgg+.

Each round runs the full protocol (Bonawitz et al., CCS 2017, Sec. 4: keys,
shares, masked inputs, consistency check, unmasking; or SecAgg+ of Bell et
al., CCS 2020, over a sparse random graph of the given degree) through
`secagg.simulate`, so clients can drop at any stage. Updates go through a
codec into Z_{2^k}: by default `secagg.FixedPointCodec` (clip, round, with
headroom for `max_clients` summands); distributed DP swaps in a codec that
also adds integer noise on the client. A codec planned per round (`RoundCodec`,
e.g. XNoise's `dp.XNoiseSkellam`) gives each round's codec for its client count,
and when that codec is also a `secagg.NoiseSampler` its removable noise components
travel through the protocol (Dordis, Jiang et al. EuroSys 2024, Sec. 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np

import secagg
from protocols.aggregators.base import (
    AggregationAborted,
    AggregationError,
    AggregationOutcome,
    Cost,
    Stage,
    check_inputs,
)
from protocols.aggregators.weighting import client_vector, weight_scale, weighted_mean


class Codec(Protocol):
    """Float vector <-> Z_{2^k} words, with a decoder for sums of encodings."""

    @property
    def modulus_bits(self) -> int: ...

    def encode(self, values: np.ndarray) -> np.ndarray: ...

    def decode_sum(self, total: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class RoundCodec(Protocol):
    """A codec that depends on the round's client count (XNoise plans its noise for it)."""

    @property
    def modulus_bits(self) -> int: ...

    def round(self, clients: int) -> Codec: ...


default_degree = secagg.recommended_degree
"""SecAgg+'s degree for n clients: 2 ceil(log2 n), at most n - 1 (see `secagg.recommended_degree`)."""


class SecAggAggregator:
    """SecAgg (`degree=None`, complete graph) or SecAgg+ (`degree=k`) inside FedAvg.

    `threshold=None` takes `secagg.default_threshold` for the holders each
    client has (n, or degree + 1). Instead of a raw degree and threshold, a threat
    model (`corrupt_rate`, `dropout_rate`, `adversary`) sizes SecAgg+ for each
    round's client count through `secagg.graph_parameters` (Bell et al. 2020,
    Sec. 3-4); an infeasible one is refused at construction. `max_clients` sizes the codec's headroom
    and is checked up front, so a bit width too small for the clients' sum
    fails at construction. Costs come from the protocol run: bytes sent and
    received per client, seconds per protocol phase.

    With `protect_weights=True` (default) the weight travels inside the sum
    (see `weighting`), so `clip` must be >= 1; a `codec` (e.g. distributed DP's
    `dp.DistributedDiscreteGaussian`) replaces the fixed-point codec and must
    work modulo the same 2^modulus_bits.
    """

    def __init__(
        self,
        max_clients: int,
        *,
        degree: int | None = None,
        threshold: int | None = None,
        modulus_bits: int = 32,
        active: bool = False,
        clip: float = 4.0,
        codec: Codec | RoundCodec | None = None,
        weight_bound: float | None = None,
        protect_weights: bool = True,
        corrupt_rate: float | None = None,
        dropout_rate: float | None = None,
        adversary: str | None = None,
    ) -> None:
        if max_clients < 2:
            raise AggregationError(f"secure aggregation needs at least 2 clients, got {max_clients}")
        if degree is not None and not 1 <= degree < max_clients:
            raise AggregationError(f"degree must lie in [1, {max_clients - 1}], got {degree}")
        if protect_weights and codec is None and clip < 1.0:
            raise AggregationError("clip must be >= 1 so the normalized weight slot fits")
        self.degree = degree
        self.active = active
        self._threshold = threshold
        self._corrupt_rate, self._dropout_rate, self._adversary = corrupt_rate, dropout_rate, adversary
        try:
            self.session_plan = self.plan(max_clients)
        except secagg.ConfigurationError as exc:
            raise AggregationError(str(exc)) from exc
        self.threshold = self.session_plan.threshold
        sized = degree is not None or self.session_plan.derived_from is not None
        self.name = "secagg+" if sized else "secagg"
        self.max_clients = max_clients
        self.modulus_bits = modulus_bits
        self.codec: Codec | RoundCodec = codec or secagg.FixedPointCodec(clip, max_clients, modulus_bits)
        if self.codec.modulus_bits != modulus_bits:
            raise AggregationError(f"codec works mod 2^{self.codec.modulus_bits}, the protocol mod 2^{modulus_bits}")
        self.weight_bound = weight_bound
        self.protect_weights = protect_weights

    def threat_model(self) -> str:
        return self.session_plan.threat_model()

    def plan(self, clients: int) -> secagg.SessionPlan:
        """The session plan for a round with `clients` participants (`secagg.plan_session`), from the
        raw degree and threshold or from the threat model.

        Raises `secagg.ConfigurationError` when the threshold cannot serve that many clients.
        """
        return secagg.plan_session(
            clients,
            degree=self.degree,
            threshold=self._threshold,
            active=self.active,
            corrupt_rate=self._corrupt_rate,
            dropout_rate=self._dropout_rate,
            adversary=self._adversary,
        )

    def aggregate(
        self,
        updates: Mapping[int, np.ndarray],
        weights: Mapping[int, float],
        dropouts: Mapping[int, Stage] | None = None,
    ) -> AggregationOutcome:
        _, drops = check_inputs(updates, weights, dropouts)
        if len(updates) > self.max_clients:
            raise AggregationError(f"{len(updates)} clients exceed max_clients={self.max_clients}")
        try:
            plan = self.plan(len(updates))
        except secagg.ConfigurationError as exc:
            raise AggregationAborted(f"{len(updates)} clients this round: {exc}") from exc
        scale = weight_scale(weights, self.weight_bound)
        codec = self.codec.round(len(updates)) if isinstance(self.codec, RoundCodec) else self.codec
        inputs = {
            c: codec.encode(client_vector(u, weights[c], scale, self.protect_weights)) for c, u in updates.items()
        }
        try:
            result = secagg.simulate(
                inputs,
                threshold=plan.threshold,
                degree=plan.degree,
                dropouts=drops,
                modulus_bits=self.modulus_bits,
                active=self.active,
                noise=codec if isinstance(codec, secagg.NoiseSampler) else None,
            )
        except (secagg.TooFewSurvivorsError, secagg.ForgedSharesError) as exc:
            raise AggregationAborted(str(exc)) from exc
        included = tuple(sorted(result.included))
        mean, total_weight = weighted_mean(
            codec.decode_sum(result.total),
            sum(weights[c] for c in included),
            scale,
            self.protect_weights,
        )
        return AggregationOutcome(
            mean=mean,
            total_weight=total_weight,
            included=included,
            cost=Cost(
                bytes_up=dict(result.bytes_sent),
                bytes_down=dict(result.bytes_received),
                seconds=dict(result.seconds),
            ),
            participants=len(updates),
        )
