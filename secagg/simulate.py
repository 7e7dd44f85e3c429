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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from secagg import crypto
from secagg.client import Client
from secagg.config import SessionConfig
from secagg.envelope import Upload
from secagg.errors import ConfigurationError
from secagg.messages import (
    AdvertiseKeys,
    ConsistencySignature,
    EncryptedShares,
    KeyDirectory,
    MaskedInput,
    ShareInbox,
    SurvivorList,
    UnmaskingShares,
    UnmaskRequest,
)
from secagg.server import Server
from secagg.stage import Stage

T = TypeVar("T")


Parsed = TypeVar("Parsed", bound=Upload)
In = TypeVar("In")


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

    def server(self, stage: Stage, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        result = work()
        self.seconds[f"server.{stage.name.lower()}"] = time.perf_counter() - started
        return result

    def summary(self) -> dict[str, float]:
        means = {name: float(np.mean(values)) for name, values in self._client_seconds.items()}
        return {**means, **self.seconds}


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
) -> AggregateResult:
    """Securely sum ``inputs`` (client id -> 1-D integer vector in [0, 2^modulus_bits)).

    ``degree=None`` runs SecAgg on the complete graph; an integer runs SecAgg+ on
    a random ``degree``-regular graph, ``threshold`` then counting holders within
    each neighbourhood (the client and its neighbours). ``active=True`` adds
    Ed25519-signed keys and the consistency round. ``seed`` fixes the graph's
    relabelling only; cryptographic secrets always come from the OS.
    In the honest-but-curious setting there is no consistency round, so a client
    scheduled to drop at ``CONSISTENCY_CHECK`` drops before unmasking.
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
    )
    signing = {u: crypto.generate_signing_key() for u in ids} if active else {}
    verify = {u: key.public_key() for u, key in signing.items()} if active else None
    clients = {u: Client(u, config, signing_key=signing.get(u), verify_keys=verify) for u in ids}
    server = Server(config, verify_keys=verify)
    ledger = _Ledger()
    vectors = {_client_id(u): v for u, v in inputs.items()}

    def speaks(u: int, stage: Stage) -> bool:
        return u not in schedule or schedule[u] > stage

    def upload(
        stage: Stage,
        senders: list[int],
        parse: Callable[[int], In],
        act: Callable[[int, In], Upload],
    ) -> dict[int, bytes]:
        """Each sender still online parses what it got, runs its round and serializes the reply."""
        frames = {}
        for u in senders:
            if speaks(u, stage):
                started = time.perf_counter()
                incoming = parse(u)
                parsed = time.perf_counter()
                outgoing = act(u, incoming)
                acted = time.perf_counter()
                frame = outgoing.to_bytes(config)
                ledger.client(stage, compute=acted - parsed, wire=parsed - started + time.perf_counter() - acted)
                ledger.sent[u] += len(frame)
                frames[u] = frame
        return frames

    def deliver(frames: Mapping[int, bytes]) -> None:
        for u, frame in frames.items():
            ledger.received[u] += len(frame)

    for u in ids:
        ledger.sent[u] += 0

    def serve(stage: Stage, kind: type[Parsed], frames: dict[int, bytes], step: Callable[[list[Parsed]], T]) -> T:
        """The server parses what arrived for ``stage``, each frame against its sender, and runs its step."""
        return ledger.server(stage, lambda: step([kind.from_bytes(f, config, sender=u) for u, f in frames.items()]))

    def frames(messages: Mapping[int, KeyDirectory | ShareInbox]) -> dict[int, bytes]:
        return {u: m.to_bytes(config) for u, m in messages.items()}

    stage = Stage.ADVERTISE_KEYS
    up = upload(stage, ids, lambda u: None, lambda u, _: clients[u].advertise_keys())
    down = serve(stage, AdvertiseKeys, up, lambda msgs: frames(server.advertise_keys(msgs)))
    deliver(down)

    stage = Stage.SHARE_KEYS
    up = upload(
        stage,
        list(down),
        lambda u: KeyDirectory.from_bytes(down[u], config, receiver=u),
        lambda u, directory: clients[u].share_keys(directory),
    )
    down = serve(stage, EncryptedShares, up, lambda msgs: frames(server.share_keys(msgs)))
    deliver(down)

    stage = Stage.MASKED_INPUT
    up = upload(
        stage,
        list(down),
        lambda u: ShareInbox.from_bytes(down[u], config, receiver=u),
        lambda u, inbox: clients[u].masked_input(inbox, np.asarray(vectors[u])),
    )
    masked_input_bytes = len(next(iter(up.values()))) if up else 0
    survivors = serve(stage, MaskedInput, up, server.masked_input)

    if active:
        stage = Stage.CONSISTENCY_CHECK
        frame = survivors.to_bytes(config)
        deliver({u: frame for u in survivors.survivors})
        up = upload(
            stage,
            list(survivors.survivors),
            lambda u: SurvivorList.from_bytes(frame, config, receiver=u),
            lambda u, survivor_list: clients[u].consistency_check(survivor_list),
        )
        serve(stage, ConsistencySignature, up, server.consistency_check)

    stage = Stage.UNMASKING
    request, recipients = server.unmask_request()
    frame = request.to_bytes(config)
    deliver({u: frame for u in recipients})
    up = upload(
        stage,
        list(recipients),
        lambda u: UnmaskRequest.from_bytes(frame, config, receiver=u),
        lambda u, unmask_request: clients[u].unmask(unmask_request),
    )
    outcome = serve(stage, UnmaskingShares, up, server.unmask)

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
