"""The small interface both schemes implement (the FedAvg driver's embedding surface).

Roles:

* the **key holder** (``*Scheme.generate(...)``) owns the secret key and is the
  only party that can ``decrypt``;
* the **public side** (``keyholder.public()``, moved between processes with
  ``serialize()`` / ``*Scheme.load_public(bytes)``) is what clients use to
  ``encrypt`` and what the server uses to ``aggregate``; it has no decrypt;
* a **ciphertext** of one flattened update, with ``serialize()``, ``nbytes``
  and its public ``weight`` (the total weight already applied to it).

Weighting contract, identical for both schemes:

* ``encrypt(vector, weight=w)`` lets the client apply ``w`` in plaintext; the
  ciphertext then *declares* ``w`` (public metadata, like the sample count
  FedAvg already reveals).
* ``aggregate(cts, weights)`` asks that ``cts[i]`` enter the sum multiplied by
  ``weights[i]``. A ciphertext that declares a weight must declare exactly
  ``weights[i]`` (checked, no homomorphic work); an undeclared one is weighted
  by the server homomorphically where the scheme can (Paillier: integer
  weights) and rejected with :class:`~he.errors.ParameterError` where it
  cannot (CKKS add-only presets have no level for a plaintext multiply).
* ``keyholder.decrypt(ct)`` returns the weighted **sum**; divide by
  ``ct.weight`` for the weighted mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

__all__ = ["Ciphertext", "PublicScheme", "KeyHolder", "CT"]


@runtime_checkable
class Ciphertext(Protocol):
    """An encrypted flat vector."""

    @property
    def length(self) -> int:
        """Number of plaintext values (the original vector length)."""

    @property
    def weight(self) -> float:
        """Total weight applied to the encrypted values (1 for a fresh, unweighted one)."""

    @property
    def weighted(self) -> bool:
        """True when ``weight`` is declared (client pre-weighting or an aggregate)."""

    @property
    def nbytes(self) -> int:
        """Size of ``serialize()`` in bytes, for communication accounting."""

    def serialize(self) -> bytes: ...


#: The ciphertext type of one scheme (each scheme only combines its own).
CT = TypeVar("CT", bound=Ciphertext)


@runtime_checkable
class PublicScheme(Protocol[CT]):
    """Public side: encryption for clients, combination for the server."""

    def serialize(self) -> bytes: ...

    def encrypt(self, vector: np.ndarray, weight: float | None = None) -> CT: ...

    def aggregate(self, ciphertexts: Sequence[CT], weights: Sequence[float] | None = None) -> CT: ...

    def load_ciphertext(self, data: bytes) -> CT: ...


@runtime_checkable
class KeyHolder(Protocol[CT]):
    """Owner of the secret key."""

    def public(self) -> PublicScheme[CT]: ...

    def decrypt(self, ciphertext: CT) -> np.ndarray: ...
