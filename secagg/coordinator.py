"""One session as a transport-free exchange machine: frames out, frames in, in the paper's round order.

Every runner moves the same exchanges (Bonawitz et al. CCS 2017, Fig. 4; SecAgg+ of Bell et al.
CCS 2020 on a sparse graph): the in-process simulator, the FedAvg driver through it, and the Flower
workflow and client mod. The stage sequence is written here once:

* server side, :class:`Coordinator` wraps :class:`~secagg.server.Server`: ``pending`` is the
  exchange to carry next (a frame per client, ``None`` where the client starts the round), and
  ``receive(replies)`` parses each reply against the client it came from, treats a missing or
  unparseable reply as that client's dropout at this stage, runs the server's round and sets up the
  next exchange, until :attr:`Coordinator.result` holds the unmasked sum. The paper's abort rules surface as the
  server's typed errors (:class:`~secagg.errors.TooFewSurvivorsError`, ...).
* client side, :func:`respond` answers one frame with the reply of the round the client expects
  (:func:`incoming` and :func:`act` are its two halves, for runners that time them apart).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from numpy.typing import NDArray

from secagg.client import Client
from secagg.config import SessionConfig
from secagg.envelope import Download, Upload
from secagg.errors import InvalidMessageError, ProtocolError, StateError
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
from secagg.noise import NoiseSampler
from secagg.server import Server, UnmaskedSum
from secagg.stage import Stage

UPLOADS: Mapping[Stage, type[Upload]] = {
    Stage.ADVERTISE_KEYS: AdvertiseKeys,
    Stage.SHARE_KEYS: EncryptedShares,
    Stage.MASKED_INPUT: MaskedInput,
    Stage.CONSISTENCY_CHECK: ConsistencySignature,
    Stage.UNMASKING: UnmaskingShares,
}
"""The client message that answers each stage."""

DOWNLOADS: Mapping[Stage, type[Download]] = {
    Stage.SHARE_KEYS: KeyDirectory,
    Stage.MASKED_INPUT: ShareInbox,
    Stage.CONSISTENCY_CHECK: SurvivorList,
    Stage.UNMASKING: UnmaskRequest,
}
"""The server message that opens each stage (the first stage opens without one)."""


@dataclass(frozen=True)
class Exchange:
    """One stage's messages from the server: a frame per client (``None``: the client opens the round)."""

    stage: Stage
    frames: Mapping[int, bytes | None]


