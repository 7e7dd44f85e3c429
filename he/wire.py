"""Binary framing shared by both schemes' serialized ciphertexts and keys.

A tiny bounds-checked reader/writer over :mod:`struct`: every field read from
untrusted bytes is length-checked and names itself in the error it raises.
No object deserialization: the formats are fixed-layout headers plus length-prefixed
or fixed-width payloads.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Final

import numpy as np

from he.errors import HEError, ParameterError

__all__ = ["Reader", "Writer", "fingerprint", "dtype_code", "dtype_from_code", "FINGERPRINT_BYTES"]

FINGERPRINT_BYTES: Final = 16
_DTYPES: Final[dict[int, np.dtype]] = {0: np.dtype(np.float64), 1: np.dtype(np.float32)}


def fingerprint(public_bytes: bytes) -> bytes:
    """Identify a public key/context by a truncated SHA-256 of its serialization."""
    return hashlib.sha256(b"fedsecure-he-key\x00" + public_bytes).digest()[:FINGERPRINT_BYTES]


def dtype_code(dtype: np.dtype) -> int:
    """Output dtype kept through encryption: float32 stays float32, all else float64."""
    return 1 if dtype == np.float32 else 0


def dtype_from_code(code: int, error: type[HEError]) -> np.dtype:
    """Inverse of :func:`dtype_code`, raising ``error`` on an unknown code."""
    dtype = _DTYPES.get(code)
    if dtype is None:
        raise error(f"unknown dtype code {code}")
    return dtype


class Writer:
    """Append fixed-size little-endian fields to a byte buffer."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def raw(self, data: bytes) -> Writer:
        self._parts.append(data)
        return self

    def u8(self, value: int) -> Writer:
        return self.raw(struct.pack("<B", value))

    def u32(self, value: int) -> Writer:
        return self.raw(struct.pack("<I", value))

    def u64(self, value: int) -> Writer:
        return self.raw(struct.pack("<Q", value))

    def f64(self, value: float) -> Writer:
        return self.raw(struct.pack("<d", value))

    def blob(self, data: bytes) -> Writer:
        """A u32 length prefix followed by the bytes."""
        if len(data) >= 2**32:
            raise ParameterError("blob larger than 4 GiB cannot be framed")
        return self.u32(len(data)).raw(data)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Consume fields from untrusted bytes; any shortfall raises ``error``."""

    def __init__(self, data: bytes, error: type[HEError]) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise error(f"expected bytes, got {type(data).__name__}")
        self._view = memoryview(bytes(data))
        self._pos = 0
        self._error = error

    def raw(self, size: int, what: str) -> bytes:
        end = self._pos + size
        if size < 0 or end > len(self._view):
            raise self._error(f"truncated input while reading {what}")
        out = self._view[self._pos : end].tobytes()
        self._pos = end
        return out

    def expect(self, literal: bytes, what: str) -> None:
        if self.raw(len(literal), what) != literal:
            raise self._error(f"bad {what}")

    def u8(self, what: str) -> int:
        return int(struct.unpack("<B", self.raw(1, what))[0])

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self.raw(4, what))[0])

    def u64(self, what: str) -> int:
        return int(struct.unpack("<Q", self.raw(8, what))[0])

    def f64(self, what: str) -> float:
        return float(struct.unpack("<d", self.raw(8, what))[0])

    def blob(self, what: str) -> bytes:
        return self.raw(self.u32(f"{what} length"), what)

    def remaining(self) -> int:
        return len(self._view) - self._pos

    def finish(self) -> None:
        """Reject trailing bytes: a well-formed message is consumed exactly."""
        if self.remaining():
            raise self._error(f"{self.remaining()} unexpected trailing bytes")
