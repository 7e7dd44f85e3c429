"""Mask expansion with AES-128-CTR, straight into numpy words.

Each mask key is used for exactly one keystream (keys are HKDF outputs bound to
session, round and pair, see :mod:`secagg.crypto`), so the all-zero counter
block is safe. The keystream bytes are read as little-endian ``uint32`` (rings up
to 32 bits) or ``uint64`` words; ``2^k`` divides the word range, so reducing
mod ``2^k`` keeps every word uniform (Bonawitz et al. 2017, Sec. 4: masks from
a PRG seeded by the agreed key).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from numpy.typing import NDArray

from secagg.packing import word_dtype

_CTR_FROM_ZERO = modes.CTR(bytes(16))


BLOCK_WORDS = 1 << 15
"""Words processed per pass: the running sum and one keystream block stay in the L2 cache."""


class MaskAccumulator:
    """A running sum mod ``2^k`` of input vectors and masks.

    :meth:`accumulate` walks the vector block by block and, within a block, over
    every keystream, so each block of the sum is read and written while it sits in
    cache: adding a mask then costs little beyond producing its keystream.
    """

    def __init__(self, length: int, bits: int, start: NDArray[np.integer] | None = None) -> None:
        """A sum of ``length`` words mod ``2^bits``, starting at zero or at the vector ``start``."""
        self.bits = bits
        dtype = word_dtype(bits)
        self.words: NDArray[np.unsignedinteger] = (
            np.zeros(length, dtype=dtype) if start is None else start.astype(dtype, copy=True)
        )
        block_bytes = min(length, BLOCK_WORDS) * self.words.itemsize
        self._zeros = memoryview(bytes(block_bytes))
        self._stream = bytearray(block_bytes)
        self._view = np.frombuffer(self._stream, dtype=self.words.dtype.newbyteorder("<"))  # little-endian anywhere

    def accumulate(
        self,
        *,
        vectors: Sequence[NDArray[np.unsignedinteger]] = (),
        add_keys: Sequence[bytes] = (),
        subtract_keys: Sequence[bytes] = (),
    ) -> None:
        """Add ``vectors`` (of the ring's word dtype) and the masks of ``add_keys``,
        subtract the masks of ``subtract_keys``."""
        streams: list[tuple[CipherContext, np.ufunc]] = [(_keystream(key), np.add) for key in add_keys]
        streams += [(_keystream(key), np.subtract) for key in subtract_keys]
        length, itemsize = len(self.words), self.words.itemsize
        for start in range(0, length, BLOCK_WORDS):
            stop = min(length, start + BLOCK_WORDS)
            block = self.words[start:stop]
            for vector in vectors:
                np.add(block, vector[start:stop], out=block)
            nbytes = (stop - start) * itemsize
            keystream = self._view[: stop - start]
            for encryptor, combine in streams:
                encryptor.update_into(self._zeros[:nbytes], self._stream)
                combine(block, keystream, out=block)

    def reduced(self) -> NDArray[np.unsignedinteger]:
        """The sum reduced into ``[0, 2^k)``, in place: the accumulator is spent afterwards."""
        if self.bits not in (32, 64):
            np.bitwise_and(self.words, self.words.dtype.type((1 << self.bits) - 1), out=self.words)
        return self.words


def _keystream(key: bytes) -> CipherContext:
    return Cipher(algorithms.AES(key), _CTR_FROM_ZERO).encryptor()


def expand_mask(key: bytes, length: int, bits: int) -> NDArray[np.unsignedinteger]:
    """One mask of ``length`` words in ``[0, 2^bits)`` (for tests and benchmarks)."""
    accumulator = MaskAccumulator(length, bits)
    accumulator.accumulate(add_keys=[key])
    return accumulator.reduced()


class KeyedStream:
    """Deterministic uniform integers from a 16/32-byte key (AES-CTR), for public choices
    such as relabelling the SecAgg+ graph reproducibly from a seed."""

    def __init__(self, key: bytes) -> None:
        self._encryptor = Cipher(algorithms.AES(key), _CTR_FROM_ZERO).encryptor()

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
