"""Run n clients and a server in one process, with a dropout schedule.

Every message really crosses the wire format: it is serialized by its sender and
parsed and validated by its receiver, so byte counts are exact and the parsing
code is exercised on every run. The caller chooses, per client, the first round
whose message it never sends (:class:`~secagg.stage.Stage`).
"""

from __future__ import annotations

import hashlib
import operator
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from secagg import crypto
from secagg.config import SessionConfig
from secagg.coordinator import Coordinator
from secagg.errors import ConfigurationError
from secagg.noise import NoiseSampler
from secagg.parallel import ClientPool, ClientSetup, InlineClients, Reply, default_workers
from secagg.stage import Stage


@dataclass(frozen=True)
class AggregateResult:
    """The sum and what it cost.

    ``total``: sum mod 2^modulus_bits of the included clients' inputs.
    ``seconds``: ``client.<round>`` is the mean per client that ran it (its
    protocol work, without parsing and serializing, which ``client.wire``
    reports per message), ``server.<round>`` the server's time including its
    parsing, with ``server.reconstruction`` and ``server.mask_removal``
    splitting the last round. ``forged_shares_from``: clients whose unmasking
    shares were wrong and were corrected (the total is exact all the same).
    """

    total: NDArray[np.uint64]
    included: tuple[int, ...]
    modulus_bits: int
    bytes_sent: Mapping[int, int]
    bytes_received: Mapping[int, int]
    masked_input_bytes: int
    seconds: Mapping[str, float]
    forged_shares_from: tuple[int, ...] = ()

    @property
    def excluded(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.bytes_sent) - set(self.included)))


class _Ledger:
    """Bytes and seconds per party and round."""

    def __init__(self) -> None:
        self.sent: dict[int, int] = defaultdict(int)
        self.received: dict[int, int] = defaultdict(int)
        self._client_seconds: dict[str, list[float]] = defaultdict(list)
        self.seconds: dict[str, float] = {}

    def client(self, stage: Stage, *, compute: float, wire: float) -> None:
        self._client_seconds[f"client.{stage.name.lower()}"].append(compute)
        self._client_seconds["client.wire"].append(wire)

    def server(self, stage: Stage, seconds: float) -> None:
        self.seconds[f"server.{stage.name.lower()}"] = seconds

    def summary(self) -> dict[str, float]:
        means = {name: float(np.mean(values)) for name, values in self._client_seconds.items()}
        return {**means, **self.seconds}


class _Stream:
    """The replies of one stage as (client, frame) pairs, recorded in the ledger as they pass, with the
    seconds the server spent waiting for them (so its own time excludes the clients')."""

    def __init__(self, replies: Iterator[Reply], stage: Stage, ledger: _Ledger) -> None:
        self._replies, self._stage, self._ledger = replies, stage, ledger
        self.waited = 0.0
        self.last_bytes = 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        while True:
            started = time.perf_counter()
            reply = next(self._replies, None)
            self.waited += time.perf_counter() - started
            if reply is None:
                return
            self._ledger.client(self._stage, compute=reply.compute_seconds, wire=reply.wire_seconds)
            self._ledger.sent[reply.client] += len(reply.frame)
            self.last_bytes = len(reply.frame)
            yield reply.client, reply.frame


