"""The messages of one session as frozen dataclasses with explicit binary forms.

Round numbers follow Bonawitz et al. 2017, Fig. 4. Each ``from_bytes`` takes
the session's :class:`~secagg.config.SessionConfig` and refuses anything that
cannot belong to it: unknown ids, duplicates, wrong sizes, over-long lists.
Semantic checks (is this sender expected now?) belong to the state machines.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from secagg.config import SessionConfig
from secagg.crypto import NONCE_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES
from secagg.errors import InvalidMessageError
from secagg.packing import pack_words, packed_size, unpack_words
from secagg.shamir import FIELD
from secagg.wire import DIGEST_BYTES, Reader, Writer

_GCM_TAG = 16
SHARE_PLAINTEXT_BYTES = 8 + 2 * FIELD.share_bytes
SEALED_SHARES_BYTES = NONCE_BYTES + SHARE_PLAINTEXT_BYTES + _GCM_TAG
_FRAME_OVERHEAD = 5 + DIGEST_BYTES
_ID_ENTRY = 4


def _limit(config: SessionConfig, per_client: int, fixed: int = 64) -> int:
    return _FRAME_OVERHEAD + fixed + len(config.client_ids) * per_client


def _check_ids(ids: tuple[int, ...], config: SessionConfig, what: str) -> None:
    known = config.neighbours
    if len(set(ids)) != len(ids):
        raise InvalidMessageError(f"{what}: duplicate client ids")
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise InvalidMessageError(f"{what}: unknown client ids {unknown[:5]}")


def _check_sender(sender: int, config: SessionConfig, what: str) -> None:
    if sender not in config.neighbours:
        raise InvalidMessageError(f"{what}: unknown client id {sender}")


@dataclass(frozen=True)
class AdvertiseKeys:
    """Round 0, client -> server: the two X25519 public keys, signed in the active setting."""

    KIND: ClassVar[int] = 1
    sender: int
    c_public: bytes
    s_public: bytes
    signature: bytes = b""

    def signed_payload(self, config: SessionConfig) -> bytes:
        return (
            b"secagg/advertise/v1" + config.session_id + struct.pack("<I", self.sender) + self.c_public + self.s_public
        )

    def _write(self, w: Writer) -> None:
        w.u32(self.sender)
        w.fixed(self.c_public)
        w.fixed(self.s_public)
        w.blob(self.signature)

    def to_bytes(self) -> bytes:
        w = Writer(self.KIND)
        self._write(w)
        return w.finish()

    @classmethod
    def _read(cls, r: Reader, config: SessionConfig) -> AdvertiseKeys:
        sender = r.u32()
        _check_sender(sender, config, "AdvertiseKeys")
        message = cls(sender, r.fixed(PUBLIC_KEY_BYTES), r.fixed(PUBLIC_KEY_BYTES), r.blob(SIGNATURE_BYTES))
        if len(message.signature) not in (0, SIGNATURE_BYTES):
            raise InvalidMessageError(f"AdvertiseKeys: signature of {len(message.signature)} bytes")
        return message

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> AdvertiseKeys:
        r = Reader(data, cls.KIND, max_bytes=_FRAME_OVERHEAD + 4 * 4 + 2 * 32 + 64, what="AdvertiseKeys")
        message = cls._read(r, config)
        r.done()
        return message


@dataclass(frozen=True)
class KeyDirectory:
    """Round 0, server -> client: the advertisements of the receiver's neighbours that arrived."""

    KIND: ClassVar[int] = 2
    receiver: int
    entries: tuple[AdvertiseKeys, ...]

    def to_bytes(self) -> bytes:
        w = Writer(self.KIND)
        w.u32(self.receiver)
        w.u32(len(self.entries))
        for entry in self.entries:
            entry._write(w)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> KeyDirectory:
        r = Reader(data, cls.KIND, max_bytes=_limit(config, 4 * 4 + 64 + 64), what="KeyDirectory")
        receiver = r.u32()
        _check_sender(receiver, config, "KeyDirectory")
        count = r.u32()
        if count > len(config.client_ids):
            raise InvalidMessageError(f"KeyDirectory: {count} entries for {len(config.client_ids)} clients")
        entries = tuple(AdvertiseKeys._read(r, config) for _ in range(count))
        r.done()
        _check_ids(tuple(e.sender for e in entries), config, "KeyDirectory")
        return cls(receiver, entries)


