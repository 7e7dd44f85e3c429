"""Exact uniform and Bernoulli variates drawn from a CSPRNG, vectorized with numpy.

All randomness comes from one injectable byte source (default ``secrets.token_bytes``), read in
batches; :func:`keyed_stream` is the byte source of a keyed cryptographic PRG (AES-256-CTR), for
noise that a second party must regenerate exactly from the same secret key (XNoise, ``dp.xnoise``).
Bernoulli(num/den) with arbitrary-size integers is decided exactly by comparing a 64-bit uniform
word with floor(num * 2^64 / den) and, on a tie (probability 2^-64), extending the uniform with
more words until it is decided: the lazy comparison of a uniform real with a rational.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dp.errors import InvalidParameterError, SamplerError

RandomBytes = Callable[[int], bytes]
_MASK64 = (1 << 64) - 1
STREAM_KEY_BYTES = 32


def keyed_stream(key: bytes) -> RandomBytes:
    """The AES-256-CTR keystream under ``key`` from counter zero, served in order: a PRG whose
    output is indistinguishable from uniform bytes to anyone without the key. Each key must
    feed one stream only (derive a fresh key per use, as ``secagg.keys.noise_key`` does)."""
    if not isinstance(key, bytes) or len(key) != STREAM_KEY_BYTES:
        size = len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__
        raise InvalidParameterError(f"stream keys are {STREAM_KEY_BYTES} bytes, got {size}")
    encryptor = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()

    def next_bytes(n: int) -> bytes:
        return encryptor.update(bytes(n))

    return next_bytes


class CsprngSource:
    """Uniform words from a cryptographically secure byte source."""

    def __init__(self, randbytes: RandomBytes | None = None, batch_words: int = 1 << 14) -> None:
        self._randbytes: RandomBytes = secrets.token_bytes if randbytes is None else randbytes
        self._batch = batch_words
        self._pool = np.empty(0, dtype=np.uint64)

    def _fetch(self, n: int) -> np.ndarray:
        raw = self._randbytes(8 * n)
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != 8 * n:
            raise SamplerError(
                f"random byte source returned {len(raw) if hasattr(raw, '__len__') else raw!r} bytes, expected {8 * n}"
            )
        return np.frombuffer(bytes(raw), dtype="<u8").astype(np.uint64)

    def words(self, n: int) -> np.ndarray:
        """``n`` independent uniform uint64 words (served from a pool refilled in batches)."""
        if n > self._pool.size:
            self._pool = np.concatenate([self._pool, self._fetch(max(n - self._pool.size, self._batch))])
        out, self._pool = self._pool[:n], self._pool[n:]
        return out

    def bits(self, n: int) -> np.ndarray:
        """``n`` fair coin flips as a bool array."""
        return (self.words(n) & np.uint64(1)).astype(bool)

    def below(self, bound: np.ndarray) -> np.ndarray:
        """Uniform integers in [0, bound) elementwise, for int64 bounds in [1, 2^62], by rejection."""
        m = np.asarray(bound, dtype=np.int64)
        if m.size and (m.min() < 1 or m.max() > 1 << 62):
            raise SamplerError("uniform bounds must lie in [1, 2^62]")
        mu = m.astype(np.uint64)
        # Accept a word r iff r < 2^64 - (2^64 mod m): then r mod m is exactly uniform.
        limit = np.uint64(_MASK64) - (np.uint64(0) - mu) % mu
        out = np.empty(m.shape, dtype=np.int64)
        todo = np.arange(m.size)
        while todo.size:
            r = self.words(todo.size)
            ok = r <= limit[todo]
            out[todo[ok]] = (r[ok] % mu[todo[ok]]).astype(np.int64)
            todo = todo[~ok]
        return out

    def bernoulli(self, num: np.ndarray, den: np.ndarray) -> np.ndarray:
        """Exact Bernoulli(num/den) elementwise for integers 0 <= num, 0 < den (any size)."""
        num_a, den_a = np.asarray(num), np.asarray(den)
        sure = num_a >= den_a
        if den_a.dtype != object and (den_a.size == 0 or den_a.max() < 1 << 32):
            thr = _threshold_small(np.where(sure, 0, num_a).astype(np.uint64), den_a.astype(np.uint64))
        else:
            num_o, den_o = num_a.astype(object), den_a.astype(object)
            thr = np.where(sure, 0, (num_o * (1 << 64)) // den_o).astype(np.uint64)
        u = self.words(thr.size)
        out = (u < thr) | sure
        for i in np.nonzero((u == thr) & ~sure)[0]:
            out[i] = self._decide_tie(int(u[i]), int(num_a[i]), int(den_a[i]))
        return out

    def _decide_tie(self, prefix: int, num: int, den: int) -> bool:
        shift = 64
        while True:
            prefix = (prefix << 64) | int(self.words(1)[0])
            shift += 64
            thr = (num << shift) // den
            if prefix != thr:
                return prefix < thr


def _threshold_small(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """floor(num * 2^64 / den) in uint64 arithmetic, exact for num < den < 2^32:
    num * floor(2^64/den) + floor(num * (2^64 mod den) / den), every product below 2^64."""
    rem = (np.uint64(0) - den) % den  # 2^64 mod den
    quo = np.uint64(_MASK64) // den + (rem == 0).astype(np.uint64)  # floor(2^64 / den)
    return num * quo + (num * rem) // den
