"""Randomized Hadamard rotation with public signs expanded from a seed by SHAKE-256
(Kairouz, Liu, Steinke 2021, Sec. 4: flattening a vector before discretization)."""

from __future__ import annotations

import hashlib

import numpy as np

from dp.errors import InvalidParameterError


def padded_dimension(dimension: int) -> int:
    """The next power of two >= dimension (the Hadamard transform's size)."""
    return 1 << max(0, (dimension - 1).bit_length())


def signs_from_seed(seed: bytes, size: int, label: bytes = b"fedsecure.dp.rotation") -> np.ndarray:
    """``size`` public +/-1 signs expanded from ``seed`` with SHAKE-256 (domain separated)."""
    if not isinstance(seed, (bytes, bytearray)) or len(seed) < 16:
        raise InvalidParameterError("rotation_seed must be at least 16 bytes")
    stream = hashlib.shake_256(label + b"\x00" + bytes(seed)).digest((size + 7) // 8)
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[:size]
    return 1.0 - 2.0 * bits.astype(float)


def hadamard(x: np.ndarray) -> np.ndarray:
    """Orthonormal fast Walsh-Hadamard transform along the last axis (length a power of two);
    it is its own inverse."""
    n = x.shape[-1]
    if n & (n - 1):
        raise InvalidParameterError(f"Hadamard length must be a power of two, got {n}")
    y = np.array(x, dtype=float)
    h = 1
    while h < n:
        v = y.reshape(*y.shape[:-1], n // (2 * h), 2, h)
        a, b = v[..., 0, :].copy(), v[..., 1, :]
        v[..., 0, :] += b
        v[..., 1, :] = a - b
        h *= 2
    return y / np.sqrt(n)


def rotate(x: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """H D x: pad to len(signs), flip signs, then transform."""
    padded = np.zeros(signs.size)
    padded[: x.size] = x
    return hadamard(padded * signs)


def unrotate(y: np.ndarray, signs: np.ndarray, dimension: int) -> np.ndarray:
    """D H y truncated to ``dimension``: the inverse of ``rotate``."""
    return (hadamard(y) * signs)[:dimension]