def simulate(
    inputs: Mapping[int, NDArray[np.integer]],
    *,
    threshold: int,
    degree: int | None = None,
    dropouts: Mapping[int, Stage] | None = None,
    modulus_bits: int = 32,
    active: bool = False,
    seed: int | None = None,
    round_index: int = 0,
    noise: NoiseSampler | None = None,
    workers: int | None = None,
) -> AggregateResult:
    """Securely sum ``inputs`` (client id -> 1-D integer vector in [0, 2^modulus_bits)).

    ``degree=None`` runs SecAgg on the complete graph; an integer runs SecAgg+ on
    a random ``degree``-regular graph, ``threshold`` then counting holders within
    each neighbourhood (the client and its neighbours). ``active=True`` adds
    Ed25519-signed keys and the consistency round. ``seed`` fixes the graph's
    relabelling only; cryptographic secrets always come from the OS. ``noise`` adds XNoise's
    removable noise components (:mod:`secagg.noise`): each client adds ``noise.components``
    of them, and the server removes the excess ones of the survivors.
    In the honest-but-curious setting there is no consistency round, so a client
    scheduled to drop at ``CONSISTENCY_CHECK`` drops before unmasking. ``workers`` processes run
    the clients (:mod:`secagg.parallel`; ``None``: one per core from 2000 clients on, else 1: all
    in this process); the server always runs here, and every message still crosses the wire format.
    Raises :class:`~secagg.errors.TooFewSurvivorsError` when the dropouts leave
    fewer than ``threshold`` holders where they are needed.
    """
    if not isinstance(inputs, Mapping) or not inputs:
        raise ConfigurationError("inputs must be a non-empty mapping of client id -> vector")
    ids = sorted(_client_id(i) for i in inputs)
    lengths = {np.asarray(v).shape for v in inputs.values()}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise ConfigurationError(f"inputs must be 1-D vectors of one length, got shapes {sorted(lengths)}")
    schedule = _check_dropouts(dropouts or {}, ids)
    graph_seed = None if seed is None else hashlib.sha256(b"secagg/simulate" + str(seed).encode()).digest()
    config = SessionConfig.create(
        ids,
        threshold=threshold,
        vector_length=next(iter(lengths))[0],
        degree=degree,
        modulus_bits=modulus_bits,
        active=active,
        round_index=round_index,
        graph_seed=graph_seed,
        noise_components=0 if noise is None else noise.components,
    )
    signing = {u: crypto.generate_signing_key() for u in ids} if active else {}
    verify = {u: key.public_key() for u, key in signing.items()} if active else None
    setup = ClientSetup(config, {_client_id(u): np.asarray(v) for u, v in inputs.items()}, signing, verify, noise)
    count = default_workers(len(ids)) if workers is None else _client_id(workers)
    if count < 1:
        raise ConfigurationError(f"workers must be at least 1, got {count}")
    coordinator = Coordinator(config, verify_keys=verify, noise=noise)
    ledger = _Ledger()
    masked_input_bytes = 0
    for u in ids:
        ledger.sent[u] += 0
    with InlineClients(setup) if count == 1 else ClientPool(setup, count) as runner:
        while (exchange := coordinator.pending) is not None:
            stage, speaking = exchange.stage, {}
            for u, frame in exchange.frames.items():
                ledger.received[u] += len(frame or b"")
                if u not in schedule or schedule[u] > stage:  # else dropped: silent now and later
                    speaking[u] = frame
            del exchange  # the requests live on in the runner only until it has sent them
            stream = _Stream(runner.run(stage, speaking), stage, ledger)
            del speaking
            started = time.perf_counter()
            coordinator.receive(stream)  # parses each reply as it arrives, while the workers go on
            ledger.server(stage, time.perf_counter() - started - stream.waited)
            if stage == Stage.MASKED_INPUT:
                masked_input_bytes = stream.last_bytes
            del stream  # a round's replies are released once the server has parsed them
    outcome = coordinator.result
    seconds = ledger.summary()
    seconds["server.reconstruction"] = outcome.reconstruction_seconds
    seconds["server.mask_removal"] = outcome.mask_removal_seconds
    return AggregateResult(
        total=outcome.total,
        included=outcome.included,
        modulus_bits=modulus_bits,
        bytes_sent=dict(ledger.sent),
        bytes_received={u: ledger.received.get(u, 0) for u in ids},
        masked_input_bytes=masked_input_bytes,
        seconds=seconds,
        forged_shares_from=outcome.forged_shares_from,
    )


def _client_id(value: object) -> int:
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigurationError(f"client ids must be integers, got {value!r}") from None


def _check_dropouts(dropouts: Mapping[int, Stage], ids: list[int]) -> dict[int, Stage]:
    schedule = {}
    for client, stage in dropouts.items():
        u = _client_id(client)
        if u not in ids:
            raise ConfigurationError(f"dropout schedule names unknown client {u}")
        if not isinstance(stage, Stage):
            raise ConfigurationError(f"dropout stage of client {u} must be a secagg.Stage, got {stage!r}")
        schedule[u] = stage
    return schedule
