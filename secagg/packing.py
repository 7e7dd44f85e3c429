"""Bit-packing of Z_{2^k} words for the wire: ``ceil(m * k / 8)`` bytes for ``m`` words.

A 32-bit ring costs 4 bytes per parameter (Flower ships int64: 8); narrower rings
cost proportionally less. Unpacking can only yield words below ``2^k``, so the
range of a received vector is valid by construction.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_NATIVE: dict[int, np.dtype] = {8: np.dtype("<u1"), 16: np.dtype("<u2"), 32: np.dtype("<u4"), 64: np.dtype("<u8")}


def word_dtype(bits: int) -> np.dtype:
    """The narrowest unsigned dtype whose arithmetic wraps at a multiple of ``2^bits``."""
    return np.dtype(np.uint32) if bits <= 32 else np.dtype(np.uint64)


def packed_size(count: int, bits: int) -> int:
    """Bytes taken by ``count`` packed words of ``bits`` bits."""
    return (count * bits + 7) // 8


def pack_words(words: NDArray[np.unsignedinteger], bits: int) -> bytes:
    """Pack words (each already below ``2^bits``) little-endian, ``bits`` bits each."""
    if bits in _NATIVE:
        return np.ascontiguousarray(words, dtype=_NATIVE[bits]).tobytes()
    container = 32 if bits < 32 else 64
    as_bytes = np.ascontiguousarray(words, dtype=_NATIVE[container]).view(np.uint8)
    bit_matrix = np.unpackbits(as_bytes.reshape(-1, container // 8), axis=1, bitorder="little")
    return np.packbits(bit_matrix[:, :bits], bitorder="little").tobytes()


def unpack_words(data: bytes | memoryview, bits: int, count: int) -> NDArray[np.unsignedinteger]:
    """Inverse of :func:`pack_words`; ``data`` must be exactly ``packed_size(count, bits)`` bytes."""
    if len(data) != packed_size(count, bits):
        raise ValueError(f"expected {packed_size(count, bits)} bytes for {count} words of {bits} bits, got {len(data)}")
    dtype = word_dtype(bits)
    if bits in _NATIVE:
        return np.frombuffer(data, dtype=_NATIVE[bits]).astype(dtype)
    container = 32 if bits < 32 else 64
    flat_bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")[: count * bits]
    bit_matrix = np.zeros((count, container), dtype=np.uint8)
    bit_matrix[:, :bits] = flat_bits.reshape(count, bits)
    return np.packbits(bit_matrix, axis=1, bitorder="little").view(_NATIVE[container]).reshape(count).astype(dtype)
