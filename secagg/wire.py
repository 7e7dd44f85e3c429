"""Explicit, bounded binary framing for protocol messages (no pickle).

A frame is ``MAGIC | version | kind | body | digest`` where ``digest`` is a
16-byte BLAKE2b of everything before it. The digest catches corruption in
transit; authenticity comes from the channel (honest-but-curious setting) or
from Ed25519 signatures (active setting), as in Bonawitz et al. 2017, Sec. 4.
Every read is bounds-checked and every failure raises
:class:`~secagg.errors.InvalidMessageError` naming what was wrong.
"""

from __future__ import annotations

import hashlib
import struct

from secagg.errors import InvalidMessageError

MAGIC = b"SAG"
VERSION = 1
DIGEST_BYTES = 16
_HEADER = struct.Struct("<3sBB")


def _digest(data: bytes | bytearray | memoryview) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


class Writer:
    """Builds one frame of a given message kind."""

    def __init__(self, kind: int) -> None:
        self._parts: list[bytes] = [_HEADER.pack(MAGIC, VERSION, kind)]

    def u8(self, value: int) -> None:
        self._parts.append(struct.pack("<B", value))

    def u32(self, value: int) -> None:
        self._parts.append(struct.pack("<I", value))

    def ids(self, values: tuple[int, ...]) -> None:
        """A length-prefixed list of client ids (u32 each)."""
        self.u32(len(values))
        self._parts.append(struct.pack(f"<{len(values)}I", *values))

    def blob(self, value: bytes) -> None:
        """A u32-length-prefixed byte string."""
        self.u32(len(value))
        self._parts.append(bytes(value))

    def fixed(self, value: bytes) -> None:
        """Bytes whose length the reader knows in advance."""
        self._parts.append(bytes(value))

    def addressed(self, items: tuple[tuple[int, bytes], ...]) -> None:
        """Fixed-size items keyed by client id: the id list, then the items in order."""
        self.ids(tuple(i for i, _ in items))
        for _, item in items:
            self.fixed(item)

    def finish(self) -> bytes:
        body = b"".join(self._parts)
        return body + _digest(body)


class Reader:
    """Parses one frame, refusing anything malformed, truncated or oversized."""

    def __init__(self, data: bytes, kind: int, *, max_bytes: int, what: str) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidMessageError(f"{what}: expected bytes, got {type(data).__name__}")
        if len(data) > max_bytes:
            raise InvalidMessageError(f"{what}: {len(data)} bytes exceeds the limit of {max_bytes}")
        if len(data) < _HEADER.size + DIGEST_BYTES:
            raise InvalidMessageError(f"{what}: truncated ({len(data)} bytes)")
        view = memoryview(data)
        body, digest = view[:-DIGEST_BYTES], bytes(view[-DIGEST_BYTES:])
        if _digest(body) != digest:
            raise InvalidMessageError(f"{what}: integrity digest mismatch (corrupted or truncated)")
        magic, version, got_kind = _HEADER.unpack_from(body, 0)
        if magic != MAGIC or version != VERSION:
            raise InvalidMessageError(f"{what}: not a secagg v{VERSION} frame")
        if got_kind != kind:
            raise InvalidMessageError(f"{what}: message kind {got_kind}, expected {kind}")
        self._view = body
        self._pos = _HEADER.size
        self._what = what

    def _take(self, size: int) -> memoryview:
        if size < 0 or self._pos + size > len(self._view):
            raise InvalidMessageError(f"{self._what}: truncated field at byte {self._pos}")
        chunk = self._view[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def u8(self) -> int:
        return int(self._take(1)[0])

    def u32(self) -> int:
        return int(struct.unpack("<I", self._take(4))[0])

    def ids(self, max_count: int) -> tuple[int, ...]:
        count = self.u32()
        if count > max_count:
            raise InvalidMessageError(f"{self._what}: {count} ids exceeds the limit of {max_count}")
        return tuple(struct.unpack(f"<{count}I", self._take(4 * count)))

    def blob(self, max_size: int) -> bytes:
        size = self.u32()
        if size > max_size:
            raise InvalidMessageError(f"{self._what}: field of {size} bytes exceeds the limit of {max_size}")
        return bytes(self._take(size))

    def fixed(self, size: int) -> bytes:
        return bytes(self._take(size))

    def addressed(self, max_count: int, item_size: int) -> tuple[tuple[int, bytes], ...]:
        """Inverse of :meth:`Writer.addressed`."""
        return tuple((i, self.fixed(item_size)) for i in self.ids(max_count))

    def fixed_view(self, size: int) -> memoryview:
        """Like :meth:`fixed` without copying (for large vectors)."""
        return self._take(size)

    def done(self) -> None:
        """Refuse trailing bytes after the last field."""
        if self._pos != len(self._view):
            raise InvalidMessageError(f"{self._what}: {len(self._view) - self._pos} unexpected trailing bytes")
