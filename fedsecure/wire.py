"""Bounded, versioned binary framing for every byte string the toolkit exchanges or stores.

A frame is ``MAGIC | version | kind | body | digest``:

* ``MAGIC`` is ``b"FSF"`` and ``version`` is :data:`VERSION`, so a frame of
  another format or version is refused before anything else is read;
* ``kind`` (one byte, :class:`Kind`) says which message or object the body
  holds, so bytes of one kind never parse as another;
* ``digest`` is a 16-byte BLAKE2b of everything before it. It has no key: it
  catches corruption and truncation, not forgery. Authenticity comes from
  what the body binds (session, round, sender and receiver in every secure
  aggregation frame, Ed25519 signatures in the active setting; a key
  fingerprint in every ciphertext).

The body is a sequence of little-endian fixed-width integers, fixed-size byte
strings and u32-length-prefixed byte strings. Every read is bounds-checked
against the frame and against a limit the caller states (``max_bytes`` for
the whole frame, ``max_size`` / ``max_count`` per field) before anything is
allocated, and every failure raises the caller's own error class (a
:class:`~fedsecure.errors.FedsecureError` subclass) naming the frame and field.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from typing import Final

from fedsecure.errors import FedsecureError

MAGIC: Final = b"FSF"
VERSION: Final = 1
DIGEST_BYTES: Final = 16
_HEADER: Final = struct.Struct("<3sBB")
FRAME_OVERHEAD: Final = _HEADER.size + DIGEST_BYTES
"""Bytes every frame spends outside its body."""
MAX_BLOB_BYTES: Final = 2**32 - 1

Bytes = bytes | bytearray | memoryview


class Kind(enum.IntEnum):
    """Every frame kind of the toolkit, in one table so that no two formats share a code."""

    # secagg: the messages of Bonawitz et al. (CCS 2017), Fig. 4, and a client's saved state.
    ADVERTISE_KEYS = 1
    KEY_DIRECTORY = 2
    ENCRYPTED_SHARES = 3
    SHARE_INBOX = 4
    MASKED_INPUT = 5
    SURVIVOR_LIST = 6
    CONSISTENCY_SIGNATURE = 7
    UNMASK_REQUEST = 8
    UNMASKING_SHARES = 9
    CLIENT_STATE = 10
    # protocols.flower: the public description of a session, sent as it opens.
    SESSION_SETUP = 11
    # he: public keys / contexts and ciphertexts of both schemes.
    CKKS_PUBLIC = 32
    CKKS_CIPHERTEXT = 33
    PAILLIER_PUBLIC = 34
    PAILLIER_CIPHERTEXT = 35
    # he: threshold Paillier (Damgard-Jurik, PKC 2001): its public key and one key holder's partial
    # decryption; its ciphertexts are PAILLIER_CIPHERTEXT frames bound to the key by their key id.
    THRESHOLD_PAILLIER_PUBLIC = 36
    THRESHOLD_PAILLIER_PARTIAL = 37
    # he: a key holder's own secret state, kept on its node (never sent).
    CKKS_KEY_HOLDER = 40
    PAILLIER_KEY_HOLDER = 41
    THRESHOLD_PAILLIER_KEY_HOLDER = 42


class FrameError(FedsecureError, ValueError):
    """A value cannot be framed (a field too long for its length prefix, an integer out of range)."""


def kind_of(data: object) -> Kind | None:
    """The kind a frame declares in its header, or ``None`` if ``data`` is not a fedsecure frame.

    Only the header is read: a loader must still parse (and so verify) the whole frame.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < FRAME_OVERHEAD:
        return None
    magic, version, code = _HEADER.unpack_from(bytes(data[: _HEADER.size]))
    if magic != MAGIC or version != VERSION or code not in Kind._value2member_map_:
        return None
    return Kind(code)


