"""The messages of one session as frozen dataclasses with explicit binary forms.

Round numbers follow Bonawitz et al. 2017, Fig. 4. Every message travels in a
frame whose envelope (:mod:`secagg.envelope`) binds it to the session, the
training round, the protocol round, its sender and its receiver. Client
messages are :class:`~secagg.envelope.Upload` s (parsed with the sender the
transport saw, signed in the active setting); server messages are
:class:`~secagg.envelope.Download` s (parsed with the receiving client's id).
Each parser takes the session's :class:`~secagg.config.SessionConfig` and
refuses anything that cannot belong to it: unknown ids, duplicates, wrong
sizes, over-long lists. Semantic checks (is this sender expected now? is the
signature valid?) belong to the state machines.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from fedsecure.wire import Kind, Reader, Writer
from secagg.config import ALL_CLIENTS, SessionConfig
from secagg.crypto import NONCE_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES
from secagg.envelope import SIGNATURE_FIELD_BYTES, Download, Upload
from secagg.errors import InvalidMessageError
from secagg.keys import COMMITMENT_BYTES
from secagg.packing import pack_words, packed_size, unpack_words
from secagg.shamir import FIELD

_GCM_TAG = 16
_ID = 4
ADVERTISEMENT_BYTES = _ID + 2 * PUBLIC_KEY_BYTES + SIGNATURE_FIELD_BYTES
"""Bytes of one advertisement inside a key directory (or a saved client state)."""


def _clients(config: SessionConfig) -> int:
    return len(config.client_ids)


def share_plaintext_bytes(config: SessionConfig) -> int:
    """Bytes of one :class:`SharePair`: ids, the key and self-mask shares, one share per noise seed."""
    return 8 + (2 + config.noise_components) * FIELD.share_bytes


def sealed_shares_bytes(config: SessionConfig) -> int:
    """Bytes of one AES-GCM-sealed :class:`SharePair`: nonce, plaintext, tag."""
    return NONCE_BYTES + share_plaintext_bytes(config) + _GCM_TAG


def check_ids(ids: tuple[int, ...], config: SessionConfig, what: str) -> None:
    """Refuse duplicate ids and ids that are not clients of the session."""
    if len(set(ids)) != len(ids):
        raise InvalidMessageError(f"{what}: duplicate client ids")
    unknown = [i for i in ids if i not in config.neighbours]
    if unknown:
        raise InvalidMessageError(f"{what}: unknown client ids {unknown[:5]}")


def _read_addressed(r: Reader, config: SessionConfig, what: str, item_bytes: int) -> tuple[tuple[int, bytes], ...]:
    items = r.addressed(_clients(config), item_bytes, what)
    check_ids(tuple(i for i, _ in items), config, what)
    return items


@dataclass(frozen=True)
class AdvertiseKeys(Upload):
    """Round 0, client -> server: the two X25519 public keys, signed in the active setting.

    The signature covers the whole frame as the client sent it to the server, so
    the server can relay it in each neighbour's :class:`KeyDirectory` and the
    neighbour checks it with :meth:`~secagg.envelope.Upload.verify`.
    """

    KIND: ClassVar[Kind] = Kind.ADVERTISE_KEYS
    c_public: bytes
    s_public: bytes

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        w.fixed(self.c_public)
        w.fixed(self.s_public)

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig) -> dict[str, Any]:
        return {"c_public": r.fixed(PUBLIC_KEY_BYTES, "c key"), "s_public": r.fixed(PUBLIC_KEY_BYTES, "s key")}

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        return 2 * PUBLIC_KEY_BYTES


@dataclass(frozen=True)
class KeyDirectory(Download):
    """Round 0, server -> client: the advertisements of the receiver's neighbours that arrived."""

    KIND: ClassVar[Kind] = Kind.KEY_DIRECTORY
    receiver: int
    entries: tuple[AdvertiseKeys, ...]

    @property
    def addressee(self) -> int:
        return self.receiver

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        w.u32(len(self.entries))
        for entry in self.entries:
            write_advertisement(w, entry)

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig, receiver: int) -> Self:
        count = r.u32("entry count")
        if count > _clients(config):
            raise r.fail(f"{count} entries for {_clients(config)} clients")
        entries = tuple(read_advertisement(r, config) for _ in range(count))
        check_ids(tuple(e.sender for e in entries), config, "KeyDirectory")
        return cls(receiver, entries)

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        return 4 + _clients(config) * ADVERTISEMENT_BYTES


def write_advertisement(w: Writer, entry: AdvertiseKeys) -> None:
    """An advertisement as relayed (or saved): sender, both keys, signature."""
    w.u32(entry.sender)
    w.fixed(entry.c_public)
    w.fixed(entry.s_public)
    w.blob(entry.signature)


