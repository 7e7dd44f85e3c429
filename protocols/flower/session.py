"""What the workflow and the mod exchange through Flower records, and how both sides read it.

A Flower message of ours carries one ConfigRecord under :data:`RECORD` with three parallel lists,
one entry per secure-aggregation session the message serves (two when the setup of the next round
rides along with the current one, see `protocols.flower.workflow`):

* ``stages``: the `secagg.Stage` name the entry opens (``advertise_keys``, ``share_keys``, ...);
* ``sessions``: the session id;
* ``payloads``: the stage's frame, and for ``advertise_keys`` the :class:`SessionSetup` frame from
  which the client rebuilds exactly the server's `secagg.SessionConfig`.

Replies carry the same record with each session's reply frame. Flower node ids are random 64-bit
integers while `secagg` ids lie in [1, 2^32 - 2], so the setup lists the sampled node ids and
client ``i`` of the session is the node at position ``i - 1``.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import cast

import numpy as np
from flwr.app import ConfigRecord, Message

import dp
import secagg
from fedsecure import checks
from fedsecure.wire import Kind, Reader, Writer
from protocols.aggregators.weighting import client_vector, weight_scale, weighted_mean
from secagg.config import SESSION_ID_BYTES
from secagg.errors import InvalidMessageError

RECORD = "secagg"
"""Key of the ConfigRecord that carries the protocol in every message and reply of ours."""

GRAPH_SEED_BYTES = 32
ROTATION_SEED_BYTES = 32
MAX_NODES = 1 << 20
MAX_SETUP_BYTES = 256 + 8 * MAX_NODES


class Encoding(enum.IntEnum):
    """How a client turns its fit result into ring words, and the server the sum into a mean."""

    WEIGHTED = 0
    """``[w x, w]`` with ``w = num_examples / max_weight``, fixed point (example counts stay protected)."""
    CLIPPED = 1
    """The update clipped to L2 norm ``l2_clip``, fixed point, equal weights (central DP noises the sum)."""
    DISCRETE_GAUSSIAN = 2
    """`dp.DistributedDiscreteGaussian`: each client adds its share of integer noise (distributed DP)."""
    SKELLAM = 3
    """`dp.DistributedSkellam`, likewise."""
    XNOISE_SKELLAM = 4
    """`dp.XNoiseSkellam` (Dordis, EuroSys 2024, Sec. 4): Skellam planned for every sampled client, with
    ``noise_components`` removable components that SecAgg shares and, for the missing clients, takes out."""


MECHANISMS: dict[Encoding, type[dp.DistributedIntegerMechanism]] = {
    Encoding.DISCRETE_GAUSSIAN: dp.DistributedDiscreteGaussian,
    Encoding.SKELLAM: dp.DistributedSkellam,
    Encoding.XNOISE_SKELLAM: dp.XNoiseSkellam,
}
"""The distributed mechanism of each distributed-DP encoding (its exact type: XNoise's is a Skellam subclass)."""


@dataclass(frozen=True)
class SessionSetup:
    """The public description of one session, sent to every sampled node as it opens.

    ``degree=0`` stands for the complete graph (SecAgg); otherwise the SecAgg+ graph is the one
    `secagg.SessionConfig.create` builds from ``graph_seed``. ``encoding`` fixes how clients encode
    (:class:`Encoding`): by default the update times ``num_examples / max_weight`` goes through
    ``FixedPointCodec(clip, len(node_ids), modulus_bits)`` with the normalized weight appended
    (`protocols.aggregators.weighting`); under DP-FedAvg the update is clipped to ``l2_clip`` and
    either fixed-point encoded (central noise at the server) or encoded by the distributed
    mechanism with ``noise_multiplier``, ``expected_clients`` and the public ``rotation_seed``. Under
    XNoise the mechanism also takes ``tolerated_dropout`` and is planned for the ``len(node_ids)`` sampled
    clients: its round has ``noise_components`` removable components, which the session carries.
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
    encoding: Encoding = Encoding.WEIGHTED
    l2_clip: float = 0.0
    noise_multiplier: float = 0.0
    expected_clients: int = 0
    rotation_seed: bytes = bytes(ROTATION_SEED_BYTES)
    dimension: int = 0
    """Values in a client's fit update under a distributed mechanism (its words are padded for the rotation)."""
    tolerated_dropout: float = 0.0
    """XNoise: the dropout rate its removable components absorb (`dp.XNoiseSkellam`)."""
    noise_components: int = 0
    """XNoise: removable noise components per client (`secagg.SessionConfig.noise_components`)."""

    @property
    def update_length(self) -> int:
        """Values in a client's fit update (the weighted encoding appends one: the weight)."""
        if self.encoding in MECHANISMS:
            return self.dimension
        return self.vector_length - (self.encoding == Encoding.WEIGHTED)

    def encode(self, update: np.ndarray, examples: int) -> np.ndarray:
        """Client side: the ring words of a fit update with ``examples`` examples."""
        codec = self.codec()
        if self.encoding == Encoding.WEIGHTED:
            scale = weight_scale({0: float(examples)}, self.max_weight)
            return codec.encode(client_vector(update, float(examples), scale, protect=True))
        return codec.encode(dp.clip_l2(update, self.l2_clip) if self.encoding == Encoding.CLIPPED else update)

    def decode(self, total: np.ndarray, included: int) -> tuple[np.ndarray, float]:
        """Server side: (mean update, total weight) from the unmasked sum of ``included`` clients."""
        decoded = self.codec().decode_sum(total)
        if self.encoding == Encoding.WEIGHTED:
            return weighted_mean(decoded, 0.0, self.max_weight, True)
        return decoded[: self.update_length] / included, float(included)

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
            noise_components=self.noise_components,
        )
        config = dataclasses.replace(config, session_id=self.session_id)
        config.validate()
        return config

    def codec(self) -> secagg.FixedPointCodec | dp.DistributedIntegerMechanism | dp.XNoiseRound:
        """The encoding's codec (ring words of ``modulus_bits``, headroom for every sampled client)."""
        if self.encoding == Encoding.WEIGHTED:
            return secagg.FixedPointCodec(self.clip, len(self.node_ids), self.modulus_bits)
        if self.encoding == Encoding.CLIPPED:  # every coordinate of an L2-clipped vector is within the clip
            return secagg.FixedPointCodec(self.l2_clip, len(self.node_ids), self.modulus_bits)
        mechanism = self._mechanism()
        return self._xnoise_round(mechanism) if isinstance(mechanism, dp.XNoiseSkellam) else mechanism

    def noise_sampler(self) -> secagg.NoiseSampler | None:
        """XNoise: the round's removable-noise sampler, the same on every node and the server; else ``None``."""
        if self.encoding != Encoding.XNOISE_SKELLAM:
            return None
        return self._xnoise_round(cast(dp.XNoiseSkellam, self._mechanism()))

    def _mechanism(self) -> dp.DistributedIntegerMechanism:
        options = {"tolerated_dropout": self.tolerated_dropout} if self.encoding == Encoding.XNOISE_SKELLAM else {}
        return MECHANISMS[self.encoding](
            self.l2_clip,
            self.noise_multiplier,
            self.modulus_bits,
            self.dimension,
            self.expected_clients,
            self.rotation_seed,
            **options,  # type: ignore[arg-type]
        )

    def _xnoise_round(self, mechanism: dp.XNoiseSkellam) -> dp.XNoiseRound:
        """The XNoise round of the sampled clients; refuses a setup whose ``noise_components`` is not its plan."""
        planned = mechanism.round(len(self.node_ids))
        if planned.components != self.noise_components:
            raise InvalidMessageError(
                f"the session has {self.noise_components} noise components, XNoise plans {planned.components} "
                f"for {len(self.node_ids)} clients at tolerated dropout {self.tolerated_dropout}"
            )
        return planned

    def client_id(self, node_id: int) -> int:
        """The `secagg` id of a sampled Flower node."""
        try:
            return self.node_ids.index(node_id) + 1
        except ValueError:
            raise InvalidMessageError(f"node {node_id} is not part of the session") from None

    def to_bytes(self) -> bytes:
        w = Writer(Kind.SESSION_SETUP)
        w.fixed(self.session_id)
        w.u64(self.round_index)
        w.u32(len(self.node_ids))
        for node in self.node_ids:
            w.u64(node)
        w.u32(self.degree)
        w.fixed(self.graph_seed)
        w.u32(self.threshold)
        w.u8(self.modulus_bits)
        w.u64(self.vector_length)
        w.u8(self.active)
        w.f64(self.clip)
        w.f64(self.max_weight)
        w.u8(self.encoding)
        w.f64(self.l2_clip)
        w.f64(self.noise_multiplier)
        w.u32(self.expected_clients)
        w.fixed(self.rotation_seed)
        w.u64(self.dimension)
        w.f64(self.tolerated_dropout)
        w.u32(self.noise_components)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes) -> SessionSetup:
        """Parse and check a setup frame; raises `InvalidMessageError` naming the bad field."""
        r = Reader(data, Kind.SESSION_SETUP, max_bytes=MAX_SETUP_BYTES, what="SessionSetup", error=InvalidMessageError)
        session_id, round_index = r.fixed(SESSION_ID_BYTES, "session id"), r.u64("round index")
        count = r.u32("node count")
        if count > MAX_NODES:
            raise r.fail(f"{count} nodes exceeds the limit of {MAX_NODES}")
        nodes = tuple(r.u64("node id") for _ in range(count))
        degree, seed, threshold = r.u32("degree"), r.fixed(GRAPH_SEED_BYTES, "graph seed"), r.u32("threshold")
        modulus_bits, vector_length, active = r.u8("modulus bits"), r.u64("vector length"), r.u8("active flag")
        clip, max_weight = r.f64("clip"), r.f64("max weight")
        encoding, l2_clip, noise = r.u8("encoding"), r.f64("l2 clip"), r.f64("noise multiplier")
        expected, rotation_seed = r.u32("expected clients"), r.fixed(ROTATION_SEED_BYTES, "rotation seed")
        dimension = r.u64("dimension")
        tolerated, components = r.f64("tolerated dropout"), r.u32("noise components")
        r.done()
        if encoding not in Encoding._value2member_map_:
            raise r.fail(f"unknown encoding {encoding}")
        if len(set(nodes)) != len(nodes):
            raise r.fail("node ids must be distinct")
        if active > 1:
            raise r.fail(f"active flag must be 0 or 1, got {active}")
        checks.real("max_weight", max_weight, error=InvalidMessageError, low=0.0, low_open=True)
        return cls(
            session_id,
            round_index,
            nodes,
            degree,
            seed,
            threshold,
            modulus_bits,
            vector_length,
            bool(active),
            clip,
            max_weight,
            Encoding(encoding),
            l2_clip,
            noise,
            expected,
            rotation_seed,
            dimension,
            tolerated,
            components,
        )