def _write_addressed(w: Writer, party: int, items: tuple[tuple[int, bytes], ...]) -> None:
    w.u32(party)
    w.addressed(items)


def _read_addressed(
    r: Reader, config: SessionConfig, what: str, item_bytes: int
) -> tuple[int, tuple[tuple[int, bytes], ...]]:
    party = r.u32()
    _check_sender(party, config, what)
    items = r.addressed(len(config.client_ids), item_bytes)
    r.done()
    _check_ids(tuple(i for i, _ in items), config, what)
    return party, items


@dataclass(frozen=True)
class EncryptedShares:
    """Round 1, client -> server: AES-GCM-sealed shares for each neighbour, by receiver id."""

    KIND: ClassVar[int] = 3
    sender: int
    sealed: tuple[tuple[int, bytes], ...]

    def to_bytes(self) -> bytes:
        w = Writer(self.KIND)
        _write_addressed(w, self.sender, self.sealed)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> EncryptedShares:
        r = Reader(data, cls.KIND, max_bytes=_limit(config, 4 + SEALED_SHARES_BYTES), what="EncryptedShares")
        return cls(*_read_addressed(r, config, "EncryptedShares", SEALED_SHARES_BYTES))


@dataclass(frozen=True)
class ShareInbox:
    """Round 1, server -> client: the sealed shares addressed to the receiver, by sender id."""

    KIND: ClassVar[int] = 4
    receiver: int
    sealed: tuple[tuple[int, bytes], ...]

    def to_bytes(self) -> bytes:
        w = Writer(self.KIND)
        _write_addressed(w, self.receiver, self.sealed)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> ShareInbox:
        r = Reader(data, cls.KIND, max_bytes=_limit(config, 4 + SEALED_SHARES_BYTES), what="ShareInbox")
        return cls(*_read_addressed(r, config, "ShareInbox", SEALED_SHARES_BYTES))


@dataclass(frozen=True, eq=False)
class MaskedInput:
    """Round 2, client -> server: the masked vector, bit-packed at the ring width."""

    KIND: ClassVar[int] = 5
    sender: int
    words: NDArray[np.unsignedinteger]

    def to_bytes(self, config: SessionConfig) -> bytes:
        w = Writer(self.KIND)
        w.u32(self.sender)
        w.fixed(pack_words(self.words, config.modulus_bits))
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> MaskedInput:
        size = packed_size(config.vector_length, config.modulus_bits)
        r = Reader(data, cls.KIND, max_bytes=_FRAME_OVERHEAD + 4 + size, what="MaskedInput")
        sender = r.u32()
        _check_sender(sender, config, "MaskedInput")
        words = unpack_words(r.fixed_view(size), config.modulus_bits, config.vector_length)
        r.done()
        return cls(sender, words)


@dataclass(frozen=True)
class SurvivorList:
    """Round 2 -> 3, server -> clients: U3, the clients whose masked input arrived."""

    KIND: ClassVar[int] = 6
    survivors: tuple[int, ...]

    def signed_payload(self, config: SessionConfig) -> bytes:
        return b"secagg/consistency/v1" + config.session_id + struct.pack(f"<{len(self.survivors)}I", *self.survivors)

    def to_bytes(self) -> bytes:
        w = Writer(self.KIND)
        w.ids(self.survivors)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> SurvivorList:
        r = Reader(data, cls.KIND, max_bytes=_limit(config, _ID_ENTRY), what="SurvivorList")
        survivors = r.ids(len(config.client_ids))
        r.done()
        _check_ids(survivors, config, "SurvivorList")
        return cls(survivors)


