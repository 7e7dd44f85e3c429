"""Process-parallel Paillier encryption.

SEAL and GMP work on one core per call, and Python threads do not overlap
gmpy2 exponentiations usefully, so the packed plaintexts of one update are
split across worker processes. Workers receive the *public* key bytes once
(at start-up, validated by :class:`he.paillier.PaillierPublic`) and then only
fixed-width integers as bytes; each draws its own encryption randomness from
the OS CSPRNG (:mod:`secrets` / ``phe``'s ``SystemRandom``), so no random
state is shared or copied between processes. Workers are started with the
``spawn`` method: nothing of the parent (no secret key) is inherited.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import Final

import gmpy2
import numpy as np

from he.errors import ParameterError
from he.paillier import PaillierCiphertext, PaillierPublic, PaillierScheme

__all__ = ["ParallelEncryptor"]

_BATCHES_PER_WORKER: Final = 4
_worker_public: PaillierPublic | None = None


def _start_worker(public_bytes: bytes) -> None:
    global _worker_public
    _worker_public = PaillierScheme.load_public(public_bytes)


def _encrypt_batch(plaintexts: bytes) -> bytes:
    """Worker: fixed-width plaintexts in, fixed-width ciphertexts out."""
    public = _worker_public
    if public is None:  # only reachable if the pool was built without the initializer
        raise ParameterError("worker started without a public key")
    in_width = _plaintext_width(public)
    out = []
    for start in range(0, len(plaintexts), in_width):
        value = int.from_bytes(plaintexts[start : start + in_width], "big")
        out.append(int(public.encrypt_int(value)).to_bytes(public.ciphertext_width, "big"))
    return b"".join(out)


def _plaintext_width(public: PaillierPublic) -> int:
    return (public.key.n.bit_length() + 7) // 8


class ParallelEncryptor:
    """Encrypt updates with a pool of ``workers`` processes; reuse it across rounds.

    ``ParallelEncryptor(public).encrypt(v, weight)`` returns the same kind of
    ciphertext as ``public.encrypt(v, weight)``. Use it as a context manager
    (or call :meth:`close`) so the worker processes end.
    """

    def __init__(self, public: PaillierPublic, workers: int | None = None) -> None:
        count = workers if workers is not None else (os.cpu_count() or 1)
        if not (isinstance(count, int) and count >= 1):
            raise ParameterError(f"workers must be a positive integer, got {workers!r}")
        self._public = public
        self._workers = count
        self._pool = ProcessPoolExecutor(
            max_workers=count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(public.serialize(),),
        )

    def encrypt(self, vector: np.ndarray, weight: float | None = None) -> PaillierCiphertext:
        packed = self._public.pack(vector, weight)
        in_width = _plaintext_width(self._public)
        out_width = self._public.ciphertext_width
        per_batch = max(1, -(-len(packed.plaintexts) // (self._workers * _BATCHES_PER_WORKER)))
        batches = [
            b"".join(p.to_bytes(in_width, "big") for p in packed.plaintexts[i : i + per_batch])
            for i in range(0, len(packed.plaintexts), per_batch)
        ]
        values: list[gmpy2.mpz] = []
        for blob in self._pool.map(_encrypt_batch, batches):
            values.extend(
                gmpy2.mpz(int.from_bytes(blob[i : i + out_width], "big")) for i in range(0, len(blob), out_width)
            )
        return self._public.ciphertext(packed, values)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> ParallelEncryptor:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
