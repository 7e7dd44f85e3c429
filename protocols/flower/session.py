"""What the workflow and the mod exchange through Flower records, and how both sides read it.

Every stage message carries one ConfigRecord under :data:`RECORD` holding only
``str``/``int``/``float``/``bool``/``bytes`` values: the stage name, the session
id, and the stage's `secagg` message serialized by its own ``to_bytes``. The
setup stage adds the public session description (:class:`SessionSetup`), from
which each client rebuilds exactly the server's :class:`secagg.SessionConfig`.

Flower node ids are random 64-bit integers while `secagg` ids lie in
[1, 2^32 - 1], so the setup lists the sampled node ids and client ``i`` of the
session is the node at position ``i - 1``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from flwr.app import ConfigRecord, Message

import secagg
from secagg.errors import InvalidMessageError

RECORD = "secagg"
"""Key of the ConfigRecord that carries the protocol in every stage message and reply."""

OUTCOME_RECORD = "secagg.outcome"
"""Key, in the ServerApp's ``context.state``, of the last round's outcome (see `SecAggWorkflow`)."""

SETUP = "setup"
SHARE_KEYS = "share_keys"
MASKED_INPUT = "masked_input"
CONSISTENCY_CHECK = "consistency_check"
UNMASKING = "unmasking"
STAGES = (SETUP, SHARE_KEYS, MASKED_INPUT, CONSISTENCY_CHECK, UNMASKING)

GRAPH_SEED_BYTES = 32


@dataclass(frozen=True)
class SessionSetup:
    """The public description of one session, sent to every sampled node at the setup stage.

    ``degree=0`` stands for the complete graph (SecAgg); otherwise the SecAgg+
    graph is the one `secagg.SessionConfig.create` builds from ``graph_seed``.
    ``clip`` and ``max_weight`` fix the client's encoding: its update times
    ``num_examples / max_weight`` goes through ``FixedPointCodec(clip,
    len(node_ids), modulus_bits)`` with the normalized weight appended
    (`protocols.aggregators.weighting`).
    """

    session_id: bytes
    round_index: int
    node_ids: tuple[int, ...]
    degree: int
    graph_seed: bytes
    threshold: int
    modulus_bits: int
    vector_length: int
    active: bool
    clip: float
    max_weight: float

    def session_config(self) -> secagg.SessionConfig:
        """The `secagg` session both sides run: same ids, graph, threshold and session id."""
        config = secagg.SessionConfig.create(
            range(1, len(self.node_ids) + 1),
            threshold=self.threshold,
            vector_length=self.vector_length,
            degree=self.degree or None,
            modulus_bits=self.modulus_bits,
            active=self.active,
            round_index=self.round_index,
            graph_seed=self.graph_seed,
        )
        config = dataclasses.replace(config, session_id=self.session_id)
        config.validate()
        return config

    def codec(self) -> secagg.FixedPointCodec:
        """The fixed-point codec, with headroom for every sampled client."""
        return secagg.FixedPointCodec(self.clip, len(self.node_ids), self.modulus_bits)

    def client_id(self, node_id: int) -> int:
        """The `secagg` id of a sampled Flower node."""
        try:
            return self.node_ids.index(node_id) + 1
        except ValueError:
            raise InvalidMessageError(f"node {node_id} is not part of session setup") from None

    def to_record(self) -> ConfigRecord:
        fields = dataclasses.asdict(self)
        fields["node_ids"] = list(self.node_ids)
        return ConfigRecord({"stage": SETUP, **fields})

    @classmethod
    def from_record(cls, record: ConfigRecord) -> SessionSetup:
        """Parse and check a setup record; raises `InvalidMessageError` naming the bad field."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name not in record:
                raise InvalidMessageError(f"session setup lacks '{field.name}'")
            values[field.name] = record[field.name]
        expected = {
            "session_id": bytes,
            "graph_seed": bytes,
            "active": bool,
            "clip": float,
            "max_weight": float,
            "node_ids": list,
        }
        for name, value in values.items():
            kind = expected.get(name, int)
            if type(value) is not kind:
                raise InvalidMessageError(
                    f"session setup: '{name}' must be {kind.__name__}, got {type(value).__name__}"
                )
        ids = values["node_ids"]
        if any(type(i) is not int for i in ids) or len(set(ids)) != len(ids):
            raise InvalidMessageError("session setup: node ids must be distinct integers")
        if len(values["graph_seed"]) != GRAPH_SEED_BYTES:
            raise InvalidMessageError(f"session setup: graph seed must be {GRAPH_SEED_BYTES} bytes")
        if not (math.isfinite(values["max_weight"]) and values["max_weight"] > 0):
            raise InvalidMessageError(f"session setup: max_weight must be positive, got {values['max_weight']}")
        if values["degree"] < 0:
            raise InvalidMessageError(f"session setup: degree must be >= 0, got {values['degree']}")
        values["node_ids"] = tuple(ids)
        return cls(**values)


def stage_record(stage: str, session_id: bytes, payload: bytes) -> ConfigRecord:
    """The record of a stage after setup: stage name, session id, one serialized `secagg` message."""
    return ConfigRecord({"stage": stage, "session_id": session_id, "payload": payload})


def read_stage(message: Message) -> tuple[str, ConfigRecord]:
    """The stage name and record of a stage message or reply; refuses messages without one."""
    if not message.has_content() or RECORD not in message.content.config_records:
        raise InvalidMessageError(f"message carries no '{RECORD}' record")
    record = message.content.config_records[RECORD]
    stage = record.get("stage")
    if stage not in STAGES:
        raise InvalidMessageError(f"unknown secure-aggregation stage {stage!r}")
    return stage, record


def read_payload(record: ConfigRecord, session_id: bytes) -> bytes:
    """The serialized `secagg` message of a stage record, after checking it belongs to the session."""
    if record.get("session_id") != session_id:
        raise InvalidMessageError("stage record belongs to another session")
    payload = record.get("payload")
    if type(payload) is not bytes:
        raise InvalidMessageError("stage record carries no payload bytes")
    return payload
