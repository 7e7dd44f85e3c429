"""What every ciphertext of a flat vector carries besides its encrypted payload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

import numpy as np

from he.errors import ContextMismatchError, ParameterError

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


V = TypeVar("V", bound=EncryptedVector)  # type: ignore[type-arg]


def check_compatible(ciphertexts: Sequence[V], kind: type[V], key_id: bytes, under: str) -> V:
    """The first of ``ciphertexts`` once all are ``kind`` under ``key_id`` with one length and dtype."""
    if not ciphertexts:
        raise ParameterError("aggregate needs at least one ciphertext")
    first = ciphertexts[0]
    for index, ct in enumerate(ciphertexts):
        if not isinstance(ct, kind) or ct.key_id != key_id:
            raise ContextMismatchError(f"ciphertext {index} is not {under}")
        if ct.length != first.length or ct.dtype != first.dtype:
            raise ParameterError(f"ciphertext {index} has length/dtype unlike ciphertext 0")
    return first
