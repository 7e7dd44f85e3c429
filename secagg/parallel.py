"""The simulated clients, in this process or spread over worker processes (both cores, no pickle).

:func:`secagg.simulate` hands each stage's frames to a :class:`ClientRunner` and gets back each
speaking client's reply frame with the seconds it spent. :class:`InlineClients` runs the clients
here; :class:`ClientPool` forks worker processes that each build and keep their own share of the
clients (the inputs are inherited at fork, not copied) and answer batches of frames over pipes.
Batches are plain length-prefixed bytes: ``stage (u8) | count (u32) | (client u32, length u32,
frame)*``, a length of 2^32 - 1 standing for "no frame" (the client opens the round). A protocol
error in a worker travels back as its class name and message and is raised again here, so a
failing client fails the simulation exactly as in one process.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from numpy.typing import NDArray

from secagg import errors
from secagg.client import Client
from secagg.config import SessionConfig
from secagg.coordinator import act, incoming
from secagg.noise import NoiseSampler
from secagg.stage import Stage

_NO_FRAME = 0xFFFFFFFF
_ITEM = struct.Struct("<II")
_REPLY = struct.Struct("<IIdd")
_CHUNK = 2048
"""Clients per batch: small enough to keep both workers busy and the pipes' memory bounded."""


@dataclass(frozen=True)
class Reply:
    """One client's answer to a stage, with its protocol work and its (de)serialization seconds."""

    client: int
    frame: bytes
    compute_seconds: float
    wire_seconds: float


class ClientRunner(Protocol):
    def run(self, stage: Stage, frames: Mapping[int, bytes | None]) -> Iterator[Reply]: ...


@dataclass(frozen=True)
class ClientSetup:
    """What every simulated client is built from."""

    config: SessionConfig
    vectors: Mapping[int, NDArray[np.integer]]
    signing: Mapping[int, Ed25519PrivateKey]
    verify: Mapping[int, Ed25519PublicKey] | None
    noise: NoiseSampler | None

    def build(self, ids: Sequence[int]) -> dict[int, Client]:
        return {
            u: Client(u, self.config, signing_key=self.signing.get(u), verify_keys=self.verify, noise=self.noise)
            for u in ids
        }


def _answer(client: Client, frame: bytes | None, vector: NDArray[np.integer]) -> Reply:
    """The client's reply and its CPU seconds (not wall time: the workers share the cores with the server)."""
    started = time.process_time()
    message = incoming(client, frame)
    parsed = time.process_time()
    reply = act(client, message, lambda: vector)
    acted = time.process_time()
    data = reply.to_bytes(client.config)
    return Reply(client.id, data, acted - parsed, parsed - started + time.process_time() - acted)


class InlineClients:
    """Every client in this process."""

    def __init__(self, setup: ClientSetup) -> None:
        self._setup = setup
        self._clients = setup.build(sorted(setup.vectors))

    def run(self, stage: Stage, frames: Mapping[int, bytes | None]) -> Iterator[Reply]:
        for u, frame in frames.items():
            yield _answer(self._clients[u], frame, self._setup.vectors[u])

    def __enter__(self) -> InlineClients:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _encode(stage: Stage, items: Sequence[tuple[int, bytes | None]]) -> bytes:
    parts = [struct.pack("<BI", stage, len(items))]
    for u, frame in items:
        parts.append(_ITEM.pack(u, _NO_FRAME if frame is None else len(frame)))
        if frame is not None:
            parts.append(frame)
    return b"".join(parts)


def _decode(data: bytes) -> tuple[Stage, list[tuple[int, bytes | None]]]:
    stage, count = struct.unpack_from("<BI", data)
    view, at = memoryview(data), 5
    items: list[tuple[int, bytes | None]] = []
    for _ in range(count):
        u, size = _ITEM.unpack_from(data, at)
        at += _ITEM.size
        if size == _NO_FRAME:
            items.append((u, None))
        else:
            items.append((u, bytes(view[at : at + size])))
            at += size
    return Stage(stage), items


def _encode_replies(replies: Sequence[Reply]) -> bytes:
    parts = [b"\x00", struct.pack("<I", len(replies))]
    for r in replies:
        parts.append(_REPLY.pack(r.client, len(r.frame), r.compute_seconds, r.wire_seconds))
        parts.append(r.frame)
    return b"".join(parts)


def _decode_replies(data: bytes) -> list[Reply]:
    if data[:1] == b"\x01":  # an error: "class name\nmessage"
        name, _, message = data[1:].decode().partition("\n")
        error = getattr(errors, name, None)
        if not (isinstance(error, type) and issubclass(error, errors.ProtocolError)):
            raise RuntimeError(f"a client worker failed: {name}: {message}")
        raise error(message)
    (count,) = struct.unpack_from("<I", data, 1)
    view, at, replies = memoryview(data), 5, []
    for _ in range(count):
        u, size, compute, wire = _REPLY.unpack_from(data, at)
        at += _REPLY.size
        replies.append(Reply(u, bytes(view[at : at + size]), compute, wire))
        at += size
    return replies


def _serve(connection: multiprocessing.connection.Connection, setup: ClientSetup, ids: list[int]) -> None:
    clients = setup.build(ids)
    while True:
        data = connection.recv_bytes()
        if not data:
            return
        try:
            stage, items = _decode(data)
            replies = [_answer(clients[u], frame, setup.vectors[u]) for u, frame in items]
        except Exception as exc:  # noqa: BLE001 - any failure travels back and is raised in the parent
            connection.send_bytes(b"\x01" + f"{type(exc).__name__}\n{exc}".encode())
            continue
        connection.send_bytes(_encode_replies(replies))


class ClientPool:
    """``workers`` forked processes, each owning every ``workers``-th client."""

    def __init__(self, setup: ClientSetup, workers: int) -> None:
        context = multiprocessing.get_context("fork")
        ids = sorted(setup.vectors)
        self._owner = {u: i % workers for i, u in enumerate(ids)}
        self._pipes = []
        self._processes = []
        for w in range(workers):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, setup, ids[w::workers]), daemon=True)
            process.start()
            child.close()
            self._pipes.append(parent)
            self._processes.append(process)

    def run(self, stage: Stage, frames: Mapping[int, bytes | None]) -> Iterator[Reply]:
        """Each worker gets one chunk at a time; its replies are read before it gets the next (no deadlock)."""
        queues: list[list[tuple[int, bytes | None]]] = [[] for _ in self._pipes]
        for u, frame in frames.items():
            queues[self._owner[u]].append((u, frame))
        chunks = [[q[i : i + _CHUNK] for i in range(0, len(q), _CHUNK)] for q in queues]
        del frames, queues  # each chunk's frames go once it is sent
        busy = [False] * len(self._pipes)
        for w, pipe in enumerate(self._pipes):
            if chunks[w]:
                pipe.send_bytes(_encode(stage, chunks[w].pop(0)))
                busy[w] = True
        while any(busy):
            ready = multiprocessing.connection.wait([p for w, p in enumerate(self._pipes) if busy[w]])
            for w, pipe in enumerate(self._pipes):
                if pipe not in ready:
                    continue
                replies = _decode_replies(pipe.recv_bytes())
                if chunks[w]:
                    pipe.send_bytes(_encode(stage, chunks[w].pop(0)))
                else:
                    busy[w] = False
                yield from replies

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *exc: object) -> None:
        for pipe in self._pipes:
            pipe.send_bytes(b"")
            pipe.close()
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


def default_workers(clients: int) -> int:
    """Worker processes worth their start-up cost: one per core once there are thousands of clients."""
    return min(os.cpu_count() or 1, 8) if clients >= 2000 else 1