@dataclass
class Coordinator:
    """The server's side of one session over frames; see the module docstring."""

    config: SessionConfig
    verify_keys: Mapping[int, Ed25519PublicKey] | None = None
    noise: NoiseSampler | None = None
    """The sampler of an XNoise session's removable noise (:mod:`secagg.noise`)."""
    failures: list[tuple[int, Stage, ProtocolError]] = field(default_factory=list)
    """Replies refused at parsing (that client's dropout at that stage), in arrival order."""

    def __post_init__(self) -> None:
        self.server = Server(self.config, verify_keys=self.verify_keys, noise=self.noise)
        self._pending: Exchange | None = Exchange(Stage.ADVERTISE_KEYS, dict.fromkeys(self.config.client_ids))
        self._result: UnmaskedSum | None = None

    @property
    def result(self) -> UnmaskedSum:
        """The unmasked sum, once :attr:`pending` is ``None``."""
        if self._result is None:
            raise StateError("coordinator: the sum is not unmasked yet")
        return self._result

    @property
    def pending(self) -> Exchange | None:
        """The exchange the transport must carry next; ``None`` once the sum is unmasked."""
        return self._pending

    def receive(self, replies: Mapping[int, bytes] | Iterable[tuple[int, bytes]]) -> None:
        """The replies to :attr:`pending`, by client (a mapping, or pairs streamed as they arrive: each frame
        is parsed and may be released at once); a client without a reply dropped at this stage."""
        exchange = self._pending
        if exchange is None:
            raise StateError("coordinator: the session is over")
        stage, asked = exchange.stage, set(exchange.frames)
        self._pending = exchange = None  # the stage's requests are released as soon as the transport has sent them
        pairs = replies.items() if isinstance(replies, Mapping) else replies
        self._pending = self._step(stage, self._parsed(stage, asked, pairs))

    def _parsed(self, stage: Stage, asked: set[int], replies: Iterable[tuple[int, bytes]]) -> Iterator[Any]:
        """Each reply parsed as it comes; one that does not parse is that client's dropout (:attr:`failures`)."""
        kind = UPLOADS[stage]
        for client, frame in replies:
            try:
                if client not in asked:
                    raise InvalidMessageError(f"{kind.__name__}: client {client} was not asked at this stage")
                message = kind.from_bytes(frame, self.config, sender=client)
            except InvalidMessageError as exc:
                self.failures.append((client, stage, exc))
                continue
            yield message

    def _step(self, stage: Stage, messages: Iterator[Any]) -> Exchange | None:
        """The server's round on the stage's messages (Round 2 sums them as they stream in; the others
        need them all) and the exchange that follows."""
        server, config = self.server, self.config
        if stage == Stage.ADVERTISE_KEYS:
            return _opening(Stage.SHARE_KEYS, server.advertise_keys(list(messages)), config)
        if stage == Stage.SHARE_KEYS:
            return _opening(Stage.MASKED_INPUT, server.share_keys(list(messages)), config)
        if stage == Stage.MASKED_INPUT:
            survivors = server.masked_input(messages)
            if config.active:
                frame = survivors.to_bytes(config)
                return Exchange(Stage.CONSISTENCY_CHECK, dict.fromkeys(survivors.survivors, frame))
            return self._unmask_request()
        if stage == Stage.CONSISTENCY_CHECK:
            server.consistency_check(list(messages))
            return self._unmask_request()
        self._result = server.unmask(list(messages))
        return None

    def _unmask_request(self) -> Exchange:
        frames: dict[int, bytes] = {}
        serialized: dict[int, bytes] = {}  # the active setting's one request is serialized once
        for client, request in self.server.unmask_requests().items():
            if id(request) not in serialized:
                serialized[id(request)] = request.to_bytes(self.config)
            frames[client] = serialized[id(request)]
        return Exchange(Stage.UNMASKING, frames)


def _opening(stage: Stage, messages: Mapping[int, Download], config: SessionConfig) -> Exchange:
    return Exchange(stage, {client: message.to_bytes(config) for client, message in messages.items()})


Vector = Callable[[], NDArray[np.integer]]
"""The client's input, asked for only when the masked-input round needs it (after local training)."""


def incoming(client: Client, frame: bytes | None) -> Download | None:
    """The server's frame parsed as the message of the round ``client`` expects (``None`` opens Round 0)."""
    stage = client.expecting
    if stage is None:
        raise StateError(f"client {client.id}: the session is over")
    if stage == Stage.ADVERTISE_KEYS:
        if frame is not None:
            raise InvalidMessageError(f"client {client.id}: the key advertisement round opens without a message")
        return None
    if frame is None:
        raise InvalidMessageError(f"client {client.id}: {stage.name} needs the server's message")
    return DOWNLOADS[stage].from_bytes(frame, client.config, receiver=client.id)


def act(client: Client, message: Download | None, vector: Vector) -> Upload:
    """Run the round ``client`` expects on the parsed server message; returns the reply."""
    stage = client.expecting
    if stage == Stage.ADVERTISE_KEYS:
        return client.advertise_keys()
    if isinstance(message, KeyDirectory) and stage == Stage.SHARE_KEYS:
        return client.share_keys(message)
    if isinstance(message, ShareInbox) and stage == Stage.MASKED_INPUT:
        return client.masked_input(message, vector())
    if isinstance(message, SurvivorList) and stage == Stage.CONSISTENCY_CHECK:
        return client.consistency_check(message)
    if isinstance(message, UnmaskRequest) and stage == Stage.UNMASKING:
        return client.unmask(message)
    raise StateError(f"client {client.id}: {type(message).__name__} does not open {stage}")


def respond(client: Client, frame: bytes | None, vector: Vector) -> bytes:
    """Answer one server frame with the serialized reply of the round the client expects."""
    return act(client, incoming(client, frame), vector).to_bytes(client.config)