@dataclass(frozen=True)
class Entry:
    """One session's part of a message: the stage it opens (or answers), the session, the frame."""

    stage: secagg.Stage
    session_id: bytes
    payload: bytes


def to_record(entries: list[Entry]) -> ConfigRecord:
    """The record carrying ``entries`` (plain values only, as Flower's ConfigRecord requires)."""
    return ConfigRecord(
        {
            "stages": [e.stage.name.lower() for e in entries],
            "sessions": [e.session_id for e in entries],
            "payloads": [e.payload for e in entries],
        }
    )


def read_entries(message: Message) -> list[Entry]:
    """The entries of a message or reply of ours; refuses messages without a well-formed record."""
    if not message.has_content() or RECORD not in message.content.config_records:
        raise InvalidMessageError(f"message carries no '{RECORD}' record")
    record = message.content.config_records[RECORD]
    stages, sessions, payloads = (record.get(name) for name in ("stages", "sessions", "payloads"))
    if not (isinstance(stages, list) and isinstance(sessions, list) and isinstance(payloads, list)):
        raise InvalidMessageError(f"the '{RECORD}' record lacks its stages, sessions or payloads")
    if not len(stages) == len(sessions) == len(payloads) or len(set(sessions)) != len(sessions):
        raise InvalidMessageError(f"the '{RECORD}' record's lists disagree or repeat a session")
    entries = []
    for stage, session, payload in zip(stages, sessions, payloads, strict=True):
        if not isinstance(stage, str) or stage.upper() not in secagg.Stage.__members__:
            raise InvalidMessageError(f"unknown secure-aggregation stage {stage!r}")
        if not isinstance(session, bytes) or len(session) != SESSION_ID_BYTES or not isinstance(payload, bytes):
            raise InvalidMessageError("a session id or payload is not bytes of the right size")
        entries.append(Entry(secagg.Stage[stage.upper()], session, payload))
    return entries