def read_advertisement(r: Reader, config: SessionConfig) -> AdvertiseKeys:
    """Inverse of :func:`write_advertisement`."""
    sender = r.u32("advertiser")
    if sender not in config.neighbours:
        raise r.fail(f"advertisement of unknown client {sender}")
    c_public, s_public = r.fixed(PUBLIC_KEY_BYTES, "c key"), r.fixed(PUBLIC_KEY_BYTES, "s key")
    signature = r.blob(SIGNATURE_BYTES, "advertisement signature")
    if len(signature) not in (0, SIGNATURE_BYTES):
        raise r.fail(f"advertisement signature of {len(signature)} bytes")
    return AdvertiseKeys(sender, c_public, s_public, signature=signature)


@dataclass(frozen=True)
class EncryptedShares(Upload):
    """Round 1, client -> server: the commitment to the self-mask seed, one commitment per noise
    seed (``config.noise_components`` of them, none without XNoise) and the AES-GCM-sealed shares
    for each neighbour, by receiver id."""

    KIND: ClassVar[Kind] = Kind.ENCRYPTED_SHARES
    commitment: bytes
    sealed: tuple[tuple[int, bytes], ...]
    noise_commitments: tuple[bytes, ...] = ()

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        w.fixed(self.commitment)
        for commitment in self.noise_commitments:
            w.fixed(commitment)
        w.addressed(self.sealed)

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig) -> dict[str, Any]:
        commitment = r.fixed(COMMITMENT_BYTES, "self-mask commitment")
        noise = tuple(r.fixed(COMMITMENT_BYTES, "noise seed commitment") for _ in range(config.noise_components))
        sealed = _read_addressed(r, config, "sealed shares", sealed_shares_bytes(config))
        return {"commitment": commitment, "sealed": sealed, "noise_commitments": noise}

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        commitments = (1 + config.noise_components) * COMMITMENT_BYTES
        return commitments + 4 + _clients(config) * (_ID + sealed_shares_bytes(config))


@dataclass(frozen=True)
class ShareInbox(Download):
    """Round 1, server -> client: the sealed shares addressed to the receiver, by sender id."""

    KIND: ClassVar[Kind] = Kind.SHARE_INBOX
    receiver: int
    sealed: tuple[tuple[int, bytes], ...]

    @property
    def addressee(self) -> int:
        return self.receiver

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        w.addressed(self.sealed)

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig, receiver: int) -> Self:
        return cls(receiver, _read_addressed(r, config, "sealed shares", sealed_shares_bytes(config)))

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        return 4 + _clients(config) * (_ID + sealed_shares_bytes(config))


@dataclass(frozen=True, eq=False)
class MaskedInput(Upload):
    """Round 2, client -> server: the masked vector, bit-packed at the ring width."""

    KIND: ClassVar[Kind] = Kind.MASKED_INPUT
    words: NDArray[np.unsignedinteger]

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        w.fixed(pack_words(self.words, config.modulus_bits))

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig) -> dict[str, Any]:
        view = r.fixed_view(packed_size(config.vector_length, config.modulus_bits), "masked vector")
        return {"words": unpack_words(view, config.modulus_bits, config.vector_length)}

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        return packed_size(config.vector_length, config.modulus_bits)


@dataclass(frozen=True)
class SurvivorList(Download):
    """Round 2 -> 3, server -> all clients: U3, the clients whose masked input arrived."""

    KIND: ClassVar[Kind] = Kind.SURVIVOR_LIST
    DIRECTED: ClassVar[bool] = False
    BROADCAST: ClassVar[bool] = True
    survivors: tuple[int, ...]

    def consistency_payload(self, config: SessionConfig) -> bytes:
        """What each client of U3 signs in the consistency check (active setting, Sec. 6.2)."""
        ids = struct.pack(f"<Q{len(self.survivors)}I", config.round_index, *self.survivors)
        return b"secagg/consistency/v2" + config.session_id + ids

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        w.ids(self.survivors)

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig, receiver: int) -> Self:
        survivors = r.ids(_clients(config), "survivors")
        check_ids(survivors, config, "SurvivorList")
        return cls(survivors)

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        return 4 + _clients(config) * _ID


@dataclass(frozen=True)
class ConsistencySignature(Upload):
    """Round 3 (active setting), client -> server: the client's signature over U3."""

    KIND: ClassVar[Kind] = Kind.CONSISTENCY_SIGNATURE
    survivors_signature: bytes

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        w.fixed(self.survivors_signature)

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig) -> dict[str, Any]:
        return {"survivors_signature": r.fixed(SIGNATURE_BYTES, "signature over U3")}

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        return SIGNATURE_BYTES


