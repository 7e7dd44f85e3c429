"""Helpers shared by the secure-aggregation tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import NDArray


def random_inputs(n: int, length: int, bits: int, seed: int = 0) -> dict[int, NDArray[np.uint64]]:
    """Simulation data (not secret): client ids 1..n with uniform words of the ring."""
    rng = np.random.default_rng(seed)
    high = 1 << bits
    return {u: rng.integers(0, high, length, dtype=np.uint64, endpoint=False) for u in range(1, n + 1)}


def plain_sum(inputs: Mapping[int, NDArray[np.uint64]], clients: Iterable[int], bits: int) -> NDArray[np.uint64]:
    """The sum mod 2^bits, computed with Python integers (no overflow)."""
    length = len(next(iter(inputs.values())))
    totals = [0] * length
    for u in clients:
        for i, word in enumerate(inputs[u].tolist()):
            totals[i] += word
    return np.array([t % (1 << bits) for t in totals], dtype=np.uint64)
