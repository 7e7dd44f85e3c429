"""The envelope of every secure-aggregation frame: session, round, sender, receiver, signature.

Each frame (:mod:`fedsecure.wire`) of a session starts its body with the route

    session_id (32 bytes) | round_index (u64) | sender (u32) | receiver (u32)

where the server is party :data:`~secagg.config.SERVER` and a message meant for
every client is addressed to :data:`~secagg.config.ALL_CLIENTS`. The frame kind
fixes the protocol round (Bonawitz et al. CCS 2017, Fig. 4), so a frame is
bound to one session, one training round, one protocol round and one pair of
parties: a receiver refuses anything from another session or round, from a
sender other than the one the transport delivered it from, or addressed to
someone else, with an :class:`~secagg.errors.InvalidMessageError`.

Client messages (:class:`Upload`) end with a signature field. In the active
setting it is an Ed25519 signature by the sender over everything before it
(frame header, route and payload), verified by the server before the message
is used: relabelling a frame as another client's, or replaying it into another
session or round, breaks the signature, so neither can change a sum (Bonawitz
et al. 2017, Sec. 6 assume such authenticated channels for the active server).
In the honest-but-curious setting the field is empty and the route catches
transport mix-ups. Server messages (:class:`Download`) are not signed: the
server has no identity key, and what clients must trust in them is signed by
their peers (advertised keys, consistency signatures) or sealed by them
(AES-GCM shares).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fedsecure.wire import FRAME_OVERHEAD, Kind, Reader, Writer
from secagg import crypto
from secagg.config import ALL_CLIENTS, SERVER, SESSION_ID_BYTES, SessionConfig
from secagg.errors import InvalidMessageError

ROUTE_BYTES = SESSION_ID_BYTES + 8 + 4 + 4
SIGNATURE_FIELD_BYTES = 4 + crypto.SIGNATURE_BYTES
ENVELOPE_BYTES = FRAME_OVERHEAD + ROUTE_BYTES
"""Bytes of a frame outside its payload (an upload adds :data:`SIGNATURE_FIELD_BYTES`)."""


def _party(party: int) -> str:
    return {SERVER: "the server", ALL_CLIENTS: "all clients"}.get(party, f"client {party}")


def open_frame(kind: Kind, config: SessionConfig, sender: int, receiver: int) -> Writer:
    """A writer positioned after the route of a frame of ``kind`` in ``config``'s session."""
    w = Writer(kind)
    w.fixed(config.session_id)
    w.u64(config.round_index)
    w.u32(sender)
    w.u32(receiver)
    return w


def read_frame(
    data: object,
    kind: Kind,
    config: SessionConfig,
    *,
    sender: int | None,
    receiver: int | tuple[int, ...] | None,
    max_bytes: int,
    what: str,
) -> tuple[Reader, int, int]:
    """Parse a frame's envelope and check it; returns the reader at the payload, the sender and receiver.

    ``sender`` is the party the transport says sent the frame; ``receiver`` the party
    (or parties) it may be addressed to. ``None`` accepts any client of the session.
    """
    r = Reader(data, kind, max_bytes=max_bytes, what=what, error=InvalidMessageError)
    if r.fixed(SESSION_ID_BYTES, "session id") != config.session_id:
        raise r.fail("frame of another session")
    round_index = r.u64("round index")
    if round_index != config.round_index:
        raise r.fail(f"frame of round {round_index}, the session runs round {config.round_index}")
    got_sender, got_receiver = r.u32("sender"), r.u32("receiver")
    if sender is None:
        if got_sender not in config.neighbours:
            raise r.fail(f"sender {got_sender} is not a client of the session")
    elif got_sender != sender:
        raise r.fail(f"frame from {_party(got_sender)} delivered as from {_party(sender)}")
    allowed = (receiver,) if isinstance(receiver, int) else receiver
    if allowed is None:
        if got_receiver not in config.neighbours:
            raise r.fail(f"receiver {got_receiver} is not a client of the session")
    elif got_receiver not in allowed:
        raise r.fail(f"frame addressed to {_party(got_receiver)}, not to {_party(allowed[0])}")
    return r, got_sender, got_receiver


@dataclass(frozen=True)
class Upload:
    """A client -> server message: routed from ``sender`` to the server, signed in the active setting.

    Subclasses write and read their payload; this class owns the envelope and the signature.
    """

    KIND: ClassVar[Kind]
    sender: int
    signature: bytes = field(default=b"", kw_only=True, repr=False)

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        raise NotImplementedError

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        raise NotImplementedError

    def _frame(self, config: SessionConfig) -> Writer:
        w = open_frame(self.KIND, config, self.sender, SERVER)
        self._write_payload(w, config)
        return w

    def signed_payload(self, config: SessionConfig) -> bytes:
        """What the sender's Ed25519 signature covers: header, route and payload."""
        return self._frame(config).body()

    def signed_by(self, key: Ed25519PrivateKey, config: SessionConfig) -> Self:
        """This message with the sender's signature (active setting)."""
        return replace(self, signature=crypto.sign(key, self.signed_payload(config)))

    def verify(self, public: Ed25519PublicKey | None, config: SessionConfig) -> bool:
        """Whether ``signature`` is the holder of ``public``'s signature over this message."""
        return public is not None and crypto.verify(public, self.signature, self.signed_payload(config))

    def to_bytes(self, config: SessionConfig) -> bytes:
        w = self._frame(config)
        w.blob(self.signature)
        return w.finish()

    @classmethod
    def max_bytes(cls, config: SessionConfig) -> int:
        """The largest frame of this kind that ``config``'s session can produce."""
        return ENVELOPE_BYTES + cls._max_payload(config) + SIGNATURE_FIELD_BYTES

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig, *, sender: int) -> Self:
        """Parse a frame the transport received from client ``sender``; anything else is refused."""
        r, _, _ = read_frame(
            data,
            cls.KIND,
            config,
            sender=sender,
            receiver=SERVER,
            max_bytes=cls.max_bytes(config),
            what=cls.__name__,
        )
        fields = cls._read_payload(r, config)
        signature = r.blob(crypto.SIGNATURE_BYTES, "signature")
        r.done()
        if len(signature) not in (0, crypto.SIGNATURE_BYTES):
            raise r.fail(f"signature of {len(signature)} bytes")
        return cls(sender=sender, signature=signature, **fields)


class Download:
    """A server -> client message, addressed to one client (``DIRECTED``) or to all of them
    (``BROADCAST``); a kind may allow both."""

    KIND: ClassVar[Kind]
    DIRECTED: ClassVar[bool] = True
    BROADCAST: ClassVar[bool] = False

    @property
    def addressee(self) -> int:
        """The receiver in the route."""
        return ALL_CLIENTS

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        raise NotImplementedError

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig, receiver: int) -> Self:
        raise NotImplementedError

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        raise NotImplementedError

    def to_bytes(self, config: SessionConfig) -> bytes:
        w = open_frame(self.KIND, config, SERVER, self.addressee)
        self._write_payload(w, config)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig, *, receiver: int) -> Self:
        """Parse a frame from the server that client ``receiver`` got; anything else is refused."""
        r, _, addressee = read_frame(
            data,
            cls.KIND,
            config,
            sender=SERVER,
            receiver=(receiver,) * cls.DIRECTED + (ALL_CLIENTS,) * cls.BROADCAST,
            max_bytes=ENVELOPE_BYTES + cls._max_payload(config),
            what=cls.__name__,
        )
        message = cls._read_payload(r, config, addressee)
        r.done()
        return message
