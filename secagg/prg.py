"""Mask expansion with AES-128-CTR, straight into numpy words.

Each mask key is used for exactly one keystream (keys are HKDF outputs bound to
session, round and pair, see :mod:`secagg.crypto`), so the all-zero counter
block is safe. The keystream bytes are read as little-endian ``uint32`` (rings up
to 32 bits) or ``uint64`` words; ``2^k`` divides the word range, so reducing
mod ``2^k`` keeps every word uniform (Bonawitz et al. 2017, Sec. 4: masks from
a PRG seeded by the agreed key).
"""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from numpy.typing import NDArray

from secagg.packing import word_dtype

_ZERO_COUNTER = bytes(16)


class MaskAccumulator:
    """A running sum of masks mod ``2^k``, reusing one keystream buffer.

    Adding or subtracting a mask costs one AES-CTR pass into a preallocated
    buffer and one in-place numpy add: no per-mask allocation.
    """

    def __init__(self, length: int, bits: int) -> None:
        self.bits = bits
        self.words: NDArray[np.unsignedinteger] = np.zeros(length, dtype=word_dtype(bits))
        self._zeros = bytes(self.words.nbytes)
        self._stream = bytearray(self.words.nbytes)
        self._view = np.frombuffer(self._stream, dtype=self.words.dtype)

    def _expand(self, key: bytes) -> NDArray[np.unsignedinteger]:
        encryptor = Cipher(algorithms.AES(key), modes.CTR(_ZERO_COUNTER)).encryptor()
        encryptor.update_into(self._zeros, self._stream)
        return self._view

    def add(self, key: bytes) -> None:
        np.add(self.words, self._expand(key), out=self.words)

    def subtract(self, key: bytes) -> None:
        np.subtract(self.words, self._expand(key), out=self.words)

    def add_words(self, words: NDArray[np.unsignedinteger]) -> None:
        np.add(self.words, words.astype(self.words.dtype, copy=False), out=self.words)

    def reduced(self) -> NDArray[np.unsignedinteger]:
        """The sum reduced into ``[0, 2^k)`` (a copy)."""
        if self.bits in (32, 64):
            return self.words.copy()
        return self.words & self.words.dtype.type((1 << self.bits) - 1)


def expand_mask(key: bytes, length: int, bits: int) -> NDArray[np.unsignedinteger]:
    """One mask of ``length`` words in ``[0, 2^bits)`` (for tests and benchmarks)."""
    accumulator = MaskAccumulator(length, bits)
    accumulator.add(key)
    return accumulator.reduced()


class KeyedStream:
    """Deterministic uniform integers from a 16/32-byte key (AES-CTR), for public choices
    such as relabelling the SecAgg+ graph reproducibly from a seed."""

    def __init__(self, key: bytes) -> None:
        self._encryptor = Cipher(algorithms.AES(key), modes.CTR(_ZERO_COUNTER)).encryptor()

    def randbelow(self, bound: int) -> int:
        """Uniform integer in ``[0, bound)`` by rejection sampling (no modulo bias)."""
        if bound < 1:
            raise ValueError("bound must be positive")
        bits = bound.bit_length()
        nbytes = (bits + 7) // 8
        while True:
            value = int.from_bytes(self._encryptor.update(bytes(nbytes)), "little") & ((1 << bits) - 1)
            if value < bound:
                return value

    def shuffle(self, items: list[int]) -> None:
        """Fisher-Yates in place."""
        for i in range(len(items) - 1, 0, -1):
            j = self.randbelow(i + 1)
            items[i], items[j] = items[j], items[i]
