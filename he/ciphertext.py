"""What every ciphertext of a flat vector carries besides its encrypted payload."""

from __future__ import annotations

from typing import Generic, TypeVar

import numpy as np

W = TypeVar("W", int, float)


class EncryptedVector(Generic[W]):
    """The public metadata of an encrypted flat vector, shared by both schemes.

    ``weight`` is the total weight applied to the values (an ``int`` for Paillier,
    whose weights are exact integers, a ``float`` for CKKS); ``weighted`` says
    whether it was declared; ``key_id`` fingerprints the public key or context.
    """

    def __init__(self, length: int, dtype: np.dtype, weight: W, weighted: bool, key_id: bytes) -> None:
        self._length = length
        self._dtype = dtype
        self._weight: W = weight
        self._weighted = weighted
        self._key_id = key_id

    @property
    def length(self) -> int:
        return self._length

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def weight(self) -> W:
        return self._weight

    @property
    def weighted(self) -> bool:
        return self._weighted

    @property
    def key_id(self) -> bytes:
        """Fingerprint of the public key or context this ciphertext belongs to."""
        return self._key_id