@dataclass(frozen=True)
class ConsistencySignature:
    """Round 3 (active setting), client -> server: a signature over U3."""

    KIND: ClassVar[int] = 7
    sender: int
    signature: bytes

    def to_bytes(self) -> bytes:
        w = Writer(self.KIND)
        w.u32(self.sender)
        w.fixed(self.signature)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> ConsistencySignature:
        r = Reader(data, cls.KIND, max_bytes=_FRAME_OVERHEAD + 4 + SIGNATURE_BYTES, what="ConsistencySignature")
        sender = r.u32()
        _check_sender(sender, config, "ConsistencySignature")
        message = cls(sender, r.fixed(SIGNATURE_BYTES))
        r.done()
        return message


@dataclass(frozen=True)
class UnmaskRequest:
    """Round 4, server -> clients: whose self-mask shares (survivors) and whose
    key shares (dropped) to reveal, with U3's signatures in the active setting."""

    KIND: ClassVar[int] = 8
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    signatures: tuple[tuple[int, bytes], ...] = ()

    def to_bytes(self) -> bytes:
        w = Writer(self.KIND)
        w.ids(self.survivors)
        w.ids(self.dropped)
        w.addressed(self.signatures)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> UnmaskRequest:
        r = Reader(data, cls.KIND, max_bytes=_limit(config, 3 * _ID_ENTRY + SIGNATURE_BYTES), what="UnmaskRequest")
        n = len(config.client_ids)
        survivors, dropped = r.ids(n), r.ids(n)
        _check_ids(survivors, config, "UnmaskRequest survivors")
        _check_ids(dropped, config, "UnmaskRequest dropped")
        signatures = r.addressed(n, SIGNATURE_BYTES)
        r.done()
        _check_ids(tuple(i for i, _ in signatures), config, "UnmaskRequest signers")
        return cls(survivors, dropped, signatures)


@dataclass(frozen=True)
class UnmaskingShares:
    """Round 4, client -> server: shares of b_v for surviving v, of s_v^SK for dropped v."""

    KIND: ClassVar[int] = 9
    sender: int
    self_mask_shares: tuple[tuple[int, bytes], ...]
    key_shares: tuple[tuple[int, bytes], ...]

    def to_bytes(self) -> bytes:
        w = Writer(self.KIND)
        _write_addressed(w, self.sender, self.self_mask_shares)
        w.addressed(self.key_shares)
        return w.finish()

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> UnmaskingShares:
        size = FIELD.share_bytes
        r = Reader(data, cls.KIND, max_bytes=_limit(config, 2 * (4 + size)), what="UnmaskingShares")
        n = len(config.client_ids)
        sender = r.u32()
        _check_sender(sender, config, "UnmaskingShares")
        self_shares, key_shares = r.addressed(n, size), r.addressed(n, size)
        r.done()
        _check_ids(tuple(i for i, _ in self_shares), config, "UnmaskingShares self-mask owners")
        _check_ids(tuple(i for i, _ in key_shares), config, "UnmaskingShares key owners")
        return cls(sender, self_shares, key_shares)


@dataclass(frozen=True)
class SharePair:
    """The plaintext inside one sealed share: ids plus one share of each secret (Round 1)."""

    sender: int
    receiver: int
    key_share: bytes
    self_mask_share: bytes

    def to_bytes(self) -> bytes:
        return struct.pack("<II", self.sender, self.receiver) + self.key_share + self.self_mask_share

    @classmethod
    def from_bytes(cls, data: bytes) -> SharePair:
        size = FIELD.share_bytes
        if len(data) != SHARE_PLAINTEXT_BYTES:
            raise InvalidMessageError(f"share plaintext of {len(data)} bytes, expected {SHARE_PLAINTEXT_BYTES}")
        sender, receiver = struct.unpack_from("<II", data)
        return cls(sender, receiver, data[8 : 8 + size], data[8 + size :])
