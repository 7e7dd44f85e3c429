"""What every ciphertext of a flat vector carries besides its encrypted payload, and its framing.

Both schemes frame a ciphertext (:mod:`fedsecure.wire`) as this common header,
then their scheme-specific payload::

    key id (16 bytes) | dtype (u8) | length (u64) | weight (u64 Paillier, f64 CKKS)
    | weighted flag (u8) | payload count (u32)

The key id is a truncated SHA-256 of the public key's frame, so a ciphertext is
bound to the one public key or context it was made under.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import numpy as np

from fedsecure.wire import Kind, Reader, Writer
from he.errors import ContextMismatchError, MalformedCiphertextError, ParameterError

W = TypeVar("W", int, float)

FINGERPRINT_BYTES: Final = 16
_DTYPES: Final[dict[int, np.dtype]] = {0: np.dtype(np.float64), 1: np.dtype(np.float32)}


def fingerprint(public_bytes: bytes) -> bytes:
    """Identify a public key/context by a truncated SHA-256 of its serialization."""
    return hashlib.sha256(b"fedsecure-he-key\x00" + public_bytes).digest()[:FINGERPRINT_BYTES]


def dtype_code(dtype: np.dtype) -> int:
    """Output dtype kept through encryption: float32 stays float32, all else float64."""
    return 1 if dtype == np.float32 else 0


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


HEADER_BYTES: Final = FINGERPRINT_BYTES + 1 + 8 + 8 + 1 + 4


@dataclass(frozen=True)
class Header:
    """The common header of a parsed ciphertext frame."""

    dtype: np.dtype
    length: int
    weight: int | float
    weighted: bool
    count: int


def write_header(w: Writer, ct: EncryptedVector, count: int) -> None:  # type: ignore[type-arg]
    """Frame ``ct``'s metadata; an ``int`` weight is written as u64, a ``float`` one as f64."""
    w.fixed(ct.key_id)
    w.u8(dtype_code(ct.dtype))
    w.u64(ct.length)
    if isinstance(ct.weight, int):
        w.u64(ct.weight)
    else:
        w.f64(ct.weight)
    w.u8(int(ct.weighted))
    w.u32(count)


MAX_CIPHERTEXT_BYTES: Final = 1 << 38
"""Largest ciphertext frame accepted; each scheme checks the payload count and sizes as well."""


def open_ciphertext(data: object, kind: Kind, key_id: bytes, *, integral: bool, under: str) -> tuple[Reader, Header]:
    """Parse a ciphertext frame up to its payload: the reader and the checked header.

    Refuses another key's ciphertext (:class:`ContextMismatchError`) and invalid metadata.
    """
    r = Reader(data, kind, max_bytes=MAX_CIPHERTEXT_BYTES, what=kind.name, error=MalformedCiphertextError)
    if r.fixed(FINGERPRINT_BYTES, "key id") != key_id:
        raise ContextMismatchError(f"ciphertext was made under another {under}")
    code = r.u8("dtype")
    if code not in _DTYPES:
        raise MalformedCiphertextError(f"unknown dtype code {code}")
    length = r.u64("length")
    weight: int | float = r.u64("weight") if integral else r.f64("weight")
    weighted = r.u8("weighted flag")
    count = r.u32("payload count")
    if weighted > 1 or not (math.isfinite(weight) and weight >= 0) or (not weighted and weight != 1):
        raise MalformedCiphertextError(f"invalid weight fields (weight {weight!r}, flag {weighted})")
    return r, Header(_DTYPES[code], length, weight, bool(weighted), count)