def _digest(data: Bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


def seal_body(body: bytes) -> bytes:
    """A frame from its header and body: appends the digest. Anyone can do this (the digest
    has no key), which is why receivers check what the body binds, not the digest alone."""
    return body + _digest(body)


class Writer:
    """Builds one frame of a given kind, field by field."""

    def __init__(self, kind: Kind) -> None:
        self._parts: list[bytes] = [_HEADER.pack(MAGIC, VERSION, kind)]

    def _pack(self, fmt: str, value: int | float) -> None:
        try:
            self._parts.append(struct.pack(fmt, value))
        except struct.error:
            raise FrameError(f"value {value!r} does not fit the field format {fmt!r}") from None

    def u8(self, value: int) -> None:
        self._pack("<B", value)

    def u32(self, value: int) -> None:
        self._pack("<I", value)

    def u64(self, value: int) -> None:
        self._pack("<Q", value)

    def f64(self, value: float) -> None:
        self._pack("<d", value)

    def ids(self, values: tuple[int, ...]) -> None:
        """A u32 count, then that many u32 ids."""
        self.u32(len(values))
        try:
            self._parts.append(struct.pack(f"<{len(values)}I", *values))
        except struct.error:
            raise FrameError("an id does not fit in 32 bits") from None

    def blob(self, value: Bytes) -> None:
        """A u32-length-prefixed byte string."""
        if len(value) > MAX_BLOB_BYTES:
            raise FrameError(f"a field of {len(value)} bytes exceeds the {MAX_BLOB_BYTES}-byte limit of a frame field")
        self.u32(len(value))
        self._parts.append(bytes(value))

    def fixed(self, value: Bytes) -> None:
        """Bytes whose length the reader knows in advance."""
        self._parts.append(bytes(value))

    def addressed(self, items: tuple[tuple[int, bytes], ...]) -> None:
        """Fixed-size items keyed by id: the id list, then the items in the same order."""
        self.ids(tuple(i for i, _ in items))
        for _, item in items:
            self.fixed(item)

    def body(self) -> bytes:
        """Everything written so far, without the digest (what a signature covers)."""
        return b"".join(self._parts)

    def finish(self) -> bytes:
        """The complete frame."""
        return seal_body(self.body())


class Reader:
    """Parses one frame, refusing anything malformed, truncated, oversized or of another kind.

    ``what`` names the frame in every error; ``error`` is the exception class raised.
    """

    def __init__(self, data: object, kind: Kind, *, max_bytes: int, what: str, error: type[FedsecureError]) -> None:
        self._what = what
        self._error = error
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise error(f"{what}: expected bytes, got {type(data).__name__}")
        view = memoryview(data)
        if view.nbytes > max_bytes:
            raise error(f"{what}: {view.nbytes} bytes exceeds the limit of {max_bytes}")
        # A strided or multi-byte-item view is copied into plain bytes (bounded by max_bytes above).
        view = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
        if len(view) < FRAME_OVERHEAD:
            raise error(f"{what}: truncated ({len(view)} bytes)")
        body, digest = view[:-DIGEST_BYTES], bytes(view[-DIGEST_BYTES:])
        if _digest(body) != digest:
            raise error(f"{what}: integrity digest mismatch (corrupted or truncated)")
        magic, version, got_kind = _HEADER.unpack_from(body, 0)
        if magic != MAGIC or version != VERSION:
            raise error(f"{what}: not a fedsecure v{VERSION} frame")
        if got_kind != kind:
            raise error(f"{what}: frame of kind {got_kind}, expected {int(kind)} ({kind.name})")
        self._view = body
        self._pos = _HEADER.size

    def fail(self, reason: str) -> FedsecureError:
        """The error to raise for a semantic problem found in this frame."""
        return self._error(f"{self._what}: {reason}")

    def _take(self, size: int, field: str) -> memoryview:
        if size < 0 or self._pos + size > len(self._view):
            raise self.fail(f"truncated {field or 'field'} at byte {self._pos}")
        chunk = self._view[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def u8(self, field: str = "") -> int:
        return int(self._take(1, field)[0])

    def u32(self, field: str = "") -> int:
        return int(struct.unpack("<I", self._take(4, field))[0])

    def u64(self, field: str = "") -> int:
        return int(struct.unpack("<Q", self._take(8, field))[0])

    def f64(self, field: str = "") -> float:
        return float(struct.unpack("<d", self._take(8, field))[0])

    def ids(self, max_count: int, field: str = "ids") -> tuple[int, ...]:
        count = self.u32(f"{field} count")
        if count > max_count:
            raise self.fail(f"{count} {field} exceeds the limit of {max_count}")
        return tuple(struct.unpack(f"<{count}I", self._take(4 * count, field)))

    def blob(self, max_size: int, field: str = "") -> bytes:
        size = self.u32(f"{field} length" if field else "")
        if size > max_size:
            raise self.fail(f"{field or 'field'} of {size} bytes exceeds the limit of {max_size}")
        return bytes(self._take(size, field))

    def fixed(self, size: int, field: str = "") -> bytes:
        return bytes(self._take(size, field))

    def fixed_view(self, size: int, field: str = "") -> memoryview:
        """Like :meth:`fixed` without copying (for large vectors)."""
        return self._take(size, field)

    def addressed(self, max_count: int, item_size: int, field: str = "items") -> tuple[tuple[int, bytes], ...]:
        """Inverse of :meth:`Writer.addressed`."""
        return tuple((i, self.fixed(item_size, field)) for i in self.ids(max_count, field))

    def remaining(self) -> int:
        return len(self._view) - self._pos

    def done(self) -> None:
        """Refuse trailing bytes after the last field."""
        if self.remaining():
            raise self.fail(f"{self.remaining()} unexpected trailing bytes")