@dataclass(frozen=True)
class UnmaskRequest(Download):
    """Round 4, server -> clients: whose self-mask shares (survivors) and whose key shares
    (dropped) to reveal.

    In the active setting one request for all clients carries all of U3 and U3's signatures
    (Sec. 6.2: each client checks t signatures over exactly the list it signed). In the
    honest-but-curious setting each client gets its own request naming only its holders
    (``receiver``): all it acts on (Bell et al. 2020, Sec. 4, where a client only learns about its
    neighbours), and what keeps the request O(degree) instead of O(n) per client.
    """

    KIND: ClassVar[Kind] = Kind.UNMASK_REQUEST
    BROADCAST: ClassVar[bool] = True
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    signatures: tuple[tuple[int, bytes], ...] = ()
    receiver: int = field(default=ALL_CLIENTS, kw_only=True)

    @property
    def addressee(self) -> int:
        return self.receiver

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        w.ids(self.survivors)
        w.ids(self.dropped)
        w.addressed(self.signatures)

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig, receiver: int) -> Self:
        n = _clients(config)
        survivors, dropped = r.ids(n, "survivors"), r.ids(n, "dropped clients")
        check_ids(survivors, config, "UnmaskRequest survivors")
        check_ids(dropped, config, "UnmaskRequest dropped")
        signatures = _read_addressed(r, config, "UnmaskRequest signers", SIGNATURE_BYTES)
        return cls(survivors, dropped, signatures, receiver=receiver)

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        return 12 + _clients(config) * (3 * _ID + SIGNATURE_BYTES)


@dataclass(frozen=True)
class UnmaskingShares(Upload):
    """Round 4, client -> server: shares of b_v for surviving v, of s_v^SK for dropped v, and
    (XNoise sessions) for each surviving v its shares of the seeds of v's excess noise components
    (:func:`secagg.noise.excess_components`), concatenated in component order.

    Without noise components the format is Bonawitz et al.'s; with them a u32 count of excess
    components and the addressed concatenations follow the key shares.
    """

    KIND: ClassVar[Kind] = Kind.UNMASKING_SHARES
    self_mask_shares: tuple[tuple[int, bytes], ...]
    key_shares: tuple[tuple[int, bytes], ...]
    noise_shares: tuple[tuple[int, bytes], ...] = ()
    excess: int = 0
    """How many components each entry of ``noise_shares`` holds a share of."""

    def _write_payload(self, w: Writer, config: SessionConfig) -> None:
        w.addressed(self.self_mask_shares)
        w.addressed(self.key_shares)
        if config.noise_components:
            w.u32(self.excess)
            w.addressed(self.noise_shares)

    @classmethod
    def _read_payload(cls, r: Reader, config: SessionConfig) -> dict[str, Any]:
        size = FIELD.share_bytes
        fields: dict[str, Any] = {
            "self_mask_shares": _read_addressed(r, config, "self-mask share owners", size),
            "key_shares": _read_addressed(r, config, "key share owners", size),
        }
        if config.noise_components:
            excess = r.u32("excess component count")
            if excess > config.noise_components:
                raise r.fail(f"{excess} excess components, the session has {config.noise_components}")
            fields["excess"] = excess
            fields["noise_shares"] = _read_addressed(r, config, "noise share owners", excess * size)
        return fields

    @classmethod
    def _max_payload(cls, config: SessionConfig) -> int:
        noise = 8 + _clients(config) * (_ID + config.noise_components * FIELD.share_bytes)
        return 8 + 2 * _clients(config) * (_ID + FIELD.share_bytes) + (noise if config.noise_components else 0)


@dataclass(frozen=True)
class SharePair:
    """The plaintext inside one sealed share (Round 1): ids, one share of each of the two secrets,
    and one share of each noise seed (XNoise sessions; :mod:`secagg.noise`)."""

    sender: int
    receiver: int
    key_share: bytes
    self_mask_share: bytes
    noise_shares: tuple[bytes, ...] = ()

    def to_bytes(self) -> bytes:
        ids = struct.pack("<II", self.sender, self.receiver)
        return ids + self.key_share + self.self_mask_share + b"".join(self.noise_shares)

    @classmethod
    def from_bytes(cls, data: bytes, config: SessionConfig) -> SharePair:
        expected = share_plaintext_bytes(config)
        if len(data) != expected:
            raise InvalidMessageError(f"share plaintext of {len(data)} bytes, expected {expected}")
        sender, receiver = struct.unpack_from("<II", data)
        key_share, self_mask_share, *noise_shares = split_shares(data[8:])
        return cls(sender, receiver, key_share, self_mask_share, tuple(noise_shares))


def split_shares(data: bytes) -> tuple[bytes, ...]:
    """Concatenated Shamir shares, one by one (e.g. an entry of ``UnmaskingShares.noise_shares``)."""
    size = FIELD.share_bytes
    return tuple(data[at : at + size] for at in range(0, len(data), size))
